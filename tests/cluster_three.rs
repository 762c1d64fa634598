//! Three nodes (issue 5, "more than two"): three real ravensd processes on 127.0.0.x, each with
//! the other two as gossip peers, and a test relay that forwards every client message to all
//! the live nodes, as `dhcrelay` pointed at every server does. No root needed.
//!
//! Guarantees checked:
//! - while all three are live, exactly one node answers each DISCOVER: the RFC 3074 bucket's
//!   rendezvous owner among the three;
//! - a lease granted on any node is listed on the other two (granting node named) and its
//!   host name resolves there (`<host>.lan` A);
//! - after `kill -9` of one node the other two take over its buckets, each the ones rendezvous
//!   hashing gives it among the survivors, and serve a new client of the dead node's bucket;
//!   the dead node's clients rebind to a survivor and keep their addresses;
//! - every new address a node hands out, before and after the kill, is in its own third of the
//!   pool (the slices are three-way disjoint).

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::client::dig;
use common::daemon::Daemon;
use common::wait::wait_for;
use dhcproto::v4::{DhcpOption, Message, MessageType, OptionCode};
use dhcproto::{Decodable, Decoder, Encodable, Encoder};
use ravens_dhcp::failover::buckets::{bucket_of, bucket_owner};

/// The test relay's address (giaddr); the subnet below contains it.
const RELAY_IP: [u8; 4] = [127, 0, 0, 44];
const NAMES: [&str; 3] = ["a", "b", "c"];
/// Pool 127.0.0.100-189: 90 addresses, a third per node in sorted id order.
const SLICES: [std::ops::Range<u8>; 3] = [100..130, 130..160, 160..190];

struct Node {
    name: &'static str,
    dhcp: SocketAddr,
    daemon: Option<Daemon>,
}

impl Node {
    fn d(&self) -> &Daemon {
        self.daemon.as_ref().expect("node is running")
    }
}

fn free_port(ip: Ipv4Addr) -> u16 {
    UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

fn start_three(relay_port: u16, secret: &std::path::Path) -> Vec<Node> {
    let addrs: Vec<(Ipv4Addr, u16, u16)> = (0..3u8)
        .map(|i| {
            let ip = Ipv4Addr::new(127, 0, 0, 41 + i);
            (ip, free_port(ip), free_port(ip))
        })
        .collect();
    NAMES
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let (ip, dhcp, gossip) = addrs[i];
            let peers: Vec<String> = addrs
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, (p, _, g))| format!("\"{p}:{g}\""))
                .collect();
            let dir = tempfile::tempdir().unwrap();
            let text = format!(
                "[node]\nname = \"{name}\"\ndata_dir = \"{data}\"\ndns_listen = [\"{ip}:0\"]\n\
                 admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"{ip}:{dhcp}\"\ndhcp_relay_port = {relay_port}\n\n\
                 [cluster]\nname = \"three\"\ngossip_listen = \"{ip}:{gossip}\"\npeers = [{peers}]\n\
                 secret_file = \"{secret}\"\n\n\
                 [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\n\n\
                 [[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\npools = [\"127.0.0.100-127.0.0.189\"]\n\
                 router = \"127.0.0.44\"\nlease_time = \"1h\"\n",
                data = dir.path().join("data").display(),
                peers = peers.join(", "),
                secret = secret.display(),
            );
            let path = dir.path().join("ravens.toml");
            std::fs::write(&path, text).unwrap();
            Node { name, dhcp: SocketAddr::from((ip, dhcp)), daemon: Some(Daemon::start_with_file(dir, path)) }
        })
        .collect()
}

/// Forwards client messages to every given node and collects what each answers.
struct Relay {
    sock: UdpSocket,
    xid: u32,
    last: Instant,
}

impl Relay {
    fn new() -> Relay {
        Relay { sock: UdpSocket::bind((Ipv4Addr::from(RELAY_IP), 0)).unwrap(), xid: 0x3000, last: Instant::now() }
    }

    /// Sends one message (fresh xid) to each of `to`; the replies with that xid that arrive
    /// within `wait`, by the node that sent them.
    fn fan_out(
        &mut self,
        to: &[&Node],
        build: impl Fn(u32) -> Message,
        wait: Duration,
    ) -> Vec<(&'static str, Message)> {
        self.xid += 1;
        let m = build(self.xid);
        let mut bytes = Vec::new();
        m.encode(&mut Encoder::new(&mut bytes)).unwrap();
        for n in to {
            self.sock.send_to(&bytes, n.dhcp).unwrap();
        }
        let mut got = Vec::new();
        let end = Instant::now() + wait;
        let mut buf = [0u8; 1500];
        while let Some(left) = end.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
            self.sock.set_read_timeout(Some(left)).unwrap();
            let Ok((len, from)) = self.sock.recv_from(&mut buf) else { break };
            let Ok(r) = Message::decode(&mut Decoder::new(&buf[..len])) else { continue };
            if r.xid() == self.xid
                && let Some(n) = to.iter().find(|n| n.dhcp == from)
            {
                got.push((n.name, r));
                self.last = Instant::now();
            }
        }
        got
    }
}

