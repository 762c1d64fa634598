//! Forward zones and per-group upstreams through the real ravensd and dig (issue 15 parts 1
//! and 2): three in-process upstreams on their own loopback addresses give different answers
//! for the same names; each zone and each group's client (dig -b 127.0.0.x) gets its own
//! upstream's answer, and keeps getting it from the cache; a network given as a CIDR
//! forwards its PTR queries while the other private reverse zones stay local; `dnsctl forward`
//! adds, lists and removes zones, and refuses bad ones with the file left byte for byte.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::rr::rdata::PTR;
use hickory_proto::rr::{Name, RData, RecordType};

/// The default upstream, a forward zone's and a group's, each answering `same.test` with
/// the last octet of its own address: 1, 21, 22.
struct Ups {
    default: TestUpstream,
    zone: TestUpstream,
    group: TestUpstream,
}

fn upstreams() -> Ups {
    let start = |last: u8| {
        let up = TestUpstream::start_background(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)));
        for n in ["same.test", "a.corp.test", "only.test", "x.office.lan"] {
            up.set_a(n, Ipv4Addr::new(192, 0, 2, last), 300);
        }
        up
    };
    Ups { default: start(1), zone: start(21), group: start(22) }
}

fn ptr(up: &TestUpstream, owner: &str, target: &str) {
    up.set_records(owner, RecordType::PTR, vec![RData::PTR(PTR(Name::from_ascii(target).unwrap()))], 300);
}

fn a_from(d: &Daemon, from: &str, name: &str) -> String {
    dig(d.dns, &["-b", from, name, "A", "+short"]).trim().to_string()
}

fn config(u: &Ups) -> String {
    format!(
        r#"[dns]
upstreams = ["{d}"]
upstream_timeout = "1s"
local_domain = "lan"

[[record]]
name = "nas.lan"
type = "A"
value = "192.168.5.5"

[[group]]
name = "work"
clients = ["127.0.0.5"]
upstreams = ["{g}"]

[[group]]
name = "kids"
clients = ["127.0.0.6"]

[[forward]]
domain = "corp.test"
upstreams = ["{z}"]

[[forward]]
domain = "only.test"
upstreams = ["{z}"]
groups = ["kids"]

[[forward]]
domain = "office.lan"
upstreams = ["{z}"]

[[forward]]
domain = "192.168.0.0/16"
upstreams = ["{z}"]

[[forward]]
domain = "10.1.16.0/20"
upstreams = ["{z}"]
"#,
        d = u.default.udp_url(),
        z = u.zone.udp_url(),
        g = u.group.tcp_url(),
    )
}

