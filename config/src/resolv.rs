//! The system's resolvers from /etc/resolv.conf, used when no upstream is configured.

use std::net::{IpAddr, SocketAddr};

use crate::upstream::Upstream;

/// Nameservers of a resolv.conf text as UDP upstreams on port 53, skipping any address
/// this daemon itself listens on (forwarding to itself would loop).
pub fn system_upstreams(resolv_conf: &str, own_listen: &[SocketAddr]) -> Vec<Upstream> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let line = line.split(['#', ';']).next()?.trim();
            let mut it = line.split_whitespace();
            (it.next()? == "nameserver").then_some(())?;
            // Scoped IPv6 (fe80::1%eth0) cannot be expressed as a SocketAddr here: skip.
            it.next()?.parse::<IpAddr>().ok()
        })
        .map(|ip| SocketAddr::new(ip, 53))
        .filter(|addr| !is_own(*addr, own_listen))
        .filter_map(|addr| Upstream::parse(&format!("udp://{addr}")).ok())
        .collect()
}

/// A wildcard listener owns the loopback addresses of its family; other local addresses
/// cannot be known without I/O, and a resolv.conf naming one of them would be unusual.
fn is_own(addr: SocketAddr, own: &[SocketAddr]) -> bool {
    own.iter().any(|l| {
        l.port() == addr.port()
            && (l.ip() == addr.ip()
                || (l.ip().is_unspecified() && addr.ip().is_loopback() && l.is_ipv4() == addr.is_ipv4()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_and_skips_self() {
        let text =
            "# comment\nsearch lan\nnameserver 10.0.0.1\nnameserver 127.0.0.1 # us\nnameserver ::1\nnameserver bogus\n";
        let own = ["127.0.0.1:53".parse().unwrap()];
        let ups = system_upstreams(text, &own);
        let addrs: Vec<String> = ups.iter().map(|u| u.addr.to_string()).collect();
        assert_eq!(addrs, ["10.0.0.1:53", "[::1]:53"]);
        let all = ["0.0.0.0:53".parse().unwrap()];
        assert_eq!(system_upstreams(text, &all).len(), 2, "wildcard owns 127.0.0.1 only");
    }
}