fn message(kind: MessageType, xid: u32, mac: [u8; 6], ciaddr: Ipv4Addr, opts: &[DhcpOption]) -> Message {
    common::dhcp::request(kind, xid, mac, Ipv4Addr::from(RELAY_IP), ciaddr, 0, opts.iter().cloned())
}

/// DISCOVER to every node in `to`, then REQUEST (to all, as a relay forwards it) for the first
/// offer: (node that answered, address ACKed, how many nodes offered).
fn lease(relay: &mut Relay, to: &[&Node], mac: [u8; 6], host: &str) -> Option<(&'static str, Ipv4Addr, usize)> {
    lease_within(relay, to, mac, host, Duration::from_millis(300))
}

/// [`lease`], waiting `offers_for` for the OFFERs.
fn lease_within(
    relay: &mut Relay,
    to: &[&Node],
    mac: [u8; 6],
    host: &str,
    offers_for: Duration,
) -> Option<(&'static str, Ipv4Addr, usize)> {
    let hn = DhcpOption::Hostname(host.into());
    let z = Ipv4Addr::UNSPECIFIED;
    let offers =
        relay.fan_out(to, |x| message(MessageType::Discover, x, mac, z, std::slice::from_ref(&hn)), offers_for);
    let (node, offer) = offers.first()?;
    let ip = offer.yiaddr();
    let sid = offer.opts().get(OptionCode::ServerIdentifier).cloned().unwrap();
    let opts = [DhcpOption::RequestedIpAddress(ip), sid, hn];
    let acks = relay.fan_out(to, |x| message(MessageType::Request, x, mac, z, &opts), Duration::from_millis(500));
    let ack = acks.iter().find(|(_, m)| m.opts().msg_type() == Some(MessageType::Ack))?;
    assert_eq!((ack.0, ack.1.yiaddr()), (*node, ip), "the offering node ACKs its offer: {acks:?}");
    assert_eq!(acks.len(), 1, "one answer to a SELECTING REQUEST: {acks:?}");
    Some((node, ip, offers.len()))
}

/// A MAC whose bucket belongs to `owner` among all three nodes, distinct per `n`.
fn mac_of(owner: &str, n: u8) -> [u8; 6] {
    (0..=u16::MAX)
        .map(|i| [2, 0x33, n, (i >> 8) as u8, i as u8, 1])
        .find(|m| bucket_owner(bucket_of(m), &NAMES) == Some(owner))
        .unwrap()
}

fn in_slice(node: &str, ip: Ipv4Addr) -> bool {
    let i = NAMES.iter().position(|n| *n == node).unwrap();
    SLICES[i].contains(&ip.octets()[3])
}

