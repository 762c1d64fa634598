//! The lease rule (docs/ARCHITECTURE.md §5, §7): which of the nodes' entries for one client's
//! lease key holds, and what this node imports from it. The replication layer keeps one entry
//! per node per key and hands them over as [`Entry`] views; the rule itself is DHCP policy.

use std::sync::atomic::{AtomicU64, Ordering};

use super::value::{KEY_PREFIX, LeaseValue, lease_expiry_ms, unhex};
use crate::lease::{Lease, LeaseState};
use crate::packet::ClientKey;

/// Remote lease values skipped because a later release wrote them in a newer format.
static NEWER_VALUES: AtomicU64 = AtomicU64::new(0);

/// How many remote lease values were in a format newer than this release reads.
pub fn newer_values() -> u64 {
    NEWER_VALUES.load(Ordering::Relaxed)
}

/// One node's entry for a lease key, as the replication layer holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// When it was written: (wall ms, logical counter) of its hybrid logical clock stamp.
    pub stamp: (u64, u32),
    /// The node that wrote it; breaks stamp ties.
    pub origin: &'a str,
    /// A tombstone.
    pub deleted: bool,
    /// A [`LeaseValue`] (JSON); empty for tombstones.
    pub value: &'a [u8],
}

impl Entry<'_> {
    /// The merge order: stamp first, then the origin node id.
    fn order(&self) -> ((u64, u32), &str) {
        (self.stamp, self.origin)
    }
}

/// Among one client's entries from every node, the highest (stamp, node id) entry that is
/// neither deleted nor expired at `now_ms` wins.
pub fn lease_winner<'e, 'a>(entries: &'e [Entry<'a>], now_ms: u64) -> Option<&'e Entry<'a>> {
    entries
        .iter()
        .filter(|r| !r.deleted && lease_expiry_ms(r.value).is_some_and(|e| e > now_ms))
        .max_by(|a, b| a.order().cmp(&b.order()))
}

