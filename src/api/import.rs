//! Types of `POST /api/v1/import/pihole` (issue 12): what an import of a Pi-hole added, found
//! already there, or skipped, per kind of item, with the source and reason of each skip.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts of one kind of item (`group`, `list`, `entry`, `record`, `reservation`, `lease`...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportCounts {
    pub added: usize,
    /// Already in ravens under the same key: left as it is (an import never changes an item).
    pub unchanged: usize,
    pub skipped: usize,
}

/// One item not imported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportSkipped {
    pub kind: String,
    /// File and row or line, e.g. `gravity.db:domainlist id 12`, `dhcp.leases:3`.
    pub source: String,
    /// The item as Pi-hole wrote it.
    pub item: String,
    pub reason: String,
}

/// The answer of an import (and of its dry run).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// What was read, e.g. `Pi-hole v6 Teleporter archive`.
    pub format: String,
    /// True when nothing was written (`?dry_run=true`): the counts say what would be.
    pub dry_run: bool,
    /// Whether the site config or the lease journal changed.
    pub changed: bool,
    pub kinds: BTreeMap<String, ImportCounts>,
    pub skipped: Vec<ImportSkipped>,
    /// What is not one item (an assumed netmask, a setting already set).
    pub notes: Vec<String>,
}

impl ImportReport {
    /// Counts of `kind` (zero when none was seen).
    pub fn counts(&self, kind: &str) -> ImportCounts {
        self.kinds.get(kind).copied().unwrap_or_default()
    }

    /// For people: one line per kind, then every skipped item and the notes.
    pub fn render(&self) -> String {
        let head = if self.dry_run {
            "dry run, nothing written"
        } else if self.changed {
            "imported"
        } else {
            "nothing changed"
        };
        let mut s = format!("{} ({head})\n", self.format);
        for (kind, c) in &self.kinds {
            let added = if self.dry_run { "to add" } else { "added" };
            s.push_str(&format!(
                "  {kind:<12} {:>6} {added} {:>6} unchanged {:>6} skipped\n",
                c.added, c.unchanged, c.skipped
            ));
        }
        if !self.skipped.is_empty() {
            s.push_str("skipped:\n");
        }
        for k in &self.skipped {
            s.push_str(&format!("  {} {}: {} ({})\n", k.kind, k.source, k.item, k.reason));
        }
        for n in &self.notes {
            s.push_str(&format!("note: {n}\n"));
        }
        s
    }
}
