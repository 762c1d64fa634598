//! dnsctl's tables for people. Every string that comes from a node and may hold bytes from
//! outside (names, host names, list lines, errors) is printed through [`shown`], so nothing
//! a client, a list or a peer sent can drive the admin's terminal.

use std::borrow::Cow;

use crate::api::{ClusterStatus, Lease, ListStatus, LogEntry, QueryExplanation, Status, WindowStats};

/// `text` for a terminal: every control character written as `\DDD`
/// ([`ravens_config::text::printable`]). Names arrive already in presentation form, so this
/// only catches what a node did not escape (host names, list lines, errors, older nodes).
pub fn shown(text: &str) -> Cow<'_, str> {
    ravens_config::text::printable(text)
}

/// [`shown`] for an optional cell, `-` when absent.
fn shown_or_dash(text: Option<&str>) -> Cow<'_, str> {
    text.map_or(Cow::Borrowed("-"), shown)
}

pub(crate) fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d}d{h}h{m}m")
    } else if h > 0 {
        format!("{h}h{m}m{s}s")
    } else {
        format!("{m}m{s}s")
    }
}

/// The human form of `dnsctl status`.
pub fn print_status(s: &Status) {
    println!("node        {}  (ravens {}, up {})", shown(&s.node), shown(&s.version), duration(s.uptime_secs));
    println!("config      {} (reloads: {})", shown(&s.config.origin), s.config.reloads);
    if let Some(e) = &s.config.last_error {
        println!("            LAST RELOAD FAILED, previous config still serving:");
        for line in e.lines() {
            println!("            {}", shown(line));
        }
    }
    for l in &s.listeners {
        println!("listener    {l}");
    }
    let from = if s.upstreams_from_system { " (from /etc/resolv.conf)" } else { "" };
    println!("\nUPSTREAM{from:<32} HEALTH    SRTT      QUERIES   ERRORS");
    for u in &s.upstreams {
        let health = if u.healthy { "up" } else { "DOWN" };
        println!("{:<40} {health:<9} {:>6.1}ms {:>9} {:>8}", shown(&u.url), u.srtt_ms, u.queries, u.errors);
    }
    for r in &s.routes {
        let to = if r.groups.is_empty() { String::new() } else { format!(" (groups {})", r.groups.join(", ")) };
        let zones = if r.zones.len() > 1 { format!(", {} zones", r.zones.len()) } else { String::new() };
        println!("{} {}{zones}{}", r.kind, shown(&r.name), shown(&to));
        for u in &r.upstreams {
            let health = if u.healthy { "up" } else { "DOWN" };
            let url = format!("  {}", shown(&u.url));
            println!("{url:<40} {health:<9} {:>6.1}ms {:>9} {:>8}", u.srtt_ms, u.queries, u.errors);
        }
    }
    let c = &s.cache;
    let lookups = c.hits + c.misses;
    let ratio = if lookups > 0 { 100.0 * c.hits as f64 / lookups as f64 } else { 0.0 };
    println!(
        "\ncache       {} entries, {} KiB of {} KiB; hits {} ({ratio:.1}%), misses {}, stale {}, evictions {}",
        c.entries,
        c.bytes / 1024,
        c.max_bytes / 1024,
        c.hits,
        c.misses,
        c.stale_hits,
        c.evictions
    );
    let q = &s.queries;
    println!(
        "queries     {} total: cached {}, forwarded {}, local {}, stale {}, refused {}, servfail {}, formerr {}, limited {}, dropped {}",
        q.queries, q.cached, q.forwarded, q.local, q.stale, q.refused, q.servfail, q.formerr, q.limited, q.dropped
    );
    if !s.limited_clients.is_empty() {
        let top: Vec<String> =
            s.limited_clients.iter().map(|c| format!("{} {}", shown(&c.client), c.limited)).collect();
        println!("limited     lately, most first: {}", top.join(", "));
    }
    if let Some(v) = &s.dnssec {
        let clock = if v.clock_ok {
            String::new()
        } else {
            format!(" -- SYSTEM CLOCK BEFORE THE BUILD DATE ({}): NOT VALIDATING until the clock is set", v.build_time)
        };
        println!("dnssec      validating: secure {}, insecure {}, bogus {}{clock}", v.secure, v.insecure, v.bogus);
    }
    println!("local zone  {} names", s.local_names);
    let paused = s.paused_secs.map_or_else(String::new, |p| format!(" (PAUSED for all groups, {p}s left)"));
    println!("blocking    {} rules from {} list(s){paused}", s.blocklist_entries, s.lists.len());
    for l in s.lists.iter().filter(|l| l.last_error.is_some()) {
        println!("            list {}: {}", shown(&l.name), shown(l.last_error.as_deref().unwrap_or_default()));
    }
    if let Some(c) = &s.cluster {
        print_cluster(c);
    }
    if let Some(d) = &s.dhcp {
        println!(
            "\nDHCP on {}: acks {}, offers {}, naks {}, malformed {}",
            d.listen, d.counters.ack, d.counters.offer, d.counters.nak, d.counters.malformed
        );
        println!("{:<20} {:>8} {:>8} {:>6} {:>15}", "SUBNET", "USED", "POOL", "USE%", "OWN SLICE FREE");
        for p in &d.pools {
            let pct = if p.total > 0 { 100.0 * p.used as f64 / p.total as f64 } else { 0.0 };
            let own = format!("{}/{}", p.slice_free, p.slice);
            println!("{:<20} {:>8} {:>8} {:>5.1}% {:>15}", shown(&p.subnet), p.used, p.total, pct, own);
        }
    }
}

