//! ravens-sync: gossip between the nodes of a ravens cluster (docs/ARCHITECTURE.md §5, §7).
//!
//! Data flow: the daemon calls [`SyncHandle::publish`] / [`SyncHandle::delete`] → the record is
//! stamped with a hybrid logical clock ([`hlc`]), merged into the local [`replica`] and written
//! under this node's chitchat keys → chitchat gossips it every 250 ms (and at once after a
//! write) through the [`transport`], which seals every datagram ([`seal`]) → on the peers the
//! key-change callbacks feed their replica, which keeps every node's entry per key and reports
//! winner changes as [`SyncEvent::Records`].
//!
//! The crate is generic over what it replicates: values are opaque bytes, and which entry of a
//! key wins beyond last-writer-wins ([`merge`]) is for the reader to decide from
//! [`SyncHandle::entries`].

mod handle;
pub mod hlc;
mod monitor;
mod node;
pub mod record;
pub mod replica;
pub mod seal;
pub mod secret;
pub mod transport;

pub use handle::{PeerStatus, SyncError, SyncEvent, SyncHandle, SyncStats};
pub use hlc::{Hlc, HlcClock};
pub use node::{SyncConfig, SyncNode};
pub use record::{Record, RecordError, merge};
pub use replica::Replica;
pub use seal::{SealCounts, SealStats};
pub use secret::{generate_secret, load_secret};
pub use tokio_util::sync::CancellationToken;
