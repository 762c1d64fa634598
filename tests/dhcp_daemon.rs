//! DHCP through the real ravensd on loopback (no root): relayed DORA from a test "relay"
//! socket, the client's hostname resolving in ravensd's DNS, dnsctl leases and release,
//! pool usage in status, and leases surviving a restart.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::Duration;

use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::dhcp::Relay;

const GIADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start() -> (Daemon, Relay) {
    let relay = UdpSocket::bind((GIADDR, 0)).unwrap();
    relay.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let port = free_port();
    let node_extra =
        format!("dhcp_listen = \"127.0.0.1:{port}\"\ndhcp_relay_port = {}", relay.local_addr().unwrap().port());
    let body = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nbuiltin_blocklist = true\n\n[[group]]\nname = \"byod\"\nclients = [\"02:00:00:00:00:01\"]\nblocking = false\n\n[[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\npools = [\"127.0.0.100-127.0.0.199\"]\nrouter = \"127.0.0.2\"\nlease_time = \"1h\"\n";
    let d = Daemon::start_full("127.0.0.1", &node_extra, body);
    assert!(d.wait_log("listening for DHCP on", Duration::from_secs(5)), "{}", d.log());
    (d, Relay { sock: relay, server: SocketAddr::from(([127, 0, 0, 1], port)), giaddr: GIADDR, secs: 0 })
}

fn wait_dig(d: &Daemon, args: &[&str], want: &str) -> String {
    for _ in 0..50 {
        let out = dig(d.dns, args);
        if out.contains(want) {
            return out;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    dig(d.dns, args)
}

#[test]
fn relayed_lease_names_resolve_and_survive_restart() {
    let (d, relay) = start();
    let ip = relay.dora(0x100, [2, 0, 0, 0, 0, 1], "laptop");
    assert_eq!(ip, Ipv4Addr::new(127, 0, 0, 100));
    let out = wait_dig(&d, &["laptop.lan", "A"], "127.0.0.100");
    assert!(out.contains("127.0.0.100"), "the client's hostname resolves: {out}");
    // MAC-matched group through the lease table: the lease's address (a loopback one here)
    // asks from MAC 02:00:00:00:00:01, whose group has blocking off.
    let q = common::client::query("doubleclick.net.", hickory_proto::rr::RecordType::A, None);
    let blocked = |m: &hickory_proto::op::Message| m.answers.iter().any(|r| r.data.to_string() == "0.0.0.0");
    assert!(blocked(&common::client::udp_from(d.dns, "127.0.0.1", &q).unwrap()), "default group blocks");
    assert!(!blocked(&common::client::udp_from(d.dns, "127.0.0.100", &q).unwrap()), "the MAC's group does not");
    let out = wait_dig(&d, &["-x", "127.0.0.100"], "laptop.lan.");
    assert!(out.contains("laptop.lan."), "{out}");
    // A second client claiming the same name takes it; the first keeps its address.
    let ip2 = relay.dora(0x200, [2, 0, 0, 0, 0, 2], "laptop");
    assert_ne!(ip2, ip);
    assert!(wait_dig(&d, &["laptop.lan", "A"], &ip2.to_string()).contains(&ip2.to_string()));
    let (code, out, err) = d.dnsctl(&["leases"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("127.0.0.100") && out.contains("02:00:00:00:00:01") && out.contains("2 lease(s)"), "{out}");
    let (_, json, _) = d.dnsctl(&["--json", "leases", "--subnet", "loop"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let (code, _, err) = d.dnsctl(&["leases", "--subnet", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no subnet named 'nope'"), "{err}");
    let s = d.status();
    assert_eq!(s["dhcp"]["pools"][0]["used"], 2);
    assert_eq!(s["dhcp"]["pools"][0]["total"], 100);
    // kill -9 and restart on the same data dir: the leases and their names come back.
    let d = d.kill_and_restart();
    assert!(wait_dig(&d, &["laptop.lan", "A"], &ip2.to_string()).contains(&ip2.to_string()), "names restored");
    let (_, out, _) = d.dnsctl(&["leases"]);
    assert!(out.contains("2 lease(s)"), "{out}");
    // Release through dnsctl: the name goes away.
    let (code, _, err) = d.dnsctl(&["lease", "release", &ip2.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(dig_status(&wait_dig(&d, &["laptop.lan", "A"], "NXDOMAIN")), "NXDOMAIN");
    let (code, _, err) = d.dnsctl(&["lease", "release", "127.0.0.250"]);
    assert_eq!(code, 1);
    assert!(err.contains("no active lease"), "{err}");
}
