//! One subnet's runtime state: its config and option tables, reservations, the pool, the lease
//! table indexed by address and by client, and the timers that expire offers, leases and
//! quarantines. Allocation lives here; the message rules live in `machine`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use ravens_config::Subnet;

use crate::lease::{Lease, LeaseEventKind, LeaseState};
use crate::options::OptionTable;
use crate::packet::{ClientKey, Request};
use crate::pool::{Pool, Slice};

/// One subnet's address use ([`SubnetState::usage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Active leases in the subnet (bound or being renewed; offers not counted), every node's.
    pub used: u64,
    /// The pool's addresses, every node's slice, less exclusions; plus the reservations.
    pub total: u64,
    /// Pool addresses this node hands out (its slice, less exclusions).
    pub slice: u64,
    /// Of those, free now.
    pub slice_free: u64,
}

/// A subnet being served.
#[derive(Debug)]
pub struct SubnetState {
    pub cfg: Subnet,
    /// `cfg.name`, shared by every lease of the subnet.
    pub name: Arc<str>,
    pub table: OptionTable,
    host_tables: Vec<OptionTable>,
    res_by_mac: HashMap<[u8; 6], usize>,
    res_by_cid: HashMap<Vec<u8>, usize>,
    res_by_ip: HashMap<Ipv4Addr, usize>,
    pub pool: Pool,
    pub leases: HashMap<Ipv4Addr, Lease>,
    pub by_client: HashMap<ClientKey, Ipv4Addr>,
    timers: BinaryHeap<Reverse<(u64, Ipv4Addr)>>,
}

impl SubnetState {
    pub fn new(cfg: Subnet, local_domain: &str, slice: Slice) -> SubnetState {
        let table = OptionTable::for_subnet(&cfg, local_domain);
        let host_tables = cfg.reservations.iter().map(|r| table.with_host(r.hostname.as_deref(), &r.options)).collect();
        let mut res_by_mac = HashMap::new();
        let mut res_by_cid = HashMap::new();
        let mut res_by_ip = HashMap::new();
        for (i, r) in cfg.reservations.iter().enumerate() {
            if let Some(m) = r.mac {
                res_by_mac.insert(m, i);
            }
            if let Some(c) = &r.client_id {
                res_by_cid.insert(c.clone(), i);
            }
            res_by_ip.insert(r.ip, i);
        }
        // Reserved and router addresses inside a pool are never handed out dynamically.
        let excluded = |ip: Ipv4Addr| res_by_ip.contains_key(&ip) || cfg.router == Some(ip);
        let pool = Pool::new(&cfg.pools, slice, &excluded);
        SubnetState {
            name: Arc::from(cfg.name.as_str()),
            table,
            host_tables,
            res_by_mac,
            res_by_cid,
            res_by_ip,
            pool,
            leases: HashMap::new(),
            by_client: HashMap::new(),
            timers: BinaryHeap::new(),
            cfg,
        }
    }

    /// The reservation index of this client: client-id first, then MAC.
    pub fn reservation(&self, req: &Request) -> Option<usize> {
        let by_cid = req.client_id.as_ref().and_then(|c| self.res_by_cid.get(c));
        let by_mac = || <[u8; 6]>::try_from(req.chaddr.as_slice()).ok().and_then(|m| self.res_by_mac.get(&m));
        by_cid.or_else(by_mac).copied()
    }

    pub fn reserved_ip(&self, res: usize) -> Ipv4Addr {
        self.cfg.reservations[res].ip
    }

    /// Options for a client: its reservation's table, else the subnet's.
    pub fn options_for(&self, res: Option<usize>) -> &OptionTable {
        res.map_or(&self.table, |i| &self.host_tables[i])
    }

    /// Whether `ip` may be given to this client now: its reservation, its own lease or offer,
    /// or a free address of this node's slice not reserved for anyone.
    pub fn available_for(&self, ip: Ipv4Addr, key: &ClientKey, res: Option<usize>, now: u64) -> bool {
        if let Some(r) = res {
            return self.reserved_ip(r) == ip && !self.taken_by_other(ip, key, now);
        }
        if self.res_by_ip.contains_key(&ip) || !self.cfg.cidr.contains(&ip) {
            return false;
        }
        match self.leases.get(&ip) {
            Some(l) if l.key == *key => l.state != LeaseState::Declined || l.expires <= now,
            Some(l) if l.active(now) => false,
            _ => self.pool.is_free(ip) || (self.pool.owns(ip) && self.leases.get(&ip).is_some_and(|l| !l.active(now))),
        }
    }

    /// Someone else holds `ip` (or it is quarantined).
    pub fn taken_by_other(&self, ip: Ipv4Addr, key: &ClientKey, now: u64) -> bool {
        self.leases.get(&ip).is_some_and(|l| l.active(now) && (l.key != *key || l.state == LeaseState::Declined))
    }

    /// The address to offer (docs/ARCHITECTURE.md §4 order): reservation → current or last address →
    /// requested address → least recently used free address of this node's slice.
    pub fn choose(&mut self, req: &Request, res: Option<usize>, now: u64) -> Option<Ipv4Addr> {
        if let Some(r) = res {
            let ip = self.reserved_ip(r);
            return (!self.taken_by_other(ip, &req.key, now)).then_some(ip);
        }
        if let Some(&ip) = self.by_client.get(&req.key)
            && self.available_for(ip, &req.key, None, now)
            && self.may_reoffer(ip)
        {
            return Some(ip);
        }
        if let Some(ip) = req.requested_ip
            && self.pool.is_free(ip)
            && self.available_for(ip, &req.key, None, now)
        {
            return Some(ip);
        }
        self.pool.take_lru()
    }

