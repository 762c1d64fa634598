//! The sans-IO DHCPv4 server core: datagram in, [`Action`] out, time passed in as `now` (Unix
//! seconds). Subnet selection, the RFC 2131 §4.3 message rules with their NAK-and-silence cases,
//! allocation and reply routing all happen here; sockets and the journal belong to the driver,
//! which must make a [`Action::Durable`] record durable before sending its reply.

use std::net::Ipv4Addr;
use std::sync::Arc;

use dhcproto::v4::MessageType;
use ravens_config::Config;

use crate::durable::{Orphans, Undo};
use crate::failover::AnswerFilter;
use crate::lease::{Lease, LeaseEvent, LeaseState, RecordKind};
use crate::packet::{self, Malformed, Request};
use crate::pool::Slice;
use crate::reply::Destination;
use crate::state::{SubnetState, Usage};

mod handler;
use handler::{Handler, released};

/// Where a datagram arrived.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Destination address of the datagram (IP_PKTINFO), broadcast or ours.
    pub dst: Ipv4Addr,
    /// IPv4 addresses of the receiving interface when it is served directly, else empty.
    pub iface_addrs: &'a [Ipv4Addr],
    /// The receiving interface is one of `dhcp_interfaces`.
    pub direct: bool,
}

/// Why a datagram got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    Malformed(Malformed),
    /// No configured subnet matches the selection inputs.
    NoSubnet,
    /// A direct (not relayed) broadcast on an interface that is not served.
    NotServed,
    /// The client chose another server.
    OtherServer,
    /// RFC 2131 §4.3.2 silence: no record of the client, or not ours to answer.
    Silent,
    PoolExhausted,
    /// A message type a server does not handle.
    Ignored,
    /// Another node of the cluster answers this client (RFC 3074 bucket, [`Core::may_answer`]).
    PeerAnswers,
}

/// A reply ready to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub kind: MessageType,
    pub bytes: Vec<u8>,
    pub dest: Destination,
}

/// What to do with a datagram.
#[derive(Debug)]
// Built and consumed once per datagram; boxing the big variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    Drop(DropReason),
    /// Send now (OFFER, NAK, ACK to INFORM).
    Send(Outgoing),
    /// Make `record` durable, then send `reply` and emit `event`; if it cannot be written,
    /// hand `undo` (a grant's) to [`Core::unjournaled`] instead.
    Durable {
        record: Lease,
        reply: Option<Outgoing>,
        event: Option<LeaseEvent>,
        undo: Option<Undo>,
    },
}

/// The server's whole state. The fields the core's other modules ([`crate::durable`],
/// [`crate::failover`]) extend it through are crate-visible; the driver uses methods.
#[derive(Debug)]
pub struct Core {
    pub(crate) subnets: Vec<SubnetState>,
    pub(crate) node: Arc<str>,
    relay_port: u16,
    /// Addresses this node answers as (server identifiers it recognises).
    own_addrs: Vec<Ipv4Addr>,
    /// Unicast OFFER/ACK to yiaddr (needs an ARP entry; see [`crate::reply::route`]).
    unicast_yiaddr: bool,
    /// This node's slice of every pool (new addresses come only from it).
    slice: Slice,
    /// Cluster "who answers" filter; `None` answers everyone (single node).
    pub(crate) answer: Option<AnswerFilter>,
    /// What undone grants had replaced, for the undo of a later grant ([`crate::durable`]).
    pub(crate) orphans: Orphans,
    /// Other nodes' leases in no subnet served here yet ([`crate::failover::import`]): the
    /// site config that adds their subnet can arrive after them.
    pub(crate) unplaced: Vec<Lease>,
}

impl Core {
    /// A core for `config`'s subnets, restoring `records` (latest per address) as of `now`.
    pub fn new(config: &Config, slice: Slice, records: &[Lease], now: u64) -> Core {
        let domain = &config.dns.local_domain;
        let subnets = config.subnets.iter().map(|s| SubnetState::new(s.clone(), domain, slice)).collect();
        let mut core = Core {
            subnets,
            node: Arc::from(config.node.name.as_str()),
            relay_port: config.node.dhcp_relay_port,
            own_addrs: Vec::new(),
            unicast_yiaddr: false,
            slice,
            answer: None,
            orphans: Orphans::default(),
            unplaced: Vec::new(),
        };
        core.restore(records, now);
        core
    }

