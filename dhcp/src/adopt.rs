//! Leases another DHCP server granted (a Pi-hole's dnsmasq, issue 12), taken over as this
//! node's own: bound in the core, journaled like a grant (durable before its event goes out)
//! and, as this node's lease, replicated to the peers and named in DNS by the same events a
//! grant emits. A client renewing after the switch finds its address bound to it.

use std::net::Ipv4Addr;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::durable::{self, Undo};
use crate::lease::{Lease, LeaseEvent, LeaseEventKind, LeaseState};
use crate::machine::Core;
use crate::packet::{ClientKey, sanitize};

/// A lease granted elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Foreign {
    pub mac: [u8; 6],
    pub ip: Ipv4Addr,
    /// Unix seconds; `None` = infinite (held for the subnet's lease time from now).
    pub expires: Option<u64>,
    pub client_id: Option<Vec<u8>>,
    pub hostname: Option<String>,
}

/// What became of one [`Foreign`] lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adopted {
    /// Bound and journaled.
    Added,
    /// This client already holds this address here (an import done before, or a renewal).
    Unchanged,
    /// Not taken, and why.
    Skipped(String),
}

/// One adopted lease, before its record is durable.
pub(crate) struct Grant {
    pub record: Lease,
    pub event: LeaseEvent,
    pub undo: Undo,
}

impl Core {
    /// Binds `f` to its client as a lease granted by this node at `now`, unless its address is
    /// outside every subnet, held or reserved for another client, or the client holds another
    /// address in that subnet. The caller journals the returned grant.
    pub(crate) fn adopt(&mut self, f: &Foreign, now: u64) -> Result<Option<Grant>, String> {
        let key = ClientKey::new(f.client_id.as_deref(), 1, &f.mac);
        let me = self.node.clone();
        let (idx, s) = self
            .subnets
            .iter_mut()
            .enumerate()
            .find(|(_, s)| s.cfg.cidr.contains(&f.ip))
            .ok_or_else(|| format!("no configured subnet holds {}", f.ip))?;
        if f.ip == s.cfg.cidr.network() || f.ip == s.cfg.cidr.broadcast() || s.cfg.router == Some(f.ip) {
            return Err(format!("{} is the network, broadcast or router address of subnet '{}'", f.ip, s.cfg.name));
        }
        if let Some(r) = s.cfg.reservations.iter().find(|r| r.ip == f.ip) {
            let same = r.mac == Some(f.mac) || (r.client_id.is_some() && r.client_id == f.client_id);
            if !same {
                return Err(format!("{} is reserved for another client in subnet '{}'", f.ip, s.cfg.name));
            }
        }
        if let Some(l) = s.leases.get(&f.ip).filter(|l| l.active(now)) {
            if l.key == key && l.state == LeaseState::Bound {
                return Ok(None);
            }
            return Err(format!("{} is leased to another client here", f.ip));
        }
        if let Some(old) = s.by_client.get(&key).copied()
            && s.leases.get(&old).is_some_and(|l| l.key == key && l.state == LeaseState::Bound && l.active(now))
        {
            return Err(format!("this client holds {old} here already"));
        }
        let expires = f.expires.unwrap_or(now + s.cfg.lease_time.as_secs());
        if expires <= now {
            return Err("expired".into());
        }
        let seq = durable::next_seq();
        let lease = Lease {
            subnet: s.name.clone(),
            ip: f.ip,
            key,
            mac: f.mac.to_vec(),
            client_id: f.client_id.clone(),
            hostname: f.hostname.as_deref().and_then(|h| sanitize(h.as_bytes())),
            expires,
            state: LeaseState::Bound,
            node: me,
            seq,
        };
        let prev = s.leases.get(&f.ip).cloned();
        s.restore(lease.clone(), now);
        let event = lease.event(LeaseEventKind::Bound);
        Ok(Some(Grant { record: lease, event, undo: Undo { seq, subnet: idx, ip: f.ip, prev } }))
    }
}

/// The outcome of every lease of one adoption, filled in as their records become durable.
pub(crate) type Outcomes = Arc<Mutex<Vec<Adopted>>>;

#[cfg(test)]
mod tests {
    use super::*;

    fn core() -> Core {
        let toml = r#"
[node]
name = "a"
[[subnet]]
name = "lan"
cidr = "10.9.0.0/24"
pools = ["10.9.0.100-10.9.0.199"]
router = "10.9.0.1"
[[subnet.reservation]]
mac = "02:00:00:00:00:09"
ip = "10.9.0.50"
"#;
        let cfg = ravens_config::parse(toml, "test").unwrap();
        Core::new(&cfg, crate::pool::Slice::WHOLE, &[], 1000)
    }

    fn foreign(last: u8, ip: [u8; 4]) -> Foreign {
        Foreign {
            mac: [2, 0, 0, 0, 0, last],
            ip: Ipv4Addr::from(ip),
            expires: Some(5000),
            client_id: None,
            hostname: Some("pc".into()),
        }
    }

    #[test]
    fn a_foreign_lease_binds_once_and_conflicts_are_refused() {
        let mut c = core();
        let g = c.adopt(&foreign(1, [10, 9, 0, 120]), 1000).unwrap().expect("bound");
        assert_eq!((g.record.state, &*g.record.node, g.record.expires), (LeaseState::Bound, "a", 5000));
        assert_eq!(g.event.kind, LeaseEventKind::Bound);
        assert_eq!(c.leases(None, 1000).len(), 1);
        assert!(!c.subnets[0].pool.is_free(Ipv4Addr::new(10, 9, 0, 120)));
        // Again: nothing to do.
        assert!(c.adopt(&foreign(1, [10, 9, 0, 120]), 1001).unwrap().is_none());
        let why = |c: &mut Core, f: Foreign| c.adopt(&f, 1001).err().unwrap();
        assert!(why(&mut c, foreign(2, [10, 9, 0, 120])).contains("another client"));
        assert!(why(&mut c, foreign(1, [10, 9, 0, 121])).contains("holds 10.9.0.120"));
        assert!(why(&mut c, foreign(3, [10, 8, 0, 5])).contains("no configured subnet"));
        assert!(why(&mut c, foreign(3, [10, 9, 0, 50])).contains("reserved"));
        assert!(why(&mut c, foreign(3, [10, 9, 0, 1])).contains("router"));
        // The reservation's own client may bring its lease.
        assert!(c.adopt(&foreign(9, [10, 9, 0, 50]), 1001).unwrap().is_some());
    }

    #[test]
    fn an_infinite_lease_is_held_for_the_lease_time_and_its_name_made_dns_safe() {
        let mut c = core();
        let mut f = foreign(4, [10, 9, 0, 130]);
        f.expires = None;
        f.hostname = Some("bad name!".into());
        let g = c.adopt(&f, 1000).unwrap().unwrap();
        assert_eq!(g.record.expires, 1000 + 12 * 3600);
        assert_eq!(g.record.hostname.as_deref(), Some("bad-name"));
    }
}
