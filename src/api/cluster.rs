//! The cluster part of `GET /api/v1/status` (absent for a single node): typed, so that
//! `dnsctl`, the metrics and the `--all` views read fields, not string keys.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterStatus {
    /// This node's id.
    pub node: String,
    /// The cluster's name.
    pub cluster: String,
    pub gossip_listen: String,
    /// Every peer the gossip knows (this node not included).
    pub peers: Vec<ClusterPeer>,
    /// Every node id the failover rules know, this one included.
    pub nodes: Vec<String>,
    /// Nodes that own buckets now (RFC 3074 load balancing; a taken-over peer's go to us).
    pub bucket_owners: Vec<String>,
    /// Node id → its admin API address, as gossiped (`n/<node>` records).
    pub admin: BTreeMap<String, String>,
    /// This node's slice of each pool, when DHCP runs.
    pub slice: Option<PoolSlice>,
    /// Replicated records held, and how many of them are leases.
    pub records: usize,
    pub lease_records: usize,
    pub published: u64,
    pub applied: u64,
    pub bad_records: u64,
    /// Remote records or lease values in a newer release's format (skipped).
    pub newer_records: u64,
    pub newer_lease_values: u64,
    pub site_config: SiteReplication,
    pub seal: SealCounters,
    /// This node's takeovers and hand-backs since it started, newest first (at most
    /// [`crate::cluster::HISTORY`]); absent from a node older than the list.
    #[serde(default)]
    pub takeovers: Vec<FailoverEvent>,
}

/// A takeover or a hand-back, as the node that made it saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailoverEvent {
    /// Unix milliseconds.
    pub time_ms: u64,
    /// `take_over`: the peer fell silent, this node serves its clients; `hand_back`: the peer
    /// is live and caught up again, its clients go back to it.
    pub kind: String,
    pub peer: String,
    /// DHCP buckets (of 256) that moved between the peer and this node.
    pub buckets: usize,
}

/// One peer as this node sees it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterPeer {
    pub id: String,
    pub addr: String,
    pub live: bool,
    /// Unix seconds since the peer has been in its current liveness state.
    pub since: u64,
    /// Unix seconds of the last heartbeat heard, if any.
    pub last_heard: Option<u64>,
    pub silent_ms: u64,
    /// Delivery delay of the newest record the peer wrote.
    pub lag_ms: Option<u64>,
    pub caught_up: bool,
    /// `serving`, `silent`, `taken_over`, `returning` or `unknown`.
    pub phase: String,
}

/// `index` of `count` slices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolSlice {
    pub index: u32,
    pub count: u32,
}

/// The replicated site config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiteReplication {
    pub records: usize,
    pub tombstones: usize,
    pub write_back_error: Option<String>,
}

/// The sealed transport's counters: datagrams sealed, opened, and rejected by reason.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct SealCounters {
    pub sealed: u64,
    pub opened: u64,
    pub truncated: u64,
    pub malformed: u64,
    pub wrong_key: u64,
    pub bad_tag: u64,
    pub too_old: u64,
    pub too_new: u64,
    pub replay: u64,
}

impl SealCounters {
    /// The rejection counters by reason, in a fixed order.
    pub fn rejected(&self) -> [(&'static str, u64); 7] {
        [
            ("truncated", self.truncated),
            ("malformed", self.malformed),
            ("wrong_key", self.wrong_key),
            ("bad_tag", self.bad_tag),
            ("too_old", self.too_old),
            ("too_new", self.too_new),
            ("replay", self.replay),
        ]
    }
}