/// The human form of `dnsctl leases`.
pub fn print_leases(leases: &[Lease]) {
    let now = ravens_config::clock::unix_secs();
    println!(
        "{:<15} {:<17} {:<20} {:<12} {:>10} {:<8} CLIENT-ID",
        "ADDRESS", "MAC", "HOSTNAME", "SUBNET", "EXPIRES", "NODE"
    );
    for l in leases {
        println!(
            "{:<15} {:<17} {:<20} {:<12} {:>10} {:<8} {}",
            l.ip,
            shown(&l.mac),
            shown_or_dash(l.hostname.as_deref()),
            shown(&l.subnet),
            duration(l.expires.saturating_sub(now)),
            shown(&l.node),
            shown_or_dash(l.client_id.as_deref())
        );
    }
    println!("{} lease(s)", leases.len());
}

/// The human form of `dnsctl lists`.
pub fn print_lists(lists: &[ListStatus]) {
    println!(
        "{:<16} {:<6} {:>9} {:>9} {:>8}  {:<10} SOURCE",
        "LIST", "KIND", "ENTRIES", "LINES", "REJECTED", "REFRESHED"
    );
    let now = ravens_config::clock::unix_secs();
    for l in lists {
        let refreshed =
            l.last_refresh.map_or_else(|| "-".to_string(), |t| format!("{} ago", duration(now.saturating_sub(t))));
        let kind = if l.enabled { l.kind.clone() } else { format!("{} (off)", l.kind) };
        println!(
            "{:<16} {:<6} {:>9} {:>9} {:>8}  {:<10} {}",
            shown(&l.name),
            shown(&kind),
            l.entries,
            l.lines,
            l.rejected,
            refreshed,
            shown(&l.source)
        );
        if let Some(e) = &l.last_error {
            println!("    ERROR: {} (previous copy kept)", shown(e));
        }
        for r in l.first_rejected.iter().take(3) {
            println!("    rejected line {} ({}): {}", r.line, shown(&r.reason), shown(&r.text));
        }
    }
}

/// The human form of `dnsctl query`.
pub fn print_explanation(e: &QueryExplanation) {
    println!(
        "{} for client {} (group {}): {}",
        shown(&e.name),
        shown(&e.client),
        shown(&e.group),
        shown(&e.verdict.to_uppercase())
    );
    if !e.blocking_active {
        println!("  (blocking is off or paused for this group: the name resolves normally)");
    }
    if let Some(d) = &e.dnssec {
        println!("  DNSSEC: {}", shown(d));
    }
    for b in &e.dnssec_bogus {
        println!("  DNSSEC bogus: {}", shown(b));
    }
    if let Some(r) = &e.decided_by {
        println!(
            "  decided by list '{}' line {}: {}",
            shown(&r.list),
            r.line,
            shown(r.line_text.as_deref().unwrap_or(&r.rule))
        );
    }
    let others: Vec<_> = e
        .matches
        .iter()
        .filter(|m| Some((&m.list, m.line)) != e.decided_by.as_ref().map(|d| (&d.list, d.line)))
        .collect();
    if !others.is_empty() {
        println!("  also matching:");
        for m in others {
            let kind = if m.allow { "allow" } else { "block" };
            println!(
                "    {} line {} ({kind}, groups {}): {}",
                shown(&m.list),
                m.line,
                shown(&m.groups.join(",")),
                shown(m.line_text.as_deref().unwrap_or(&m.rule))
            );
        }
    }
}

