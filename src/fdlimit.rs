//! The open-file limit and how ravensd shares it out. systemd starts services with a soft
//! limit of 1024 (the hard limit is far higher): ravensd raises the soft limit to the hard one
//! at start, then caps its TCP listeners at a share of it, so that connections alone can never
//! take the descriptors DNS needs for its upstream sockets.

use nix::sys::resource::{Resource, getrlimit, setrlimit};
use ravens_dns::server::tcp;

use crate::admin;

/// Admin API connections at most, however high the limit (a handful of operators, scrapers
/// and the peer node need far fewer).
const ADMIN_MAX: u64 = 256;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit now in force.
/// Failing to raise it is no error: the daemon runs on the limit it has, and its caps follow.
pub fn raise() -> u64 {
    let (soft, hard) = match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("reading the open-file limit failed ({e}); assuming 1024");
            return 1024;
        }
    };
    if soft >= hard {
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::debug!(from = soft, to = hard, "open-file limit raised");
            hard
        }
        Err(e) => {
            tracing::warn!("raising the open-file limit from {soft} to {hard} failed: {e}");
            soft
        }
    }
}

/// Raises the limit ([`raise`]) and sets the caps of the DNS TCP and admin listeners from it.
pub fn connection_limits(dns: &ravens_config::Dns) -> (tcp::Limits, admin::listen::Limits) {
    let nofile = raise();
    let tcp = tcp::Limits {
        max_conns: dns_tcp_connections(dns.tcp_max_connections, nofile),
        max_per_client: dns.tcp_max_connections_per_client,
        idle: dns.tcp_idle_timeout,
    };
    let admin = admin::listen::Limits::for_connections(admin_connections(nofile));
    tracing::info!(open_files = nofile, dns_tcp = tcp.max_conns, admin = admin.max_conns, "connection caps");
    if tcp.max_conns < dns.tcp_max_connections {
        tracing::warn!(
            "dns.tcp_max_connections {} lowered to {} (a quarter of the open-file limit {nofile})",
            dns.tcp_max_connections,
            tcp.max_conns
        );
    }
    (tcp, admin)
}

/// Admin connections at most under a limit of `nofile` descriptors: an eighth of it, between
/// 4 and [`ADMIN_MAX`].
pub fn admin_connections(nofile: u64) -> usize {
    (nofile / 8).clamp(4, ADMIN_MAX) as usize
}

/// DNS TCP connections at most: `configured`, but no more than a quarter of `nofile`, so
/// that with the admin share at most 3/8 of the descriptors go to client connections and the
/// rest stays for upstream sockets, listeners and files.
pub fn dns_tcp_connections(configured: usize, nofile: u64) -> usize {
    configured.min((nofile / 4).max(1) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_leave_most_descriptors_to_dns() {
        assert_eq!(admin_connections(1024), 128);
        assert_eq!(admin_connections(1 << 20), 256);
        assert_eq!(admin_connections(16), 4);
        assert_eq!(dns_tcp_connections(256, 1024), 256);
        assert_eq!(dns_tcp_connections(256, 256), 64);
        assert_eq!(dns_tcp_connections(4, 256), 4);
        for n in [64u64, 256, 1024, 4096, 1 << 20] {
            let taken = admin_connections(n) as u64 + dns_tcp_connections(usize::MAX, n) as u64;
            assert!(taken * 8 <= n * 3 || n < 64, "{n}: {taken}");
        }
    }
}
