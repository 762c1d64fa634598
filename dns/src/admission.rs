//! Who is served: the ACL (`dns.serve_networks`).

use std::net::IpAddr;

use ipnet::IpNet;

/// True when `ip` is inside one of the served networks.
pub fn allowed(acl: &[IpNet], ip: IpAddr) -> bool {
    // IPv4-mapped IPv6 sources (from a dual-stack socket) are checked as IPv4.
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    acl.iter().any(|n| n.contains(&ip))
}