/// The human form of `dnsctl log`.
pub fn print_log(entries: &[LogEntry]) {
    for e in entries {
        print_log_line(e, None);
    }
}

/// One line of `dnsctl log`; `node` first with `--all`.
pub fn print_log_line(e: &LogEntry, node: Option<&str>) {
    let secs = e.time_ms / 1000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let list = e.list.as_deref().map_or_else(String::new, |l| format!(" (list {})", shown(l)));
    let node = node.map_or_else(String::new, |n| format!("{:<10} ", shown(n)));
    println!(
        "{node}{h:02}:{m:02}:{s:02}.{:03} {:<15} {:<6} {:<40} {}{list}",
        e.time_ms % 1000,
        e.client,
        qtype_name(e.qtype),
        shown(&e.name),
        shown(&e.outcome)
    );
}

/// The human form of `dnsctl stats`.
pub fn print_stats(s: &WindowStats) {
    let window = duration(s.since_secs);
    println!(
        "{} over the last {window}: {} queries, {} blocked ({:.2}%)",
        shown(&s.nodes.join(" + ")),
        s.queries,
        s.blocked,
        s.blocked_percent
    );
    let outcomes: Vec<String> = s.outcomes.iter().filter(|(_, v)| **v > 0).map(|(k, v)| format!("{k} {v}")).collect();
    if !outcomes.is_empty() {
        println!("by outcome: {}", outcomes.join(", "));
    }
    if s.sampled < s.queries {
        println!("(top lists from {} of {} queries: the query log overflowed or is off)", s.sampled, s.queries);
    }
    for (title, list) in
        [("TOP DOMAINS", &s.top_domains), ("TOP BLOCKED", &s.top_blocked), ("TOP CLIENTS", &s.top_clients)]
    {
        println!("\n{title:<50} {:>10}", "QUERIES");
        for t in list {
            println!("{:<50} {:>10}", shown(&t.name), t.count);
        }
    }
}

fn qtype_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

/// The cluster block of `dnsctl status`.
fn print_cluster(c: &ClusterStatus) {
    let now = ravens_config::clock::unix_secs();
    println!(
        "\ncluster     {} (this node {}, gossip {}), bucket owners: {}",
        shown(&c.cluster),
        shown(&c.node),
        shown(&c.gossip_listen),
        c.bucket_owners.iter().map(|o| shown(o)).collect::<Vec<_>>().join(",")
    );
    println!(
        "{:<12} {:<22} {:<6} {:<11} {:>11} {:>8} {:>9}",
        "PEER", "ADDRESS", "LIVE", "PHASE", "LAST HEARD", "LAG", "CAUGHT-UP"
    );
    for p in &c.peers {
        let heard = p.last_heard.map_or_else(|| "never".to_string(), |t| format!("{}s ago", now.saturating_sub(t)));
        let lag = p.lag_ms.map_or_else(|| "-".to_string(), |l| format!("{l}ms"));
        println!(
            "{:<12} {:<22} {:<6} {:<11} {:>11} {:>8} {:>9}",
            shown(&p.id),
            shown(&p.addr),
            if p.live { "yes" } else { "NO" },
            shown(&p.phase),
            heard,
            lag,
            if p.caught_up { "yes" } else { "no" }
        );
    }
    println!("replicated  {} records ({} leases)", c.records, c.lease_records);
    let seal = c.seal;
    let rejected: Vec<String> = seal.rejected().iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("gossip      sealed {}, opened {}; rejected: {}", seal.sealed, seal.opened, rejected.join(", "));
}
