//! Prometheus text exposition (format 0.0.4) of the daemon's counters: DNS queries by
//! outcome, type and client group, cache, upstream latency histograms and errors, lists,
//! DHCP packets and pool use, gossip peers, rejected datagrams and replication lag.
//!
//! Everything is read from counters that exist anyway (the status snapshot, the query
//! type counters and the statistics window): scraping adds no work to the query path.

use std::fmt::Write;

use crate::api::{ClusterStatus, Status, UpstreamStatus};
use crate::state::Daemon;

/// Writes one metric family: `# HELP`, `# TYPE`, then its samples.
struct Family<'a> {
    out: &'a mut String,
    name: &'static str,
}

impl<'a> Family<'a> {
    fn new(out: &'a mut String, name: &'static str, kind: &str, help: &str) -> Self {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        Family { out, name }
    }

    /// A sample with labels (`[("k", "v")]`) and an optional name suffix (`_bucket`, `_sum`).
    fn sample(&mut self, suffix: &str, labels: &[(&str, &str)], v: f64) -> &mut Self {
        let _ = write!(self.out, "{}{suffix}", self.name);
        if !labels.is_empty() {
            let body: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.out, "{{{}}}", body.join(","));
        }
        let _ = writeln!(self.out, " {v}");
        self
    }

    fn value(&mut self, v: f64) -> &mut Self {
        self.sample("", &[], v)
    }

    fn labelled(&mut self, label: &str, value: &str, v: f64) -> &mut Self {
        self.sample("", &[(label, value)], v)
    }

    /// One sample per item that has a value: `f` gives the label value and the value.
    fn per<'t, T>(&mut self, label: &str, items: &'t [T], f: impl Fn(&'t T) -> (&'t str, Option<f64>)) -> &mut Self {
        for item in items {
            if let (value, Some(v)) = f(item) {
                self.labelled(label, value, v);
            }
        }
        self
    }

    /// One sample per (label value, count).
    fn each<'s>(&mut self, label: &str, items: impl IntoIterator<Item = (&'s str, u64)>) -> &mut Self {
        for (value, v) in items {
            self.labelled(label, value, v as f64);
        }
        self
    }
}

/// Renders the daemon's metrics from its status `s` and its counters.
pub fn render(d: &Daemon, s: &Status) -> String {
    let mut out = String::with_capacity(8192);
    dns(&mut out, d, s);
    upstreams(&mut out, s);
    lists(&mut out, s);
    dhcp(&mut out, d, s);
    if let Some(c) = &s.cluster {
        cluster(&mut out, c);
    }
    let failed = f64::from(u8::from(s.config.last_error.is_some()));
    Family::new(&mut out, "ravens_config_last_reload_failed", "gauge", "1 when the last config load failed.")
        .value(failed);
    Family::new(&mut out, "ravens_uptime_seconds", "gauge", "Seconds since start.").value(s.uptime_secs as f64);
    out
}

fn dns(out: &mut String, d: &Daemon, s: &Status) {
    // The engine's own snapshot: it knows its outcomes' names.
    let q = &d.dns.resolver().stats.snapshot();
    Family::new(out, "ravens_dns_queries_total", "counter", "DNS queries answered (or dropped), by outcome.")
        .each("outcome", q.by_outcome().map(|(o, v)| (o.name(), v)));
    Family::new(out, "ravens_dns_queries_by_type_total", "counter", "DNS queries by query type.")
        .each("qtype", d.dns.resolver().querylog.qtypes.snapshot());
    let mut f = Family::new(
        out,
        "ravens_dns_queries_by_group_total",
        "counter",
        "DNS queries by client group (read from the query log: a sample when it overflows between reads).",
    );
    for (g, v) in d.dns.window().groups() {
        f.labelled("group", &g, v as f64);
    }
    let counters = [
        ("ravens_dns_received_total", "DNS messages received.", q.queries),
        ("ravens_dns_truncated_total", "UDP answers sent truncated (TC=1).", q.truncated),
        ("ravens_dns_tcp_connections_total", "TCP connections accepted.", q.tcp_connections),
        ("ravens_dns_tcp_rejected_total", "TCP connections refused over the cap.", q.tcp_rejected),
        ("ravens_dns_cache_hits_total", "Cache hits.", s.cache.hits),
        ("ravens_dns_cache_misses_total", "Cache misses.", s.cache.misses),
        ("ravens_dns_cache_stale_hits_total", "Stale answers served (RFC 8767).", s.cache.stale_hits),
        ("ravens_dns_cache_inserts_total", "Answers stored in the cache.", s.cache.inserts),
        ("ravens_dns_cache_evictions_total", "Cache entries evicted for space.", s.cache.evictions),
    ];
    for (name, help, v) in counters {
        Family::new(out, name, "counter", help).value(v as f64);
    }
    let c = &s.cache;
    Family::new(out, "ravens_dns_cache_entries", "gauge", "Cache entries held.").value(c.entries as f64);
    Family::new(out, "ravens_dns_cache_bytes", "gauge", "Cache bytes held.").value(c.bytes as f64);
    Family::new(out, "ravens_dns_cache_max_bytes", "gauge", "Cache size bound.").value(c.max_bytes as f64);
    Family::new(out, "ravens_dns_local_names", "gauge", "Names in the local zone.").value(s.local_names as f64);
    Family::new(
        out,
        "ravens_dns_limited_client_queries",
        "gauge",
        "Queries limited by dns.rate_limit for the most limited clients lately (top 10; a client's count starts again after it was idle).",
    )
    .per("client", &s.limited_clients, |c| (&c.client, Some(c.limited as f64)));
    Family::new(out, "ravens_dns_blocking_paused", "gauge", "1 while blocking is paused for all groups.")
        .value(f64::from(u8::from(s.paused_secs.is_some())));
    if let Some(v) = &s.dnssec {
        Family::new(out, "ravens_dnssec_validations_total", "counter", "Answers validated, by verdict.")
            .each("verdict", [("secure", v.secure), ("insecure", v.insecure), ("bogus", v.bogus)]);
        Family::new(
            out,
            "ravens_dnssec_clock_ok",
            "gauge",
            "0 while the system clock is before the build date (nothing validated).",
        )
        .value(f64::from(u8::from(v.clock_ok)));
    }
}

