//! dnsctl's client side: finding a node and its token, calling the API, printing tables.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

pub mod all;
pub mod site;

use crate::api::{ApiError, Lease, ListStatus, QueryExplanation, Status, WindowStats};

/// Where dnsctl looks when told nothing.
pub const DEFAULT_CONFIG: &str = "/etc/ravens/ravens.toml";

/// A node to talk to.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` of the admin API.
    pub addr: String,
    pub token: String,
    /// Where the address and token came from, for error messages.
    pub source: String,
}

/// Resolves the node: `--node` (+ `--token-file`/`RAVENS_TOKEN`), else `--config`, else
/// /etc/ravens/ravens.toml, else the embedded default (as `ravensd` with no file runs).
pub fn target(node: Option<&str>, token_file: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Target> {
    if let Some(addr) = node {
        let token = match (token_file, std::env::var("RAVENS_TOKEN")) {
            (Some(f), _) => read_token(f)?,
            (None, Ok(t)) => t.trim().to_string(),
            (None, Err(_)) => bail!("--node {addr} needs --token-file FILE or RAVENS_TOKEN"),
        };
        return Ok(Target { addr: addr.to_string(), token, source: format!("--node {addr}") });
    }
    let (cfg, source) = match config {
        Some(p) => (ravens_config::load_file(p)?, p.display().to_string()),
        None if Path::new(DEFAULT_CONFIG).exists() => {
            (ravens_config::load_file(Path::new(DEFAULT_CONFIG))?, DEFAULT_CONFIG.to_string())
        }
        None => (ravens_config::embedded_default(), "the embedded default config".to_string()),
    };
    let token_path = token_file.map_or_else(|| cfg.node.data_dir.join("admin.token"), PathBuf::from);
    Ok(Target { addr: cfg.node.admin_listen.to_string(), token: read_token(&token_path)?, source })
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| {
        format!("reading the admin token {} (is ravensd running there, and may you read it?)", path.display())
    })?;
    Ok(t.trim().to_string())
}

/// GETs `path` from the node's API and decodes the JSON answer.
pub async fn get<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::GET, path, None).await
}

/// POSTs to `path` (no body) and decodes the JSON answer.
pub async fn post<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::POST, path, None).await
}

/// POSTs a JSON body to `path` and decodes the JSON answer.
pub async fn post_json<T: DeserializeOwned>(t: &Target, path: &str, body: &impl serde::Serialize) -> anyhow::Result<T> {
    call(t, reqwest::Method::POST, path, Some(serde_json::to_vec(body)?)).await
}

/// PUTs a JSON body to `path` and decodes the JSON answer.
pub async fn put_json<T: DeserializeOwned>(t: &Target, path: &str, body: &impl serde::Serialize) -> anyhow::Result<T> {
    call(t, reqwest::Method::PUT, path, Some(serde_json::to_vec(body)?)).await
}

/// DELETEs `path` and decodes the JSON answer.
pub async fn delete<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::DELETE, path, None).await
}

