//! Pi-hole items → ravens site records, with idempotence: an item whose key is already in
//! the current site config is left alone and counted unchanged.

pub mod dhcp;
pub mod forward;
pub mod local;
pub mod policy;

use ravens_config::site::SiteRecords;

use crate::report::Report;

/// What the mapping produces, and the site config it is checked against.
pub struct Out<'a> {
    pub current: &'a SiteRecords,
    pub records: SiteRecords,
    pub report: Report,
}

impl<'a> Out<'a> {
    pub fn new(current: &'a SiteRecords, report: Report) -> Self {
        Out { current, records: SiteRecords::new(), report }
    }

    /// Adds the record unless an item with its key exists (in the config or earlier in this
    /// import). True when added.
    pub fn put(&mut self, kind: &str, key: String, value: String) -> bool {
        if self.current.contains_key(&key) || self.records.contains_key(&key) {
            self.report.unchanged(kind);
            return false;
        }
        self.records.insert(key, value);
        self.report.added(kind);
        true
    }

    /// Whether `key` is in the config or already added.
    pub fn has(&self, key: &str) -> bool {
        self.current.contains_key(key) || self.records.contains_key(key)
    }
}
