//! Glue between the DHCP service and the rest of the daemon: lease events become DNS names
//! (`<host>.<local_domain>` A + PTR while the lease lives), and the admin API's lease views.

use ravens_dhcp::{DhcpHandle, LeaseEvent, LeaseEventKind};
use ravens_dns::Resolver;
use ravens_dns::zone::HostName;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api;

/// TTL of DHCP names: short, because leases move.
const NAME_TTL: u32 = 60;
/// Least time between two rebuilds of the lease names and the MAC table.
const REBUILD_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Host names by address; a name claimed by a newer lease leaves the older one.
#[derive(Debug, Default)]
struct Names {
    by_ip: BTreeMap<Ipv4Addr, String>,
    /// Hardware addresses of bound clients, for MAC-matched DNS groups.
    macs: std::collections::HashMap<IpAddr, [u8; 6]>,
}

/// What one or more lease events changed: each side is rebuilt in full when it changes.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Changed {
    hosts: bool,
    macs: bool,
}

impl std::ops::BitOrAssign for Changed {
    fn bitor_assign(&mut self, o: Changed) {
        self.hosts |= o.hosts;
        self.macs |= o.macs;
    }
}

impl Changed {
    fn any(self) -> bool {
        self.hosts || self.macs
    }
}

impl Names {
    /// Returns whether the name table changed.
    fn bind(&mut self, ip: Ipv4Addr, label: &str) -> bool {
        if self.by_ip.get(&ip).is_some_and(|n| n == label) {
            return false;
        }
        // When two clients claim one name, the newer gets it; the older keeps its address.
        self.by_ip.retain(|other, name| *other == ip || name != label);
        self.by_ip.insert(ip, label.to_string());
        true
    }

    fn apply(&mut self, ev: &LeaseEvent) -> Changed {
        let (kind, ev) = (ev.kind, &ev.lease);
        let ip = IpAddr::V4(ev.ip);
        let macs = match (kind, <[u8; 6]>::try_from(ev.mac.as_slice())) {
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, Ok(mac)) => self.macs.insert(ip, mac) != Some(mac),
            _ => self.macs.remove(&ip).is_some(),
        };
        let hosts = match (kind, &ev.hostname) {
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, Some(h)) => self.bind(ev.ip, h),
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, None)
            | (LeaseEventKind::Released | LeaseEventKind::Expired, _) => self.by_ip.remove(&ev.ip).is_some(),
        };
        Changed { hosts, macs }
    }

    fn hosts(&self, domain: &str) -> Vec<HostName> {
        self.by_ip
            .iter()
            .map(|(ip, label)| HostName { fqdn: format!("{label}.{domain}"), addr: IpAddr::V4(*ip), ttl: NAME_TTL })
            .collect()
    }
}

/// Feeds lease events into the DNS local zone until cancelled. Starts from the restored leases.
pub fn spawn_dns_names(
    handle: DhcpHandle,
    mut events: mpsc::Receiver<LeaseEvent>,
    resolver: Arc<Resolver>,
    cancel: CancellationToken,
) {
    let mut names = Names::default();
    let mut current = handle.leases(None);
    current.sort_by_key(|l| l.expires);
    for l in &current {
        if let Some(h) = &l.hostname {
            names.bind(l.ip, h);
        }
        if let Ok(mac) = <[u8; 6]>::try_from(l.mac.as_slice()) {
            names.macs.insert(IpAddr::V4(l.ip), mac);
        }
    }
    let domain = || resolver.state().config.dns.local_domain.clone();
    resolver.set_hosts(names.hosts(&domain()));
    resolver.blocking.set_macs(names.macs.clone());
    tokio::spawn(async move {
        // Both tables are rebuilt whole (O(leases)); a burst of grants or of a peer's
        // imported leases (thousands a second flat out) must not rebuild once per lease. The
        // first change after a quiet spell is published at once; later ones are gathered
        // and published at most every REBUILD_EVERY.
        let mut last = tokio::time::Instant::now() - REBUILD_EVERY;
        let mut pending = Changed::default();
        loop {
            let due = last + REBUILD_EVERY;
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = events.recv() => match ev {
                    Some(ev) => pending |= names.apply(&ev),
                    None => return,
                },
                _ = tokio::time::sleep_until(due), if pending.any() => {}
            }
            while let Ok(ev) = events.try_recv() {
                pending |= names.apply(&ev);
            }
            let now = tokio::time::Instant::now();
            if !pending.any() || now < due {
                continue;
            }
            if pending.hosts {
                resolver.set_hosts(names.hosts(&resolver.state().config.dns.local_domain));
            }
            if pending.macs {
                resolver.blocking.set_macs(names.macs.clone());
            }
            (pending, last) = (Changed::default(), now);
        }
    });
}

