//! Types of the admin HTTP API (`/api/v1/...`), shared by ravensd and dnsctl. They are the
//! API's own: the admin handlers map the engines' types into them, so dnsctl imports no engine.

use serde::{Deserialize, Serialize};

pub mod cluster;
mod dns;
pub mod edits;
pub mod import;

pub use cluster::{ClusterPeer, ClusterStatus, PoolSlice, SealCounters, SiteReplication};
pub use dns::{
    DnssecStatus, Latency, LimitedClient, LogEntry, RouteStatus, StatsSnapshot, Top, UpstreamStatus, WindowStats,
};
pub use import::{ImportCounts, ImportReport, ImportSkipped};

/// `GET /api/v1/status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub node: String,
    pub version: String,
    pub uptime_secs: u64,
    pub config: ConfigState,
    pub listeners: Vec<String>,
    pub upstreams: Vec<UpstreamStatus>,
    pub upstreams_from_system: bool,
    /// Forward zones and groups' own upstreams, each with its upstreams' health; absent
    /// from a node before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteStatus>,
    pub cache: CacheStatus,
    pub queries: StatsSnapshot,
    /// The clients with the most queries limited by `dns.rate_limit` lately (at most 10,
    /// most first); absent when none is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limited_clients: Vec<LimitedClient>,
    /// DNSSEC validation; absent when `dns.dnssec = "off"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecStatus>,
    pub local_names: usize,
    /// Absent when no `[[subnet]]` is configured.
    pub dhcp: Option<DhcpStatus>,
    pub lists: Vec<ListStatus>,
    /// Rules in the compiled blocklist engine.
    pub blocklist_entries: usize,
    /// Seconds of blocking pause left for all groups, if paused.
    pub paused_secs: Option<u64>,
    /// Gossip membership, peers and seal counters; absent for a single node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterStatus>,
}

/// One block or allow list.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ListStatus {
    pub name: String,
    /// `block` or `allow`.
    pub kind: String,
    /// Path or URL.
    pub source: String,
    pub enabled: bool,
    /// Rules kept at the last compile.
    pub entries: u64,
    pub lines: u64,
    pub rejected: u64,
    /// The first rejected lines, each with the parser's reason.
    pub first_rejected: Vec<RejectedLine>,
    /// Unix seconds of the last successful download (URL lists).
    pub last_refresh: Option<u64>,
    /// Why the last download or read failed; the previous copy stays in use.
    pub last_error: Option<String>,
}

/// A list line that is not a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RejectedLine {
    /// 1-based line number.
    pub line: u64,
    /// The line, control characters escaped, cut to 120 characters.
    pub text: String,
    /// Why it is not a rule (e.g. "not UTF-8 text", "NUL byte (binary data?)").
    pub reason: String,
}

/// DHCP service state for `status`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DhcpStatus {
    pub listen: String,
    pub pools: Vec<PoolUsage>,
    pub counters: DhcpCounters,
}

/// The DHCP service's counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpCounters {
    pub discover: u64,
    pub request: u64,
    pub release: u64,
    pub decline: u64,
    pub inform: u64,
    pub offer: u64,
    pub ack: u64,
    pub nak: u64,
    /// Datagrams that were not well-formed DHCP requests.
    pub malformed: u64,
    /// Well-formed requests that got no answer (no subnet, silence, other server, pool full).
    pub unanswered: u64,
    pub pool_exhausted: u64,
    pub send_errors: u64,
    pub journal_errors: u64,
    /// Lease events dropped because the daemon's channel was full.
    pub events_dropped: u64,
    /// DISCOVERs left to a silent peer and answered again when this node took its clients over.
    #[serde(default)]
    pub held_replayed: u64,
}

/// A subnet's addresses: `used` of `total` over the whole subnet (leases replicate, so every
/// node of a pair reports the same), and this node's own share of the pool (`slice`, of which
/// `slice_free` are free), which is what it can still hand out while its peer is live.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PoolUsage {
    pub subnet: String,
    /// Active leases in the subnet, every node's.
    pub used: u64,
    /// The pool's addresses (every node's slice, less exclusions) plus the reservations.
    pub total: u64,
    /// Pool addresses this node hands out; absent from older nodes.
    #[serde(default)]
    pub slice: u64,
    #[serde(default)]
    pub slice_free: u64,
}

/// One lease, as `GET /api/v1/leases` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lease {
    pub subnet: String,
    pub ip: std::net::Ipv4Addr,
    /// `aa:bb:cc:dd:ee:ff`
    pub mac: String,
    /// Hex, when the client sent option 61.
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    /// Unix seconds.
    pub expires: u64,
    /// The node that granted it.
    pub node: String,
}

/// Which config is live and whether the last load failed.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConfigState {
    /// Path of the file, or `<embedded default>`.
    pub origin: String,
    /// Seconds since the epoch of the last successful load.
    pub loaded_at: u64,
    /// The last load's error (`FILE:LINE:COL: ...`); the previous config keeps serving.
    pub last_error: Option<String>,
    pub reloads: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CacheStatus {
    pub entries: usize,
    pub bytes: usize,
    pub max_bytes: u64,
    pub hits: u64,
    pub misses: u64,
    pub stale_hits: u64,
    pub inserts: u64,
    pub evictions: u64,
}

/// Error body of every non-2xx answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}

/// `POST /api/v1/pause` and `/api/v1/resume` body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PauseRequest {
    /// One group; absent = every group.
    pub group: Option<String>,
    /// How long (pause only). Default 300.
    pub seconds: Option<u64>,
}

/// `GET /api/v1/query?name=NAME&client=IP`: why a name is blocked or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QueryExplanation {
    pub name: String,
    pub client: String,
    pub group: String,
    /// `blocked`, `allowed` or `not listed`.
    pub verdict: String,
    /// True when blocking is paused or off for the group (the verdict is then not applied).
    pub blocking_active: bool,
    pub decided_by: Option<RuleInfo>,
    /// Every rule of every list matching the name, whatever its group.
    pub matches: Vec<RuleInfo>,
    /// How DNSSEC treats the name (`validated`, or why not); absent when `dns.dnssec = "off"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<String>,
    /// The latest bogus verdicts for the name, newest first: type, EDE code, why (RRset,
    /// key, time) and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dnssec_bogus: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuleInfo {
    pub list: String,
    pub line: u32,
    /// The rule in list syntax.
    pub rule: String,
    /// The list's line as written (when the list can be read).
    pub line_text: Option<String>,
    pub allow: bool,
    pub groups: Vec<String>,
}
