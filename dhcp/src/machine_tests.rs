//! State machine tests with injected time: DORA, each REQUEST state and its NAK/silence rules,
//! release, decline, inform, reservations, allocation order, option order and size, restore.

use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Encodable, Encoder};

use crate::lease::{LeaseEventKind, RecordKind};
use crate::machine::{Action, Context, Core, DropReason, Outgoing};
use crate::pool::Slice;
use crate::reply::Destination;

const CONF: &str = r#"
[node]
name = "a"
dhcp_relay_port = 6768
[dns]
local_domain = "lan"
[[subnet]]
name = "v77"
cidr = "10.77.0.0/24"
pools = ["10.77.0.10-10.77.0.19"]
router = "10.77.0.1"
dns = ["10.0.1.2", "10.0.1.3"]
lease_time = "1h"
[[subnet.option]]
code = 66
text = "tftp.lan"
[[subnet.reservation]]
mac = "02:00:00:00:00:99"
ip = "10.77.0.5"
hostname = "printer"
"#;

const GIADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const SID: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn core() -> Core {
    let c = ravens_config::parse_with(CONF, "t", &String::new).unwrap();
    Core::new(&c, Slice::WHOLE, &[], 1000)
}

fn ctx() -> Context<'static> {
    Context { dst: SID, iface_addrs: &[], direct: false }
}

fn mac(n: u8) -> [u8; 6] {
    [2, 0, 0, 0, 0, n]
}

fn msg(kind: MessageType, n: u8, opts: Vec<DhcpOption>) -> Message {
    let mut m = Message::new_with_id(
        0x1000 + u32::from(n),
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        GIADDR,
        &mac(n),
    );
    m.set_opcode(Opcode::BootRequest);
    m.opts_mut().insert(DhcpOption::MessageType(kind));
    for o in opts {
        m.opts_mut().insert(o);
    }
    m
}

fn bytes(m: &Message) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).unwrap();
    b
}

fn run(core: &mut Core, m: &Message, now: u64) -> Action {
    core.handle(&bytes(m), &ctx(), now)
}

fn reply(a: Action) -> (Outgoing, Option<crate::lease::LeaseEvent>) {
    match a {
        Action::Send(o) => (o, None),
        Action::Durable { reply: Some(o), event, .. } => (o, event),
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn decode_reply(o: &Outgoing) -> Message {
    use dhcproto::{Decodable, Decoder};
    Message::decode(&mut Decoder::new(&o.bytes)).unwrap()
}

fn dora(core: &mut Core, n: u8, now: u64) -> Ipv4Addr {
    let (offer, _) = reply(run(core, &msg(MessageType::Discover, n, vec![]), now));
    assert_eq!(offer.kind, MessageType::Offer);
    let ip = decode_reply(&offer).yiaddr();
    let req = msg(MessageType::Request, n, vec![DhcpOption::ServerIdentifier(SID), DhcpOption::RequestedIpAddress(ip)]);
    let (ack, ev) = reply(run(core, &req, now));
    assert_eq!(ack.kind, MessageType::Ack);
    assert!(matches!(ev.unwrap().kind, LeaseEventKind::Bound | LeaseEventKind::Renewed));
    ip
}

#[test]
fn dora_gives_lru_address_with_options_routed_to_relay() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    assert_eq!(ip, Ipv4Addr::new(10, 77, 0, 10));
    let prl = DhcpOption::ParameterRequestList(vec![
        OptionCode::DomainNameServer,
        OptionCode::Router,
        OptionCode::SubnetMask,
    ]);
    let (offer, _) = reply(run(&mut c, &msg(MessageType::Discover, 2, vec![prl]), 1000));
    assert_eq!(offer.dest, Destination::Relay("10.77.0.1:6768".parse().unwrap()));
    let codes = option_codes(&offer.bytes);
    assert_eq!(&codes[..8], &[53, 54, 51, 58, 59, 6, 3, 1]);
    assert!(codes.contains(&66) && codes.contains(&15));
    let m = decode_reply(&offer);
    assert_eq!(m.opts().get(OptionCode::AddressLeaseTime), Some(&DhcpOption::AddressLeaseTime(3600)));
    assert_eq!(m.opts().get(OptionCode::Renewal), Some(&DhcpOption::Renewal(1800)));
    assert_eq!(m.opts().get(OptionCode::ServerIdentifier), Some(&DhcpOption::ServerIdentifier(SID)));
}

/// Option codes of a reply, in wire order.
fn option_codes(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 240;
    while i < b.len() && b[i] != 255 {
        if b[i] == 0 {
            i += 1;
            continue;
        }
        out.push(b[i]);
        i += 2 + b[i + 1] as usize;
    }
    out
}

#[test]
fn same_client_gets_same_address_and_requested_address_is_honoured() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    assert_eq!(dora(&mut c, 1, 1100), ip);
    let d = msg(MessageType::Discover, 2, vec![DhcpOption::RequestedIpAddress(Ipv4Addr::new(10, 77, 0, 17))]);
    let (offer, _) = reply(run(&mut c, &d, 1000));
    assert_eq!(decode_reply(&offer).yiaddr(), Ipv4Addr::new(10, 77, 0, 17));
}

