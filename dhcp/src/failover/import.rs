//! Leases granted by the other nodes, applied to this node's core (docs/ARCHITECTURE.md §5):
//! the address is never handed out again here, and the client can be renewed in place. Which
//! records win the merge is [`super::merge`]'s; this module only applies the winner.

use std::net::Ipv4Addr;

use crate::lease::{Lease, LeaseEvent, LeaseEventKind, LeaseState};
use crate::machine::Core;
use crate::packet::ClientKey;
use crate::state::SubnetState;

impl Core {
    /// Applies another node's lease for one client at `now`: a live lease takes its address
    /// out of the pool and binds it to the client (moving the client off any older address);
    /// a released one frees the address. Never journaled (the granting node keeps it durable).
    /// A conflicting active lease granted by this node is kept (split brain: our own slice
    /// rules make this impossible for new addresses). Returns the events for the daemon, with
    /// `node` set to the granting node so they are not published again.
    ///
    /// `r` is the merged winner ([`super::merge::remote_lease`]): `Bound` until `expires`, or
    /// `Released` when the client holds no address any more cluster-wide.
    pub fn import(&mut self, r: &Lease, now: u64) -> Vec<LeaseEvent> {
        let me = self.node.clone();
        let mut out = Vec::new();
        let Some(s) = self.subnets.iter_mut().find(|s| *s.cfg.name == *r.subnet && s.cfg.cidr.contains(&r.ip)) else {
            self.park(r, now);
            return out;
        };
        let key = r.key.clone();
        let remote_event = |l: &Lease, kind| {
            let mut e = l.event(kind);
            e.lease.node.clone_from(&r.node);
            e
        };
        let live = r.state == LeaseState::Bound && r.expires > now;
        // The client moved (or was released) away from its previous address here.
        if let Some(&old) = s.by_client.get(&key)
            && (old != r.ip || !live)
        {
            if let Some(l) =
                s.leases.get(&old).filter(|l| l.key == key && l.state == LeaseState::Bound && l.active(now))
            {
                out.push(remote_event(l, LeaseEventKind::Released));
                s.free(old, if live { LeaseState::Expired } else { LeaseState::Released }, now);
            }
            if old != r.ip {
                s.by_client.remove(&key);
            }
        }
        if !live {
            return out;
        }
        let prev = s.leases.get(&r.ip);
        if let Some(p) = prev.filter(|p| p.key != key && p.active(now)) {
            if p.node == me && p.state != LeaseState::Offered {
                tracing::warn!(ip = %r.ip, node = %r.node, "remote lease conflicts with a lease of ours; keeping ours");
                return out;
            }
            let other = p.key.clone();
            if s.by_client.get(&other) == Some(&r.ip) {
                s.by_client.remove(&other);
            }
        }
        let renewed = prev.is_some_and(|p| p.key == key && p.state == LeaseState::Bound && p.active(now));
        let lease = Lease { subnet: s.name.clone(), key, state: LeaseState::Bound, seq: 0, ..r.clone() };
        let kind = if renewed { LeaseEventKind::Renewed } else { LeaseEventKind::Bound };
        out.push(remote_event(&lease, kind));
        s.restore(lease, now);
        out
    }
}

/// Unplaced leases kept at most (a peer's whole subnet or two while the config catches up).
const MAX_UNPLACED: usize = 65_536;

impl Core {
    /// Keeps the latest live lease of a client whose subnet is not served here, for the
    /// [`Core::rebuild`] that adds the subnet (its config and its leases travel separately).
    fn park(&mut self, r: &Lease, now: u64) {
        self.unplaced.retain(|l| l.key != r.key && l.expires > now);
        if r.state == LeaseState::Bound && r.expires > now && self.unplaced.len() < MAX_UNPLACED {
            self.unplaced.push(r.clone());
        }
    }
}

impl SubnetState {
    /// Whether a DISCOVERing client may be offered `ip`, its current or last address, again:
    /// only when it is in this node's slice. An address of another node's slice is known here
    /// only from that node's records, stale while the nodes are partitioned: the owner may have
    /// seen the client release it and given it to another client, and offering it here would
    /// put one address on two clients (found by tests/netns_partition.rs). A client that still
    /// holds it asks for it by REQUEST (INIT-REBOOT, RENEWING, REBINDING), renewed in place.
    pub(crate) fn may_reoffer(&self, ip: Ipv4Addr) -> bool {
        self.pool.owns(ip)
    }

