//! The DNS side of the API: query counters, upstream health, statistics windows and the
//! query log, as the admin API sends them (mapped from `ravens-dns` in `admin/status.rs`).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Query counters since start.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    pub queries: u64,
    pub cached: u64,
    pub stale: u64,
    pub forwarded: u64,
    pub local: u64,
    pub blocked: u64,
    pub refused: u64,
    pub servfail: u64,
    pub formerr: u64,
    pub notimp: u64,
    /// Over the client's rate limit (dropped or REFUSED); absent from a node before the limit.
    #[serde(default)]
    pub limited: u64,
    pub dropped: u64,
    pub truncated: u64,
    pub tcp_connections: u64,
    pub tcp_rejected: u64,
}

/// A client over `dns.rate_limit` lately, with its count of limited queries (since its
/// limiter slot was claimed: a client idle until its bucket refilled starts again at 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitedClient {
    /// The limited prefix: an IPv4 address (/32) or an IPv6 /56.
    pub client: String,
    pub limited: u64,
}

/// DNSSEC validation (`dns.dnssec = "validate"`) and its counts since start or reload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnssecStatus {
    /// False while the system clock reads earlier than the binary's build date: answers are
    /// then served unvalidated (no AD, no SERVFAIL) until the clock is set.
    pub clock_ok: bool,
    /// The build date (Unix seconds) the clock is checked against.
    pub build_time: u64,
    pub secure: u64,
    pub insecure: u64,
    pub bogus: u64,
}

/// Health of one upstream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpstreamStatus {
    pub url: String,
    pub healthy: bool,
    pub srtt_ms: f64,
    pub queries: u64,
    pub errors: u64,
    /// Round-trip histogram of successful exchanges.
    #[serde(default)]
    pub latency: Latency,
}

/// An upstream set other than `dns.upstreams`: a `[[forward]]` zone or a group's
/// `upstreams`, with its own upstreams' health and latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStatus {
    /// `forward` or `group`.
    pub kind: String,
    /// The forward zone's domain as written (a name or a network), or the group's name.
    pub name: String,
    /// A forward zone's DNS zones (a network's reverse zones); empty for a group.
    #[serde(default)]
    pub zones: Vec<String>,
    /// The groups a forward zone applies to; empty = every group.
    #[serde(default)]
    pub groups: Vec<String>,
    pub upstreams: Vec<UpstreamStatus>,
}

/// Round-trip times of successful exchanges: per-bucket counts (not cumulative) and the sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// `buckets[i]` counts RTTs up to the i-th bound (1, 2.5, 5, 10, 25, 50, 100, 250, 500,
    /// 1000, 2500 ms) and above the one before; the last one those above every bound.
    pub buckets: Vec<u64>,
    pub sum_ms: f64,
}

/// One entry of a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Top {
    pub name: String,
    pub count: u64,
}

/// `GET /api/v1/stats?since=1h`: the answer for one node, or several merged (`dnsctl --all`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    /// The nodes whose numbers these are.
    pub nodes: Vec<String>,
    /// The window asked for.
    pub since_secs: u64,
    /// Start of the oldest bucket counted (Unix ms): the window is rounded out to whole buckets.
    pub from_ms: u64,
    pub queries: u64,
    pub blocked: u64,
    /// Blocked queries in percent of all queries.
    pub blocked_percent: f64,
    /// Queries by outcome (cached, forwarded, local, blocked, ...).
    pub outcomes: BTreeMap<String, u64>,
    pub top_domains: Vec<Top>,
    pub top_blocked: Vec<Top>,
    pub top_clients: Vec<Top>,
    /// Queries the top lists were made from: fewer than `queries` when the query log
    /// overflowed between two reads (then the top lists are a sample) or is off.
    pub sampled: u64,
}

impl WindowStats {
    /// Adds another node's numbers: totals summed, top lists merged and cut to `top`.
    pub fn merge(&mut self, other: &WindowStats, top: usize) {
        self.nodes.extend(other.nodes.iter().cloned());
        self.since_secs = self.since_secs.max(other.since_secs);
        self.from_ms = if self.from_ms == 0 { other.from_ms } else { self.from_ms.min(other.from_ms.max(1)) };
        self.queries += other.queries;
        self.blocked += other.blocked;
        self.sampled += other.sampled;
        for (k, v) in &other.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += v;
        }
        merge_tops(&mut self.top_domains, &other.top_domains, top);
        merge_tops(&mut self.top_blocked, &other.top_blocked, top);
        merge_tops(&mut self.top_clients, &other.top_clients, top);
        self.blocked_percent = (10_000 * self.blocked).checked_div(self.queries).map_or(0.0, |p| p as f64 / 100.0);
    }
}

/// `a` and `b` summed by name, the `top` largest kept, largest first (ties by name).
fn merge_tops(a: &mut Vec<Top>, b: &[Top], top: usize) {
    let mut sum: HashMap<&str, u64> = HashMap::new();
    for t in a.iter().chain(b) {
        *sum.entry(&t.name).or_default() += t.count;
    }
    let mut all: Vec<Top> = sum.into_iter().map(|(name, count)| Top { name: name.to_string(), count }).collect();
    all.sort_unstable_by(|x, y| y.count.cmp(&x.count).then_with(|| x.name.cmp(&y.name)));
    all.truncate(top);
    *a = all;
}

/// One logged query (`GET /api/v1/log`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    /// Unix milliseconds.
    pub time_ms: u64,
    pub client: IpAddr,
    /// The question name in presentation form, escaped as `dig` does (never raw bytes).
    pub name: String,
    pub qtype: u16,
    /// cached, forwarded, local, blocked, stale, refused, servfail, ...
    pub outcome: String,
    /// The list that blocked it.
    pub list: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn top(name: &str, count: u64) -> Top {
        Top { name: name.into(), count }
    }

    #[test]
    fn merging_sums_totals_and_top_lists() {
        let mut a = WindowStats {
            nodes: vec!["a".into()],
            queries: 10,
            top_domains: vec![top("hot.test", 9), top("b.test", 1)],
            ..Default::default()
        };
        let b = WindowStats {
            nodes: vec!["b".into()],
            queries: 10,
            blocked: 5,
            top_domains: vec![top("x.test", 30), top("b.test", 1), top("a.test", 2)],
            ..Default::default()
        };
        a.merge(&b, 3);
        assert_eq!(a.nodes, ["a", "b"]);
        assert_eq!((a.queries, a.blocked, a.blocked_percent), (20, 5, 25.0));
        assert_eq!(a.top_domains, [top("x.test", 30), top("hot.test", 9), top("a.test", 2)]);
        // Cut to `top` after merging (moved from the engine's copy of this merge, now gone).
        a.merge(&WindowStats { nodes: vec!["c".into()], ..Default::default() }, 2);
        assert_eq!(a.nodes, ["a", "b", "c"]);
        assert_eq!(a.top_domains.len(), 2);
        assert_eq!(a.top_domains[0].name, "x.test");
        assert_eq!(a.blocked, 5);
    }
}