    /// Rebuilds the core for `config` and `slice`, keeping every remembered lease whose subnet
    /// (by name) still holds its address, the addresses it answers as, the relay port (not
    /// rebound before a restart) and the answer filter; outstanding offers are forgotten.
    /// Other nodes' leases that had no subnet here are imported again: the events of those
    /// that now have one are returned.
    pub fn rebuild(&mut self, config: &Config, slice: Slice, now: u64) -> Vec<LeaseEvent> {
        let mut next = Core::new(config, slice, &self.records(), now);
        next.own_addrs = std::mem::take(&mut self.own_addrs);
        next.relay_port = self.relay_port;
        next.answer = self.answer.take();
        let unplaced = std::mem::take(&mut self.unplaced);
        *self = next;
        unplaced.iter().flat_map(|l| self.import(l, now)).collect()
    }

    fn restore(&mut self, records: &[Lease], now: u64) {
        // Oldest first, so freed addresses re-enter the free list in last-use order.
        let mut sorted: Vec<&Lease> = records.iter().collect();
        sorted.sort_by_key(|r| r.expires);
        for r in sorted {
            let Some(s) = self.subnets.iter_mut().find(|s| *s.cfg.name == *r.subnet && s.cfg.cidr.contains(&r.ip))
            else {
                continue;
            };
            let state = match r.kind() {
                RecordKind::Bound if r.expires > now => LeaseState::Bound,
                RecordKind::Bound => LeaseState::Expired,
                RecordKind::Released => LeaseState::Released,
                RecordKind::Declined if r.expires > now => LeaseState::Declined,
                RecordKind::Declined => continue,
            };
            let lease = Lease { subnet: s.name.clone(), state, seq: 0, ..r.clone() };
            s.restore(lease, now);
            if !matches!(state, LeaseState::Bound | LeaseState::Declined) {
                s.pool.touch(r.ip);
            }
        }
    }

    /// Every remembered lease but offers, as the journal would hold them (for a rebuild).
    pub fn records(&self) -> Vec<Lease> {
        let remembered = self.subnets.iter().flat_map(|s| s.leases.values());
        remembered.filter(|l| l.state != LeaseState::Offered).cloned().collect()
    }

    /// Bound, unexpired leases at `now`, of one subnet or of all, by address.
    pub fn leases(&self, subnet: Option<&str>, now: u64) -> Vec<Lease> {
        let mut out = Vec::new();
        for s in self.subnets.iter().filter(|s| subnet.is_none_or(|n| n == s.cfg.name)) {
            out.extend(s.leases.values().filter(|l| l.state == LeaseState::Bound && l.active(now)).cloned());
        }
        out.sort_by_key(|l| l.ip);
        out
    }

    /// (subnet name, its address use) per subnet.
    pub fn pool_usage(&self, now: u64) -> Vec<(String, Usage)> {
        self.subnets.iter().map(|s| (s.cfg.name.clone(), s.usage(now))).collect()
    }

    /// The subnets served, in config order.
    pub fn subnets(&self) -> &[SubnetState] {
        &self.subnets
    }

    /// One subnet's state, for benches and tests that drive allocation directly.
    pub fn subnet_mut(&mut self, idx: usize) -> Option<&mut SubnetState> {
        self.subnets.get_mut(idx)
    }

    /// This node's slice of every pool.
    pub fn slice(&self) -> Slice {
        self.slice
    }

    /// The addresses this node answers as (server identifiers it recognises).
    pub fn set_own_addrs(&mut self, addrs: Vec<Ipv4Addr>) {
        self.own_addrs = addrs;
    }

    /// Installs (or removes) the cluster's "who answers" filter.
    pub fn set_answer_filter(&mut self, filter: Option<AnswerFilter>) {
        self.answer = filter;
    }