/// Every upstream with its labels: `upstream` for `dns.upstreams`, and `route` too
/// (`forward DOMAIN` or `group NAME`) for the upstreams of forward zones and groups.
fn upstream_rows(s: &Status) -> Vec<(Vec<(&str, String)>, &UpstreamStatus)> {
    let plain = s.upstreams.iter().map(|u| (vec![("upstream", u.url.clone())], u));
    let routed = s.routes.iter().flat_map(|r| {
        let route = format!("{} {}", r.kind, r.name);
        r.upstreams.iter().map(move |u| (vec![("route", route.clone()), ("upstream", u.url.clone())], u))
    });
    plain.chain(routed).collect()
}

fn upstreams(out: &mut String, s: &Status) {
    let rows = upstream_rows(s);
    type Gauge = (&'static str, &'static str, &'static str, fn(&UpstreamStatus) -> f64);
    let gauges: [Gauge; 4] = [
        ("ravens_upstream_healthy", "gauge", "1 when the upstream is healthy.", |u| f64::from(u8::from(u.healthy))),
        ("ravens_upstream_srtt_seconds", "gauge", "Smoothed round-trip time.", |u| u.srtt_ms / 1000.0),
        ("ravens_upstream_queries_total", "counter", "Upstream exchanges tried.", |u| u.queries as f64),
        ("ravens_upstream_errors_total", "counter", "Failed upstream exchanges.", |u| u.errors as f64),
    ];
    for (name, kind, help, value) in gauges {
        let mut f = Family::new(out, name, kind, help);
        for (labels, u) in &rows {
            let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
            f.sample("", &labels, value(u));
        }
    }
    let mut f = Family::new(
        out,
        "ravens_upstream_latency_seconds",
        "histogram",
        "Round-trip time of successful upstream exchanges (since the last config load).",
    );
    for (labels, u) in &rows {
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut cumulative = 0u64;
        for (i, bound) in ravens_dns::upstream::LATENCY_BOUNDS_MS.iter().enumerate() {
            cumulative += u.latency.buckets.get(i).copied().unwrap_or(0);
            let le = format!("{}", bound / 1000.0);
            f.sample("_bucket", &[&labels[..], &[("le", &le)]].concat(), cumulative as f64);
        }
        let count: u64 = u.latency.buckets.iter().sum();
        f.sample("_bucket", &[&labels[..], &[("le", "+Inf")]].concat(), count as f64);
        f.sample("_sum", &labels, u.latency.sum_ms / 1000.0);
        f.sample("_count", &labels, count as f64);
    }
}

fn lists(out: &mut String, s: &Status) {
    Family::new(out, "ravens_blocklist_rules", "gauge", "Rules in the compiled blocklist engine.")
        .value(s.blocklist_entries as f64);
    let mut f = Family::new(out, "ravens_list_entries", "gauge", "Rules kept from each list at its last compile.");
    for l in &s.lists {
        f.sample("", &[("list", &l.name), ("kind", &l.kind)], l.entries as f64);
    }
    Family::new(out, "ravens_list_rejected_lines", "gauge", "Lines of each list that were not rules.").per(
        "list",
        &s.lists,
        |l| (&l.name, Some(l.rejected as f64)),
    );
    Family::new(
        out,
        "ravens_list_last_refresh_timestamp_seconds",
        "gauge",
        "Unix time of the last successful download of each URL list.",
    )
    .per("list", &s.lists, |l| (&l.name, l.last_refresh.map(|t| t as f64)));
    Family::new(
        out,
        "ravens_list_refresh_failed",
        "gauge",
        "1 when the last download or read of the list failed (the previous copy stays in use).",
    )
    .per("list", &s.lists, |l| (&l.name, Some(f64::from(u8::from(l.last_error.is_some())))));
}

fn dhcp(out: &mut String, d: &Daemon, s: &Status) {
    let (Some(dh), Some(handle)) = (&s.dhcp, &d.dhcp) else { return };
    let c = &dh.counters;
    Family::new(out, "ravens_dhcp_received_total", "counter", "DHCP requests received, by message type.").each(
        "type",
        [
            ("discover", c.discover),
            ("request", c.request),
            ("release", c.release),
            ("decline", c.decline),
            ("inform", c.inform),
        ],
    );
    Family::new(out, "ravens_dhcp_sent_total", "counter", "DHCP answers sent, by message type.")
        .each("type", [("offer", c.offer), ("ack", c.ack), ("nak", c.nak)]);
    Family::new(out, "ravens_dhcp_dropped_total", "counter", "DHCP datagrams not answered, by reason.").each(
        "reason",
        [
            ("malformed", c.malformed),
            ("unanswered", c.unanswered),
            ("pool_exhausted", c.pool_exhausted),
            ("send_error", c.send_errors),
        ],
    );
    Family::new(out, "ravens_dhcp_journal_errors_total", "counter", "Lease journal write failures.")
        .value(c.journal_errors as f64);
    Family::new(
        out,
        "ravens_dhcp_held_replayed_total",
        "counter",
        "DISCOVERs left to a silent peer and answered again at the takeover.",
    )
    .value(c.held_replayed as f64);
    Family::new(out, "ravens_dhcp_active_leases", "gauge", "Active leases (this node's and imported).").per(
        "subnet",
        &dh.pools,
        |p| (&p.subnet, Some(handle.leases(Some(&p.subnet)).len() as f64)),
    );
    Family::new(out, "ravens_dhcp_pool_used", "gauge", "Active leases in the subnet, every node's.").per(
        "subnet",
        &dh.pools,
        |p| (&p.subnet, Some(p.used as f64)),
    );
    Family::new(
        out,
        "ravens_dhcp_pool_size",
        "gauge",
        "The subnet's pool (every node's slice, less exclusions) plus reservations.",
    )
    .per("subnet", &dh.pools, |p| (&p.subnet, Some(p.total as f64)));
    Family::new(out, "ravens_dhcp_pool_utilisation_ratio", "gauge", "Used share of the subnet's addresses.").per(
        "subnet",
        &dh.pools,
        |p| (&p.subnet, Some(if p.total > 0 { p.used as f64 / p.total as f64 } else { 0.0 })),
    );
    Family::new(out, "ravens_dhcp_slice_size", "gauge", "Pool addresses this node hands out (its slice).").per(
        "subnet",
        &dh.pools,
        |p| (&p.subnet, Some(p.slice as f64)),
    );
    Family::new(out, "ravens_dhcp_slice_free", "gauge", "Addresses of this node's slice free now.").per(
        "subnet",
        &dh.pools,
        |p| (&p.subnet, Some(p.slice_free as f64)),
    );
}

fn cluster(out: &mut String, c: &ClusterStatus) {
    let peers = &c.peers;
    let live = peers.iter().filter(|p| p.live).count();
    Family::new(out, "ravens_cluster_peers", "gauge", "Peers known to the gossip.").value(peers.len() as f64);
    Family::new(out, "ravens_cluster_peers_live", "gauge", "Peers the failure detector calls live.").value(live as f64);
    Family::new(out, "ravens_cluster_peer_live", "gauge", "1 when the peer is live.")
        .per("peer", peers, |p| (p.id.as_str(), Some(f64::from(u8::from(p.live)))));
    Family::new(
        out,
        "ravens_cluster_replication_lag_seconds",
        "gauge",
        "Delivery delay of the newest record each peer wrote.",
    )
    .per("peer", peers, |p| (p.id.as_str(), p.lag_ms.map(|l| l as f64 / 1000.0)));
    Family::new(out, "ravens_gossip_datagrams_sealed_total", "counter", "Gossip datagrams sealed and sent.")
        .value(c.seal.sealed as f64);
    Family::new(out, "ravens_gossip_datagrams_opened_total", "counter", "Gossip datagrams received and opened.")
        .value(c.seal.opened as f64);
    let mut f =
        Family::new(out, "ravens_gossip_datagrams_rejected_total", "counter", "Gossip datagrams rejected, by reason.");
    for (r, v) in c.seal.rejected() {
        f.labelled("reason", r, v as f64);
    }
    Family::new(out, "ravens_cluster_records", "gauge", "Replicated records held.").value(c.records as f64);
    Family::new(out, "ravens_cluster_published_total", "counter", "Records this node published.")
        .value(c.published as f64);
    Family::new(out, "ravens_cluster_applied_total", "counter", "Remote record versions applied.")
        .value(c.applied as f64);
    Family::new(out, "ravens_cluster_bad_records_total", "counter", "Remote values that were not valid records.")
        .value(c.bad_records as f64);
    let mut f = Family::new(
        out,
        "ravens_cluster_newer_format_total",
        "counter",
        "Remote records or lease values in a newer release's format, skipped: upgrade this node.",
    );
    f.labelled("kind", "record", c.newer_records as f64);
    f.labelled("kind", "lease_value", c.newer_lease_values as f64);
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
