//! Issue 10, hostile input from the network and the edges of the protocols, through the real
//! daemon: query names with escape bytes and dots inside labels reach `dnsctl` escaped as
//! `dig` writes them (defect 7); EDNS version 1 gets BADVERS and two OPT records FORMERR
//! (RFC 6891); the `Authorization` scheme is case-insensitive (RFC 9110).

mod common;

use std::time::{Duration, Instant};

use common::client::{dig, udp_raw};
use common::daemon::Daemon;

fn start() -> Daemon {
    Daemon::start("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\n")
}

/// A query for the name of `labels` (raw bytes each) with one OPT record per entry of
/// `opts` (its EDNS version).
fn raw_query(id: u16, labels: &[&[u8]], opts: &[u8]) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, opts.len() as u8]);
    for l in labels {
        m.push(l.len() as u8);
        m.extend_from_slice(l);
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]); // root, type A, class IN
    for &version in opts {
        // root owner, type OPT, UDP size 1232, TTL = extended rcode 0, version, flags 0, no data
        m.extend_from_slice(&[0, 0, 41, 0x04, 0xD0, 0, version, 0, 0, 0, 0]);
    }
    m
}

fn rcode(reply: &[u8]) -> u8 {
    reply[3] & 0x0F
}

/// The OPT record of a reply that holds only its question and the OPT: (extended rcode
/// bits, version).
fn opt_of(reply: &[u8]) -> Option<(u8, u8)> {
    let arcount = u16::from_be_bytes([reply[10], reply[11]]);
    let mut at = 12;
    while reply[at] != 0 {
        at += 1 + reply[at] as usize;
    }
    at += 5;
    (arcount == 1 && reply[at] == 0 && reply[at + 1..at + 3] == [0, 41]).then(|| (reply[at + 5], reply[at + 6]))
}

#[test]
fn issue_10_defect_7_query_names_are_shown_escaped_as_dig_does() {
    let d = start();
    let q = raw_query(0x0707, &[b"a.b", b"x\x1b[31my\x00z", b"lan"], &[]);
    let reply = udp_raw(d.dns, "127.0.0.1", &q, Duration::from_secs(5)).expect("an answer");
    assert_eq!(rcode(&reply), 3, "a .lan name that does not exist: NXDOMAIN");
    let shown = r"a\.b.x\027[31my\000z.lan";

    let (code, out, err) = d.dnsctl(&["log"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(shown), "the name as dig writes it:\n{out}");
    assert!(!out.contains(['\x1b', '\0']), "no raw escape or NUL byte reaches the terminal:\n{out:?}");

    let (_, json, _) = d.dnsctl(&["--json", "log"]);
    let entries: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(entries.iter().any(|e| e["name"] == shown), "the API carries the escaped form:\n{json}");

    // The statistics are folded from the log every 250 ms; the top lists show the same form.
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, out, _) = d.dnsctl(&["stats", "--since", "1h"]);
        if out.contains(shown) {
            assert!(!out.contains(['\x1b', '\0']), "{out:?}");
            break;
        }
        assert!(Instant::now() < end, "the name never reached the top list:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn issue_10_edns_version_1_gets_badvers_and_two_opt_records_formerr() {
    let d = start();
    let reply = udp_raw(d.dns, "127.0.0.1", &raw_query(1, &[b"x", b"lan"], &[1]), Duration::from_secs(5)).unwrap();
    // BADVERS = 16: upper 8 bits 1 in the OPT, lower 4 bits 0 in the header; our OPT is version 0.
    assert_eq!((rcode(&reply), opt_of(&reply)), (0, Some((1, 0))), "{reply:?}");
    let out = dig(d.dns, &["x.lan", "+edns=1", "+noednsneg"]);
    assert!(out.contains("status: BADVERS") && out.contains("EDNS: version: 0"), "{out}");

    let two = raw_query(2, &[b"x", b"lan"], &[0, 0]);
    let reply = udp_raw(d.dns, "127.0.0.1", &two, Duration::from_secs(5)).expect("an answer");
    assert_eq!(rcode(&reply), 1, "RFC 6891 6.1.1: more than one OPT is FORMERR");
    assert_eq!(&reply[..2], &[0, 2], "with the query's ID");
    let reply = udp_raw(d.dns, "127.0.0.1", &raw_query(3, &[b"x", b"lan"], &[0]), Duration::from_secs(5)).unwrap();
    assert_eq!(rcode(&reply), 3, "one OPT is fine");
}

#[test]
fn issue_10_bearer_scheme_is_case_insensitive() {
    let d = start();
    let token = std::fs::read_to_string(d.token_file()).unwrap();
    let code = |auth: &str| {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", auth])
            .arg(format!("http://{}/api/v1/status", d.admin))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        assert_eq!(code(&format!("Authorization: {scheme} {}", token.trim())), "200", "{scheme}");
    }
    assert_eq!(code("Authorization: bearer wrong"), "401");
    assert_eq!(code(&format!("Authorization: Basic {}", token.trim())), "401");
    assert_eq!(code(&format!("Authorization: bearer{}", token.trim())), "401", "scheme and token apart");
}

/// A node that takes requests and never answers (`close` = closes the connection once the
/// request is in instead). Serves for at most 30 s.
fn silent_node(close: bool) -> std::net::SocketAddr {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(30);
        let mut held = Vec::new();
        while Instant::now() < end {
            let Ok((mut conn, _)) = listener.accept() else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            conn.set_nonblocking(false).unwrap();
            conn.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            if !close {
                held.push(conn);
            }
        }
    });
    addr
}

fn dnsctl_at(addr: std::net::SocketAddr, args: &[&str]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "x\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dnsctl"))
        .args(["--node", &addr.to_string(), "--token-file", token.to_str().unwrap(), "--timeout", "1s"])
        .args(args)
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn issue_10_a_change_without_an_answer_may_have_been_applied() {
    let silent = silent_node(false);
    let (code, err) = dnsctl_at(silent, &["lists", "add", "x", "/etc/ravens/x.txt"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("may have been applied") && err.contains("`dnsctl lists`"), "{err}");
    let (code, err) = dnsctl_at(silent, &["records", "add", "a.lan", "A", "10.0.0.1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("may have been applied") && err.contains("`dnsctl records`"), "{err}");

    let closing = silent_node(true);
    let (code, err) = dnsctl_at(closing, &["block", "add", "ads.example"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("may have been applied") && err.contains("`dnsctl block list`"), "{err}");

    // A read, or a change that never left (nobody listening), is a plain failure.
    let (code, err) = dnsctl_at(silent, &["status"]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("may have been applied"), "{err}");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (code, err) = dnsctl_at(nobody, &["lists", "remove", "x"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot reach") && !err.contains("may have been applied"), "{err}");
}