#[test]
fn reservation_wins_and_carries_hostname() {
    let mut c = core();
    let (offer, _) = reply(run(&mut c, &msg(MessageType::Discover, 0x99, vec![]), 1000));
    let m = decode_reply(&offer);
    assert_eq!(m.yiaddr(), Ipv4Addr::new(10, 77, 0, 5));
    assert_eq!(m.opts().get(OptionCode::Hostname), Some(&DhcpOption::Hostname("printer".into())));
}

#[test]
fn selecting_another_server_withdraws_the_offer() {
    let mut c = core();
    let (offer, _) = reply(run(&mut c, &msg(MessageType::Discover, 1, vec![]), 1000));
    let ip = decode_reply(&offer).yiaddr();
    let other = msg(
        MessageType::Request,
        1,
        vec![DhcpOption::ServerIdentifier(Ipv4Addr::new(192, 0, 2, 9)), DhcpOption::RequestedIpAddress(ip)],
    );
    assert!(matches!(run(&mut c, &other, 1000), Action::Drop(DropReason::OtherServer)));
    assert!(c.subnets[0].pool.is_free(ip));
}

#[test]
fn selecting_an_address_held_by_another_is_naked() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    let req = msg(MessageType::Request, 2, vec![DhcpOption::ServerIdentifier(SID), DhcpOption::RequestedIpAddress(ip)]);
    assert_eq!(reply(run(&mut c, &req, 1000)).0.kind, MessageType::Nak);
}

#[test]
fn init_reboot_rules() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    let ir = |n: u8, ip: Ipv4Addr| msg(MessageType::Request, n, vec![DhcpOption::RequestedIpAddress(ip)]);
    // Known client, same address: ACK (renewal event).
    let (ack, ev) = reply(run(&mut c, &ir(1, ip), 1100));
    assert_eq!((ack.kind, ev.unwrap().kind), (MessageType::Ack, LeaseEventKind::Renewed));
    // Wrong network: NAK.
    assert_eq!(reply(run(&mut c, &ir(1, Ipv4Addr::new(10, 9, 9, 9)), 1100)).0.kind, MessageType::Nak);
    // Known client asking for a different address: NAK.
    assert_eq!(reply(run(&mut c, &ir(1, Ipv4Addr::new(10, 77, 0, 15)), 1100)).0.kind, MessageType::Nak);
    // Another client's address: NAK.
    assert_eq!(reply(run(&mut c, &ir(2, ip), 1100)).0.kind, MessageType::Nak);
    // Unknown client, free address: silence.
    assert!(matches!(run(&mut c, &ir(3, Ipv4Addr::new(10, 77, 0, 16)), 1100), Action::Drop(DropReason::Silent)));
}

