//! DNSSEC validation (issue 16) through the real ravensd, against unbound on the same zones.
//!
//! Set-up: `tests/common/dnssec-zones.sh` signs a test chain with ldns-keygen/ldns-signzone:
//! a test root ".", the TLD "rvn." and zones below it (NSEC, NSEC3, NSEC3 opt-out with an
//! unsigned delegation, NSEC3 with 200 iterations, a wildcard in each of NSEC and NSEC3, a
//! CNAME into another signed zone and one into an unsigned zone) and broken ones (a
//! tampered RRSIG, expired and not-yet-valid signatures, a DS naming an unpublished key, an
//! RRSIG removed, NSEC records removed). One nsd on loopback serves every zone: ravens
//! forwards to it directly, and since nsd hosts parent and child, it answers DS from the
//! parent and DNSKEY from the child, so the validator's chain fetches work as through a
//! recursive upstream. The trust anchor is the test root's KSK (its DS for ravens and
//! unbound; its DNSKEY for a second ravens). unbound, as a validating forwarder to the same
//! nsd with the same anchor, gives the reference verdict for every name (status and AD).
//! Skips with a message when nsd, unbound or ldnsutils are missing.

mod common;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::child::KillOnDrop;
use common::client::{dig, dig_status};
use common::daemon::Daemon;

/// A loopback port free for both UDP and TCP (nsd and unbound bind both) just now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn have(cmd: &str) -> bool {
    ["/usr/bin/", "/usr/sbin/"].iter().any(|d| Path::new(&format!("{d}{cmd}")).exists())
}

/// Waits until `server` answers a query at all; false when `child` exited first (its port
/// was taken between [`free_port`] and its bind: the caller tries another).
fn answering(server: SocketAddr, child: &mut Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while dig_status(&dig(server, &["+time=1", "rvn", "SOA"])) == "NONE" {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    true
}

/// Starts `cmd` (given its port) until it answers, on a fresh port each try.
fn serve(what: &str, mut cmd: impl FnMut(u16) -> Command) -> (KillOnDrop, SocketAddr) {
    for _ in 0..5 {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = cmd(port).stderr(Stdio::null()).spawn().unwrap();
        if answering(addr, &mut child) {
            return (KillOnDrop(child), addr);
        }
        drop(KillOnDrop(child));
    }
    panic!("{what} does not start");
}

/// What a client sees: status, AD, the EDE code, whether RRSIGs came along.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    status: String,
    ad: bool,
    ede: Option<u16>,
    rrsig: bool,
    out: String,
}

fn ask(server: SocketAddr, name: &str, qtype: &str, args: &[&str]) -> Seen {
    let mut all = vec![name, qtype];
    all.extend_from_slice(args);
    let out = dig(server, &all);
    let flags = out.split(";; flags: ").nth(1).and_then(|s| s.split(';').next()).unwrap_or("").to_string();
    let ede = out.split("; EDE: ").nth(1).and_then(|s| s.split(' ').next()).and_then(|c| c.parse().ok());
    let rrsig = out.lines().any(|l| !l.starts_with(';') && l.contains("\tRRSIG\t"));
    Seen { status: dig_status(&out), ad: flags.split(' ').any(|f| f == "ad"), ede, rrsig, out }
}

struct Lab {
    dir: tempfile::TempDir,
    nsd: SocketAddr,
    unbound: SocketAddr,
    _procs: Vec<KillOnDrop>,
}