#[test]
fn each_zone_and_each_group_gets_its_own_upstream_and_the_cache_never_crosses() {
    let u = upstreams();
    let d = Daemon::start(&config(&u));
    // (client, name, the answering upstream's octet): zones beat the group's upstreams, a
    // zone for some groups only leaves the others where they were.
    let cases = [
        ("127.0.0.1", "same.test", "192.0.2.1"),
        ("127.0.0.5", "same.test", "192.0.2.22"),
        ("127.0.0.6", "same.test", "192.0.2.1"),
        ("127.0.0.1", "a.corp.test", "192.0.2.21"),
        ("127.0.0.5", "a.corp.test", "192.0.2.21"),
        ("127.0.0.1", "only.test", "192.0.2.1"),
        ("127.0.0.5", "only.test", "192.0.2.22"),
        ("127.0.0.6", "only.test", "192.0.2.21"),
    ];
    for round in 0..3 {
        for (from, name, want) in cases {
            assert_eq!(a_from(&d, from, name), want, "round {round}: {name} asked from {from}\n{}", d.log());
        }
        if round == 0 {
            for up in [&u.default, &u.zone, &u.group] {
                up.reset_queries();
            }
        }
    }
    // The repeats were cache hits: no upstream was asked again.
    let asked: Vec<u64> = [&u.default, &u.zone, &u.group].iter().map(|up| up.queries().total()).collect();
    assert_eq!(asked, [0, 0, 0], "repeated questions went upstream");

    // Status and metrics show each route with its upstreams' health.
    let s = d.status();
    let routes = s["routes"].as_array().expect("routes in status");
    assert_eq!(routes.len(), 6, "{s}");
    let cidr = routes.iter().find(|r| r["name"] == "10.1.16.0/20").unwrap();
    assert_eq!(cidr["zones"].as_array().unwrap().len(), 16);
    assert!(routes.iter().any(|r| r["kind"] == "group" && r["name"] == "work" && r["upstreams"][0]["queries"] == 2));
    let (code, out, err) = d.dnsctl(&["status"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("forward 192.168.0.0/16") && out.contains("group work"), "{out}");
    let metrics = http_get(&d, "/metrics");
    let line = format!("ravens_upstream_healthy{{route=\"forward corp.test\",upstream=\"{}\"}} 1", u.zone.udp_url());
    assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    assert!(metrics.contains("ravens_upstream_latency_seconds_count{route=\"group work\""), "{metrics}");
}

#[test]
fn a_reverse_zone_from_a_cidr_forwards_its_ptrs_and_the_other_private_ones_stay_local() {
    let u = upstreams();
    ptr(&u.zone, "1.1.168.192.in-addr.arpa", "router.corp.test.");
    ptr(&u.zone, "9.17.1.10.in-addr.arpa", "lab.corp.test.");
    ptr(&u.default, "1.1.168.192.in-addr.arpa", "wrong.default.test.");
    let d = Daemon::start(&config(&u));
    let x = |addr: &str| dig(d.dns, &["-x", addr, "+short"]).trim().to_string();
    assert_eq!(x("192.168.1.1"), "router.corp.test.", "{}", d.log());
    assert_eq!(x("10.1.17.9"), "lab.corp.test.", "10.1.16.0/20 covers 17.1.10.in-addr.arpa");
    // A local record's PTR inside the forwarded range is still answered here.
    assert_eq!(x("192.168.5.5"), "nas.lan.");
    // Outside the /20 and in the other private ranges: local NXDOMAIN, authoritative.
    u.default.reset_queries();
    u.zone.reset_queries();
    for addr in ["10.1.32.1", "10.0.0.1", "172.16.0.1"] {
        let out = dig(d.dns, &["-x", addr]);
        assert_eq!(dig_status(&out), "NXDOMAIN", "{addr}: {out}");
        assert!(out.contains(" aa "), "{addr} answered locally: {out}");
    }
    assert_eq!((u.default.queries().total(), u.zone.queries().total()), (0, 0), "private PTRs went upstream");
    // A forward zone inside local_domain takes its names; the rest of the domain stays local.
    assert_eq!(a_from(&d, "127.0.0.1", "x.office.lan"), "192.0.2.21");
    assert_eq!(dig_status(&dig(d.dns, &["y.lan", "A"])), "NXDOMAIN");
    assert_eq!(a_from(&d, "127.0.0.1", "nas.lan"), "192.168.5.5");
}

#[test]
fn dnsctl_forward_adds_lists_removes_and_refuses_bad_zones_with_the_file_untouched() {
    let u = upstreams();
    let d = Daemon::start(&format!("[dns]\nupstreams = [\"{}\"]\nupstream_timeout = \"1s\"\n", u.default.udp_url()));
    assert_eq!(a_from(&d, "127.0.0.1", "a.corp.test"), "192.0.2.1");
    let ok = |args: &[&str]| {
        let (code, out, err) = d.dnsctl(args);
        assert_eq!(code, 0, "dnsctl {args:?}: {err}");
        out
    };
    let out = ok(&["forward", "add", "corp.test", &u.zone.udp_url()]);
    assert!(out.contains("forwarding corp.test"), "{out}");
    // Cached before under the default set, now asked of the zone's upstream.
    assert_eq!(a_from(&d, "127.0.0.1", "a.corp.test"), "192.0.2.21");
    u.zone.set_a("new.corp.test", Ipv4Addr::new(192, 0, 2, 99), 60);
    assert_eq!(a_from(&d, "127.0.0.1", "new.corp.test"), "192.0.2.99");
    ok(&["forward", "add", "192.168.0.0/16", &u.zone.udp_url(), "--groups", "default"]);
    let list = ok(&["forward", "list"]);
    assert!(list.contains("corp.test") && list.contains("192.168.0.0/16") && list.contains("default"), "{list}");
    let file = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(file.contains("[[forward]]") && file.contains("domain = \"192.168.0.0/16\""), "{file}");

    // Refused, with the reason, and nothing written.
    let before = std::fs::read(&d.config_path).unwrap();
    for (args, why) in [
        (vec!["forward", "add", "192.168.1.1/24", "udp://127.0.0.1"], "did you mean 192.168.1.0/24"),
        (vec!["forward", "add", "10.0.0.0/33", "udp://127.0.0.1"], "is not a network"),
        (vec!["forward", "add", "lab.test", "ftp://127.0.0.1"], "unknown scheme 'ftp'"),
        (vec!["forward", "add", "lab.test", "udp://127.0.0.1", "--groups", "nope"], "no group named 'nope'"),
        (vec!["forward", "add", "CORP.test.", "udp://127.0.0.1"], "already forwarded"),
    ] {
        let (code, out, err) = d.dnsctl(&args);
        assert_ne!(code, 0, "{args:?} accepted: {out}");
        assert!(err.contains(why), "{args:?}: {err}");
        assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "{args:?} changed the file");
    }

    let out = ok(&["forward", "remove", "corp.test"]);
    assert!(out.contains("removed forward zone corp.test"), "{out}");
    let (code, _, err) = d.dnsctl(&["forward", "remove", "corp.test"]);
    assert!(code != 0 && err.contains("no forward zone corp.test"), "{err}");
    assert!(!ok(&["forward", "list"]).contains("corp.test"));
    u.default.set_a("new.corp.test", Ipv4Addr::new(192, 0, 2, 1), 60);
    assert_eq!(a_from(&d, "127.0.0.1", "new.corp.test"), "192.0.2.1", "back to the default upstream");
}

/// `GET path` on the admin API with the token.
fn http_get(d: &Daemon, path: &str) -> String {
    use std::io::{Read, Write};
    let token = std::fs::read_to_string(d.token_file()).unwrap();
    let mut s = std::net::TcpStream::connect(d.admin).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n", token.trim())
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