#[test]
fn renewing_and_rebinding() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    let mut renew = msg(MessageType::Request, 1, vec![]);
    renew.set_ciaddr(ip).set_giaddr(Ipv4Addr::UNSPECIFIED);
    let ctx = Context { dst: SID, iface_addrs: &[], direct: false };
    let (ack, ev) = reply(c.handle(&bytes(&renew), &ctx, 2000));
    assert_eq!(ack.dest, Destination::Unicast(std::net::SocketAddrV4::new(ip, 68)));
    assert_eq!(ev.unwrap().kind, LeaseEventKind::Renewed);
    // Rebinding from another client's address: NAK.
    let mut steal = msg(MessageType::Request, 2, vec![]);
    steal.set_ciaddr(ip);
    assert_eq!(reply(run(&mut c, &steal, 2000)).0.kind, MessageType::Nak);
    // Rebinding with an address off this network: NAK.
    let mut off = msg(MessageType::Request, 1, vec![]);
    off.set_ciaddr(Ipv4Addr::new(10, 78, 0, 3));
    assert!(matches!(run(&mut c, &off, 2000), Action::Send(o) if o.kind == MessageType::Nak));
    // A renewal of a free address of our slice with no record is re-granted.
    let mut lost = msg(MessageType::Request, 3, vec![]);
    lost.set_ciaddr(Ipv4Addr::new(10, 77, 0, 18));
    assert_eq!(reply(run(&mut c, &lost, 2000)).0.kind, MessageType::Ack);
}

#[test]
fn release_decline_and_expiry() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    let mut rel = msg(MessageType::Release, 1, vec![DhcpOption::ServerIdentifier(SID)]);
    rel.set_ciaddr(ip);
    match run(&mut c, &rel, 1200) {
        Action::Durable { record, reply: None, event: Some(e), .. } => {
            assert_eq!((record.kind(), e.kind), (RecordKind::Released, LeaseEventKind::Released));
        }
        other => panic!("{other:?}"),
    }
    assert!(c.subnets[0].pool.is_free(ip));
    // The same client gets its last address back.
    assert_eq!(dora(&mut c, 1, 1300), ip);
    let dec = msg(MessageType::Decline, 1, vec![DhcpOption::RequestedIpAddress(ip), DhcpOption::ServerIdentifier(SID)]);
    assert!(matches!(run(&mut c, &dec, 1400), Action::Durable { .. }));
    // Quarantined: a new DORA for the same client gets a different address.
    let next = dora(&mut c, 1, 1500);
    assert_ne!(next, ip);
    assert!(c.sweep(1500 + 3600).iter().any(|e| e.kind == LeaseEventKind::Expired && e.lease.ip == next));
    // After 24h the declined address is free again.
    c.sweep(1400 + 86_400);
    assert!(c.subnets[0].pool.is_free(ip));
}

#[test]
fn offers_expire_back_to_the_pool() {
    let mut c = core();
    let (offer, _) = reply(run(&mut c, &msg(MessageType::Discover, 1, vec![]), 1000));
    let ip = decode_reply(&offer).yiaddr();
    assert!(!c.subnets[0].pool.is_free(ip));
    assert!(c.sweep(1031).is_empty());
    assert!(c.subnets[0].pool.is_free(ip));
}

#[test]
fn inform_gets_options_without_lease() {
    let mut c = core();
    let mut inf = msg(MessageType::Inform, 4, vec![]);
    inf.set_ciaddr(Ipv4Addr::new(10, 77, 0, 200));
    let (ack, _) = reply(run(&mut c, &inf, 1000));
    let m = decode_reply(&ack);
    assert_eq!(ack.kind, MessageType::Ack);
    assert_eq!(m.yiaddr(), Ipv4Addr::UNSPECIFIED);
    assert!(m.opts().get(OptionCode::AddressLeaseTime).is_none());
    assert!(m.opts().get(OptionCode::Router).is_some());
}

#[test]
fn pool_exhaustion_and_unknown_subnet() {
    let mut c = core();
    for n in 0..10 {
        dora(&mut c, n + 1, 1000);
    }
    assert!(matches!(
        run(&mut c, &msg(MessageType::Discover, 50, vec![]), 1000),
        Action::Drop(DropReason::PoolExhausted)
    ));
    let mut lost = msg(MessageType::Discover, 51, vec![]);
    lost.set_giaddr(Ipv4Addr::new(10, 99, 0, 1));
    assert!(matches!(run(&mut c, &lost, 1000), Action::Drop(DropReason::NoSubnet)));
}

