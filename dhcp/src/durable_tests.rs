//! Grants the journal could not write (issue 10, defect 1): the address is not left bound.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};

use crate::durable::Undo;
use crate::lease::LeaseState;
use crate::machine::{Action, Context, Core};
use crate::pool::Slice;

const CONF: &str = r#"
[node]
name = "a"
[[subnet]]
name = "v77"
cidr = "10.77.0.0/24"
pools = ["10.77.0.10-10.77.0.13"]
lease_time = "1h"
"#;

const GIADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const T: u64 = 1000;

fn core() -> Core {
    let c = ravens_config::parse_with(CONF, "t", &String::new).unwrap();
    Core::new(&c, Slice::WHOLE, &[], T)
}

fn run(c: &mut Core, n: u8, kind: MessageType, ciaddr: Ipv4Addr, opts: Vec<DhcpOption>, now: u64) -> Action {
    let z = Ipv4Addr::UNSPECIFIED;
    let mut m = Message::new_with_id(0x100 + u32::from(n), ciaddr, z, z, GIADDR, &[2, 0, 0, 0, 0, n]);
    m.set_opcode(Opcode::BootRequest);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    for o in opts {
        m.opts_mut().insert(o);
    }
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).unwrap();
    c.handle(&b, &Context { dst: SID, iface_addrs: &[], direct: false }, now)
}

fn offer(c: &mut Core, n: u8) -> Ipv4Addr {
    let Action::Send(o) = run(c, n, MessageType::Discover, Ipv4Addr::UNSPECIFIED, vec![], T) else {
        panic!("no offer")
    };
    Message::decode(&mut Decoder::new(&o.bytes)).unwrap().yiaddr()
}

/// A SELECTING REQUEST for `ip`; returns the grant's undo (the ACK waits for the journal).
fn select(c: &mut Core, n: u8, ip: Ipv4Addr) -> Undo {
    let opts = vec![DhcpOption::ServerIdentifier(SID), DhcpOption::RequestedIpAddress(ip)];
    match run(c, n, MessageType::Request, Ipv4Addr::UNSPECIFIED, opts, T) {
        Action::Durable { undo: Some(u), .. } => u,
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn bound(c: &Core, ip: Ipv4Addr) -> bool {
    c.subnets[0].leases.get(&ip).is_some_and(|l| l.state == LeaseState::Bound && l.active(T))
}

#[test]
fn issue10_defect1_grant_that_was_not_journaled_is_not_bound() {
    let mut c = core();
    let ip = offer(&mut c, 1);
    let undo = select(&mut c, 1, ip);
    assert!(bound(&c, ip));
    c.unjournaled(undo, T);
    assert!(!bound(&c, ip), "no ACK went out, so no lease");
    let s = &c.subnets[0];
    assert_eq!(s.usage(T).used, 0, "nothing in use");
    assert!(s.pool.is_free(ip) && !s.leases.contains_key(&ip));
    assert!(!s.by_client.values().any(|&a| a == ip), "no client is remembered there");
    // The address is anyone's again: another client that asks for it gets it.
    let other = select(&mut c, 2, ip);
    assert!(bound(&c, ip));
    drop(other);
    // The first client starts over and is served from what is left.
    let again = offer(&mut c, 1);
    assert_ne!(again, ip);
    select(&mut c, 1, again);
    assert!(bound(&c, again));
}

#[test]
fn issue10_defect1_unjournaled_renewal_keeps_the_lease_that_was_acked() {
    let mut c = core();
    let ip = offer(&mut c, 1);
    drop(select(&mut c, 1, ip)); // written and ACKed
    let first = c.subnets[0].leases[&ip].expires;
    let renew = match run(&mut c, 1, MessageType::Request, ip, vec![], T + 600) {
        Action::Durable { undo: Some(u), .. } => u,
        other => panic!("expected a renewal, got {other:?}"),
    };
    assert!(c.subnets[0].leases[&ip].expires > first);
    c.unjournaled(renew, T + 600);
    let l = &c.subnets[0].leases[&ip];
    assert_eq!((l.state, l.expires), (LeaseState::Bound, first), "the ACKed lease stands");
    assert!(!c.subnets[0].pool.is_free(ip));
    let opts = vec![DhcpOption::ServerIdentifier(SID), DhcpOption::RequestedIpAddress(ip)];
    let Action::Send(nak) = run(&mut c, 2, MessageType::Request, Ipv4Addr::UNSPECIFIED, opts, T + 600) else {
        panic!("another client is refused")
    };
    assert_eq!(nak.kind, MessageType::Nak);
}

#[test]
fn retransmitted_request_granted_twice_is_undone_in_either_order() {
    for reversed in [false, true] {
        let mut c = core();
        let ip = offer(&mut c, 1);
        let (a, b) = (select(&mut c, 1, ip), select(&mut c, 1, ip));
        let (first, second) = if reversed { (b, a) } else { (a, b) };
        c.unjournaled(first, T);
        c.unjournaled(second, T);
        assert!(!bound(&c, ip), "reversed: {reversed}");
        assert!(c.subnets[0].pool.is_free(ip), "reversed: {reversed}");
    }
}

#[test]
fn retransmission_written_after_a_failed_grant_stays_bound() {
    let mut c = core();
    let ip = offer(&mut c, 1);
    let failed = select(&mut c, 1, ip);
    let written = select(&mut c, 1, ip);
    c.unjournaled(failed, T);
    assert!(bound(&c, ip), "the retransmission's record was written and ACKed");
    drop(written);
}
