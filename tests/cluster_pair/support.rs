//! Helpers of the pair tests: starting a cluster of real ravensd on 127.0.0.x, a relay that
//! speaks DHCP to it as a router would (giaddr), and lease/DNS waits.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use ravens_dhcp::failover::buckets::{bucket_of, bucket_owner};

use crate::common;
use crate::common::client::dig;
use crate::common::daemon::Daemon;

pub const GIADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

pub fn free_udp(ip: [u8; 4]) -> u16 {
    UdpSocket::bind((Ipv4Addr::from(ip), 0)).unwrap().local_addr().unwrap().port()
}

/// One node to start: its id, loopback address and ports.
pub struct NodeSpec {
    pub name: &'static str,
    pub ip: [u8; 4],
    pub dhcp: u16,
    pub gossip: u16,
}

impl NodeSpec {
    pub fn new(name: &'static str, last: u8) -> Self {
        let ip = [127, 0, 0, last];
        Self { name, ip, dhcp: free_udp(ip), gossip: free_udp(ip) }
    }
    pub fn gossip_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.gossip))
    }
    pub fn dhcp_addr(&self) -> SocketAddr {
        SocketAddr::from((self.ip, self.dhcp))
    }
}

/// Starts every node with the others as gossip peers, sharing one secret and one subnet.
pub fn start_cluster(specs: &[NodeSpec], relay_port: u16, secret: &Path) -> Vec<Daemon> {
    specs
        .iter()
        .map(|s| {
            let dir = tempfile::tempdir().unwrap();
            let ip = Ipv4Addr::from(s.ip);
            let peers: Vec<String> =
                specs.iter().filter(|o| o.name != s.name).map(|o| format!("\"{}\"", o.gossip_addr())).collect();
            let text = format!(
                "[node]\nname = \"{name}\"\ndata_dir = \"{data}\"\ndns_listen = [\"{ip}:0\"]\nadmin_listen = \"127.0.0.1:0\"\n\
                 dhcp_listen = \"{dhcp}\"\ndhcp_relay_port = {relay_port}\n\n\
                 [cluster]\nname = \"looptest\"\ngossip_listen = \"{gossip}\"\npeers = [{peers}]\nsecret_file = \"{secret}\"\n\n\
                 [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\n\n\
                 [[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\npools = [\"127.0.0.100-127.0.0.199\"]\n\
                 router = \"127.0.0.2\"\nlease_time = \"1h\"\n",
                name = s.name,
                data = dir.path().join("data").display(),
                dhcp = s.dhcp_addr(),
                gossip = s.gossip_addr(),
                peers = peers.join(", "),
                secret = secret.display(),
            );
            let path = dir.path().join("ravens.toml");
            std::fs::write(&path, text).unwrap();
            Daemon::start_with_file(dir, path)
        })
        .collect()
}

/// Waits until every daemon logged "peer up" for all its peers.
pub fn wait_mesh(nodes: &[Daemon]) {
    for d in nodes {
        assert!(d.wait_log_count("peer up", nodes.len() - 1, Duration::from_secs(10)), "no peer up:\n{}", d.log());
    }
}

pub struct Relay {
    pub sock: UdpSocket,
}

pub fn msg(kind: MessageType, xid: u32, mac: [u8; 6], secs: u16, opts: Vec<DhcpOption>) -> Message {
    common::dhcp::request(kind, xid, mac, GIADDR, Ipv4Addr::UNSPECIFIED, secs, opts)
}

impl Relay {
    pub fn new() -> Self {
        let sock = UdpSocket::bind((GIADDR, 0)).unwrap();
        Self { sock }
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().unwrap().port()
    }

