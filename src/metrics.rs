//! Prometheus text exposition of the daemon's counters.

use std::fmt::Write;

use crate::api::Status;

/// Renders `status` in the Prometheus text format (version 0.0.4).
pub fn render(s: &Status) -> String {
    let mut out = String::with_capacity(2048);
    let q = &s.queries;
    let _ = writeln!(out, "# HELP ravens_dns_queries_total DNS queries received, by outcome.");
    let _ = writeln!(out, "# TYPE ravens_dns_queries_total counter");
    for (outcome, v) in [
        ("cached", q.cached),
        ("stale", q.stale),
        ("forwarded", q.forwarded),
        ("local", q.local),
        ("blocked", q.blocked),
        ("refused", q.refused),
        ("servfail", q.servfail),
        ("formerr", q.formerr),
        ("notimp", q.notimp),
        ("dropped", q.dropped),
    ] {
        let _ = writeln!(out, "ravens_dns_queries_total{{outcome=\"{outcome}\"}} {v}");
    }
    let counter = |out: &mut String, name: &str, help: &str, v: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
    };
    let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
    };
    counter(&mut out, "ravens_dns_truncated_total", "UDP answers sent truncated (TC=1).", q.truncated);
    counter(&mut out, "ravens_dns_tcp_connections_total", "TCP connections accepted.", q.tcp_connections);
    counter(&mut out, "ravens_dns_tcp_rejected_total", "TCP connections refused over the cap.", q.tcp_rejected);
    let c = &s.cache;
    counter(&mut out, "ravens_dns_cache_hits_total", "Cache hits.", c.hits);
    counter(&mut out, "ravens_dns_cache_misses_total", "Cache misses.", c.misses);
    counter(&mut out, "ravens_dns_cache_stale_hits_total", "Stale answers served (RFC 8767).", c.stale_hits);
    counter(&mut out, "ravens_dns_cache_evictions_total", "Cache entries evicted for space.", c.evictions);
    gauge(&mut out, "ravens_dns_cache_entries", "Cache entries held.", c.entries as f64);
    gauge(&mut out, "ravens_dns_cache_bytes", "Cache bytes held.", c.bytes as f64);
    let _ = writeln!(
        out,
        "# HELP ravens_upstream_healthy 1 when the upstream is healthy.\n# TYPE ravens_upstream_healthy gauge"
    );
    for u in &s.upstreams {
        let _ = writeln!(out, "ravens_upstream_healthy{{upstream=\"{}\"}} {}", escape(&u.url), u8::from(u.healthy));
    }
    let _ = writeln!(
        out,
        "# HELP ravens_upstream_srtt_seconds Smoothed round-trip time.\n# TYPE ravens_upstream_srtt_seconds gauge"
    );
    for u in &s.upstreams {
        let _ = writeln!(out, "ravens_upstream_srtt_seconds{{upstream=\"{}\"}} {}", escape(&u.url), u.srtt_ms / 1000.0);
    }
    let _ = writeln!(
        out,
        "# HELP ravens_upstream_errors_total Failed upstream exchanges.\n# TYPE ravens_upstream_errors_total counter"
    );
    for u in &s.upstreams {
        let _ = writeln!(out, "ravens_upstream_errors_total{{upstream=\"{}\"}} {}", escape(&u.url), u.errors);
    }
    gauge(
        &mut out,
        "ravens_config_last_reload_failed",
        "1 when the last config load failed.",
        f64::from(u8::from(s.config.last_error.is_some())),
    );
    gauge(&mut out, "ravens_uptime_seconds", "Seconds since start.", s.uptime_secs as f64);
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
