//! Leases as replicated records (DESIGN §5): this node's lease events become records under
//! `l/<subnet>/<client key hex>` with a JSON value; remote records become
//! [`RemoteLease`]s for the DHCP core. The client key is the DHCP crate's `ClientKey` bytes
//! (a type byte, then the client-id, or the hardware type and chaddr), so two nodes always
//! name one client alike.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ravens_dhcp::{LeaseEvent, LeaseEventKind, LeaseInfo, RemoteLease};
use ravens_sync::record::LEASE_VALUE_FORMAT;
use ravens_sync::{Hlc, Record, SyncHandle, lease_expiry_ms, lease_winner};
use serde::{Deserialize, Serialize};

/// The JSON value of a lease record.
///
/// Versioning (rolling upgrades): `format` is [`LEASE_VALUE_FORMAT`]; values written before it
/// existed lack it and read as format 1. Readers ignore fields they do not know (no
/// `deny_unknown_fields`), so a field added later with a serde default needs no new format;
/// bump the format only when an older reader would misread a value. A value in a newer format
/// is skipped and counted ([`newer_values`]), and counts as expired in the lease rule
/// ([`ravens_sync::lease_expiry_ms`]). Golden values: `tests/golden/lease-value-*.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseValue {
    #[serde(default = "ravens_sync::record::first_format")]
    pub format: u32,
    pub ip: Ipv4Addr,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Hex, when the client sent option 61.
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    /// Read by [`ravens_sync::lease_expiry_ms`]: the record is dead after this.
    pub expires_ms: u64,
    /// Node that granted it.
    pub node: String,
    /// Hex of the client key bytes.
    pub key: String,
    /// The client released it (then `expires_ms` is the release time).
    #[serde(default)]
    pub released: bool,
}

/// Remote lease values skipped because a later release wrote them in a newer format.
static NEWER_VALUES: AtomicU64 = AtomicU64::new(0);

/// How many remote lease values were in a format newer than this release reads.
pub fn newer_values() -> u64 {
    NEWER_VALUES.load(Ordering::Relaxed)
}

impl LeaseValue {
    /// Reads a lease value of this release's format or an earlier one; `None` for anything
    /// else, a newer format included.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(bytes).ok().filter(|v| v.format <= LEASE_VALUE_FORMAT)
    }

    /// True for a value in a format newer than this release reads.
    fn is_newer(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        serde_json::from_slice::<Format>(bytes).is_ok_and(|f| f.format > LEASE_VALUE_FORMAT)
    }
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
    let bytes = serde_json::to_vec(&value).ok()?;
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

    /// The lease of every golden value file.
    fn golden_event() -> LeaseEvent {
        LeaseEvent {
            kind: LeaseEventKind::Bound,
            subnet: "lan".into(),
            ip: Ipv4Addr::new(10, 0, 1, 23),
            mac: vec![0x02, 0, 0, 0, 0x0a, 0x17],
            client_id: Some(vec![1, 2, 0, 0, 0, 0x0a, 0x17]),
            hostname: Some("laptop".into()),
            expires: UNIX_EPOCH + std::time::Duration::from_millis(1_700_000_600_000),
            key: vec![0, 1, 2, 0, 0, 0, 0x0a, 0x17],
            node: "node-a".into(),
        }
    }

    fn golden_value() -> LeaseValue {
        LeaseValue {
            format: 1,
            ip: Ipv4Addr::new(10, 0, 1, 23),
            mac: "02:00:00:00:0a:17".into(),
            client_id: Some("01020000000a17".into()),
            hostname: Some("laptop".into()),
            expires_ms: 1_700_000_600_000,
            node: "node-a".into(),
            key: "0001020000000a17".into(),
            released: false,
        }
    }

    fn golden(name: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
    }

    #[test]
    fn the_previous_release_lease_value_is_read() {
        // Written by the release before lease values carried a format.
        let bytes = std::fs::read(golden("lease-value-1-unmarked.json")).unwrap();
        assert_eq!(LeaseValue::decode(&bytes), Some(golden_value()));
        assert_eq!(lease_expiry_ms(&bytes), Some(1_700_000_600_000));
    }

    #[test]
    fn the_current_lease_value_golden_file_is_read_and_still_written() {
        let path = golden(&format!("lease-value-{LEASE_VALUE_FORMAT}.json"));
        let (_, v) = value_of_event(&golden_event()).unwrap();
        let written = serde_json::to_vec(&v).unwrap();
        if std::env::var_os("RAVENS_WRITE_GOLDEN").is_some() && !path.exists() {
            std::fs::write(&path, &written).unwrap();
        }
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(LeaseValue::decode(&on_disk), Some(golden_value()));
        assert_eq!(lease_expiry_ms(&on_disk), Some(1_700_000_600_000));
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&on_disk),
            "the lease value format changed: add a format and a golden file, keep this one"
        );
    }

    #[test]
    fn unknown_lease_value_fields_are_ignored() {
        let text = r#"{"format":1,"ip":"10.0.1.23","mac":"02:00:00:00:0a:17","client_id":"01020000000a17",
            "hostname":"laptop","expires_ms":1700000600000,"node":"node-a","key":"0001020000000a17",
            "vendor_class":"MSFT 5.0","options":{"81":"00"}}"#;
        assert_eq!(LeaseValue::decode(text.as_bytes()), Some(golden_value()));
        assert!(!LeaseValue::is_newer(text.as_bytes()));
    }

    #[test]
    fn a_newer_lease_value_format_is_not_misread() {
        // Parses as format 1 field by field: only the format says the fields mean something else.
        let text = r#"{"format":2,"ip":"10.0.1.23","mac":"02:00:00:00:0a:17","client_id":null,
            "hostname":null,"expires_ms":1700000600000,"node":"node-a","key":"0001020000000a17"}"#;
        assert_eq!(LeaseValue::decode(text.as_bytes()), None);
        assert_eq!(lease_expiry_ms(text.as_bytes()), None, "counts as expired in the lease rule");
        assert!(LeaseValue::is_newer(text.as_bytes()));
    }
}