    /// Sends `m` to `server`; the reply with the same xid, or `None` after `wait`.
    pub fn exchange(&self, server: SocketAddr, m: &Message, wait: Duration) -> Option<Message> {
        let mut b = Vec::new();
        m.encode(&mut Encoder::new(&mut b)).unwrap();
        self.sock.send_to(&b, server).unwrap();
        let end = Instant::now() + wait;
        let mut buf = vec![0u8; 2048];
        while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
            self.sock.set_read_timeout(Some(left)).unwrap();
            let Ok(n) = self.sock.recv(&mut buf) else { return None };
            let r = Message::decode(&mut Decoder::new(&buf[..n])).unwrap();
            if r.xid() == m.xid() {
                return Some(r);
            }
        }
        None
    }

    /// Full DORA against `server`; returns the address ACKed.
    pub fn dora(&self, server: SocketAddr, xid: u32, mac: [u8; 6], host: &str) -> Ipv4Addr {
        let d = msg(MessageType::Discover, xid, mac, 0, vec![DhcpOption::Hostname(host.into())]);
        let offer = self.exchange(server, &d, Duration::from_secs(3)).expect("an OFFER");
        assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
        let ip = offer.yiaddr();
        let sid = offer.opts().get(OptionCode::ServerIdentifier).cloned().unwrap();
        let opts = vec![DhcpOption::RequestedIpAddress(ip), sid, DhcpOption::Hostname(host.into())];
        let ack = self.exchange(server, &msg(MessageType::Request, xid + 1, mac, 0, opts), Duration::from_secs(3));
        let ack = ack.expect("an ACK");
        assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(ack.yiaddr(), ip);
        ip
    }

    /// A REBINDING request (broadcast through the relay, ciaddr set, no server id).
    pub fn rebind(&self, server: SocketAddr, xid: u32, mac: [u8; 6], ip: Ipv4Addr, secs: u16) -> Option<Message> {
        let mut m = msg(MessageType::Request, xid, mac, secs, vec![]);
        m.set_ciaddr(ip);
        self.exchange(server, &m, Duration::from_secs(1))
    }
}

/// A MAC whose RFC 3074 bucket belongs to `owner` among `nodes`.
pub fn mac_owned_by(owner: &str, nodes: &[&str], seed: u8) -> [u8; 6] {
    (0..=255u8).map(|i| [2, 0, 0, seed, 0, i]).find(|m| bucket_owner(bucket_of(m), nodes) == Some(owner)).unwrap()
}

pub fn leases(d: &Daemon) -> Vec<serde_json::Value> {
    let (code, out, err) = d.dnsctl(&["--json", "leases"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str::<serde_json::Value>(&out).unwrap().as_array().unwrap().clone()
}

/// Polls `d`'s lease list until a lease on `ip` satisfies `pred`; returns how long it took.
pub fn wait_lease(
    d: &Daemon,
    ip: Ipv4Addr,
    within: Duration,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < within {
        if leases(d).iter().any(|l| l["ip"] == ip.to_string() && pred(l)) {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    None
}

pub fn wait_dig(d: &Daemon, args: &[&str], want: &str) -> String {
    for _ in 0..40 {
        let out = dig(d.dns, args);
        if out.contains(want) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    dig(d.dns, args)
}

pub fn secret(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("cluster.key");
    ravens_sync::generate_secret(&path).unwrap();
    path
}

/// Sends DISCOVERs (secs 0) to `server` every 100 ms until one is offered, then REQUESTs it;
/// returns the address once ACKed. Bounded by `within`.
pub fn lease_when_answered(relay: &Relay, server: SocketAddr, mac: [u8; 6], within: Duration) -> Option<Ipv4Addr> {
    let t0 = Instant::now();
    let mut xid = 0x9000;
    while t0.elapsed() < within {
        xid += 2;
        let d = msg(MessageType::Discover, xid, mac, 0, vec![]);
        let Some(offer) = relay.exchange(server, &d, Duration::from_millis(100)) else { continue };
        let sid = offer.opts().get(OptionCode::ServerIdentifier).cloned().unwrap();
        let opts = vec![DhcpOption::RequestedIpAddress(offer.yiaddr()), sid];
        let ack = relay.exchange(server, &msg(MessageType::Request, xid + 1, mac, 0, opts), Duration::from_secs(1));
        if ack.is_some_and(|a| a.opts().msg_type() == Some(MessageType::Ack)) {
            return Some(offer.yiaddr());
        }
    }
    None
}
