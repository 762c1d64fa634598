//! The replication wire form of a lease (docs/ARCHITECTURE.md §5, §8): JSON under
//! `l/<subnet>/<client key hex>`, written by the node that granted or released the lease and
//! read by every node's DHCP side. The replication layer carries it as opaque bytes;
//! [`lease_expiry_ms`] is the lax reader the lease rule ([`super::merge::lease_winner`]) uses.
//!
//! # Format versions (rolling upgrades: each node reads what the previous release wrote)
//!
//! `format` is [`LEASE_VALUE_FORMAT`]; values written before the field existed lack it and
//! read as format 1. Readers ignore fields they do not know (no `deny_unknown_fields`), so a
//! field added later with a serde default needs no new format; bump the format only when an
//! older reader would misread a value. A value in a newer format is never misread:
//! [`LeaseValue::decode`] refuses it and [`lease_expiry_ms`] treats it as expired. Golden
//! values of every format live in `dhcp/tests/golden/`; keep the old ones when adding one.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::lease::{Lease, LeaseEvent, LeaseEventKind};

/// The lease value format this release writes and the newest it reads.
pub const LEASE_VALUE_FORMAT: u32 = 1;

/// Prefix of every replicated lease key.
pub const KEY_PREFIX: &str = "l/";

/// The format of a value written before formats were marked.
pub fn first_format() -> u32 {
    1
}

/// The JSON value of a lease record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseValue {
    /// [`LEASE_VALUE_FORMAT`] when written; absent (1) in values of earlier releases.
    #[serde(default = "first_format")]
    pub format: u32,
    pub ip: Ipv4Addr,
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Hex, when the client sent option 61.
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    /// Read by [`lease_expiry_ms`]: the record is dead after this (ms since the epoch).
    pub expires_ms: u64,
    /// Node that granted it.
    pub node: String,
    /// Hex of the client key bytes.
    pub key: String,
    /// The client released it (then `expires_ms` is the release time).
    #[serde(default)]
    pub released: bool,
}

impl LeaseValue {
    /// Reads a value of this release's format or an earlier one; `None` for anything else,
    /// a newer format included ([`LeaseValue::is_newer`] tells which).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Self>(bytes).ok().filter(|v| v.format <= LEASE_VALUE_FORMAT)
    }

    /// The JSON bytes of the value.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a struct of strings and numbers always serialises")
    }

    /// True for JSON whose `format` is newer than this release reads.
    pub fn is_newer(bytes: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Format {
            format: u32,
        }
        serde_json::from_slice::<Format>(bytes).is_ok_and(|f| f.format > LEASE_VALUE_FORMAT)
    }

    /// The value of `lease` as granted by `node`, dead after `expires_ms`.
    fn of(lease: &Lease, node: &str, expires_ms: u64, released: bool) -> Self {
        LeaseValue {
            format: LEASE_VALUE_FORMAT,
            ip: lease.ip,
            mac: hex(&lease.mac, ":"),
            client_id: lease.client_id.as_deref().map(|c| hex(c, "")),
            hostname: lease.hostname.clone(),
            expires_ms,
            node: node.to_owned(),
            key: hex(&lease.key.0, ""),
            released,
        }
    }

    /// The record (key, value) to publish for one of this node's lease events, released ones
    /// stamped `now_ms`; `None` for expiries (the published `expires_ms` already says it).
    pub fn of_event(ev: &LeaseEvent, now_ms: u64) -> Option<(String, LeaseValue)> {
        let l = &ev.lease;
        let value = match ev.kind {
            LeaseEventKind::Bound | LeaseEventKind::Renewed => Self::of(l, &l.node, l.expires * 1000, false),
            LeaseEventKind::Released => Self::of(l, &l.node, now_ms, true),
            LeaseEventKind::Expired => return None,
        };
        Some((record_key(&l.subnet, &l.key.0), value))
    }

    /// A journal lease of this node (`me`) as (key, value, grant time in ms) for the republish
    /// after a restart: stamped at its grant time (expiry − lease time), so a newer renewal by
    /// a peer keeps winning over it.
    pub fn of_own_lease(l: &Lease, lease_secs: u64, me: &str) -> (String, Vec<u8>, u64) {
        let expires_ms = l.expires * 1000;
        let bytes = Self::of(l, me, expires_ms, false).encode();
        (record_key(&l.subnet, &l.key.0), bytes, expires_ms.saturating_sub(lease_secs * 1000))
    }
}

/// Reads the top-level `"expires_ms"` number from a JSON lease value. `None` when absent, not
/// JSON, or in a `"format"` newer than [`LEASE_VALUE_FORMAT`] (treated as expired: a later
/// release's value is never misread). Laxer than [`LeaseValue::decode`] on purpose: the lease
/// rule only needs the expiry.
pub fn lease_expiry_ms(value: &[u8]) -> Option<u64> {
    #[derive(Deserialize)]
    struct Expiry {
        expires_ms: u64,
        #[serde(default = "first_format")]
        format: u32,
    }
    serde_json::from_slice::<Expiry>(value).ok().filter(|e| e.format <= LEASE_VALUE_FORMAT).map(|e| e.expires_ms)
}

/// The record key of a client's lease: the client key bytes, so two nodes always name one
/// client alike.
pub fn record_key(subnet: &str, key: &[u8]) -> String {
    format!("{KEY_PREFIX}{subnet}/{}", hex(key, ""))
}

pub(crate) use ravens_config::text::{hex, unhex};