    /// This node offers or binds the client with `key` a new address: its older lease at `old`,
    /// imported from another node, ends. A client holds one address per subnet, and the granting
    /// node's release of it would never reach this table (this node's newer record for the
    /// client wins the merge), so the stale copy would stay listed until it expired. (Should the
    /// client stay with the granting node after all, that node's next record imports it again.)
    pub(crate) fn end_imported(&mut self, old: Ipv4Addr, key: &ClientKey, node: &str) {
        if let Some(l) = self.leases.get_mut(&old)
            && l.key == *key
            && l.state == LeaseState::Bound
            && *l.node != *node
        {
            l.state = LeaseState::Expired;
            self.pool.put(old);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dhcproto::v4::MessageType;

    use super::*;
    use crate::failover::AnswerFilter;
    use crate::machine::Context;

    fn core() -> Core {
        let toml = r#"
[node]
name = "b"
[[subnet]]
name = "lan"
cidr = "10.9.0.0/24"
pools = ["10.9.0.100-10.9.0.199"]
"#;
        let cfg = ravens_config::parse(toml, "test").unwrap();
        Core::new(&cfg, crate::pool::Slice::for_node(&["a", "b"], "b"), &[], 1000)
    }

    fn remote(ip: [u8; 4], key: &[u8], expires: u64, released: bool) -> Lease {
        Lease {
            subnet: "lan".into(),
            ip: Ipv4Addr::from(ip),
            key: ClientKey(key.into()),
            mac: vec![2, 0, 0, 0, 0, 1],
            client_id: None,
            hostname: Some("pc".into()),
            expires,
            state: if released { LeaseState::Released } else { LeaseState::Bound },
            node: "a".into(),
            seq: 0,
        }
    }

    #[test]
    fn import_binds_moves_and_releases() {
        let mut c = core();
        let ev = c.import(&remote([10, 9, 0, 120], b"\x01\x01k1", 2000, false), 1000);
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].kind, &*ev[0].lease.node), (LeaseEventKind::Bound, "a"));
        let s = &c.subnets[0];
        assert_eq!(s.leases[&Ipv4Addr::new(10, 9, 0, 120)].state, LeaseState::Bound);
        // The client moved: old address freed, new one bound.
        let ev = c.import(&remote([10, 9, 0, 121], b"\x01\x01k1", 2000, false), 1001);
        assert_eq!(ev.iter().map(|e| e.kind).collect::<Vec<_>>(), [LeaseEventKind::Released, LeaseEventKind::Bound]);
        let ev = c.import(&remote([10, 9, 0, 121], b"\x01\x01k1", 1001, true), 1002);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].kind, LeaseEventKind::Released);
        assert!(!c.subnets[0].leases[&Ipv4Addr::new(10, 9, 0, 121)].active(1002));
    }

    /// Regression (issue 12): a peer's lease in a subnet this node learns of later (the
    /// site config that adds it arrives after the lease record) was dropped for good.
    #[test]
    fn a_lease_of_a_subnet_not_served_yet_is_placed_when_the_subnet_comes() {
        let mut c = core();
        let mut r = remote([10, 8, 0, 120], b"\x01\x01k9", 2000, false);
        r.subnet = "guest".into();
        assert!(c.import(&r, 1000).is_empty());
        assert!(c.leases(None, 1000).is_empty());
        let both = "[node]\nname = \"b\"\n[[subnet]]\nname = \"lan\"\ncidr = \"10.9.0.0/24\"\n\
                    pools = [\"10.9.0.100-10.9.0.199\"]\n[[subnet]]\nname = \"guest\"\ncidr = \"10.8.0.0/24\"\n\
                    pools = [\"10.8.0.100-10.8.0.199\"]\n";
        let cfg = ravens_config::parse(both, "test").unwrap();
        let slice = c.slice();
        let ev = c.rebuild(&cfg, slice, 1001);
        assert_eq!(ev.iter().map(|e| (e.kind, e.lease.ip)).collect::<Vec<_>>(), [(LeaseEventKind::Bound, r.ip)]);
        assert_eq!(c.leases(Some("guest"), 1001).len(), 1);
        assert!(c.rebuild(&cfg, slice, 1002).is_empty(), "placed once");
    }

    #[test]
    fn imported_address_of_our_slice_is_never_handed_out() {
        let mut c = core();
        // 10.9.0.150.. is b's slice; a renewed one of them in place while b was away.
        c.import(&remote([10, 9, 0, 150], b"\x01\x01k2", 5000, false), 1000);
        assert!(!c.subnets[0].pool.is_free(Ipv4Addr::new(10, 9, 0, 150)));
        let mut seen = Vec::new();
        while let Some(ip) = c.subnets[0].pool.take_lru() {
            seen.push(ip);
        }
        assert!(!seen.contains(&Ipv4Addr::new(10, 9, 0, 150)));
        assert_eq!(seen.len(), 49);
    }

    fn request(
        kind: MessageType,
        mac: [u8; 6],
        secs: u16,
        ciaddr: Ipv4Addr,
        opts: Vec<dhcproto::v4::DhcpOption>,
    ) -> Vec<u8> {
        use dhcproto::{Encodable, Encoder};
        let z = Ipv4Addr::UNSPECIFIED;
        let mut m = dhcproto::v4::Message::new_with_id(7, ciaddr, z, z, Ipv4Addr::new(10, 9, 0, 1), &mac);
        m.set_opcode(dhcproto::v4::Opcode::BootRequest);
        m.set_secs(secs);
        m.opts_mut().insert(dhcproto::v4::DhcpOption::MessageType(kind));
        for o in opts {
            m.opts_mut().insert(o);
        }
        let mut b = Vec::new();
        m.encode(&mut Encoder::new(&mut b)).unwrap();
        b
    }

    #[test]
    fn filter_gates_discover_and_rebinding_and_imported_lease_renews_in_place() {
        use crate::machine::{Action, DropReason};
        let mut c = core();
        // Answers only clients that have been trying for 3 s (the peer owns every bucket).
        c.set_answer_filter(Some(AnswerFilter(Arc::new(|_id: &[u8], secs: u16| secs >= 3))));
        let ctx = Context { dst: Ipv4Addr::new(192, 0, 2, 1), iface_addrs: &[], direct: false };
        let mac = [2, 0, 0, 0, 0, 7];
        let d = request(MessageType::Discover, mac, 0, Ipv4Addr::UNSPECIFIED, vec![]);
        assert!(matches!(c.handle(&d, &ctx, 1000), Action::Drop(DropReason::PeerAnswers)));
        // The peer's client, known from the merged state (key = hardware type 1 + chaddr).
        let ip = Ipv4Addr::new(10, 9, 0, 120);
        let mut r = remote([10, 9, 0, 120], &[1, 1, 2, 0, 0, 0, 0, 7], 5000, false);
        r.mac = mac.to_vec();
        c.import(&r, 1000);
        let rebind = request(MessageType::Request, mac, 0, ip, vec![]);
        assert!(matches!(c.handle(&rebind, &ctx, 1001), Action::Drop(DropReason::PeerAnswers)));
        let rebind = request(MessageType::Request, mac, 3, ip, vec![]);
        match c.handle(&rebind, &ctx, 1001) {
            Action::Durable { record, reply: Some(out), event: Some(ev), .. } => {
                assert_eq!((record.ip, &*record.node), (ip, "b"), "renewed in place by this node");
                assert_eq!(out.kind, MessageType::Ack);
                assert_eq!((ev.kind, &*ev.lease.node), (LeaseEventKind::Renewed, "b"));
            }
            other => panic!("{other:?}"),
        }
        // An unknown address of the peer's slice: silence, not an ACK.
        let other = request(MessageType::Request, [2, 0, 0, 0, 0, 8], 3, Ipv4Addr::new(10, 9, 0, 121), vec![]);
        assert!(matches!(c.handle(&other, &ctx, 1001), Action::Drop(DropReason::Silent)));
    }

    #[test]
    fn discover_of_a_peer_slice_client_gets_an_address_of_our_slice_and_the_import_ends() {
        use crate::machine::Action;
        use dhcproto::v4::{DhcpOption, Message, OptionCode};
        use dhcproto::{Decodable, Decoder};
        let mut c = core();
        let ctx = Context { dst: Ipv4Addr::new(192, 0, 2, 1), iface_addrs: &[], direct: false };
        let mac = [2, 0, 0, 0, 0, 9];
        // a's client at 10.9.0.120 (a's slice), as b imported it; a may since have seen it
        // released and handed the address to someone else.
        let old = Ipv4Addr::new(10, 9, 0, 120);
        let mut r = remote([10, 9, 0, 120], &[1, 1, 2, 0, 0, 0, 0, 9], 5000, false);
        r.mac = mac.to_vec();
        c.import(&r, 1000);
        let d = request(MessageType::Discover, mac, 0, Ipv4Addr::UNSPECIFIED, vec![]);
        let Action::Send(offer) = c.handle(&d, &ctx, 1001) else { panic!("no offer") };
        let offer = Message::decode(&mut Decoder::new(&offer.bytes)).unwrap();
        let ip = offer.yiaddr();
        assert!((150..200).contains(&ip.octets()[3]), "offered {ip}, not an address of b's slice");
        let sid = offer.opts().get(OptionCode::ServerIdentifier).cloned().unwrap();
        let req =
            request(MessageType::Request, mac, 0, Ipv4Addr::UNSPECIFIED, vec![DhcpOption::RequestedIpAddress(ip), sid]);
        assert!(matches!(c.handle(&req, &ctx, 1001), Action::Durable { reply: Some(_), .. }));
        let s = &c.subnets[0];
        assert!(!s.leases[&old].active(1001), "the client's imported lease at {old} ended");
        assert_eq!(s.leases.values().filter(|l| l.active(1001)).count(), 1, "one lease for one client");
    }
}
