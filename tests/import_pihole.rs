//! Issue 12 against real daemons: `dnsctl import pihole ARCHIVE` on one node of a pair, then
//! through each node's DNS port the imported exact and regex denies block for the right
//! group's client and not for another, an allow wins over a deny, an entry disabled in
//! Pi-hole arrives disabled in its list (blocks nothing) until `dnsctl block enable` on the
//! other node turns it on for both, records and CNAMEs answer,
//! and each node lists the reservations and the imported leases (a lease's name resolves),
//! also those of the subnet the import adds (which the peer may learn after the leases).
//! A dry run and a second import leave the file byte for byte; hostile archives exit 1 with
//! the reason and change nothing.

mod common;
#[path = "../import/tests/common/mod.rs"]
mod fixture;
#[path = "common/pihole.rs"]
mod pihole;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use serde_json::Value;

const TOML: &str = r#"
[dns]
upstreams = ["9.9.9.9"]
hosts = ["192.168.1.50 nas.lan"]
cnameRecords = ["files.lan,nas.lan"]
domain = "lan"
revServers = ["true,192.168.1.0/24,192.168.1.1,lan"]
[dns.blocking]
mode = "NULL"
[dhcp]
active = true
start = "10.77.0.100"
end = "10.77.0.199"
router = "10.77.0.1"
netmask = "255.255.255.0"
leaseTime = "1h"
hosts = ["02:00:00:00:00:01,127.0.0.60,printer"]
"#;

/// The Kids group's one client.
const KID: &str = "127.0.0.31";

fn archive() -> Vec<u8> {
    let clients: &[pihole::Client<'_>] = &[(1, KID, &[1])];
    let domains: &[pihole::Domain<'_>] = &[
        (1, 1, "ads.test", true, &[0]),
        (2, 3, r"^track[0-9]+\.test$", true, &[0]),
        (3, 3, r"(^|\.)adnet\.test$", true, &[0]),
        (4, 0, "ok.adnet.test", true, &[0]),
        (5, 1, "games.test", true, &[1]),
        (6, 1, "off.test", false, &[0]),
    ];
    let exp = pihole::now() + 3600;
    let leases = format!(
        "{exp} 02:00:00:00:00:02 127.0.0.120 laptop 01:02:00:00:00:00:02\n\
         {exp} 02:00:00:00:00:03 127.0.0.130 * *\n{exp} 02:00:00:00:00:04 10.1.1.5 far *\n\
         {exp} 02:00:00:00:00:05 10.77.0.150 tablet *\n"
    );
    pihole::v6_zip(pihole::gravity(clients, domains), TOML, &leases)
}

fn free_udp(ip: Ipv4Addr) -> u16 {
    UdpSocket::bind((ip, 0)).unwrap().local_addr().unwrap().port()
}

/// Two nodes on 127.0.0.41 and .42 sharing one secret, one subnet and the test upstream.
fn pair(up: &TestUpstream, secret: &Path) -> (Daemon, Daemon) {
    let ips = [Ipv4Addr::new(127, 0, 0, 41), Ipv4Addr::new(127, 0, 0, 42)];
    let gossip: Vec<SocketAddr> = ips.iter().map(|ip| SocketAddr::from((*ip, free_udp(*ip)))).collect();
    let mut nodes = (0..2).map(|i| {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "# a node of the import test\n[node]\nname = \"n{i}\"\ndata_dir = \"{data}\"\ndns_listen = [\"{ip}:0\"]\n\
             admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"{ip}:{dhcp}\"\ndhcp_relay_port = {relay}\n\n\
             [cluster]\nname = \"import\"\ngossip_listen = \"{me}\"\npeers = [\"{peer}\"]\nsecret_file = \"{secret}\"\n\n\
             [dns]\nupstreams = [\"{up}\"]\nupstream_timeout = \"1s\"\nlocal_domain = \"lan\"\n\n\
             # the home network\n[[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\n\
             pools = [\"127.0.0.100-127.0.0.199\"]\nrouter = \"127.0.0.2\"\nlease_time = \"1h\"\n",
            data = dir.path().join("data").display(),
            ip = ips[i],
            dhcp = free_udp(ips[i]),
            relay = free_udp(ips[i]),
            me = gossip[i],
            peer = gossip[1 - i],
            secret = secret.display(),
            up = up.udp_url(),
        );
        let path = dir.path().join("ravens.toml");
        std::fs::write(&path, text).unwrap();
        Daemon::start_with_file(dir, path)
    });
    let (a, b) = (nodes.next().unwrap(), nodes.next().unwrap());
    for d in [&a, &b] {
        assert!(d.wait_log("peer up", Duration::from_secs(10)), "no peer up:\n{}", d.log());
    }
    (a, b)
}

