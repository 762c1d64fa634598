//! Leases as replicated records (DESIGN §5): this node's lease events become records under
//! `l/<subnet>/<client key hex>` with a JSON value; remote records become
//! [`RemoteLease`]s for the DHCP core. The client key is the DHCP crate's `ClientKey` bytes
//! (a type byte, then the client-id, or the hardware type and chaddr), so two nodes always
//! name one client alike. The value's format and versioning: [`ravens_sync::lease`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ravens_dhcp::{LeaseEvent, LeaseEventKind, LeaseInfo, RemoteLease};
use ravens_sync::lease::LEASE_VALUE_FORMAT;
use ravens_sync::{Hlc, LeaseValue, Record, SyncHandle, lease_expiry_ms, lease_winner};

/// Remote lease values skipped because a later release wrote them in a newer format.
static NEWER_VALUES: AtomicU64 = AtomicU64::new(0);

/// How many remote lease values were in a format newer than this release reads.
pub fn newer_values() -> u64 {
    NEWER_VALUES.load(Ordering::Relaxed)
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn ms(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

pub fn hex(bytes: &[u8], sep: &str) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| *c != ':').collect();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// The record key of a client's lease.
pub fn record_key(subnet: &str, key: &[u8]) -> String {
    format!("l/{subnet}/{}", hex(key, ""))
}

/// The record to publish for one of this node's lease events; `None` for expiries (the
/// published `expires_ms` already says it).
pub fn value_of_event(ev: &LeaseEvent) -> Option<(String, LeaseValue)> {
    let released = match ev.kind {
        LeaseEventKind::Bound | LeaseEventKind::Renewed => false,
        LeaseEventKind::Released => true,
        LeaseEventKind::Expired => return None,
    };
    let value = LeaseValue {
        format: LEASE_VALUE_FORMAT,
        ip: ev.ip,
        mac: hex(&ev.mac, ":"),
        client_id: ev.client_id.as_deref().map(|c| hex(c, "")),
        hostname: ev.hostname.clone(),
        expires_ms: if released { now_ms() } else { ms(ev.expires) },
        node: ev.node.clone(),
        key: hex(&ev.key, ""),
        released,
    };
    Some((record_key(&ev.subnet, &ev.key), value))
}

/// A journal lease of this node as a record stamped at its grant time (expiry − lease time),
/// for the republish after a restart: a newer renewal by a peer keeps winning over it.
pub fn record_of_info(l: &LeaseInfo, lease_secs: u64, me: &str) -> Option<Record> {
    let expires_ms = ms(l.expires);
    let value = LeaseValue {
        format: LEASE_VALUE_FORMAT,
        ip: l.ip,
        mac: hex(&l.mac, ":"),
        client_id: l.client_id.as_deref().map(|c| hex(c, "")),
        hostname: l.hostname.clone(),
        expires_ms,
        node: me.to_owned(),
        key: hex(&l.key, ""),
        released: false,
    };
    let bytes = value.encode();
    let granted = expires_ms.saturating_sub(lease_secs * 1000);
    Record::new(&record_key(&l.subnet, &l.key), bytes, Hlc::new(granted, 0), me).ok()
}

/// The DHCP view of the merged state for one lease key: the live winner (unless it is ours),
/// or a release of the last known address when no node holds a live lease any more.
/// `own`: also import winners this node granted (its journal was empty at start).
pub fn remote_lease(sync: &SyncHandle, changed: &Record, me: &str, own: bool) -> Option<RemoteLease> {
    let subnet = changed.key.strip_prefix("l/")?.split('/').next()?.to_owned();
    if LeaseValue::is_newer(&changed.value) {
        // A later release's lease: left out of the rule below (it reads as expired), never
        // imported as if it were one of ours.
        NEWER_VALUES.fetch_add(1, Ordering::Relaxed);
    }
    let entries = sync.entries(&changed.key);
    // A release is a newer statement than any older entry still unexpired (e.g. the granting
    // node's entry after a peer renewed the client in place and then saw it release).
    let latest = entries.iter().max_by(|a, b| a.order().cmp(&b.order()))?;
    let released_latest = latest.deleted || LeaseValue::decode(&latest.value).is_some_and(|v| v.released);
    let (rec, released) = match lease_winner(entries.iter(), now_ms(), lease_expiry_ms) {
        _ if released_latest && latest.origin == me => return None,
        _ if released_latest && latest.deleted => return None,
        _ if released_latest => (latest.clone(), true),
        Some(w) if w.origin == me && !own => return None,
        Some(w) => (w.clone(), false),
        None if changed.deleted => return None,
        None => (changed.clone(), true),
    };
    let v = LeaseValue::decode(&rec.value)?;
    Some(RemoteLease {
        subnet,
        ip: v.ip,
        key: unhex(&v.key)?,
        mac: unhex(&v.mac)?,
        client_id: v.client_id.as_deref().and_then(unhex),
        hostname: v.hostname,
        expires: v.expires_ms / 1000,
        node: rec.origin,
        released: released || v.released,
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn event_value_round_trip() {
        let ev = LeaseEvent {
            kind: LeaseEventKind::Bound,
            subnet: "lan".into(),
            ip: Ipv4Addr::new(10, 0, 0, 9),
            mac: vec![2, 0, 0, 0, 0, 1],
            client_id: Some(vec![1, 2]),
            hostname: Some("pc".into()),
            expires: UNIX_EPOCH + std::time::Duration::from_secs(5000),
            key: vec![0, 1, 2],
            node: "a".into(),
        };
        let (key, v) = value_of_event(&ev).unwrap();
        assert_eq!(key, "l/lan/000102");
        assert_eq!(v.expires_ms, 5_000_000);
        let bytes = serde_json::to_vec(&v).unwrap();
        assert_eq!(lease_expiry_ms(&bytes), Some(5_000_000));
        assert_eq!(unhex(&v.mac), Some(ev.mac.clone()));
        assert_eq!(unhex(&v.key), Some(ev.key.clone()));
    }

    /// The daemon's mapping of a lease event still writes the golden lease value of the
    /// current format (the format itself is tested in `sync/tests/formats.rs`).
    #[test]
    fn a_lease_event_becomes_the_golden_lease_value() {
        let ev = LeaseEvent {
            kind: LeaseEventKind::Bound,
            subnet: "lan".into(),
            ip: Ipv4Addr::new(10, 0, 1, 23),
            mac: vec![0x02, 0, 0, 0, 0x0a, 0x17],
            client_id: Some(vec![1, 2, 0, 0, 0, 0x0a, 0x17]),
            hostname: Some("laptop".into()),
            expires: UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_600_000),
            key: vec![0, 1, 2, 0, 0, 0, 0x0a, 0x17],
            node: "node-a".into(),
        };
        let (key, v) = value_of_event(&ev).unwrap();
        assert_eq!(key, "l/lan/0001020000000a17");
        let golden = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("sync/tests/golden/lease-value-{LEASE_VALUE_FORMAT}.json"));
        assert_eq!(String::from_utf8(v.encode()).unwrap(), std::fs::read_to_string(golden).unwrap());
    }
}