    /// Records `ip` for this client in `state` until `expires`, taking it off the free list.
    /// Returns the previous lease at that address.
    pub fn assign(
        &mut self,
        ip: Ipv4Addr,
        req: &Request,
        state: LeaseState,
        expires: u64,
        node: &Arc<str>,
    ) -> Option<Lease> {
        self.pool.take(ip);
        if let Some(old_ip) = self.by_client.insert(req.key.clone(), ip) {
            // A client holds one address per subnet: an older offer elsewhere goes back.
            if old_ip != ip
                && self.leases.get(&old_ip).is_some_and(|l| l.key == req.key && l.state == LeaseState::Offered)
            {
                self.leases.remove(&old_ip);
                self.pool.put(old_ip);
            }
            if old_ip != ip {
                self.end_imported(old_ip, &req.key, node);
            }
        }
        // The previous lease is replaced, so it is moved out rather than cloned.
        let mut prev = self.leases.remove(&ip);
        let same = prev.as_mut().filter(|p| p.key == req.key);
        let hostname = req.hostname.clone().or_else(|| same.and_then(|p| p.hostname.take()));
        let lease = Lease {
            subnet: self.name.clone(),
            ip,
            key: req.key.clone(),
            mac: req.chaddr.clone(),
            client_id: req.client_id.clone(),
            hostname,
            expires,
            state,
            node: node.clone(),
            seq: 0,
        };
        self.leases.insert(ip, lease);
        self.timers.push(Reverse((expires, ip)));
        prev
    }

    /// Frees an address now (release or offer withdrawn), remembering it for the client.
    pub fn free(&mut self, ip: Ipv4Addr, state: LeaseState, now: u64) {
        if let Some(l) = self.leases.get_mut(&ip) {
            l.state = state;
            l.expires = now;
        }
        self.pool.put(ip);
    }

    /// Puts `ip` in quarantine until `until`.
    pub fn quarantine(&mut self, ip: Ipv4Addr, until: u64) {
        if let Some(l) = self.leases.get_mut(&ip) {
            l.state = LeaseState::Declined;
            l.expires = until;
        }
        self.by_client.retain(|_, v| *v != ip);
        self.pool.take(ip);
        self.timers.push(Reverse((until, ip)));
    }

    /// Takes back a grant that was never ACKed ([`crate::durable`]): the address gets `prev`,
    /// its lease before the grant, back (an offer is not kept), or goes back to the pool.
    pub fn unbind(&mut self, ip: Ipv4Addr, prev: Option<Lease>, now: u64) {
        let Some(granted) = self.leases.remove(&ip) else { return };
        let prev = prev.filter(|p| p.state != LeaseState::Offered);
        if prev.as_ref().is_none_or(|p| p.key != granted.key) && self.by_client.get(&granted.key) == Some(&ip) {
            self.by_client.remove(&granted.key);
        }
        if let Some(p) = prev {
            // Only the same client's lease can still be running (a renewal): hold it again.
            if p.active(now) {
                self.pool.take(ip);
                self.timers.push(Reverse((p.expires, ip)));
            }
            self.leases.insert(ip, p);
        }
        if !self.leases.get(&ip).is_some_and(|l| l.active(now)) {
            self.pool.put(ip);
        }
    }

    /// Restores a remembered lease (journal replay) in the state it has at `now`.
    pub fn restore(&mut self, lease: Lease, now: u64) {
        let ip = lease.ip;
        if lease.state != LeaseState::Declined {
            self.by_client.insert(lease.key.clone(), ip);
        }
        if lease.active(now) {
            self.pool.take(ip);
            self.timers.push(Reverse((lease.expires, ip)));
        }
        self.leases.insert(ip, lease);
    }

    /// Runs the timers due at `now`: offers and quarantines end silently, bound leases expire
    /// with an event.
    pub fn sweep(&mut self, now: u64, expired: &mut Vec<(Lease, LeaseEventKind)>) {
        while let Some(&Reverse((t, ip))) = self.timers.peek() {
            if t > now {
                break;
            }
            self.timers.pop();
            let Some(l) = self.leases.get_mut(&ip) else { continue };
            // A timer is stale when the lease moved on since it was set.
            if l.expires != t || !matches!(l.state, LeaseState::Offered | LeaseState::Bound | LeaseState::Declined) {
                continue;
            }
            let was = l.state;
            l.state = LeaseState::Expired;
            if was == LeaseState::Bound {
                expired.push((l.clone(), LeaseEventKind::Expired));
            }
            if was == LeaseState::Offered || was == LeaseState::Declined {
                let key = l.key.clone();
                self.leases.remove(&ip);
                if self.by_client.get(&key) == Some(&ip) && was == LeaseState::Offered {
                    self.by_client.remove(&key);
                }
            }
            self.pool.put(ip);
        }
    }

    /// The subnet's address use: `used` and `total` over the whole subnet (leases replicate,
    /// so every node of a pair reports the same), `slice` and `slice_free` for what this node
    /// hands out itself.
    pub fn usage(&self, now: u64) -> Usage {
        let used = self.leases.values().filter(|l| l.active(now) && l.state != LeaseState::Offered).count();
        Usage {
            used: used as u64,
            total: u64::from(self.pool.usable()) + self.res_by_ip.len() as u64,
            slice: u64::from(self.pool.owned()),
            slice_free: u64::from(self.pool.free()),
        }
    }
}
