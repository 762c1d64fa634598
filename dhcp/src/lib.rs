//! ravens-dhcp: the DHCPv4 server of a ravens node.
//!
//! Data flows socket ([`socket`], IP_PKTINFO gives the receiving interface and destination) →
//! decode ([`packet`], dhcproto plus a strict raw option walk) → subnet selection and the RFC 2131
//! state machine ([`machine`], no I/O, takes `now`) with allocation from this node's slice of
//! each pool ([`state`], [`pool`]) → lease journal ([`journal`], fsync'd with group commit
//! before the ACK leaves) → reply built and routed per RFC 2131 §4.1 ([`reply`]) → lease events
//! to the daemon. [`server`] is the tokio driver and the API the daemon wires. The pair's
//! failover policy (buckets, takeover, held DISCOVERs, lease replication rules) is [`failover`];
//! docs/ARCHITECTURE.md §4, §5 and §7 walk through all of it.

pub mod adopt;
pub mod counters;
pub mod durable;
pub mod failover;
pub mod iface;
pub mod journal;
pub mod lease;
pub mod machine;
pub mod options;
pub mod packet;
pub mod pool;
pub mod reply;
pub mod server;
pub mod socket;
pub mod state;

pub use counters::Counters;
pub use failover::AnswerFilter;
pub use lease::{Lease, LeaseEvent, LeaseEventKind, LeaseState};
pub use machine::{Action, Context, Core, DropReason};
pub use pool::Slice;
pub use server::{DhcpError, DhcpHandle, DhcpService};

#[cfg(test)]
mod machine_tests;

/// The dhcproto version this crate speaks, for building packets in tests and benches.
pub use dhcproto;
