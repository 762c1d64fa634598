//! Loopback integration tests (no root): the real service on 127.0.0.1 at a high port, a test
//! "relay" socket on 127.0.0.2 receiving the replies. Subnet `loop` (127.0.0.0/24) is selected by
//! giaddr; subnet `v77` (10.77.0.0/24) by link-selection (82/5) or option 118.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use dhcproto::v4::relay::{RelayAgentInformation, RelayInfo};
use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use ravens_dhcp::{DhcpHandle, DhcpService, LeaseEvent, LeaseEventKind};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const GIADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

struct Env {
    handle: DhcpHandle,
    events: mpsc::Receiver<LeaseEvent>,
    relay: UdpSocket,
    server: SocketAddr,
    cancel: CancellationToken,
    dir: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn config(port: u16, relay_port: u16, dir: &std::path::Path) -> ravens_config::Config {
    let text = format!(
        r#"
[node]
name = "a"
data_dir = "{}"
dhcp_listen = "127.0.0.1:{port}"
dhcp_relay_port = {relay_port}
[[subnet]]
name = "loop"
cidr = "127.0.0.0/24"
pools = ["127.0.0.100-127.0.0.199"]
router = "127.0.0.2"
lease_time = "1h"
[[subnet.reservation]]
mac = "02:00:00:00:00:99"
ip = "127.0.0.50"
hostname = "printer"
[[subnet]]
name = "v77"
cidr = "10.77.0.0/24"
pools = ["10.77.0.10-10.77.0.250"]
router = "10.77.0.1"
dns = ["10.0.1.2"]
[[subnet.option]]
code = 150
hex = "{}"
"#,
        dir.display(),
        "ab".repeat(250)
    );
    ravens_config::parse_with(&text, "t.toml", &String::new).unwrap()
}

async fn start_in(dir: std::path::PathBuf, relay: UdpSocket) -> Env {
    let port = free_port();
    let relay_port = relay.local_addr().unwrap().port();
    let cancel = CancellationToken::new();
    let (handle, events) = DhcpService::start(&config(port, relay_port, &dir), cancel.clone()).unwrap();
    Env { handle, events, relay, server: SocketAddr::from(([127, 0, 0, 1], port)), cancel, dir }
}

async fn start(name: &str) -> Env {
    let dir = std::env::temp_dir().join(format!("ravens-dhcp-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    start_in(dir, UdpSocket::bind((GIADDR, 0)).await.unwrap()).await
}

fn mac(n: u16) -> [u8; 6] {
    let b = n.to_be_bytes();
    [2, 0, 0, 0, b[0], b[1]]
}

fn msg(kind: MessageType, n: u16, opts: Vec<DhcpOption>) -> Message {
    let mut m = Message::new_with_id(
        0x5000 + u32::from(n),
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

fn encode(m: &Message) -> Vec<u8> {
    let mut b = Vec::new();
    m.encode(&mut Encoder::new(&mut b)).unwrap();
    b
}

impl Env {
    async fn send(&self, m: &Message) {
        self.relay.send_to(&encode(m), self.server).await.unwrap();
    }

    /// The next reply for transaction `xid` (others are skipped), within 2 s.
    async fn recv_raw(&self, xid: u32) -> Option<Vec<u8>> {
        let mut buf = vec![0u8; 2048];
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        for _ in 0..1000 {
            let n = match tokio::time::timeout_at(deadline, self.relay.recv(&mut buf)).await {
                Ok(r) => r.unwrap(),
                Err(_) => return None,
            };
            let m = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
            if m.xid() == xid {
                return Some(buf[..n].to_vec());
            }
        }
        None
    }

    async fn exchange(&self, m: &Message) -> Option<Message> {
        self.send(m).await;
        let raw = self.recv_raw(m.xid()).await?;
        Some(Message::decode(&mut Decoder::new(&raw)).unwrap())
    }

    async fn dora(&self, n: u16, extra: Vec<DhcpOption>) -> Message {
        let offer = self.exchange(&msg(MessageType::Discover, n, extra.clone())).await.expect("offer");
        assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
        let sid = match offer.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(s)) => *s,
            other => panic!("no server id: {other:?}"),
        };
        let mut opts = extra;
        opts.push(DhcpOption::ServerIdentifier(sid));
        opts.push(DhcpOption::RequestedIpAddress(offer.yiaddr()));
        let ack = self.exchange(&msg(MessageType::Request, n, opts)).await.expect("ack");
        assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
        ack
    }

    async fn event(&mut self) -> LeaseEvent {
        tokio::time::timeout(Duration::from_secs(2), self.events.recv()).await.unwrap().unwrap()
    }

    async fn stop(self) -> (std::path::PathBuf, UdpSocket) {
        self.cancel.cancel();
        self.handle.flush().await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        (self.dir, self.relay)
    }
}

fn ip_of(m: &Message) -> Ipv4Addr {
    m.yiaddr()
}

#[tokio::test]
async fn dora_renew_rebind_release_via_giaddr() {
    let mut env = start("dora").await;
    let hostname = DhcpOption::Hostname("My Laptop".into());
    let ack = env.dora(1, vec![hostname]).await;
    let ip = ip_of(&ack);
    assert!(ip.octets()[3] >= 100 && ip.octets()[0] == 127, "{ip}");
    assert_eq!(ack.opts().get(OptionCode::Router), Some(&DhcpOption::Router(vec![GIADDR])));
    let e = env.event().await;
    assert_eq!((e.kind, e.lease.ip, e.lease.hostname.as_deref()), (LeaseEventKind::Bound, ip, Some("my-laptop")));
    // RENEWING (unicast, ciaddr set; the test relays it so the answer comes back here).
    let mut renew = msg(MessageType::Request, 1, vec![]);
    renew.set_ciaddr(ip);
    let r = env.exchange(&renew).await.unwrap();
    assert_eq!((r.opts().msg_type(), r.yiaddr()), (Some(MessageType::Ack), ip));
    assert_eq!(env.event().await.kind, LeaseEventKind::Renewed);
    // REBINDING looks the same on the wire.
    let r = env.exchange(&renew).await.unwrap();
    assert_eq!(r.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(env.handle.leases(Some("loop")).len(), 1);
    assert_eq!(&*env.handle.leases(None)[0].node, "a");
    let mut rel = msg(MessageType::Release, 1, vec![]);
    rel.set_ciaddr(ip);
    env.send(&rel).await;
    env.event().await; // renewed (rebind)
    assert_eq!(env.event().await.kind, LeaseEventKind::Released);
    assert!(env.handle.leases(None).is_empty());
    let usage = env.handle.pool_usage();
    assert_eq!(usage[0].0, "loop");
    // Pool .100-.199 (100 addresses) and one reservation outside it: 101 in all, the pool this
    // lone node's whole slice.
    assert_eq!((usage[0].1.used, usage[0].1.total, usage[0].1.slice, usage[0].1.slice_free), (0, 101, 100, 100));
    env.stop().await;
}

#[tokio::test]
async fn link_selection_and_option_82_echo() {
    let env = start("link").await;
    let mut rai = RelayAgentInformation::default();
    rai.insert(RelayInfo::AgentCircuitId(vec![0, 7]));
    rai.insert(RelayInfo::LinkSelection(Ipv4Addr::new(10, 77, 0, 0)));
    let d = msg(MessageType::Discover, 2, vec![DhcpOption::RelayAgentInformation(rai)]);
    let sent = encode(&d);
    env.send(&d).await;
    let raw = env.recv_raw(d.xid()).await.unwrap();
    let m = Message::decode(&mut Decoder::new(&raw)).unwrap();
    assert_eq!(m.yiaddr().octets()[..3], [10, 77, 0]);
    let opt82 = |b: &[u8]| -> Vec<u8> {
        let i = (240..b.len()).find(|&i| b[i] == 82 && b[i - 1] != 0).unwrap();
        b[i..i + 2 + b[i + 1] as usize].to_vec()
    };
    assert_eq!(opt82(&raw), opt82(&sent));
    // Option 118 selects the subnet too.
    let m = env
        .exchange(&msg(MessageType::Discover, 3, vec![DhcpOption::SubnetSelection(Ipv4Addr::new(10, 77, 0, 1))]))
        .await
        .unwrap();
    assert_eq!(m.yiaddr().octets()[..3], [10, 77, 0]);
    env.stop().await;
}

#[tokio::test]
async fn nak_rules_decline_inform_reservation() {
    let mut env = start("nak").await;
    let ip = ip_of(&env.dora(1, vec![]).await);
    env.event().await;
    let ir = |n: u16, ip: Ipv4Addr| msg(MessageType::Request, n, vec![DhcpOption::RequestedIpAddress(ip)]);
    let kind = |m: Option<Message>| m.and_then(|m| m.opts().msg_type());
    // INIT-REBOOT on the wrong network, and for another client's address: NAK.
    assert_eq!(kind(env.exchange(&ir(1, Ipv4Addr::new(10, 1, 1, 1))).await), Some(MessageType::Nak));
    assert_eq!(kind(env.exchange(&ir(2, ip)).await), Some(MessageType::Nak));
    // Known client asking for another address: NAK. Unknown client: silence.
    assert_eq!(kind(env.exchange(&ir(1, Ipv4Addr::new(127, 0, 0, 180))).await), Some(MessageType::Nak));
    let silent = ir(3, Ipv4Addr::new(127, 0, 0, 181));
    env.send(&silent).await;
    assert!(env.recv_raw(silent.xid()).await.is_none());
    // SELECTING with our server id for an address someone else holds: NAK.
    let sel = msg(
        MessageType::Request,
        4,
        vec![DhcpOption::ServerIdentifier(Ipv4Addr::LOCALHOST), DhcpOption::RequestedIpAddress(ip)],
    );
    assert_eq!(kind(env.exchange(&sel).await), Some(MessageType::Nak));
    // DECLINE quarantines; the client then gets another address.
    env.send(&msg(MessageType::Decline, 1, vec![DhcpOption::RequestedIpAddress(ip)])).await;
    assert_eq!(env.event().await.kind, LeaseEventKind::Released);
    assert_ne!(ip_of(&env.dora(1, vec![]).await), ip);
    // INFORM: options, no lease.
    let mut inf = msg(MessageType::Inform, 5, vec![]);
    inf.set_ciaddr(Ipv4Addr::new(127, 0, 0, 7));
    let a = env.exchange(&inf).await.unwrap();
    assert_eq!(a.opts().msg_type(), Some(MessageType::Ack));
    assert!(a.opts().get(OptionCode::AddressLeaseTime).is_none());
    // Reservation by MAC.
    let r = env.dora(0x99, vec![]).await;
    assert_eq!(r.yiaddr(), Ipv4Addr::new(127, 0, 0, 50));
    assert_eq!(r.opts().get(OptionCode::Hostname), Some(&DhcpOption::Hostname("printer".into())));
    assert!(env.handle.counters().nak >= 4);
    env.stop().await;
}

#[tokio::test]
async fn maximum_message_size_is_honoured() {
    let env = start("size").await;
    let sel = DhcpOption::SubnetSelection(Ipv4Addr::new(10, 77, 0, 1));
    let prl = DhcpOption::ParameterRequestList(vec![OptionCode::Router, OptionCode::from(150u8)]);
    let small = msg(MessageType::Discover, 6, vec![sel.clone(), prl.clone(), DhcpOption::MaxMessageSize(576)]);
    env.send(&small).await;
    let raw = env.recv_raw(small.xid()).await.unwrap();
    assert!(raw.len() <= 548, "{}", raw.len());
    let big = msg(MessageType::Discover, 7, vec![sel, prl, DhcpOption::MaxMessageSize(1500)]);
    env.send(&big).await;
    let raw = env.recv_raw(big.xid()).await.unwrap();
    assert!(raw.len() > 548, "{}", raw.len());
    env.stop().await;
}

#[tokio::test]
async fn malformed_packets_are_dropped_and_counted() {
    let env = start("malformed").await;
    let good = encode(&msg(MessageType::Discover, 9, vec![]));
    let mut bad: Vec<Vec<u8>> = vec![good[..100].to_vec()];
    let mut cookie = good.clone();
    cookie[236] = 0;
    bad.push(cookie);
    let mut overflow = good[..240].to_vec();
    overflow.extend_from_slice(&[53, 1, 1, 12, 200, b'x', b'y']);
    bad.push(overflow);
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    for i in 0..10_000 {
        let mut b = if i % 2 == 0 { good.clone() } else { vec![0u8; rng.random_range(0..600)] };
        for _ in 0..rng.random_range(1..20) {
            if b.is_empty() {
                break;
            }
            let at = rng.random_range(0..b.len());
            b[at] = rng.random();
        }
        if i % 2 == 0 {
            b.truncate(rng.random_range(0..b.len()));
        }
        bad.push(b);
    }
    for (i, b) in bad.iter().enumerate() {
        env.relay.send_to(b, env.server).await.unwrap();
        if i % 200 == 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    // The server still serves.
    let ack = env.dora(10, vec![]).await;
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    let c = env.handle.counters();
    assert!(c.malformed >= 3, "{c:?}");
    assert!(c.malformed + c.discover + c.request + c.unanswered >= 10_003 - 50, "{c:?}");
    env.stop().await;
}

#[tokio::test]
async fn restart_keeps_every_acked_lease() {
    let env = start("restart").await;
    let mut acked = Vec::new();
    for n in 0..40 {
        acked.push(ip_of(&env.dora(100 + n, vec![]).await));
    }
    let (dir, relay) = env.stop().await;
    let env = start_in(dir, relay).await;
    let leases: Vec<Ipv4Addr> = env.handle.leases(None).iter().map(|l| l.ip).collect();
    for ip in &acked {
        assert!(leases.contains(ip), "lost {ip}");
    }
    // A client coming back gets the same address.
    assert_eq!(ip_of(&env.dora(100, vec![]).await), acked[0]);
    env.stop().await;
}

/// Lease events do not loop back into the gossip: the cluster's subscription carries the
/// events of this node's grants only, never those of a lease imported from a peer (which
/// used to arrive there and be filtered out by the daemon).
#[tokio::test]
async fn imported_leases_never_reach_the_own_subscription() {
    use ravens_dhcp::packet::ClientKey;
    use ravens_dhcp::{Lease, LeaseState};
    let mut env = start("own").await;
    let mut own = env.handle.subscribe_own();
    let peer = Lease {
        subnet: "loop".into(),
        ip: Ipv4Addr::new(127, 0, 0, 250),
        key: ClientKey(vec![1, 1, 2, 0, 0, 0, 9, 9].into()),
        mac: vec![2, 0, 0, 0, 9, 9],
        client_id: None,
        hostname: Some("peer-pc".into()),
        expires: ravens_dhcp::lease::unix_now() + 600,
        state: LeaseState::Bound,
        node: "b".into(),
        seq: 0,
    };
    env.handle.import(&[peer]);
    let e = env.event().await;
    assert_eq!((e.kind, &*e.lease.node), (LeaseEventKind::Bound, "b"), "the import still makes its DNS name");
    let ack = env.dora(1, vec![]).await;
    let e = tokio::time::timeout(Duration::from_secs(2), own.recv()).await.unwrap().unwrap();
    assert_eq!((e.kind, e.lease.ip, &*e.lease.node), (LeaseEventKind::Bound, ip_of(&ack), "a"));
    env.stop().await;
}
