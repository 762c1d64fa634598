//! Site-config replication between real ravensd nodes on loopback (issue 5, docs/ARCHITECTURE.md §6): an
//! edit on one node (by hand in its file, or by dnsctl) is live on the other and written into
//! the other's file with its own comments and node sections kept; a node that starts with an
//! empty data_dir and a file holding only [node] and [cluster] takes the site config from its
//! peer; an edit made while a node was down still counts, and a newer one elsewhere wins; a
//! forward zone added on one node forwards on the other (issue 15).

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::upstream::TestUpstream;

const SITE: &str = "# ---- site config ----\n\
    [dns]\nupstreams = [\"udp://127.0.0.1:9\"]   # nothing answers there\nupstream_timeout = \"300ms\"\n\n\
    [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.9.0.10\"\n";

struct Spec {
    name: &'static str,
    ip: Ipv4Addr,
    gossip: SocketAddr,
}

fn spec(name: &'static str, last: u8) -> Spec {
    let ip = Ipv4Addr::new(127, 0, 0, last);
    let gossip = UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap();
    Spec { name, ip, gossip }
}

/// `[node]` and `[cluster]` of `me`, with every other spec as a peer.
fn node_text(me: &Spec, all: &[&Spec], dir: &Path, secret: &Path) -> String {
    let peers: Vec<String> = all.iter().filter(|o| o.name != me.name).map(|o| format!("\"{}\"", o.gossip)).collect();
    format!(
        "# node {name}: node-local\n[node]\nname = \"{name}\"\ndata_dir = \"{data}\"\ndns_listen = [\"{ip}:0\"]\n\
         admin_listen = \"127.0.0.1:0\"\n\n[cluster]\nname = \"cfgtest\"\ngossip_listen = \"{gossip}\"\n\
         peers = [{peers}]\nsecret_file = \"{secret}\"\n\n",
        name = me.name,
        data = dir.join("data").display(),
        ip = me.ip,
        gossip = me.gossip,
        peers = peers.join(", "),
        secret = secret.display(),
    )
}

fn start(me: &Spec, all: &[&Spec], secret: &Path, site: &str) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ravens.toml");
    std::fs::write(&path, node_text(me, all, dir.path(), secret) + site).unwrap();
    Daemon::start_with_file(dir, path)
}

fn secret(dir: &Path) -> PathBuf {
    let path = dir.join("cluster.key");
    ravens_sync::generate_secret(&path).unwrap();
    path
}

fn answer(d: &Daemon, name: &str) -> String {
    dig(d.dns, &[name, "A", "+short", "+tries=1", "+time=2"]).trim().to_string()
}