/// What this node imports after the entry `changed` of `key` changed, given every node's
/// entry for `key` at `now_ms`: the live winner (unless it is ours), or a release of the last
/// known address when no node holds a live lease any more. `own`: also import winners this
/// node granted (its journal was empty at start).
pub fn remote_lease(
    key: &str,
    changed: &Entry<'_>,
    entries: &[Entry<'_>],
    me: &str,
    own: bool,
    now_ms: u64,
) -> Option<Lease> {
    let subnet = key.strip_prefix(KEY_PREFIX)?.split('/').next()?;
    if LeaseValue::is_newer(changed.value) {
        // A later release's lease: left out of the rule below (it reads as expired), never
        // imported as if it were one of ours.
        NEWER_VALUES.fetch_add(1, Ordering::Relaxed);
    }
    // A release is a newer statement than any older entry still unexpired (e.g. the granting
    // node's entry after a peer renewed the client in place and then saw it release).
    let latest = entries.iter().max_by(|a, b| a.order().cmp(&b.order()))?;
    let released_latest = latest.deleted || LeaseValue::decode(latest.value).is_some_and(|v| v.released);
    let (rec, released) = match lease_winner(entries, now_ms) {
        _ if released_latest && latest.origin == me => return None,
        _ if released_latest && latest.deleted => return None,
        _ if released_latest => (latest, true),
        Some(w) if w.origin == me && !own => return None,
        Some(w) => (w, false),
        None if changed.deleted => return None,
        None => (changed, true),
    };
    let v = LeaseValue::decode(rec.value)?;
    Some(Lease {
        subnet: subnet.into(),
        ip: v.ip,
        key: ClientKey(unhex(&v.key)?.into()),
        mac: unhex(&v.mac)?,
        client_id: v.client_id.as_deref().and_then(unhex),
        hostname: v.hostname,
        expires: v.expires_ms / 1000,
        state: if released || v.released { LeaseState::Released } else { LeaseState::Bound },
        node: rec.origin.into(),
        seq: 0,
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::sync::Arc;

    use super::*;
    use crate::failover::value::LEASE_VALUE_FORMAT;
    use crate::lease::{LeaseEvent, LeaseEventKind};

    fn lease(
        ip: [u8; 4],
        mac: Vec<u8>,
        client_id: Vec<u8>,
        host: &str,
        expires: u64,
        key: Vec<u8>,
        node: &str,
    ) -> Lease {
        Lease {
            subnet: Arc::from("lan"),
            ip: Ipv4Addr::from(ip),
            key: ClientKey(key.into()),
            mac,
            client_id: Some(client_id),
            hostname: Some(host.into()),
            expires,
            state: LeaseState::Bound,
            node: Arc::from(node),
            seq: 0,
        }
    }

    #[test]
    fn event_value_round_trip() {
        let l = lease([10, 0, 0, 9], vec![2, 0, 0, 0, 0, 1], vec![1, 2], "pc", 5000, vec![0, 1, 2], "a");
        let ev = LeaseEvent { kind: LeaseEventKind::Bound, lease: l.clone() };
        let (key, v) = LeaseValue::of_event(&ev, 0).unwrap();
        assert_eq!(key, "l/lan/000102");
        assert_eq!(v.expires_ms, 5_000_000);
        let bytes = serde_json::to_vec(&v).unwrap();
        assert_eq!(lease_expiry_ms(&bytes), Some(5_000_000));
        assert_eq!(unhex(&v.mac), Some(l.mac.clone()));
        assert_eq!(unhex(&v.key), Some(l.key.0.to_vec()));
    }

    /// A lease event still maps to the golden lease value of the current format (the format
    /// itself is tested in `dhcp/tests/formats.rs`).
    #[test]
    fn a_lease_event_becomes_the_golden_lease_value() {
        let l = lease(
            [10, 0, 1, 23],
            vec![0x02, 0, 0, 0, 0x0a, 0x17],
            vec![1, 2, 0, 0, 0, 0x0a, 0x17],
            "laptop",
            1_700_000_600,
            vec![0, 1, 2, 0, 0, 0, 0x0a, 0x17],
            "node-a",
        );
        let (key, v) = LeaseValue::of_event(&LeaseEvent { kind: LeaseEventKind::Bound, lease: l }, 0).unwrap();
        assert_eq!(key, "l/lan/0001020000000a17");
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/golden/lease-value-{LEASE_VALUE_FORMAT}.json"));
        assert_eq!(String::from_utf8(v.encode()).unwrap(), std::fs::read_to_string(golden).unwrap());
    }

    #[test]
    fn lease_rule_highest_unexpired_wins() {
        let lease = |exp: &'static [u8], wall: u64, node: &'static str| Entry {
            stamp: (wall, 0),
            origin: node,
            deleted: false,
            value: exp,
        };
        let v: [&[u8]; 4] = [
            br#"{"expires_ms":10000}"#,
            br#"{"expires_ms":500}"#,
            br#"{"expires_ms":9000}"#,
            br#"{"expires_ms":5000}"#,
        ];
        let old_long = lease(v[0], 100, "a");
        let new_expired = lease(v[1], 200, "b");
        let newest_long = lease(v[2], 150, "b");
        let all = [old_long, new_expired, newest_long];
        // At 1000 the HLC-newest entry has expired: the newest unexpired one wins.
        assert_eq!(lease_winner(&all, 1000), Some(&newest_long));
        // Before its expiry the newest entry wins.
        assert_eq!(lease_winner(&all, 400), Some(&new_expired));
        // Past every expiry nothing holds the client.
        assert_eq!(lease_winner(&all, 20_000), None);
        // Ties on HLC go to the higher node id; tombstones never hold a lease.
        let tie = [lease(v[3], 100, "a"), lease(v[3], 100, "c")];
        assert_eq!(lease_winner(&tie, 1).unwrap().origin, "c");
        let dead = [Entry { stamp: (999, 0), origin: "a", deleted: true, value: b"" }];
        assert_eq!(lease_winner(&dead, 1), None);
        assert_eq!(lease_expiry_ms(b"not json"), None);
    }

    /// Moved with the rule from the replication layer's replica view.
    #[test]
    fn lease_view_uses_expiry() {
        let entry = |v: &'static [u8], wall: u64, origin: &'static str| Entry {
            stamp: (wall, 0),
            origin,
            deleted: false,
            value: v,
        };
        let r = [entry(br#"{"expires_ms":100}"#, 50, "b"), entry(br#"{"expires_ms":900}"#, 40, "a")];
        assert_eq!(lease_winner(&r, 60).unwrap().origin, "b");
        assert_eq!(lease_winner(&r, 200).unwrap().origin, "a");
        assert!(lease_winner(&r, 1000).is_none());
    }
}
