//! `GET /api/v1/status`: the running daemon's state as the API's own types, mapped here from
//! the engines' (so `dnsctl` needs only [`crate::api`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::api::{CacheStatus, DhcpStatus, ListStatus, PoolUsage, RejectedLine, Status};
use crate::state::Daemon;

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
        upstreams: state.pool.status(),
        upstreams_from_system: state.config.dns.upstreams_from_system,
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
        queries: resolver.stats.snapshot(),
        local_names: resolver.zone_names(),
        lists: lists(d),
        blocklist_entries: resolver.blocking.engine.load().len(),
        paused_secs: resolver.blocking.paused_for(None, Instant::now()).map(|d| d.as_secs().max(1)),
        cluster: d.cluster.as_ref().map(|c| c.status()),
        dhcp: d.dhcp.as_ref().map(|h| DhcpStatus {
            listen: state.config.node.dhcp_listen.to_string(),
            pools: h.pool_usage().into_iter().map(|(subnet, used, total)| PoolUsage { subnet, used, total }).collect(),
            counters: h.counters(),
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