/// Polls `f` until true; returns how long it took (panics after 15 s with the logs).
fn within(what: &str, nodes: &[&Daemon], f: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        if start.elapsed() > Duration::from_secs(15) {
            let logs: Vec<String> = nodes.iter().map(|d| d.log()).collect();
            panic!("{what}: not within 15 s\n{}", logs.join("\n-----\n"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = d.dnsctl(args);
    assert_eq!(code, 0, "dnsctl {args:?}: {err}");
    out
}

fn file(d: &Daemon) -> String {
    std::fs::read_to_string(&d.config_path).unwrap()
}

#[test]
fn edits_by_file_and_by_dnsctl_replicate_both_ways() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let (sa, sb) = (spec("a", 31), spec("b", 32));
    let a = start(&sa, &[&sa, &sb], &secret, SITE);
    let b = start(&sb, &[&sa, &sb], &secret, SITE);
    assert!(a.wait_log("peer up", Duration::from_secs(10)), "{}", a.log());

    // A hand edit on B is live on A.
    let edited = file(&b) + "\n[[record]]\nname = \"printer.lan\"\ntype = \"A\"\nvalue = \"10.9.0.20\"\n";
    std::fs::write(&b.config_path, edited).unwrap();
    let took = within("B's file edit live on A", &[&a, &b], || answer(&a, "printer.lan") == "10.9.0.20");
    eprintln!("file edit on B → answered on A after {took:?}");
    let fa = file(&a);
    assert!(fa.contains("printer.lan"), "written into A's file:\n{fa}");
    assert!(fa.contains("# node a: node-local") && fa.contains("name = \"a\""), "A's node section kept:\n{fa}");
    assert!(fa.contains("# nothing answers there"), "comments kept:\n{fa}");

    // A dnsctl change on A is live on B and in B's file.
    ok(&a, &["block", "add", "ads.example.com"]);
    let took = within("dnsctl block on A live on B", &[&a, &b], || answer(&b, "ads.example.com") == "0.0.0.0");
    eprintln!("dnsctl block add on A → blocked on B after {took:?}");
    assert!(file(&b).contains("ads.example.com"));

    // Deletes replicate too.
    ok(&b, &["records", "remove", "nas.lan"]);
    within("delete on B live on A", &[&a, &b], || dig_status(&dig(a.dns, &["nas.lan", "A"])) == "NXDOMAIN");
    assert!(!file(&a).contains("nas.lan"));
    within("both files hold the same site config", &[&a, &b], || {
        ok(&a, &["config", "export"]) == ok(&b, &["config", "export"])
    });
    // Nothing loops: the write-backs made no new versions of their own.
    let published = |d: &Daemon| d.status()["cluster"]["published"].as_u64().unwrap();
    let (pa, pb) = (published(&a), published(&b));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!((published(&a), published(&b)), (pa, pb), "records kept being published");
}

#[test]
fn a_node_with_an_empty_disk_and_a_minimal_file_reseeds_from_its_peer() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let (sa, sb) = (spec("a", 33), spec("b", 34));
    let a = start(&sa, &[&sa, &sb], &secret, SITE);
    ok(&a, &["block", "add", "ads.example.com"]);
    ok(&a, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    let b = start(&sb, &[&sa, &sb], &secret, "");
    let took = within("B re-seeded", &[&a, &b], || answer(&b, "printer.lan") == "10.9.0.20");
    eprintln!("empty node answered the peer's records after {took:?}");
    assert_eq!(answer(&b, "nas.lan"), "10.9.0.10");
    assert_eq!(answer(&b, "ads.example.com"), "0.0.0.0");
    let fb = file(&b);
    assert!(fb.contains("[dns]") && fb.contains("name = \"b\""), "B's file holds the site config:\n{fb}");
    assert_eq!(ok(&a, &["config", "export"]), ok(&b, &["config", "export"]));
    // The seeded config did not come back as newer versions overriding A.
    assert!(!file(&a).contains("name = \"b\""));
}

#[test]
fn edits_made_while_a_node_was_down_count_and_newer_ones_win() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let (sa, sb) = (spec("a", 35), spec("b", 36));
    let a = start(&sa, &[&sa, &sb], &secret, SITE);
    let b = start(&sb, &[&sa, &sb], &secret, SITE);
    assert!(a.wait_log("peer up", Duration::from_secs(10)), "{}", a.log());

    // A is down; B changes nas.lan; A's file gets an unrelated edit while A is down.
    let a_path = a.config_path.clone();
    let a = a.kill();
    ok(&b, &["records", "remove", "nas.lan", "A", "10.9.0.10"]);
    ok(&b, &["records", "add", "nas.lan", "A", "10.9.0.11"]);
    std::thread::sleep(Duration::from_millis(50));
    let edited = std::fs::read_to_string(&a_path).unwrap()
        + "\n[[record]]\nname = \"offline.lan\"\ntype = \"A\"\nvalue = \"10.9.0.40\"\n";
    std::fs::write(&a_path, edited).unwrap();
    let a = a.restart();
    within("A takes B's newer change", &[&a, &b], || answer(&a, "nas.lan") == "10.9.0.11");
    within("B takes A's offline edit", &[&a, &b], || answer(&b, "offline.lan") == "10.9.0.40");
    assert!(!file(&a).contains("10.9.0.10"), "A's stale record was replaced:\n{}", file(&a));
}

#[test]
fn a_reseeded_node_that_gains_subnets_restarts_into_dhcp() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let (sa, sb) = (spec("a", 37), spec("b", 38));
    let free = |ip: Ipv4Addr| UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap().port();
    let subnet = "\n[[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\npools = [\"127.0.0.100-127.0.0.199\"]\n";
    let dhcp = |s: &Spec| format!("dhcp_listen = \"{}:{}\"\ndhcp_relay_port = {}\n", s.ip, free(s.ip), free(s.ip));
    // A's [node] gets DHCP ports; so does B's (node-local), whose file has no site config.
    let dir_a = tempfile::tempdir().unwrap();
    let path_a = dir_a.path().join("ravens.toml");
    let node_a = node_text(&sa, &[&sa, &sb], dir_a.path(), &secret).replacen(
        "admin_listen",
        &format!("{}admin_listen", dhcp(&sa)),
        1,
    );
    std::fs::write(&path_a, format!("{node_a}{SITE}{subnet}")).unwrap();
    let a = Daemon::start_with_file(dir_a, path_a);
    // B binds fixed ports: after its restart the test must still find it.
    let dir_b = tempfile::tempdir().unwrap();
    let path_b = dir_b.path().join("ravens.toml");
    let (dns_b, admin_b) = (free(sb.ip), UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let node_b = node_text(&sb, &[&sa, &sb], dir_b.path(), &secret)
        .replace(&format!("\"{}:0\"", sb.ip), &format!("\"{}:{dns_b}\"", sb.ip))
        .replace("127.0.0.1:0", &format!("127.0.0.1:{admin_b}"))
        .replacen("admin_listen", &format!("{}admin_listen", dhcp(&sb)), 1);
    std::fs::write(&path_b, node_b).unwrap();
    let b = Daemon::start_with_file(dir_b, path_b);
    within("B restarted with DHCP", &[&a, &b], || b.log().matches(" ready").count() >= 2);
    within("B serves DHCP", &[&a, &b], || {
        let (code, out, _) = b.dnsctl(&["--json", "status"]);
        code == 0 && serde_json::from_str::<serde_json::Value>(&out).is_ok_and(|s| !s["dhcp"].is_null())
    });
    assert!(file(&b).contains("[[subnet]]"));
}

#[test]
fn a_forward_zone_added_on_one_node_forwards_on_the_other() {
    let up = TestUpstream::start_background(std::net::IpAddr::V4(Ipv4Addr::new(127, 0, 0, 41)));
    up.set_a("host.corp.test", Ipv4Addr::new(192, 0, 2, 41), 60);
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let (sa, sb) = (spec("a", 42), spec("b", 43));
    let a = start(&sa, &[&sa, &sb], &secret, SITE);
    let b = start(&sb, &[&sa, &sb], &secret, SITE);
    assert!(a.wait_log("peer up", Duration::from_secs(10)), "{}", a.log());
    // The default upstream answers nothing.
    assert_eq!(dig_status(&dig(b.dns, &["host.corp.test", "A"])), "SERVFAIL");

    ok(&a, &["forward", "add", "corp.test", &up.udp_url()]);
    let took = within("forward zone added on A live on B", &[&a, &b], || answer(&b, "host.corp.test") == "192.0.2.41");
    eprintln!("dnsctl forward add on A → forwarded on B after {took:?}");
    assert!(file(&b).contains("[[forward]]") && file(&b).contains("domain = \"corp.test\""), "{}", file(&b));
    assert!(ok(&b, &["forward", "list"]).contains("corp.test"));

    ok(&b, &["forward", "remove", "corp.test"]);
    within("removal on B live on A", &[&a, &b], || !file(&a).contains("[[forward]]"));
}
