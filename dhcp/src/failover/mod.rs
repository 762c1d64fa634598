//! The pair's DHCP failover policy, in one place (docs/ARCHITECTURE.md §5, §7). Everything
//! here but the held queue is sans-IO; the daemon's cluster wiring (`src/cluster.rs`) moves
//! gossip events in and calls the [`crate::DhcpHandle`] with what comes out.
//!
//! - [`buckets`]: the RFC 3074 hash of a client and the rendezvous owner of its bucket;
//! - [`takeover`]: the per-peer state machine that hands a silent peer's buckets over after
//!   [`TAKEOVER_AFTER`] and back once it has caught up;
//! - [`pair`]: the policy the wiring ticks: liveness threshold, owners, pool slice;
//! - [`answer`]: the filter the core consults before it answers a DISCOVER or a broadcast
//!   REQUEST;
//! - [`held`]: DISCOVERs left to a peer, replayed when the owners change;
//! - [`value`] and [`merge`]: a lease's replication wire form and the rule that picks the
//!   winning entry; [`import`]: the winner applied to the core.

use std::time::Duration;

pub mod answer;
pub mod buckets;
pub mod held;
mod import;
pub mod merge;
pub mod pair;
pub mod takeover;
pub mod value;

pub use answer::AnswerFilter;
pub use merge::{Entry, lease_winner, newer_values, remote_lease};
pub use pair::{Pair, PeerView, Tick};
pub use takeover::{Failover, PeerPhase, Transition};
pub use value::{LEASE_VALUE_FORMAT, LeaseValue, lease_expiry_ms};

/// Takeover delay after a peer's last heartbeat. Issue 5 allows 2 s from a crash to a new
/// client's lease, and a client's second DISCOVER leaves about 1 s after its first, so the
/// survivor must own the buckets by then. A needless takeover (a peer only briefly slow)
/// costs duplicate offers, never a duplicate address: new addresses come from each node's
/// own slice. Also how long a node that knows no peer id yet waits before it takes the whole
/// pool. Not configurable.
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(1000);
/// A peer whose heartbeat (every 250 ms) has not advanced for this long counts as not live,
/// even before the phi-accrual detector says so (it takes ~1–1.5 s).
pub const SILENT_DEAD: Duration = Duration::from_millis(1000);
/// How often the wiring feeds liveness into [`Pair::tick`].
pub const TICK: Duration = Duration::from_millis(100);
