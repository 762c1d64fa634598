//! ravens-sync: gossip between the nodes of a ravens cluster (DESIGN §5).
//!
//! Data flow: the daemon calls [`SyncHandle::publish`] / [`SyncHandle::delete`] → the record is
//! stamped with a hybrid logical clock ([`hlc`]), merged into the local [`replica`] and written
//! under this node's chitchat keys → chitchat gossips it every 250 ms (and at once after a
//! write) through the [`transport`], which seals every datagram ([`seal`]) → on the peers the
//! key-change callbacks feed their replica, which keeps every node's entry per key and reports
//! winner changes as [`SyncEvent::Records`].
//!
//! The sans-IO pieces the DHCP side uses directly: [`slices`] (one slice of each pool per
//! node), [`buckets`] (RFC 3074 hash + rendezvous owner) and [`failover`] (takeover and
//! hand-back with injected time).

pub mod buckets;
pub mod failover;
mod handle;
pub mod hlc;
pub mod lease;
mod monitor;
mod node;
pub mod record;
pub mod replica;
pub mod seal;
pub mod secret;
pub mod slices;
pub mod transport;

pub use handle::{PeerStatus, SyncError, SyncEvent, SyncHandle, SyncStats};
pub use hlc::{Hlc, HlcClock};
pub use lease::{LeaseValue, lease_expiry_ms};
pub use node::{SyncConfig, SyncNode};
pub use record::{Record, RecordError, lease_winner, merge};
pub use replica::Replica;
pub use seal::{SealCounts, SealStats};
pub use secret::{generate_secret, load_secret};
pub use tokio_util::sync::CancellationToken;
