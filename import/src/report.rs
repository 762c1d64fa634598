//! What an import did: per kind of item how many were added, already there (unchanged) or
//! skipped, and for each skipped item where it came from and why.

use std::collections::BTreeMap;

use serde::Serialize;

/// Counts of one kind of item.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub added: usize,
    /// Already in the site config under the same key (left as it is).
    pub unchanged: usize,
    pub skipped: usize,
}

/// One item that was not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub kind: String,
    /// File and row id or line, e.g. `gravity.db:domainlist id 12`, `custom.list:3`.
    pub source: String,
    /// The item as Pi-hole wrote it.
    pub item: String,
    pub reason: String,
}

/// The whole report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What was read: `Pi-hole v5 Teleporter`, `Pi-hole v6 Teleporter` or `Pi-hole directory`.
    pub format: String,
    pub kinds: BTreeMap<String, Counts>,
    pub skipped: Vec<Skipped>,
    /// Things the user should know that are not one item (e.g. an assumed netmask).
    pub notes: Vec<String>,
}

impl Report {
    pub fn added(&mut self, kind: &str) {
        self.kinds.entry(kind.to_string()).or_default().added += 1;
    }

    pub fn unchanged(&mut self, kind: &str) {
        self.kinds.entry(kind.to_string()).or_default().unchanged += 1;
    }

    pub fn skip(&mut self, kind: &str, source: impl Into<String>, item: impl Into<String>, reason: impl Into<String>) {
        self.kinds.entry(kind.to_string()).or_default().skipped += 1;
        let (source, item, reason) = (source.into(), item.into(), reason.into());
        self.skipped.push(Skipped { kind: kind.to_string(), source, item, reason });
    }

    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// Counts of `kind` (zero when none was seen).
    pub fn counts(&self, kind: &str) -> Counts {
        self.kinds.get(kind).copied().unwrap_or_default()
    }

    /// Site items added in all (leases are not site items).
    pub fn total_added(&self) -> usize {
        self.kinds.iter().filter(|(k, _)| *k != "lease").map(|(_, c)| c.added).sum()
    }
}