    /// Ends the bound lease on `ip` as if its client had released it (`dnsctl lease
    /// release`): the same durable step as a RELEASE. `None` when no lease is bound there.
    pub fn release(&mut self, ip: Ipv4Addr, now: u64) -> Option<Action> {
        let s = self
            .subnets
            .iter_mut()
            .find(|s| s.leases.get(&ip).is_some_and(|l| l.state == LeaseState::Bound && l.active(now)))?;
        Some(released(s, ip, now))
    }

    /// Handles one datagram.
    pub fn handle(&mut self, buf: &[u8], ctx: &Context<'_>, now: u64) -> Action {
        let req = match packet::decode(buf) {
            Ok(r) => r,
            Err(e) => return Action::Drop(DropReason::Malformed(e)),
        };
        self.handle_request(&req, ctx, now)
    }

    /// Handles a decoded request.
    pub fn handle_request(&mut self, req: &Request, ctx: &Context<'_>, now: u64) -> Action {
        let m = &req.msg;
        let relayed = !m.giaddr().is_unspecified();
        if !relayed && !ctx.direct && m.ciaddr().is_unspecified() {
            return Action::Drop(DropReason::NotServed);
        }
        let Some(idx) = self.select(req, ctx) else { return Action::Drop(DropReason::NoSubnet) };
        if !self.may_answer(req, ctx) {
            return Action::Drop(DropReason::PeerAnswers);
        }
        let server_id = self.server_id(idx, ctx);
        let mut h = Handler { core: self, idx, req, server_id, now };
        match req.msg_type {
            MessageType::Discover => h.discover(),
            MessageType::Request => h.request(),
            MessageType::Release => h.release(),
            MessageType::Decline => h.decline(),
            MessageType::Inform => h.inform(),
            _ => Action::Drop(DropReason::Ignored),
        }
    }

    /// Subnet selection, first that applies: 82/5 link-selection → 118 → giaddr → ciaddr
    /// when it is inside a configured subnet → the receiving interface's addresses.
    ///
    /// ciaddr goes before the interface (the original design had it last; docs/ARCHITECTURE.md
    /// §4): a bound client's unicast RENEW or RELEASE names its own address, while the
    /// interface it arrives on is only where the routing of the client's host sent it (seen
    /// with dhclient -r on a host with two VLANs: the RELEASE for a VLAN 20 address came in on
    /// VLAN 10 and was ignored).
    pub fn select(&self, req: &Request, ctx: &Context<'_>) -> Option<usize> {
        let find = |ip: Ipv4Addr| self.subnets.iter().position(|s| s.cfg.cidr.contains(&ip));
        if let Some(ip) = req.link_selection {
            return find(ip);
        }
        if let Some(ip) = req.subnet_selection {
            return find(ip);
        }
        let giaddr = req.msg.giaddr();
        if !giaddr.is_unspecified() {
            return find(giaddr);
        }
        let ciaddr = req.msg.ciaddr();
        if let Some(i) = (!ciaddr.is_unspecified()).then(|| find(ciaddr)).flatten() {
            return Some(i);
        }
        ctx.iface_addrs.iter().find_map(|&a| find(a))
    }

    /// The address we answer as: the receiving interface's address in the subnet, else the
    /// unicast address the datagram was sent to, else any address of ours.
    fn server_id(&self, idx: usize, ctx: &Context<'_>) -> Ipv4Addr {
        let cidr = self.subnets[idx].cfg.cidr;
        if let Some(&a) = ctx.iface_addrs.iter().find(|a| cidr.contains(*a)) {
            return a;
        }
        let unicast = !ctx.dst.is_unspecified() && !ctx.dst.is_broadcast();
        if unicast {
            return ctx.dst;
        }
        ctx.iface_addrs.first().or(self.own_addrs.first()).copied().unwrap_or(Ipv4Addr::UNSPECIFIED)
    }

    /// Runs timers due at `now`; returns the leases that expired (for events).
    pub fn sweep(&mut self, now: u64) -> Vec<LeaseEvent> {
        let mut out = Vec::new();
        let mut expired = Vec::new();
        for s in &mut self.subnets {
            s.sweep(now, &mut expired);
            out.extend(expired.drain(..).map(|(l, kind)| l.event(kind)));
        }
        out
    }
}