#[test]
fn max_message_size_drops_low_priority_options() {
    let big = format!("[[subnet.option]]\ncode = 150\nhex = \"{}\"", "ab".repeat(250));
    let conf = CONF.replace("[[subnet.reservation]]", &format!("{big}\n[[subnet.reservation]]"));
    let cfg = ravens_config::parse_with(&conf, "t", &String::new).unwrap();
    let mut c = Core::new(&cfg, Slice::WHOLE, &[], 1000);
    let d = msg(MessageType::Discover, 1, vec![DhcpOption::MaxMessageSize(576)]);
    let (offer, _) = reply(run(&mut c, &d, 1000));
    assert!(offer.bytes.len() <= 576 - 28, "{}", offer.bytes.len());
    assert!(!option_codes(&offer.bytes).contains(&150));
    let d = msg(MessageType::Discover, 2, vec![DhcpOption::MaxMessageSize(1400)]);
    let (offer, _) = reply(run(&mut c, &d, 1000));
    assert!(option_codes(&offer.bytes).contains(&150));
}

#[test]
fn restore_rebuilds_leases_and_free_list() {
    let mut c = core();
    let a = dora(&mut c, 1, 1000);
    let b = dora(&mut c, 2, 1000);
    let records = c.records();
    let cfg = ravens_config::parse_with(CONF, "t", &String::new).unwrap();
    let mut r = Core::new(&cfg, Slice::WHOLE, &records, 1500);
    assert!(!r.subnets[0].pool.is_free(a) && !r.subnets[0].pool.is_free(b));
    assert_eq!(dora(&mut r, 1, 1500), a);
}

/// `dnsctl lease release` is the same durable step as a client's RELEASE: the driver journals
/// the record before the event goes out (it used to change the table and journal by itself).
#[test]
fn admin_release_is_a_durable_action() {
    let mut c = core();
    let ip = dora(&mut c, 1, 1000);
    assert!(c.release(Ipv4Addr::new(10, 77, 0, 250), 1100).is_none(), "nothing bound there");
    match c.release(ip, 1100) {
        Some(Action::Durable { record, reply: None, event: Some(e), undo: None }) => {
            assert_eq!((record.ip, record.kind(), record.expires), (ip, RecordKind::Released, 1100));
            assert_eq!((e.kind, e.lease.ip), (LeaseEventKind::Released, ip));
        }
        other => panic!("{other:?}"),
    }
    assert!(c.subnets[0].pool.is_free(ip));
    assert!(c.release(ip, 1101).is_none(), "released once");
}

/// A pair splits the pool: both nodes report the subnet's use alike (leases replicate), and
/// each its own slice; `used` never exceeds `total` (it used to be counted against the slice).
#[test]
fn pool_usage_is_the_subnets_on_every_node_and_the_slice_is_each_nodes() {
    let cfg = ravens_config::parse_with(CONF, "t", &String::new).unwrap();
    let (sa, sb) = (Slice::for_node(&["a", "b"], "a"), Slice::for_node(&["a", "b"], "b"));
    let mut a = Core::new(&cfg, sa, &[], 1000);
    let ip = dora(&mut a, 1, 1000);
    assert!(a.subnets[0].pool.owns(ip));
    // b holds a's lease as replicated; a's own view is the same table.
    let b = Core::new(&cfg, sb, &a.records(), 1000);
    let (ua, ub) = (a.pool_usage(1000)[0].1, b.pool_usage(1000)[0].1);
    // Pool 10.77.0.10-19 (10), one reservation (outside it): 11 addresses in all.
    assert_eq!((ua.used, ua.total), (1, 11));
    assert_eq!((ub.used, ub.total), (1, 11));
    assert_eq!(ua.slice + ub.slice, 10, "the slices split the pool");
    assert_eq!(ua.slice_free, ua.slice - 1, "a's lease is in a's slice");
    assert_eq!(ub.slice_free, ub.slice, "and none of b's");
}
