//! `GET /api/v1/status`: the running daemon's state as the API's own types, mapped here from
//! the engines' (so `dnsctl` needs only [`crate::api`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::api::{
    CacheStatus, DhcpCounters, DhcpStatus, DnssecStatus, Latency, LimitedClient, ListStatus, LogEntry, PoolUsage,
    RejectedLine, RouteStatus, StatsSnapshot, Status, Top, UpstreamStatus, WindowStats,
};
use crate::state::Daemon;

/// Limited clients shown in the status and the metrics.
const TOP_LIMITED: usize = 10;

/// The status of this node.
pub fn status(d: &Daemon) -> Status {
    let resolver = d.dns.resolver();
    let state = resolver.state();
    let c = &resolver.cache;
    let (entries, bytes) = c.usage();
    let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
    Status {
        node: state.config.node.name.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_secs: d.started.elapsed().as_secs(),
        config: d.config_state.lock().clone(),
        listeners: d.listeners.clone(),
        upstreams: state.routes.default_pool().status().into_iter().map(upstream).collect(),
        upstreams_from_system: state.config.dns.upstreams_from_system,
        routes: state.routes.status().into_iter().map(route).collect(),
        cache: CacheStatus {
            entries,
            bytes,
            max_bytes: c.policy().max_bytes,
            hits: l(&c.stats.hits),
            misses: l(&c.stats.misses),
            stale_hits: l(&c.stats.stale_hits),
            inserts: l(&c.stats.inserts),
            evictions: l(&c.stats.evictions),
        },
        queries: queries(resolver.stats.snapshot()),
        limited_clients: state.limiter.as_ref().map_or_else(Vec::new, |l| {
            let top = l.limited_clients(TOP_LIMITED);
            top.into_iter().map(|(net, limited)| LimitedClient { client: net.to_string(), limited }).collect()
        }),
        dnssec: state.dnssec.as_ref().map(|v| {
            let s = v.status();
            DnssecStatus {
                clock_ok: s.clock_ok,
                build_time: s.build_time,
                secure: s.secure,
                insecure: s.insecure,
                bogus: s.bogus,
            }
        }),
        local_names: resolver.zone_names(),
        lists: lists(d),
        blocklist_entries: resolver.blocking.engine.load().len(),
        paused_secs: resolver.blocking.paused_for(None, Instant::now()).map(|d| d.as_secs().max(1)),
        cluster: d.cluster.as_ref().map(|c| c.status()),
        dhcp: d.dhcp.as_ref().map(|h| DhcpStatus {
            listen: state.config.node.dhcp_listen.to_string(),
            pools: h
                .pool_usage()
                .into_iter()
                .map(|(subnet, u)| PoolUsage {
                    subnet,
                    used: u.used,
                    total: u.total,
                    slice: u.slice,
                    slice_free: u.slice_free,
                })
                .collect(),
            counters: dhcp_counters(h.counters()),
        }),
    }
}

/// Every list's state (`GET /api/v1/lists`).
pub fn lists(d: &Daemon) -> Vec<ListStatus> {
    d.dns.lists().status().into_iter().map(list).collect()
}

fn list(s: ravens_dns::lists::ListStatus) -> ListStatus {
    ListStatus {
        name: s.name,
        kind: s.kind,
        source: s.source,
        enabled: s.enabled,
        entries: s.entries,
        lines: s.lines,
        rejected: s.rejected,
        first_rejected: s
            .first_rejected
            .into_iter()
            .map(|r| RejectedLine { line: r.line, text: r.text, reason: r.reason })
            .collect(),
        last_refresh: s.last_refresh,
        last_error: s.last_error,
    }
}

fn route((r, ups): (ravens_dns::route::Route, Vec<ravens_dns::upstream::UpstreamStatus>)) -> RouteStatus {
    use ravens_dns::route::Route;
    let upstreams = ups.into_iter().map(upstream).collect();
    match r {
        Route::Forward { domain, zones, groups } => {
            RouteStatus { kind: "forward".into(), name: domain, zones, groups, upstreams }
        }
        Route::Group(name) => RouteStatus { kind: "group".into(), name, zones: vec![], groups: vec![], upstreams },
        Route::Default => {
            RouteStatus { kind: "default".into(), name: String::new(), zones: vec![], groups: vec![], upstreams }
        }
    }
}

fn upstream(u: ravens_dns::upstream::UpstreamStatus) -> UpstreamStatus {
    UpstreamStatus {
        url: u.url,
        healthy: u.healthy,
        srtt_ms: u.srtt_ms,
        queries: u.queries,
        errors: u.errors,
        latency: Latency { buckets: u.latency.buckets, sum_ms: u.latency.sum_ms },
    }
}

fn queries(q: ravens_dns::stats::StatsSnapshot) -> StatsSnapshot {
    StatsSnapshot {
        queries: q.queries,
        cached: q.cached,
        stale: q.stale,
        forwarded: q.forwarded,
        local: q.local,
        blocked: q.blocked,
        refused: q.refused,
        servfail: q.servfail,
        formerr: q.formerr,
        notimp: q.notimp,
        limited: q.limited,
        dropped: q.dropped,
        truncated: q.truncated,
        tcp_connections: q.tcp_connections,
        tcp_rejected: q.tcp_rejected,
    }
}

fn dhcp_counters(c: ravens_dhcp::Counters) -> DhcpCounters {
    DhcpCounters {
        discover: c.discover,
        request: c.request,
        release: c.release,
        decline: c.decline,
        inform: c.inform,
        offer: c.offer,
        ack: c.ack,
        nak: c.nak,
        malformed: c.malformed,
        unanswered: c.unanswered,
        pool_exhausted: c.pool_exhausted,
        send_errors: c.send_errors,
        journal_errors: c.journal_errors,
        events_dropped: c.events_dropped,
        held_replayed: c.held_replayed,
    }
}

/// A statistics window (`GET /api/v1/stats`).
pub fn window_stats(w: ravens_dns::stats::window::WindowStats) -> WindowStats {
    let tops =
        |t: Vec<ravens_dns::stats::window::Top>| t.into_iter().map(|t| Top { name: t.name, count: t.count }).collect();
    WindowStats {
        nodes: w.nodes,
        since_secs: w.since_secs,
        from_ms: w.from_ms,
        queries: w.queries,
        blocked: w.blocked,
        blocked_percent: w.blocked_percent,
        outcomes: w.outcomes,
        top_domains: tops(w.top_domains),
        top_blocked: tops(w.top_blocked),
        top_clients: tops(w.top_clients),
        sampled: w.sampled,
    }
}

/// A query log entry (`GET /api/v1/log`).
pub fn log_entry(e: ravens_dns::querylog::LogEntry) -> LogEntry {
    LogEntry { time_ms: e.time_ms, client: e.client, name: e.name, qtype: e.qtype, outcome: e.outcome, list: e.list }
}