/// Polls `f` until it holds (replication and list compiles take a moment).
fn until(what: &str, d: &Daemon, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "{what}: not within 20 s\n{}", d.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn import(d: &Daemon, path: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--json", "import", "pihole", path.to_str().unwrap()];
    args.extend(extra);
    let (code, out, err) = d.dnsctl(&args);
    assert_eq!(code, 0, "import failed: {err}");
    serde_json::from_str(&out).unwrap()
}

fn counts(r: &Value, kind: &str) -> (u64, u64, u64) {
    let c = &r["kinds"][kind];
    (c["added"].as_u64().unwrap_or(0), c["unchanged"].as_u64().unwrap_or(0), c["skipped"].as_u64().unwrap_or(0))
}

fn answer(d: &Daemon, from: &str, name: &str) -> String {
    dig(d.dns, &["-b", from, name, "A"])
}

fn listed(d: &Daemon, what: &str, ip: &str) -> bool {
    let (code, out, _) = d.dnsctl(&["--json", what]);
    code == 0 && serde_json::from_str::<Vec<Value>>(&out).unwrap().iter().any(|r| r["ip"] == ip)
}

#[test]
fn import_pihole_lands_on_both_nodes_of_a_pair_once() {
    let up = TestUpstream::start_background("127.0.0.1".parse().unwrap());
    for (i, n) in ["ads.test", "track1.test", "track.test", "x.adnet.test", "ok.adnet.test", "games.test", "off.test"]
        .iter()
        .enumerate()
    {
        up.set_a(n, Ipv4Addr::new(192, 0, 2, 10 + i as u8), 60);
    }
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let (a, b) = pair(&up, &secret);
    let file = keys.path().join("pihole-teleporter.zip");
    std::fs::write(&file, archive()).unwrap();
    let before = [std::fs::read(&a.config_path).unwrap(), std::fs::read(&b.config_path).unwrap()];

    let dry = import(&a, &file, &["--dry-run"]);
    assert_eq!((dry["dry_run"].as_bool(), dry["changed"].as_bool()), (Some(true), Some(false)));
    assert_eq!(counts(&dry, "entry").0, 6, "{dry:#}");
    assert_eq!(counts(&dry, "lease"), (3, 0, 1), "{dry:#}");
    assert_eq!(std::fs::read(&a.config_path).unwrap(), before[0], "a dry run wrote the file");

    let r = import(&a, &file, &[]);
    assert_eq!(r["changed"], true, "{r:#}");
    assert_eq!((counts(&r, "entry").0, counts(&r, "record").0, counts(&r, "reservation").0), (6, 2, 1), "{r:#}");
    let notes = r["notes"].to_string();
    assert!(notes.contains("entries disabled in Pi-hole, imported disabled in their lists: 1 "), "{r:#}");
    assert_eq!(counts(&r, "lease"), (3, 0, 1), "{r:#}");
    assert_eq!(counts(&r, "subnet"), (1, 0, 0), "the DHCP range 10.77.0.100-199 is a new subnet: {r:#}");
    let skipped = r["skipped"].as_array().unwrap();
    let why = |src: &str| skipped.iter().find(|s| s["source"] == src).map(|s| s["reason"].to_string());
    assert!(why("dhcp.leases:3").is_some_and(|w| w.contains("no configured subnet holds 10.1.1.5")), "{r:#}");
    assert_eq!(counts(&r, "forward"), (2, 0, 0), "revServers: 192.168.1.0/24 and lan to the router: {r:#}");
    let text = String::from_utf8(std::fs::read(&a.config_path).unwrap()).unwrap();
    assert!(text.contains("# a node of the import test") && text.contains("# the home network"), "{text}");

    for d in [&a, &b] {
        until("the imported denies compiled", d, || answer(d, "127.0.0.1", "x.adnet.test").contains("0.0.0.0"));
        until("the Kids deny compiled", d, || answer(d, KID, "games.test").contains("0.0.0.0"));
        let blocked = |from: &str, n: &str| {
            let out = answer(d, from, n);
            assert_eq!(dig_status(&out), "NOERROR", "{n} from {from}: {out}");
            out.contains("\t0.0.0.0") && !out.contains("192.0.2.")
        };
        assert!(blocked("127.0.0.1", "ads.test"), "exact deny of Default");
        assert!(!blocked(KID, "ads.test"), "Default's deny applies to Kids' client");
        assert!(blocked(KID, "games.test"), "exact deny of Kids");
        assert!(!blocked("127.0.0.1", "games.test"), "Kids' deny applies to a Default client");
        assert!(blocked("127.0.0.1", "track1.test"), "regex deny");
        assert!(!blocked("127.0.0.1", "track.test"), "regex deny too wide");
        assert!(!blocked("127.0.0.1", "ok.adnet.test"), "the allow does not win over the regex deny");
        assert!(!blocked("127.0.0.1", "off.test"), "an entry disabled in Pi-hole blocks nothing");
        let nas = answer(d, "127.0.0.1", "files.lan");
        assert!(nas.contains("CNAME\tnas.lan.") && nas.contains("192.168.1.50"), "{nas}");
        until("the reservation listed", d, || listed(d, "reservations", "127.0.0.60"));
        until("imported leases listed", d, || listed(d, "leases", "127.0.0.120") && listed(d, "leases", "127.0.0.130"));
        // In the subnet the import added: on the peer, the lease may come before the subnet.
        until("the new subnet's lease listed", d, || listed(d, "leases", "10.77.0.150"));
        until("the lease's name resolves", d, || answer(d, "127.0.0.1", "laptop.lan").contains("127.0.0.120"));
        until("the forward zones listed", d, || {
            let (code, out, _) = d.dnsctl(&["forward", "list"]);
            code == 0 && out.contains("192.168.1.0/24") && out.contains("udp://192.168.1.1")
        });
    }
    // The disabled entry is in Default's deny list: turned on there (on B), it blocks on both.
    let (code, out, err) = b.dnsctl(&["block", "enable", "off.test", "--list", "pihole-default-deny"]);
    assert_eq!(code, 0, "{out}{err}");
    for d in [&a, &b] {
        until("the enabled entry blocks", d, || answer(d, "127.0.0.1", "off.test").contains("\t0.0.0.0"));
    }
    let (_, human, _) = b.dnsctl(&["leases"]);
    assert!(human.contains("02:00:00:00:00:02") && human.contains("laptop"), "{human}");

    let files = [std::fs::read(&a.config_path).unwrap(), std::fs::read(&b.config_path).unwrap()];
    let again = import(&b, &file, &[]);
    assert_eq!(again["changed"], false, "{again:#}");
    for kind in ["entry", "record", "reservation", "group", "lease", "forward"] {
        assert_eq!(counts(&again, kind).0, 0, "{kind} added again: {again:#}");
    }
    assert_eq!(counts(&again, "lease").1, 3, "{again:#}");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!([std::fs::read(&a.config_path).unwrap(), std::fs::read(&b.config_path).unwrap()], files);
}

#[test]
fn hostile_or_broken_archives_exit_1_with_the_reason_and_change_nothing() {
    let d = Daemon::start("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n");
    let dir = tempfile::tempdir().unwrap();
    let good = archive();
    let many: Vec<(String, Vec<u8>)> = (0..10_001).map(|i| (format!("f{i}"), Vec::new())).collect();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("truncated", good[..good.len() / 2].to_vec(), "broken archive"),
        ("not an archive", b"#!/bin/sh\necho hello\n".to_vec(), "neither gzip nor zip"),
        ("dot-dot", fixture::tar_gz(&[("../../etc/cron.d/x".into(), b"x".to_vec())]), "escapes the archive"),
        ("absolute", fixture::tar_gz(&[("/etc/passwd".into(), b"x".to_vec())]), "escapes the archive"),
        ("bomb", fixture::tar_gz(&many), "decompression bomb"),
        ("not sqlite", fixture::zip(&[("etc/pihole/gravity.db".into(), vec![b'x'; 4096])]), "not an SQLite database"),
        ("wrong json", fixture::tar_gz(&[("group.json".into(), b"{\"x\": 1}".to_vec())]), "JSON does not match"),
    ];
    let before = std::fs::read(&d.config_path).unwrap();
    for (what, bytes, reason) in cases {
        let path = dir.path().join(what);
        std::fs::write(&path, bytes).unwrap();
        for dry in [&[][..], &["--dry-run"][..]] {
            let mut args = vec!["import", "pihole", path.to_str().unwrap()];
            args.extend(dry);
            let (code, _, err) = d.dnsctl(&args);
            assert_eq!(code, 1, "{what}: {err}");
            assert!(err.contains(reason), "{what}: wanted '{reason}' in: {err}");
        }
        assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "{what} changed the file");
    }
}

#[test]
fn a_pihole_directory_is_packed_by_dnsctl_and_read_as_one() {
    let d = Daemon::start("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n");
    let root = tempfile::tempdir().unwrap();
    let dir = fixture::pihole_dir(root.path());
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, out, err) = d.dnsctl(&["import", "pihole", dir.to_str().unwrap(), "--dry-run"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Pi-hole directory (dry run, nothing written)"), "{out}");
    // The fixture's dnsmasq.d, read from beside the directory, has a server= line.
    assert!(out.contains("dnsmasq.d/99-user.conf:1"), "{out}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before);
    let (code, _, err) = d.dnsctl(&["import", "pihole", root.path().to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("holds no gravity.db"), "{err}");
}
