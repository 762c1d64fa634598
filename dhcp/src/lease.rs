//! Lease data: the in-memory [`Lease`], the durable [`LeaseRecord`] the journal stores, and what
//! the crate hands to the daemon ([`LeaseEvent`], [`LeaseInfo`]). Times are Unix seconds.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::packet::ClientKey;

/// Where an address stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// Offered and held until `expires` for the client's REQUEST.
    Offered,
    /// ACKed until `expires`.
    Bound,
    /// Given back by the client; the address is free but remembered for it.
    Released,
    /// Ran out; the address is free but remembered for it.
    Expired,
    /// DECLINEd: kept out of the pool until `expires`.
    Declined,
}

/// One address's lease (current or last).
#[derive(Debug, Clone)]
pub struct Lease {
    pub ip: Ipv4Addr,
    pub key: ClientKey,
    pub mac: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    pub hostname: Option<String>,
    pub expires: u64,
    pub state: LeaseState,
    pub node: Arc<str>,
    /// The grant that bound it in this process ([`crate::durable`]); 0 when it came from the
    /// journal or a peer, or is an offer.
    pub seq: u64,
}

impl Lease {
    /// Whether the address is taken at `now` (by this lease's client, or by quarantine).
    pub fn active(&self, now: u64) -> bool {
        matches!(self.state, LeaseState::Offered | LeaseState::Bound | LeaseState::Declined) && self.expires > now
    }
}

/// Kind of a journal record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// ACKed until `expires`.
    Bound = 1,
    /// Released at `expires`.
    Released = 2,
    /// Quarantined until `expires`.
    Declined = 3,
}

/// The durable form of a lease: the latest record per (subnet, address) is the truth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRecord {
    pub kind: RecordKind,
    pub subnet: String,
    pub ip: Ipv4Addr,
    pub expires: u64,
    pub key: Vec<u8>,
    pub mac: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    pub hostname: Option<String>,
    pub node: String,
}

/// What happened to a lease, for the DNS local zone and for sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseEventKind {
    Bound,
    Renewed,
    Released,
    Expired,
}

/// A lease change, emitted after it is durable (bound/renewed) or when it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseEvent {
    pub kind: LeaseEventKind,
    pub subnet: String,
    pub ip: Ipv4Addr,
    pub mac: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    /// Sanitised single label (option 81/12, or the reservation's).
    pub hostname: Option<String>,
    pub expires: SystemTime,
    /// The client's identity bytes ([`ClientKey`]): client-id or hardware type + chaddr.
    pub key: Vec<u8>,
    /// Node that granted the lease: this node, or a peer for leases learned from the cluster
    /// ([`crate::machine::Core::import`]), which the daemon must not publish again.
    pub node: String,
}

/// A lease as listed by `dnsctl leases`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub subnet: String,
    pub ip: Ipv4Addr,
    pub mac: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    pub hostname: Option<String>,
    pub expires: SystemTime,
    /// Name of the node that granted it.
    pub node: String,
    /// The client's identity bytes ([`ClientKey`]).
    pub key: Vec<u8>,
}

/// Unix seconds to `SystemTime`.
pub fn system_time(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// The current time in Unix seconds.
pub fn unix_now() -> u64 {
    ravens_config::clock::unix_secs()
}

impl Lease {
    pub fn record(&self, subnet: &str, kind: RecordKind) -> LeaseRecord {
        LeaseRecord {
            kind,
            subnet: subnet.to_string(),
            ip: self.ip,
            expires: self.expires,
            key: self.key.0.to_vec(),
            mac: self.mac.clone(),
            client_id: self.client_id.clone(),
            hostname: self.hostname.clone(),
            node: self.node.to_string(),
        }
    }

    pub fn event(&self, subnet: &str, kind: LeaseEventKind) -> LeaseEvent {
        LeaseEvent {
            kind,
            subnet: subnet.to_string(),
            ip: self.ip,
            mac: self.mac.clone(),
            client_id: self.client_id.clone(),
            hostname: self.hostname.clone(),
            expires: system_time(self.expires),
            key: self.key.0.to_vec(),
            node: self.node.to_string(),
        }
    }

    pub fn info(&self, subnet: &str) -> LeaseInfo {
        LeaseInfo {
            subnet: subnet.to_string(),
            ip: self.ip,
            mac: self.mac.clone(),
            client_id: self.client_id.clone(),
            hostname: self.hostname.clone(),
            expires: system_time(self.expires),
            node: self.node.to_string(),
            key: self.key.0.to_vec(),
        }
    }
}