async fn call<T: DeserializeOwned>(
    t: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> anyhow::Result<T> {
    let url = format!("http://{}{path}", t.addr);
    let client = reqwest::Client::builder().timeout(std::time::Duration::from_secs(60)).build()?;
    let mut req = client.request(method, &url).bearer_auth(&t.token);
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req
        .send()
        .await
        .with_context(|| format!("cannot reach ravensd at {} (from {}): is it running?", t.addr, t.source))?;
    let status = resp.status();
    let body = resp.bytes().await?;
    if !status.is_success() {
        let msg = serde_json::from_slice::<ApiError>(&body)
            .map_or_else(|_| String::from_utf8_lossy(&body).into_owned(), |e| e.error);
        bail!("node {}: {status}: {msg}", t.addr);
    }
    serde_json::from_slice(&body).with_context(|| format!("node {}: unexpected answer to {path}", t.addr))
}

fn duration(secs: u64) -> String {
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
    println!("node        {}  (ravens {}, up {})", s.node, s.version, duration(s.uptime_secs));
    println!("config      {} (reloads: {})", s.config.origin, s.config.reloads);
    if let Some(e) = &s.config.last_error {
        println!("            LAST RELOAD FAILED, previous config still serving:\n            {e}");
    }
    for l in &s.listeners {
        println!("listener    {l}");
    }
    let from = if s.upstreams_from_system { " (from /etc/resolv.conf)" } else { "" };
    println!("\nUPSTREAM{from:<32} HEALTH    SRTT      QUERIES   ERRORS");
    for u in &s.upstreams {
        let health = if u.healthy { "up" } else { "DOWN" };
        println!("{:<40} {health:<9} {:>6.1}ms {:>9} {:>8}", u.url, u.srtt_ms, u.queries, u.errors);
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
        "queries     {} total: cached {}, forwarded {}, local {}, stale {}, refused {}, servfail {}, formerr {}, dropped {}",
        q.queries, q.cached, q.forwarded, q.local, q.stale, q.refused, q.servfail, q.formerr, q.dropped
    );
    println!("local zone  {} names", s.local_names);
    let paused = s.paused_secs.map_or_else(String::new, |p| format!(" (PAUSED for all groups, {p}s left)"));
    println!("blocking    {} rules from {} list(s){paused}", s.blocklist_entries, s.lists.len());
    for l in s.lists.iter().filter(|l| l.last_error.is_some()) {
        println!("            list {}: {}", l.name, l.last_error.as_deref().unwrap_or_default());
    }
    if let Some(c) = &s.cluster {
        print_cluster(c);
    }
    if let Some(d) = &s.dhcp {
        println!(
            "\nDHCP on {}: acks {}, offers {}, naks {}, malformed {}",
            d.listen, d.counters.ack, d.counters.offer, d.counters.nak, d.counters.malformed
        );
        println!("{:<20} {:>8} {:>8} {:>6}", "SUBNET", "USED", "POOL", "USE%");
        for p in &d.pools {
            let pct = if p.total > 0 { 100.0 * p.used as f64 / p.total as f64 } else { 0.0 };
            println!("{:<20} {:>8} {:>8} {:>5.1}%", p.subnet, p.used, p.total, pct);
        }
    }
}

/// The human form of `dnsctl leases`.
pub fn print_leases(leases: &[Lease]) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    println!(
        "{:<15} {:<17} {:<20} {:<12} {:>10} {:<8} CLIENT-ID",
        "ADDRESS", "MAC", "HOSTNAME", "SUBNET", "EXPIRES", "NODE"
    );
    for l in leases {
        println!(
            "{:<15} {:<17} {:<20} {:<12} {:>10} {:<8} {}",
            l.ip,
            l.mac,
            l.hostname.as_deref().unwrap_or("-"),
            l.subnet,
            duration(l.expires.saturating_sub(now)),
            l.node,
            l.client_id.as_deref().unwrap_or("-")
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
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for l in lists {
        let refreshed =
            l.last_refresh.map_or_else(|| "-".to_string(), |t| format!("{} ago", duration(now.saturating_sub(t))));
        let kind = if l.enabled { l.kind.clone() } else { format!("{} (off)", l.kind) };
        println!(
            "{:<16} {:<6} {:>9} {:>9} {:>8}  {:<10} {}",
            l.name, kind, l.entries, l.lines, l.rejected, refreshed, l.source
        );
        if let Some(e) = &l.last_error {
            println!("    ERROR: {e} (previous copy kept)");
        }
        for r in l.first_rejected.iter().take(3) {
            println!("    rejected line {} ({}): {}", r.line, r.reason, r.text);
        }
    }
}

/// The human form of `dnsctl query`.
pub fn print_explanation(e: &QueryExplanation) {
    println!("{} for client {} (group {}): {}", e.name, e.client, e.group, e.verdict.to_uppercase());
    if !e.blocking_active {
        println!("  (blocking is off or paused for this group: the name resolves normally)");
    }
    if let Some(r) = &e.decided_by {
        println!("  decided by list '{}' line {}: {}", r.list, r.line, r.line_text.as_deref().unwrap_or(&r.rule));
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
                m.list,
                m.line,
                m.groups.join(","),
                m.line_text.as_deref().unwrap_or(&m.rule)
            );
        }
    }
}

/// The human form of `dnsctl log`.
pub fn print_log(entries: &[ravens_dns::querylog::LogEntry]) {
    for e in entries {
        print_log_line(e, None);
    }
}

/// One line of `dnsctl log`; `node` first with `--all`.
pub fn print_log_line(e: &ravens_dns::querylog::LogEntry, node: Option<&str>) {
    let secs = e.time_ms / 1000;
    let (h, m, s) = (secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let list = e.list.as_deref().map_or_else(String::new, |l| format!(" (list {l})"));
    let node = node.map_or_else(String::new, |n| format!("{n:<10} "));
    println!(
        "{node}{h:02}:{m:02}:{s:02}.{:03} {:<15} {:<6} {:<40} {}{list}",
        e.time_ms % 1000,
        e.client,
        qtype_name(e.qtype),
        e.name,
        e.outcome
    );
}

/// The human form of `dnsctl stats`.
pub fn print_stats(s: &WindowStats) {
    let window = duration(s.since_secs);
    println!(
        "{} over the last {window}: {} queries, {} blocked ({:.2}%)",
        s.nodes.join(" + "),
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
            println!("{:<50} {:>10}", t.name, t.count);
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
fn print_cluster(c: &serde_json::Value) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    println!(
        "\ncluster     {} (this node {}, gossip {}), bucket owners: {}",
        c["cluster"].as_str().unwrap_or("?"),
        c["node"].as_str().unwrap_or("?"),
        c["gossip_listen"].as_str().unwrap_or("?"),
        c["bucket_owners"].as_array().map_or(String::new(), |o| o
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(","))
    );
    println!(
        "{:<12} {:<22} {:<6} {:<11} {:>11} {:>8} {:>9}",
        "PEER", "ADDRESS", "LIVE", "PHASE", "LAST HEARD", "LAG", "CAUGHT-UP"
    );
    for p in c["peers"].as_array().into_iter().flatten() {
        let heard =
            p["last_heard"].as_u64().map_or_else(|| "never".to_string(), |t| format!("{}s ago", now.saturating_sub(t)));
        let lag = p["lag_ms"].as_u64().map_or_else(|| "-".to_string(), |l| format!("{l}ms"));
        println!(
            "{:<12} {:<22} {:<6} {:<11} {:>11} {:>8} {:>9}",
            p["id"].as_str().unwrap_or("?"),
            p["addr"].as_str().unwrap_or("?"),
            if p["live"].as_bool() == Some(true) { "yes" } else { "NO" },
            p["phase"].as_str().unwrap_or("?"),
            heard,
            lag,
            if p["caught_up"].as_bool() == Some(true) { "yes" } else { "no" }
        );
    }
    println!("replicated  {} records ({} leases)", c["records"], c["lease_records"]);
    if let Some(seal) = c.get("seal") {
        println!("gossip      seal counters: {seal}");
    }
}

/// Percent-encodes a query value (subnet names are simple, but be safe).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