/// The API view of a lease.
pub fn to_api(l: &ravens_dhcp::Lease) -> api::Lease {
    api::Lease {
        subnet: l.subnet.to_string(),
        ip: l.ip,
        mac: ravens_config::text::hex(&l.mac, ":"),
        client_id: l.client_id.as_deref().map(|c| ravens_config::text::hex(c, "")),
        hostname: l.hostname.clone(),
        expires: l.expires,
        node: l.node.to_string(),
    }
}

/// A lease search (`GET /api/v1/leases?q=`, the web UI's DHCP page): whether `q`, already
/// lower case, is in the lease's address, MAC (`aa:bb:...`) or host name. `buf` is reused
/// between calls, so a search over 10,000 leases allocates next to nothing.
pub fn matches(l: &ravens_dhcp::Lease, q: &str, buf: &mut String) -> bool {
    use std::fmt::Write as _;
    if q.is_empty() {
        return true;
    }
    buf.clear();
    let _ = write!(buf, "{}", l.ip);
    if buf.contains(q) {
        return true;
    }
    buf.clear();
    for (i, b) in l.mac.iter().enumerate() {
        let _ = write!(buf, "{}{b:02x}", if i == 0 { "" } else { ":" });
    }
    if buf.contains(q) {
        return true;
    }
    l.hostname.as_deref().is_some_and(|h| {
        buf.clear();
        buf.extend(h.chars().map(|c| c.to_ascii_lowercase()));
        buf.contains(q)
    })
}

/// The leases that match `q` (lower case), ordered by subnet and address as
/// `dnsctl --all leases` merges them, with how many matched in all; at most `limit` are mapped.
pub fn search(leases: &[ravens_dhcp::Lease], q: &str, limit: usize) -> (Vec<api::Lease>, usize) {
    let mut buf = String::new();
    let mut hits: Vec<&ravens_dhcp::Lease> = leases.iter().filter(|l| matches(l, q, &mut buf)).collect();
    let total = hits.len();
    hits.sort_unstable_by(|a, b| (&*a.subnet, a.ip).cmp(&(&*b.subnet, b.ip)));
    (hits.into_iter().take(limit).map(to_api).collect(), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: LeaseEventKind, ip: [u8; 4], host: Option<&str>) -> LeaseEvent {
        let lease = ravens_dhcp::Lease {
            subnet: "s".into(),
            ip: Ipv4Addr::from(ip),
            key: ravens_dhcp::packet::ClientKey(vec![1, 1, 1, 2, 3, 4, 5, 6].into()),
            mac: vec![1, 2, 3, 4, 5, 6],
            client_id: None,
            hostname: host.map(String::from),
            expires: ravens_dhcp::lease::unix_now(),
            state: ravens_dhcp::LeaseState::Bound,
            node: "a".into(),
            seq: 0,
        };
        LeaseEvent { kind, lease }
    }

    #[test]
    fn newer_claim_takes_the_name_and_release_removes_it() {
        let mut n = Names::default();
        n.apply(&ev(LeaseEventKind::Bound, [10, 0, 0, 5], Some("laptop")));
        n.apply(&ev(LeaseEventKind::Bound, [10, 0, 0, 6], Some("laptop")));
        let hosts = n.hosts("lan");
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0].addr, IpAddr::from([10, 0, 0, 6]));
        assert_eq!(hosts[0].fqdn, "laptop.lan");
        n.apply(&ev(LeaseEventKind::Released, [10, 0, 0, 6], Some("laptop")));
        assert!(n.hosts("lan").is_empty());
    }

    /// A renewal that changes nothing asks for no rebuild; a new name or MAC does.
    #[test]
    fn only_real_changes_ask_for_a_rebuild() {
        let mut n = Names::default();
        let both = Changed { hosts: true, macs: true };
        assert_eq!(n.apply(&ev(LeaseEventKind::Bound, [10, 0, 0, 5], Some("pc"))), both);
        assert!(!n.apply(&ev(LeaseEventKind::Renewed, [10, 0, 0, 5], Some("pc"))).any());
        let renamed = n.apply(&ev(LeaseEventKind::Renewed, [10, 0, 0, 5], Some("desk")));
        assert_eq!(renamed, Changed { hosts: true, macs: false });
        assert_eq!(n.apply(&ev(LeaseEventKind::Expired, [10, 0, 0, 5], None)), both);
        assert!(!n.apply(&ev(LeaseEventKind::Expired, [10, 0, 0, 5], None)).any());
        // No host name: only the MAC table moves.
        assert_eq!(n.apply(&ev(LeaseEventKind::Bound, [10, 0, 0, 7], None)), Changed { hosts: false, macs: true });
    }
}
