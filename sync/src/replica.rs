//! The merged view of every node's records (sans-IO). Each key keeps one entry per origin
//! node; the winner is the highest (HLC, node id). [`Replica::apply`] reports when a key's
//! winner changes, which is what the daemon acts on.

use std::collections::HashMap;

use crate::record::Record;

/// Every node's entries for every key, and the current winners.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    entries: HashMap<String, Vec<Record>>,
    version: u64,
}

impl Replica {
    /// An empty replica.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys (tombstoned ones included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is known.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counts winner changes since creation: a cheap "how much have I applied" figure that a
    /// returning peer's can be compared with to decide it has caught up.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Stores `rec` as its origin's entry for its key (unless that origin already has a
    /// newer or equal one). Returns the new winner when the key's winner changed.
    pub fn apply(&mut self, rec: Record) -> Option<&Record> {
        let slot = self.entries.entry(rec.key.clone()).or_default();
        let before = winner_index(slot).map(|i| slot[i].order_owned());
        match slot.iter_mut().find(|e| e.origin == rec.origin) {
            Some(e) if e.order() >= rec.order() => return None,
            Some(e) => *e = rec,
            None => slot.push(rec),
        }
        let idx = winner_index(slot)?;
        if before.as_ref() == Some(&slot[idx].order_owned()) {
            return None;
        }
        self.version += 1;
        Some(&slot[idx])
    }

    /// The winning entry for `key`, tombstones included.
    pub fn winner(&self, key: &str) -> Option<&Record> {
        let slot = self.entries.get(key)?;
        winner_index(slot).map(|i| &slot[i])
    }

    /// The winning value for `key`, or `None` when absent or deleted.
    pub fn get(&self, key: &str) -> Option<&Record> {
        self.winner(key).filter(|r| !r.deleted)
    }

    /// Every node's entry for `key` (for a reader's own rule, or diagnostics).
    pub fn entries(&self, key: &str) -> &[Record] {
        self.entries.get(key).map_or(&[], Vec::as_slice)
    }

    /// The live winners (no tombstones), in no particular order.
    pub fn snapshot(&self) -> Vec<Record> {
        self.winners().filter(|r| !r.deleted).cloned().collect()
    }

    /// Every winner, tombstones included.
    pub fn winners(&self) -> impl Iterator<Item = &Record> {
        self.entries.values().filter_map(|s| winner_index(s).map(|i| &s[i]))
    }

    /// Drops keys whose winner is a tombstone older than 30 days; returns the purged keys.
    /// Entries older than a tombstone lose to it, so the whole key can go.
    pub fn purge(&mut self, now_ms: u64) -> Vec<String> {
        let mut purged = Vec::new();
        self.entries.retain(|key, slot| {
            let keep = !winner_index(slot).is_some_and(|i| slot[i].purgeable(now_ms));
            if !keep {
                purged.push(key.clone());
            }
            keep
        });
        purged
    }
}

impl Record {
    fn order_owned(&self) -> (crate::hlc::Hlc, String) {
        (self.hlc, self.origin.clone())
    }
}

fn winner_index(slot: &[Record]) -> Option<usize> {
    (0..slot.len()).max_by(|&a, &b| slot[a].order().cmp(&slot[b].order()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hlc::Hlc;
    use crate::record::TOMBSTONE_TTL_MS;

    fn rec(key: &str, v: &str, wall: u64, origin: &str) -> Record {
        Record::new(key, v.as_bytes().to_vec(), Hlc::new(wall, 0), origin).unwrap()
    }

    #[test]
    fn apply_reports_only_winner_changes() {
        let mut r = Replica::new();
        assert!(r.apply(rec("c/a/x", "1", 10, "a")).is_some());
        assert!(r.apply(rec("c/a/x", "1", 10, "a")).is_none(), "duplicate");
        assert!(r.apply(rec("c/a/x", "0", 5, "b")).is_none(), "older loses");
        assert_eq!(r.apply(rec("c/a/x", "2", 11, "b")).unwrap().value, b"2");
        assert!(r.apply(rec("c/a/x", "old", 9, "a")).is_none(), "stale own entry");
        assert_eq!(r.entries("c/a/x").len(), 2);
        assert_eq!(r.version(), 2);
    }

    #[test]
    fn merge_is_order_independent() {
        let recs = [rec("k", "1", 3, "a"), rec("k", "2", 3, "b"), rec("k", "3", 2, "c")];
        let mut fwd = Replica::new();
        let mut rev = Replica::new();
        for x in recs.iter().cloned() {
            fwd.apply(x);
        }
        for x in recs.iter().rev().cloned() {
            rev.apply(x);
        }
        assert_eq!(fwd.get("k"), rev.get("k"));
        assert_eq!(fwd.get("k").unwrap().origin, "b");
    }

    #[test]
    fn tombstone_hides_and_is_purged_after_30_days() {
        let mut r = Replica::new();
        r.apply(rec("c/a/x", "1", 10, "a"));
        r.apply(Record::tombstone("c/a/x", Hlc::new(20, 0), "b").unwrap());
        assert!(r.get("c/a/x").is_none());
        assert!(r.winner("c/a/x").unwrap().deleted);
        assert!(r.snapshot().is_empty());
        assert!(r.purge(20 + TOMBSTONE_TTL_MS).is_empty());
        assert_eq!(r.purge(21 + TOMBSTONE_TTL_MS), vec!["c/a/x".to_string()]);
        assert!(r.is_empty());
    }
}
