//! The RFC 2131 §4.3 message rules for one request (DISCOVER, REQUEST in its four states,
//! RELEASE, DECLINE, INFORM), with the NAK-and-silence cases, run by [`Core::handle_request`].

use std::net::Ipv4Addr;

use dhcproto::v4::MessageType;

use super::{Action, Core, DropReason, Outgoing};
use crate::durable::{self, Undo};
use crate::lease::{LeaseEventKind, LeaseState};
use crate::packet::Request;
use crate::reply::{self, ReplySpec, Times};
use crate::state::SubnetState;

/// One request being answered.
pub(super) struct Handler<'a> {
    pub(super) core: &'a mut Core,
    pub(super) idx: usize,
    pub(super) req: &'a Request,
    pub(super) server_id: Ipv4Addr,
    pub(super) now: u64,
}

impl Handler<'_> {
    fn subnet(&mut self) -> &mut SubnetState {
        &mut self.core.subnets[self.idx]
    }

    fn times(&self) -> Times {
        let c = &self.core.subnets[self.idx].cfg;
        let secs = |d: std::time::Duration| u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        Times { lease: secs(c.lease_time), t1: secs(c.t1), t2: secs(c.t2) }
    }

    fn reply(&self, kind: MessageType, yiaddr: Ipv4Addr, res: Option<usize>, times: Option<Times>) -> Outgoing {
        let s = &self.core.subnets[self.idx];
        let with_options = kind != MessageType::Nak;
        let spec = ReplySpec {
            kind,
            yiaddr,
            server_id: self.server_id,
            options: with_options.then(|| s.options_for(res)),
            times,
            dns_is_self: s.cfg.dns.is_none(),
        };
        let bytes = reply::build(self.req, &spec);
        let dest = reply::route(self.req, kind, yiaddr, self.core.relay_port, self.core.unicast_yiaddr);
        Outgoing { kind, bytes, dest }
    }

    fn nak(&self) -> Action {
        Action::Send(self.reply(MessageType::Nak, Ipv4Addr::UNSPECIFIED, None, None))
    }

    pub(super) fn discover(&mut self) -> Action {
        let (req, now) = (self.req, self.now);
        let res = self.subnet().reservation(req);
        let Some(ip) = self.subnet().choose(req, res, now) else { return Action::Drop(DropReason::PoolExhausted) };
        let hold = now + self.core.subnets[self.idx].cfg.offer_hold.as_secs().max(1);
        let node = self.core.node.clone();
        let s = self.subnet();
        // A client that still holds this address keeps its binding; the offer changes nothing.
        let bound =
            s.leases.get(&ip).is_some_and(|l| l.key == req.key && l.state == LeaseState::Bound && l.active(now));
        if !bound {
            s.assign(ip, req, LeaseState::Offered, hold, &node);
        }
        Action::Send(self.reply(MessageType::Offer, ip, res, Some(self.times())))
    }

    pub(super) fn request(&mut self) -> Action {
        let m = &self.req.msg;
        let cidr = self.core.subnets[self.idx].cfg.cidr;
        if let Some(sid) = self.req.server_id {
            // SELECTING: the client names the server it chose.
            if sid != self.server_id && !self.core.own_addrs.contains(&sid) {
                return self.withdraw_offer();
            }
            let Some(ip) = self.req.requested_ip.or((!m.ciaddr().is_unspecified()).then(|| m.ciaddr())) else {
                return self.nak();
            };
            return self.grant(ip);
        }
        let (ip, init_reboot) = match (self.req.requested_ip, m.ciaddr()) {
            (Some(ip), c) if c.is_unspecified() => (ip, true),
            (_, c) if !c.is_unspecified() => (c, false),
            _ => return Action::Drop(DropReason::Silent),
        };
        // INIT-REBOOT, RENEWING, REBINDING: wrong network → NAK.
        if !cidr.contains(&ip) {
            return self.nak();
        }
        let (req, now) = (self.req, self.now);
        let s = &self.core.subnets[self.idx];
        let res = s.reservation(req);
        if res.is_some_and(|r| s.reserved_ip(r) != ip) || s.taken_by_other(ip, &req.key, now) {
            return self.nak();
        }
        let ours = s.leases.get(&ip).is_some_and(|l| l.key == req.key);
        let known = s.by_client.get(&req.key);
        if init_reboot && res.is_none() && known.is_some_and(|&k| k != ip) {
            return self.nak();
        }
        if ours || res.is_some() {
            return self.grant(ip);
        }
        // No record of this client at this address: INIT-REBOOT stays silent (§4.3.2); a renewal
        // of a free address of our own slice is re-granted (its record was lost or expired).
        if !init_reboot && s.pool.is_free(ip) {
            return self.grant(ip);
        }
        Action::Drop(DropReason::Silent)
    }

    /// The client chose another server: our offer goes back to the pool.
    fn withdraw_offer(&mut self) -> Action {
        let key = self.req.key.clone();
        let s = self.subnet();
        if let Some(&ip) = s.by_client.get(&key)
            && s.leases.get(&ip).is_some_and(|l| l.key == key && l.state == LeaseState::Offered)
        {
            s.leases.remove(&ip);
            s.by_client.remove(&key);
            s.pool.put(ip);
        }
        Action::Drop(DropReason::OtherServer)
    }

    /// ACKs `ip` when this client may have it, else NAKs.
    fn grant(&mut self, ip: Ipv4Addr) -> Action {
        let (req, now) = (self.req, self.now);
        let s = &self.core.subnets[self.idx];
        let res = s.reservation(req);
        if !s.available_for(ip, &req.key, res, now) {
            return self.nak();
        }
        let times = self.times();
        let node = self.core.node.clone();
        let expires = now + u64::from(times.lease);
        let (idx, seq) = (self.idx, durable::next_seq());
        let s = self.subnet();
        let prev = s.assign(ip, req, LeaseState::Bound, expires, &node);
        let renewed = prev.as_ref().is_some_and(|p| p.key == req.key && p.state == LeaseState::Bound && p.active(now));
        let Some(l) = s.leases.get_mut(&ip) else { return self.nak() };
        l.seq = seq;
        if let Some(r) = res
            && let Some(h) = &s.cfg.reservations[r].hostname
        {
            l.hostname = Some(h.clone());
        }
        let lease = l.clone();
        let kind = if renewed { LeaseEventKind::Renewed } else { LeaseEventKind::Bound };
        let reply = self.reply(MessageType::Ack, ip, res, Some(times));
        Action::Durable {
            event: Some(lease.event(kind)),
            record: lease,
            reply: Some(reply),
            undo: Some(Undo { seq, subnet: idx, ip, prev }),
        }
    }

    pub(super) fn release(&mut self) -> Action {
        let (ip, key, now) = (self.req.msg.ciaddr(), self.req.key.clone(), self.now);
        let s = self.subnet();
        if !s.leases.get(&ip).is_some_and(|l| l.key == key && l.state == LeaseState::Bound) {
            return Action::Drop(DropReason::Silent);
        }
        released(s, ip, now)
    }

    pub(super) fn decline(&mut self) -> Action {
        let Some(ip) = self.req.requested_ip else { return Action::Drop(DropReason::Silent) };
        let (key, now) = (self.req.key.clone(), self.now);
        let until = now + self.core.subnets[self.idx].cfg.decline_quarantine.as_secs();
        let s = self.subnet();
        let Some(l) = s.leases.get(&ip).filter(|l| l.key == key && l.active(now)) else {
            return Action::Drop(DropReason::Silent);
        };
        let was_bound = l.state == LeaseState::Bound;
        let mut lease = l.clone();
        s.quarantine(ip, until);
        (lease.expires, lease.state) = (until, LeaseState::Declined);
        let event = was_bound.then(|| lease.event(LeaseEventKind::Released));
        Action::Durable { record: lease, reply: None, event, undo: None }
    }

    pub(super) fn inform(&mut self) -> Action {
        let res = self.core.subnets[self.idx].reservation(self.req);
        Action::Send(self.reply(MessageType::Ack, Ipv4Addr::UNSPECIFIED, res, None))
    }
}

/// Frees the bound lease on `ip` as released at `now`: its record to make durable, and the
/// event to emit once it is.
pub(super) fn released(s: &mut SubnetState, ip: Ipv4Addr, now: u64) -> Action {
    s.free(ip, LeaseState::Released, now);
    let lease = s.leases[&ip].clone();
    Action::Durable { event: Some(lease.event(LeaseEventKind::Released)), record: lease, reply: None, undo: None }
}