fn leases(d: &Daemon) -> Vec<serde_json::Value> {
    let (code, out, err) = d.dnsctl(&["--json", "leases"]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[test]
fn cluster_three_nodes_share_leases_take_over_a_dead_node_and_keep_disjoint_slices() {
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let mut relay = Relay::new();
    let relay_port = relay.sock.local_addr().unwrap().port();
    let mut nodes = start_three(relay_port, &secret);
    for n in &nodes {
        assert!(n.d().wait_log_count("peer up", 2, Duration::from_secs(10)), "{} meshed:\n{}", n.name, n.d().log());
    }
    // Every node knows all three ids: three slices, three bucket owners.
    for n in &nodes {
        let ready = wait_for(Duration::from_secs(5), || {
            let c = n.d().status()["cluster"].clone();
            (c["slice"]["count"] == 3 && c["bucket_owners"].as_array().is_some_and(|o| o.len() == 3)).then_some(c)
        });
        let c = ready.unwrap_or_else(|| panic!("{} never saw three nodes: {}", n.name, n.d().status()["cluster"]));
        let i = NAMES.iter().position(|x| *x == n.name).unwrap();
        assert_eq!(c["slice"]["index"], i, "{}: {c}", n.name);
    }

    // Four clients per node's bucket: exactly the owner answers, from its own slice; the lease
    // is listed and resolvable on the other two.
    let all: Vec<&Node> = nodes.iter().collect();
    let mut granted: Vec<(&str, [u8; 6], Ipv4Addr, String)> = Vec::new();
    for (k, owner) in NAMES.iter().enumerate() {
        for j in 0..4u8 {
            let mac = mac_of(owner, 10 * k as u8 + j);
            let host = format!("h{owner}{j}");
            let (node, ip, offers) =
                lease(&mut relay, &all, mac, &host).unwrap_or_else(|| panic!("no lease for {host}"));
            assert_eq!((node, offers), (*owner, 1), "{host}: only its bucket's owner answers");
            assert!(in_slice(node, ip), "{node} handed out {ip} outside its slice");
            granted.push((node, mac, ip, host));
        }
    }
    let t0 = Instant::now();
    for n in &nodes {
        for (node, _, ip, host) in &granted {
            let listed = wait_for(Duration::from_secs(2), || {
                leases(n.d())
                    .iter()
                    .any(|l| l["ip"] == ip.to_string() && l["node"] == *node && l["hostname"] == **host)
                    .then_some(())
            });
            assert!(listed.is_some(), "{}'s lease {ip} ({host}) not listed on {}: {:?}", node, n.name, leases(n.d()));
            let name = format!("{host}.lan");
            let resolved = wait_for(Duration::from_secs(2), || {
                dig(n.d().dns, &[&name, "A", "+short"]).contains(&ip.to_string()).then_some(())
            });
            assert!(resolved.is_some(), "{name} does not resolve to {ip} on {}", n.name);
        }
    }
    println!(
        "cluster_three: 12 leases (4 per node) listed and resolvable on all three nodes (all checked {:?} after the last ACK)",
        t0.elapsed()
    );

    // kill -9 of c: a and b take over c's buckets, each its rendezvous share among the two.
    nodes[2].daemon.take().unwrap().signal("KILL");
    let t_kill = Instant::now();
    let survivors: Vec<&Node> = nodes[..2].iter().collect();
    // A DISCOVER every ~150 ms (the loopback answers within a millisecond).
    let first = wait_for(Duration::from_secs(5), || {
        lease_within(&mut relay, &survivors, mac_of("c", 100), "newc", Duration::from_millis(100))
    });
    // Until the ACK arrived (the relay goes on listening for other answers after it).
    let took = relay.last - t_kill;
    let (node, ip, _) = first.unwrap_or_else(|| panic!("no survivor took over:\n{}", nodes[0].d().log()));
    println!("cluster_three: kill -9 of c -> new client of c's bucket leased {ip} from {node} after {took:.2?}");
    assert!(in_slice(node, ip), "{node} handed out {ip} outside its slice after the takeover");
    // The survivors take over 1 s after the last heartbeat (~1.2-1.4 s to the ACK here). Issue 5's
    // 2 s is a median (tests/cluster_pair/); one sample on a loaded machine gets a margin.
    assert!(took < Duration::from_secs(3), "kill -9 to a new client's ACK took {took:?}");
    let mut takers: BTreeMap<&str, usize> = BTreeMap::new();
    for j in 0..12u8 {
        let mac = mac_of("c", 110 + j);
        let want = bucket_owner(bucket_of(&mac), &["a", "b"]).unwrap();
        let (node, ip, offers) = lease(&mut relay, &survivors, mac, &format!("nc{j}")).expect("a survivor answers");
        assert_eq!((node, offers), (want, 1), "c's bucket {} goes to its rendezvous owner among a, b", bucket_of(&mac));
        assert!(in_slice(node, ip), "{node} handed out {ip} outside its slice");
        *takers.entry(node).or_default() += 1;
    }
    println!("cluster_three: c's clients after the kill served by {takers:?}");
    assert_eq!(takers.len(), 2, "both survivors took a share of c's buckets: {takers:?}");
    // c's own clients rebind (broadcast through the relay, ciaddr set) and keep their addresses.
    for (node, mac, ip, host) in granted.iter().filter(|g| g.0 == "c") {
        let rebind =
            relay.fan_out(&survivors, |x| message(MessageType::Request, x, *mac, *ip, &[]), Duration::from_secs(1));
        let want = bucket_owner(bucket_of(mac), &["a", "b"]).unwrap();
        assert_eq!(rebind.len(), 1, "{host} (of {node}): one survivor answers its REBINDING: {rebind:?}");
        assert_eq!(rebind[0].0, want);
        assert_eq!(rebind[0].1.opts().msg_type(), Some(MessageType::Ack));
        assert_eq!(rebind[0].1.yiaddr(), *ip, "{host} keeps its address");
    }
}
