//! Who is served: the ACL (`dns.serve_networks`) and what a client over its rate limit
//! (`dns.rate_limit`, [`crate::ratelimit`]) gets.

use std::net::IpAddr;

use ipnet::IpNet;
use ravens_config::LimitAction;

use crate::pipeline::Step;
use crate::ratelimit::{key_network, prefix_key};
use crate::wire::{self, Query, rcode};

/// True when `ip` is inside one of the served networks.
pub fn allowed(acl: &[IpNet], ip: IpAddr) -> bool {
    // IPv4-mapped IPv6 sources (from a dual-stack socket) are checked as IPv4.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    acl.iter().any(|n| n.contains(&ip))
}

/// The answer to a query over the client's limit: nothing, or REFUSED. `log` (once a minute
/// per client) writes one warning with the client's prefix and its count of limited queries.
#[allow(clippy::too_many_arguments)]
pub fn over_limit(
    action: LimitAction,
    msg: &[u8],
    q: &Query,
    ours: u16,
    client: IpAddr,
    log: bool,
    count: u64,
    out: &mut Vec<u8>,
) -> Step {
    if log {
        let prefix = key_network(prefix_key(client));
        tracing::warn!(client = %prefix, limited = count, ?action, "client over dns.rate_limit (logged once a minute per client)");
    }
    match action {
        LimitAction::Drop => Step::Drop,
        LimitAction::Refused => {
            wire::reply_skeleton(msg, q, rcode::REFUSED, 0, ours, out);
            Step::Reply
        }
    }
}