fn lab() -> Option<Lab> {
    let missing: Vec<_> =
        ["nsd", "unbound", "ldns-signzone", "ldns-keygen", "dig"].into_iter().filter(|c| !have(c)).collect();
    if !missing.is_empty() {
        eprintln!("SKIP: {missing:?} not installed (scripts/install-test-deps installs them)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/common/dnssec-zones.sh");
    let (nsd_proc, nsd) = serve("nsd", |port| {
        // The zones name the server's address only as glue; made again for each port try.
        let made = Command::new("bash").args([script, &d, "127.0.0.1", &port.to_string()]).output().unwrap();
        assert!(made.status.success(), "zones: {}", String::from_utf8_lossy(&made.stderr));
        let mut c = Command::new("nsd");
        c.args(["-d", "-c", &format!("{d}/nsd.conf")]);
        c
    });
    let (ub, unbound) = serve("unbound", |port| {
        let conf = format!(
            "server:\n interface: 127.0.0.1\n port: {port}\n do-daemonize: no\n username: \"\"\n chroot: \"\"\n directory: \"{d}\"\n pidfile: \"\"\n use-syslog: no\n logfile: \"{d}/unbound.log\"\n trust-anchor-file: \"{d}/root.ds\"\n module-config: \"validator iterator\"\n do-not-query-localhost: no\n qname-minimisation: no\nforward-zone:\n name: \".\"\n forward-addr: 127.0.0.1@{}\nremote-control:\n control-enable: no\n",
            nsd.port()
        );
        std::fs::write(format!("{d}/unbound.conf"), conf).unwrap();
        let mut c = Command::new("unbound");
        c.args(["-d", "-c", &format!("{d}/unbound.conf")]);
        c
    });
    let procs = vec![nsd_proc, ub];
    Some(Lab { dir, nsd, unbound, _procs: procs })
}

fn ravens(lab: &Lab, anchor: &str) -> Daemon {
    Daemon::start(&format!(
        r#"[dns]
upstreams = ["udp://{nsd}"]
upstream_timeout = "3s"
dnssec = "validate"
dnssec_trust_anchor_file = "{dir}/{anchor}"
dnssec_nta = ["nta.rvn"]

[[forward]]
domain = "corp.rvn"
upstreams = ["udp://{nsd}"]

[[record]]
name = "printer.lan"
type = "A"
value = "192.168.1.9"
"#,
        nsd = lab.nsd,
        dir = lab.dir.path().display()
    ))
}

/// (name, type, status, AD): what both validators must say.
const VERDICTS: &[(&str, &str, &str, bool)] = &[
    ("www.ok.rvn", "A", "NOERROR", true),
    ("www.ok.rvn", "AAAA", "NOERROR", true),
    ("ok.rvn", "MX", "NOERROR", true),
    ("ok.rvn", "TXT", "NOERROR", true),
    ("nx.ok.rvn", "A", "NXDOMAIN", true),
    ("www.ok.rvn", "MX", "NOERROR", true),
    ("x.wild.ok.rvn", "A", "NOERROR", true),
    ("www.n3s.rvn", "A", "NOERROR", true),
    ("nx.n3s.rvn", "A", "NXDOMAIN", true),
    ("www.n3s.rvn", "TXT", "NOERROR", true),
    ("x.wild.n3s.rvn", "A", "NOERROR", true),
    ("cn.ok.rvn", "A", "NOERROR", true),
    ("cnplain.ok.rvn", "A", "NOERROR", false),
    ("www.plain.rvn", "A", "NOERROR", false),
    ("www.plain.rvn", "TXT", "NOERROR", false),
    ("nx.plain.rvn", "A", "NXDOMAIN", false),
    ("a.b.plain.rvn", "A", "NXDOMAIN", false),
    ("tosecure.plain.rvn", "A", "NOERROR", false),
    ("ent.ok.rvn", "A", "NOERROR", true),
    ("www.sub.n3s.rvn", "A", "NOERROR", false),
    ("nx.sub.n3s.rvn", "A", "NXDOMAIN", false),
    ("www.n3.rvn", "A", "NOERROR", true),
    ("nx.n3.rvn", "A", "NXDOMAIN", false),
    ("www.sub.n3.rvn", "A", "NOERROR", false),
    ("nx.iter.rvn", "A", "NXDOMAIN", false),
    ("www.tampered.rvn", "A", "SERVFAIL", false),
    ("www.expired.rvn", "A", "SERVFAIL", false),
    ("www.future.rvn", "A", "SERVFAIL", false),
    ("www.nokey.rvn", "A", "SERVFAIL", false),
    ("www.nosig.rvn", "A", "SERVFAIL", false),
    ("nx.nonsec.rvn", "A", "SERVFAIL", false),
];

#[test]
fn validation_agrees_with_unbound_on_a_signed_chain() {
    let Some(lab) = lab() else { return };
    let d = ravens(&lab, "root.ds");
    let mut differ = Vec::new();
    for &(name, qtype, status, ad) in VERDICTS {
        let ub = ask(lab.unbound, name, qtype, &["+dnssec"]);
        assert_eq!((ub.status.as_str(), ub.ad), (status, ad), "unbound on {name} {qtype}: {}", ub.out);
        let r = ask(d.dns, name, qtype, &["+dnssec"]);
        if (r.status.as_str(), r.ad) != (status, ad) {
            differ
                .push(format!("{name} {qtype}: ravens {} ad={} (unbound {status} ad={ad})\n{}", r.status, r.ad, r.out));
        }
    }
    assert!(differ.is_empty(), "verdicts differ:\n{}\nlog:\n{}", differ.join("\n"), d.log());
}

#[test]
fn bogus_answers_name_the_reason_and_cd_gets_them_anyway() {
    let Some(lab) = lab() else { return };
    let d = ravens(&lab, "root.ds");
    for (name, qtype, ede) in [
        ("www.tampered.rvn", "A", 6),
        ("www.expired.rvn", "A", 7),
        ("www.future.rvn", "A", 8),
        ("www.nokey.rvn", "A", 9),
        ("www.nosig.rvn", "A", 10),
        ("nx.nonsec.rvn", "A", 12),
    ] {
        let r = ask(d.dns, name, qtype, &[]);
        assert_eq!((r.status.as_str(), r.ede), ("SERVFAIL", Some(ede)), "{name}: {}", r.out);
        // Cached briefly as bogus: the same verdict from the cache.
        let again = ask(d.dns, name, qtype, &[]);
        assert_eq!((again.status.as_str(), again.ede), ("SERVFAIL", Some(ede)), "{name} again: {}", again.out);
        let cd = ask(d.dns, name, qtype, &["+cd"]);
        let want = if name.starts_with("nx.") { "NXDOMAIN" } else { "NOERROR" };
        assert_eq!((cd.status.as_str(), cd.ad), (want, false), "{name} +cd: {}", cd.out);
    }
    assert!(d.log().contains("expired at"), "the log names the expiry: {}", d.log());
    // dnsctl query says why (RRset, key, time); dnsctl status counts the verdicts.
    let (code, out, err) = d.dnsctl(&["query", "www.expired.rvn"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("DNSSEC: validated"), "{out}");
    assert!(out.contains("DNSSEC bogus: type 1: EDE 7") && out.contains("www.expired.rvn. A: RRSIG by key"), "{out}");
    let (_, out, _) = d.dnsctl(&["query", "www.corp.rvn"]);
    assert!(out.contains("DNSSEC: not validated: under a negative trust anchor"), "{out}");
    let (_, status, _) = d.dnsctl(&["status"]);
    assert!(status.contains("dnssec      validating: secure") && status.contains("bogus 6"), "{status}");
    let metrics = Command::new("curl").arg("-s").arg(format!("http://{}/metrics", d.admin)).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(metrics.contains("ravens_dnssec_validations_total{verdict=\"bogus\"} 6"), "{metrics}");
    assert!(metrics.contains("ravens_dnssec_clock_ok 1"), "{metrics}");
}

#[test]
fn secure_answers_carry_ad_and_rrsigs_as_the_client_asked_and_keep_them_cached() {
    let Some(lab) = lab() else { return };
    let d = ravens(&lab, "root.key");
    let plain = ask(d.dns, "www.ok.rvn", "A", &["+noadflag"]);
    assert_eq!((plain.status.as_str(), plain.ad, plain.rrsig), ("NOERROR", false, false), "{}", plain.out);
    let ad = ask(d.dns, "www.ok.rvn", "A", &["+adflag"]);
    assert_eq!((ad.ad, ad.rrsig), (true, false), "AD asked, no DO: {}", ad.out);
    for _ in 0..2 {
        // The second is a cache hit: still AD, still the signatures.
        let dnssec = ask(d.dns, "www.ok.rvn", "A", &["+dnssec"]);
        assert_eq!((dnssec.ad, dnssec.rrsig), (true, true), "DO: {}", dnssec.out);
    }
    let stats = dig(d.dns, &["www.ok.rvn", "A", "+dnssec"]);
    assert!(stats.contains("192.0.2.1"), "{stats}");
}

#[test]
fn negative_trust_anchors_and_local_names_are_never_validated() {
    let Some(lab) = lab() else { return };
    let d = ravens(&lab, "root.ds");
    // Both zones are signed with expired signatures: unbound says SERVFAIL.
    for name in ["www.corp.rvn", "www.nta.rvn"] {
        assert_eq!(ask(lab.unbound, name, "A", &[]).status, "SERVFAIL", "{name} is bogus");
        let r = ask(d.dns, name, "A", &["+dnssec"]);
        assert_eq!((r.status.as_str(), r.ad), ("NOERROR", false), "{name}: {}", r.out);
    }
    let lan = ask(d.dns, "printer.lan", "A", &["+dnssec"]);
    assert_eq!((lan.status.as_str(), lan.ad), ("NOERROR", false), "{}", lan.out);
    assert!(lan.out.contains("192.168.1.9"), "{}", lan.out);
}
