//! The one lease type, [`Lease`]: what the core keeps per address, what the journal stores
//! (its state gives the record kind), what [`crate::DhcpHandle::leases`] lists, what a
//! [`LeaseEvent`] carries and what another node's lease is imported as. Times are Unix
//! seconds. Its replication wire form is [`crate::failover::LeaseValue`].

use std::net::Ipv4Addr;
use std::sync::Arc;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Name of the subnet the address belongs to.
    pub subnet: Arc<str>,
    pub ip: Ipv4Addr,
    /// The client's identity: client-id, or hardware type + chaddr.
    pub key: ClientKey,
    pub mac: Vec<u8>,
    pub client_id: Option<Vec<u8>>,
    /// Sanitised single label (option 81/12, or the reservation's).
    pub hostname: Option<String>,
    pub expires: u64,
    pub state: LeaseState,
    /// Node that granted it: this node, or a peer for leases learned from the cluster.
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

    /// The journal record kind of this lease (an expired lease is a bound record whose time
    /// has passed; offers are never journaled).
    pub fn kind(&self) -> RecordKind {
        match self.state {
            LeaseState::Offered | LeaseState::Bound | LeaseState::Expired => RecordKind::Bound,
            LeaseState::Released => RecordKind::Released,
            LeaseState::Declined => RecordKind::Declined,
        }
    }

    pub fn event(&self, kind: LeaseEventKind) -> LeaseEvent {
        LeaseEvent { kind, lease: self.clone() }
    }
}

/// Kind of a journal record (its first byte on disk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordKind {
    /// ACKed until `expires`.
    Bound = 1,
    /// Released at `expires`.
    Released = 2,
    /// Quarantined until `expires`.
    Declined = 3,
}

impl RecordKind {
    /// The lease state a record of this kind is read back in (before its expiry is checked).
    pub fn state(self) -> LeaseState {
        match self {
            RecordKind::Bound => LeaseState::Bound,
            RecordKind::Released => LeaseState::Released,
            RecordKind::Declined => LeaseState::Declined,
        }
    }
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
    /// The lease after the change; `node` is the granting node (a peer for imported leases).
    pub lease: Lease,
}

/// The current time in Unix seconds.
pub fn unix_now() -> u64 {
    ravens_config::clock::unix_secs()
}

/// The current time in Unix milliseconds.
pub fn unix_now_ms() -> u64 {
    ravens_config::clock::unix_ms()
}
