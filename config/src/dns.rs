//! The `[dns]` section, validated.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::error::{ConfigError, SourceMap};
use crate::upstream::Upstream;
use crate::validate;
use crate::wire::{DnsWire, S};

/// How upstreams are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Ask the two best by smoothed RTT at once; the first good answer wins.
    ParallelBest,
    /// Ask in configured order; fail over to the next.
    Strict,
}

/// The answer given for a blocked name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockResponse {
    /// 0.0.0.0 for A, :: for AAAA, NODATA for other types.
    Null,
    Nxdomain,
    Refused,
    /// This address for its family; NODATA otherwise.
    Ip(IpAddr),
}

/// How class CH (RFC 4892 identity) queries are answered; they are never forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chaos {
    /// REFUSED to every CH query.
    Refuse,
    /// `hostname.bind` and `id.server` answered with the node name; the rest REFUSED.
    Identity,
}

/// Validated DNS settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    pub upstreams: Vec<Upstream>,
    /// True when the upstreams came from /etc/resolv.conf.
    pub upstreams_from_system: bool,
    pub strategy: Strategy,
    pub upstream_timeout: Duration,
    pub upstream_ca_file: Option<PathBuf>,
    /// Lower-case, no trailing dot.
    pub local_domain: String,
    /// Always includes 127.0.0.1 and ::1; by default all of 127/8 and the DHCP subnets.
    pub serve_networks: Vec<IpNet>,
    pub block_response: BlockResponse,
    pub block_ttl: u32,
    pub cache_size: u64,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub max_negative_ttl: u32,
    pub serve_stale: bool,
    pub stale_max_age: Duration,
    pub prefetch: bool,
    /// Resolved: never 0.
    pub udp_sockets: usize,
    pub tcp_max_connections: usize,
    /// Never 0 and never above `tcp_max_connections`.
    pub tcp_max_connections_per_client: usize,
    pub tcp_idle_timeout: Duration,
    pub edns_udp_size: u16,
    pub max_inflight: usize,
    pub builtin_blocklist: bool,
    pub query_log_size: usize,
    pub query_log_anonymize: bool,
    pub query_log_file: Option<PathBuf>,
    pub query_log_file_size: u64,
    pub chaos: Chaos,
    pub rate_limit: crate::ratelimit::RateLimit,
    pub dnssec: crate::dnssec::Dnssec,
}

/// Inputs the `[dns]` section needs from elsewhere.
pub struct DnsContext<'a> {
    pub dns_listen: &'a [SocketAddr],
    pub subnet_networks: Vec<IpNet>,
    /// Text of /etc/resolv.conf (only read when no upstream is configured).
    pub resolv_conf: &'a dyn Fn() -> String,
}

/// A list of upstream URLs (`dns.upstreams`, and the same forms in `[[group]]` and
/// `[[forward]]`), each error at its element.
pub fn upstream_list(list: &[S<String>], key: &str, map: &SourceMap<'_>) -> Result<Vec<Upstream>, ConfigError> {
    list.iter()
        .map(|u| Upstream::parse(u.get_ref()).map_err(|e| map.err(Some(u.span()), format!("{key}: {e}"))))
        .collect()
}

