//! ravens-import: a Pi-hole, read and mapped onto ravens site config items (issue 12).
//!
//! Data flow: [`Source`] reads a v5 Teleporter `.tar.gz`, a v6 Teleporter `.zip` or a Pi-hole
//! directory into memory (hostile input refused: unsafe entry names, decompression bombs) →
//! `gravity` reads the gravity tables (SQLite or the v5 JSON dumps), `settings` the
//! settings (pihole.toml or setupVars.conf/pihole-FTL.conf) and dnsmasq files → `map` turns
//! them into site records ([`ravens_config::site`] keys and canonical values), skipping what
//! is already in the current site config (same key: unchanged) and reporting every item it
//! cannot carry with its source and reason → [`validate`] merges them into a config text and
//! runs ravens's parser over it.
//!
//! Formats were read from Pi-hole's own sources (by repository and commit):
//! - v5 Teleporter: pi-hole/AdminLTE `scripts/pi-hole/php/teleporter.php` @ 80d87a087eee
//!   (archive layout; the JSON dumps are `SELECT *` rows of each table).
//! - gravity.db: pi-hole/pi-hole `advanced/Templates/gravity.db.sql` @ 00cbb8bc8abb
//!   (schema version 16: group, client, adlist with `type`, domainlist, *_by_group).
//! - v6 Teleporter: pi-hole/FTL `src/zip/teleporter.c` @ 080a5e7b2047 (etc/pihole/pihole.toml,
//!   etc/pihole/gravity.db (tables copied without views), etc/pihole/dhcp.leases, etc/hosts,
//!   etc/dnsmasq.d/*).
//! - pihole.toml: pi-hole/FTL `src/config/config.c` @ cb06b8fd8129 (dns.upstreams, dns.hosts,
//!   dns.cnameRecords, dns.domain, dns.blocking.mode, dns.revServers, dhcp.*) and @
//!   00023999164f (early v6); setupVars.conf keys: FTL `src/config/setupVars.c` @ 0bf029baf174.
//! - Regex options: FTL `src/regex.c` @ da335175538 (`;querytype=`, `;invert`, `;reply=`,
//!   ERE with REG_ICASE).
//! - Lease file: dnsmasq `src/lease.c` as vendored in pi-hole/FTL `src/dnsmasq/lease.c` @
//!   13a44a99d712.

mod ere;
mod error;
mod gravity;
pub mod map;
mod report;
mod settings;
pub mod source;

use ravens_config::site::{self, SiteRecords};

pub use error::ImportError;
pub use map::dhcp::Lease;
pub use report::{Counts, Report, Skipped};
pub use source::{Format, Limits, Source};

/// What an import produces.
#[derive(Debug, Clone)]
pub struct Import {
    /// Site records to write: new keys, and `dns` when a `[dns]` field was added.
    pub records: SiteRecords,
    /// Active DHCP leases (not site config: they belong in the lease journal).
    pub leases: Vec<Lease>,
    pub report: Report,
}

impl Import {
    /// The site records of `current` with this import's added.
    pub fn merged(&self, current: &SiteRecords) -> SiteRecords {
        let mut all = current.clone();
        all.extend(self.records.iter().map(|(k, v)| (k.clone(), v.clone())));
        all
    }

    /// The added items as TOML (what a dry run shows).
    pub fn toml(&self) -> Result<String, ImportError> {
        site::export(&self.records).map_err(|e| ImportError::Invalid(e.to_string()))
    }
}

/// Maps `src` onto ravens items, given the current site records; `now` (Unix seconds) tells
/// expired leases apart.
pub fn import(src: &Source, current: &SiteRecords, now: u64) -> Result<Import, ImportError> {
    let gravity = gravity::read(src)?;
    let settings = settings::read(src)?;
    let report = Report { format: src.format.label().to_string(), ..Report::default() };
    let mut out = map::Out::new(current, report);
    map::policy::map(&gravity, &map::dhcp::reserved_names(&settings), &mut out);
    map::local::map(&settings, &mut out);
    map::forward::map(&settings, &mut out);
    let leases = map::dhcp::map(&settings, src, &mut out, now);
    Ok(Import { records: out.records, leases, report: out.report })
}

/// `base` (a whole config file) with the import's items written into it, checked by
/// ravens's config parser. Nothing is written anywhere: the caller decides.
pub fn validate(base: &str, import: &Import) -> Result<String, ImportError> {
    let current = site::records(base).map_err(|e| ImportError::Invalid(e.to_string()))?;
    let text = site::apply(base, &import.merged(&current)).map_err(|e| ImportError::Invalid(e.to_string()))?;
    ravens_config::parse(&text, "import").map_err(|e| ImportError::Invalid(e.to_string()))?;
    Ok(text)
}
