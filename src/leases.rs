//! Glue between the DHCP service and the rest of the daemon: lease events become DNS names
//! (`<host>.<local_domain>` A + PTR while the lease lives), and the admin API's lease views.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ravens_dhcp::{DhcpHandle, LeaseEvent, LeaseEventKind, LeaseInfo};
use ravens_dns::Resolver;
use ravens_dns::zone::HostName;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::api::Lease;

/// TTL of DHCP names: short, because leases move.
const NAME_TTL: u32 = 60;

/// Host names by address; a name claimed by a newer lease leaves the older one.
#[derive(Debug, Default)]
struct Names {
    by_ip: BTreeMap<Ipv4Addr, String>,
    /// Hardware addresses of bound clients, for MAC-matched DNS groups.
    macs: std::collections::HashMap<IpAddr, [u8; 6]>,
}

impl Names {
    fn bind(&mut self, ip: Ipv4Addr, label: &str) {
        // When two clients claim one name, the newer gets it; the older keeps its address.
        self.by_ip.retain(|other, name| *other == ip || name != label);
        self.by_ip.insert(ip, label.to_string());
    }

    fn apply(&mut self, ev: &LeaseEvent) {
        match (ev.kind, <[u8; 6]>::try_from(ev.mac.as_slice())) {
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, Ok(mac)) => {
                self.macs.insert(IpAddr::V4(ev.ip), mac);
            }
            _ => {
                self.macs.remove(&IpAddr::V4(ev.ip));
            }
        }
        match (ev.kind, &ev.hostname) {
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, Some(h)) => self.bind(ev.ip, h),
            (LeaseEventKind::Bound | LeaseEventKind::Renewed, None)
            | (LeaseEventKind::Released | LeaseEventKind::Expired, _) => {
                self.by_ip.remove(&ev.ip);
            }
        }
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
        loop {
            let ev = tokio::select! {
                _ = cancel.cancelled() => return,
                ev = events.recv() => match ev { Some(ev) => ev, None => return },
            };
            names.apply(&ev);
            // Apply whatever else is queued before rebuilding the zone once.
            while let Ok(ev) = events.try_recv() {
                names.apply(&ev);
            }
            resolver.set_hosts(names.hosts(&resolver.state().config.dns.local_domain));
            resolver.blocking.set_macs(names.macs.clone());
        }
    });
}

fn hex(bytes: &[u8], sep: &str) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep)
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub fn to_api(l: &LeaseInfo) -> Lease {
    Lease {
        subnet: l.subnet.clone(),
        ip: l.ip,
        mac: hex(&l.mac, ":"),
        client_id: l.client_id.as_deref().map(|c| hex(c, "")),
        hostname: l.hostname.clone(),
        expires: epoch(l.expires),
        node: l.node.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: LeaseEventKind, ip: [u8; 4], host: Option<&str>) -> LeaseEvent {
        LeaseEvent {
            kind,
            subnet: "s".into(),
            ip: Ipv4Addr::from(ip),
            mac: vec![1, 2, 3, 4, 5, 6],
            client_id: None,
            hostname: host.map(String::from),
            expires: SystemTime::now(),
            key: vec![1, 1, 1, 2, 3, 4, 5, 6],
            node: "a".into(),
        }
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
}