pub fn validate(w: &DnsWire, ctx: &DnsContext<'_>, map: &SourceMap<'_>) -> Result<Dns, ConfigError> {
    let (upstreams, upstreams_from_system) = match &w.upstreams {
        Some(list) => (upstream_list(list, "dns.upstreams", map)?, false),
        None => (crate::resolv::system_upstreams(&(ctx.resolv_conf)(), ctx.dns_listen), true),
    };
    let strategy = match &w.upstream_strategy {
        None => Strategy::ParallelBest,
        Some(s) => match s.get_ref().as_str() {
            "parallel_best" => Strategy::ParallelBest,
            "strict" => Strategy::Strict,
            other => {
                return Err(map.err(
                    Some(s.span()),
                    format!("dns.upstream_strategy: '{other}' is not a strategy (expected parallel_best or strict)"),
                ));
            }
        },
    };
    let local_domain = match &w.local_domain {
        Some(d) => validate::dns_name(d, "dns.local_domain", map)?,
        None => "lan".to_string(),
    };
    // This host itself is always served; the rest of 127/8 only by default, so a
    // configured list can be tested with other loopback sources.
    let mut serve_networks: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap(), "::1/128".parse().unwrap()];
    match &w.serve_networks {
        Some(list) => {
            for n in list {
                serve_networks.push(validate::network(n, "dns.serve_networks", map)?);
            }
        }
        None => {
            serve_networks.push("127.0.0.0/8".parse().unwrap());
            serve_networks.extend(ctx.subnet_networks.iter().copied());
        }
    }
    let block_response = match &w.block_response {
        None => BlockResponse::Null,
        Some(s) => match s.get_ref().as_str() {
            "null" => BlockResponse::Null,
            "nxdomain" => BlockResponse::Nxdomain,
            "refused" => BlockResponse::Refused,
            other => BlockResponse::Ip(other.parse().map_err(|_| {
                map.err(
                    Some(s.span()),
                    format!("dns.block_response: '{other}' is not null, nxdomain, refused or an IP address"),
                )
            })?),
        },
    };
    let cache_size = match &w.cache_size {
        None => 32 << 20,
        Some(s) => crate::units::parse_size(s.get_ref())
            .map_err(|e| map.err(Some(s.span()), format!("dns.cache_size: {e}")))?,
    };
    let query_log_file_size = match &w.query_log_file_size {
        None => 10 << 20,
        Some(s) => crate::units::parse_size(s.get_ref())
            .map_err(|e| map.err(Some(s.span()), format!("dns.query_log_file_size: {e}")))?,
    };
    let min_ttl = validate::opt_ttl(&w.min_ttl, 0, "dns.min_ttl", map)?;
    let max_ttl = validate::opt_ttl(&w.max_ttl, 86_400, "dns.max_ttl", map)?;
    if min_ttl > max_ttl {
        let span = w.min_ttl.as_ref().map(|s| s.span());
        return Err(map.err(span, format!("dns.min_ttl: {min_ttl}s is above dns.max_ttl {max_ttl}s")));
    }
    let edns_udp_size = w.edns_udp_size.unwrap_or(1232);
    if edns_udp_size < 512 {
        return Err(map.err(None, format!("dns.edns_udp_size: {edns_udp_size} is below 512")));
    }
    let chaos = match &w.chaos {
        None => Chaos::Refuse,
        Some(s) => match s.get_ref().as_str() {
            "refuse" => Chaos::Refuse,
            "identity" => Chaos::Identity,
            other => {
                let msg = format!("dns.chaos: '{other}' is not refuse or identity");
                return Err(map.err(Some(s.span()), msg));
            }
        },
    };
    let tcp_max_connections = w.tcp_max_connections.unwrap_or(256).max(1);
    Ok(Dns {
        upstreams,
        upstreams_from_system,
        strategy,
        upstream_timeout: validate::opt_duration(
            &w.upstream_timeout,
            Duration::from_secs(2),
            "dns.upstream_timeout",
            map,
        )?,
        upstream_ca_file: w.upstream_ca_file.as_ref().map(PathBuf::from),
        local_domain,
        serve_networks,
        block_response,
        block_ttl: validate::opt_ttl(&w.block_ttl, 60, "dns.block_ttl", map)?,
        cache_size,
        min_ttl,
        max_ttl,
        max_negative_ttl: validate::opt_ttl(&w.max_negative_ttl, 3600, "dns.max_negative_ttl", map)?,
        serve_stale: w.serve_stale.unwrap_or(true),
        stale_max_age: validate::opt_duration(&w.stale_max_age, Duration::from_secs(86_400), "dns.stale_max_age", map)?,
        prefetch: w.prefetch.unwrap_or(true),
        udp_sockets: match w.udp_sockets.unwrap_or(0) {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n.min(64),
        },
        tcp_max_connections,
        tcp_max_connections_per_client: w
            .tcp_max_connections_per_client
            .unwrap_or(tcp_max_connections / 4)
            .clamp(1, tcp_max_connections),
        tcp_idle_timeout: validate::opt_duration(
            &w.tcp_idle_timeout,
            Duration::from_secs(10),
            "dns.tcp_idle_timeout",
            map,
        )?,
        edns_udp_size,
        max_inflight: w.max_inflight.unwrap_or(4096).max(1),
        builtin_blocklist: w.builtin_blocklist.unwrap_or(false),
        query_log_size: w.query_log_size.unwrap_or(10_000).min(10_000_000),
        query_log_anonymize: w.query_log_anonymize.unwrap_or(false),
        query_log_file: w.query_log_file.as_ref().map(PathBuf::from),
        query_log_file_size: query_log_file_size.max(4096),
        chaos,
        rate_limit: crate::ratelimit::validate(w, map)?,
        dnssec: crate::dnssec::validate(w, map)?,
    })
}
