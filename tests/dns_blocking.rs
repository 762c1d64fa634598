//! Blocklists through the real ravensd and dig: every list format and rule, per-group
//! verdicts by client address, response modes with EDE 15, CNAME cloaking, URL lists
//! (200 / 304 / 500 / unreachable), edits under load, pause and resume, and dnsctl query.

mod common;

use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::client::{self, dig, dig_status, query};
use common::daemon::Daemon;
use common::http::ListServer;
use common::upstream::TestUpstream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

const LIST: &str = "\
# hosts, plain, adblock, wildcard, regex, allow, and junk the parser must skip
0.0.0.0 ads.test
127.0.0.1 track1.test track2.test
:: v6ads.test
plain.test
||sub.test^
||important.test^$important
@@||ok.sub.test^
*.wild.test
/^rx[0-9]+\\.test$/
example.com/path/ads.js
##.banner
this is not a rule
b\u{fc}cher.test
";

fn setup(extra_dns: &str, extra: &str) -> (tokio::runtime::Runtime, TestUpstream, Daemon, tempfile::TempDir) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let lists = tempfile::tempdir().unwrap();
    std::fs::write(lists.path().join("ads.txt"), LIST).unwrap();
    std::fs::write(lists.path().join("malware.txt"), "malware.test\n").unwrap();
    std::fs::write(lists.path().join("allow.txt"), "track2.test\n").unwrap();
    let body = format!(
        r#"[dns]
upstreams = ["{up}"]
upstream_timeout = "1s"
{extra_dns}

[[group]]
name = "iot"
clients = ["127.0.0.3"]
lists = []

[[group]]
name = "guest"
clients = ["127.0.0.4/32"]
lists = ["malware"]

[[list]]
name = "ads"
path = "{d}/ads.txt"
groups = ["default"]

[[list]]
name = "malware"
path = "{d}/malware.txt"
groups = ["default", "guest"]

[[list]]
name = "allow"
path = "{d}/allow.txt"
kind = "allow"
groups = ["default"]
{extra}
"#,
        up = up.udp_url(),
        d = lists.path().display()
    );
    // The lists live in their own temp dir: allow it (node.list_dirs, issue 10 defect 8).
    let node_extra = format!("list_dirs = [\"{}\"]", lists.path().display());
    let d = Daemon::start_full("127.0.0.1", &node_extra, &body);
    (rt, up, d, lists)
}

fn a_from(d: &Daemon, from: &str, name: &str) -> Message {
    client::udp_from(d.dns, from, &query(name, RecordType::A, Some(1232))).expect("reply")
}

fn is_blocked(m: &Message) -> bool {
    m.answers.iter().any(|r| matches!(&r.data, RData::A(a) if a.0.is_unspecified()))
}

#[test]
fn every_format_and_rule() {
    let (rt, up, d, _l) = setup("", "");
    let _ = &rt;
    up.set_a("ok.sub.test", "192.0.2.7".parse().unwrap(), 60);
    let blocked = [
        "ads.test",
        "track1.test",
        "v6ads.test",
        "plain.test",
        "sub.test",
        "x.sub.test",
        "important.test",
        "wild.test",
        "a.wild.test",
        "deep.x.wild.test",
        "rx42.test",
        "malware.test",
        "xn--bcher-kva.test",
    ];
    for n in blocked {
        assert!(is_blocked(&a_from(&d, "127.0.0.1", &format!("{n}."))), "{n} should be blocked");
    }
    let allowed = [
        ("www.ads.test", "hosts lines match the exact name only"),
        ("x.plain.test", "plain lines match the exact name only"),
        ("track2.test", "the allowlist wins"),
        ("ok.sub.test", "@@ wins over ||x^"),
        ("rx.test", "regex does not match"),
        ("a.test", "not listed"),
    ];
    for (n, why) in allowed {
        let m = a_from(&d, "127.0.0.1", &format!("{n}."));
        assert!(!is_blocked(&m), "{n}: {why}");
    }
    let s = d.status();
    let ads = s["lists"].as_array().unwrap().iter().find(|l| l["name"] == "ads").unwrap().clone();
    assert!(ads["rejected"].as_u64().unwrap() >= 1, "{ads}");
    assert!(ads["entries"].as_u64().unwrap() >= 10, "{ads}");
    let (_, out, _) = d.dnsctl(&["lists"]);
    assert!(out.contains("rejected line") && out.contains("this is not a rule"), "{out}");
}

#[test]
fn per_group_verdicts() {
    let (_rt, _up, d, _l) = setup("", "");
    // default (127.0.0.1): ads and malware; iot (127.0.0.3): nothing; guest (127.0.0.4): malware only.
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "ads.test.")));
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "malware.test.")));
    assert!(!is_blocked(&a_from(&d, "127.0.0.3", "ads.test.")));
    assert!(!is_blocked(&a_from(&d, "127.0.0.3", "malware.test.")));
    assert!(!is_blocked(&a_from(&d, "127.0.0.4", "ads.test.")));
    assert!(is_blocked(&a_from(&d, "127.0.0.4", "malware.test.")));
    let (code, out, err) = d.dnsctl(&["query", "ads.test", "--client", "127.0.0.1"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("BLOCKED") && out.contains("list 'ads' line 2") && out.contains("0.0.0.0 ads.test"), "{out}");
    let (_, out, _) = d.dnsctl(&["query", "ads.test", "--client", "127.0.0.4"]);
    assert!(out.contains("group guest") && out.contains("NOT LISTED"), "{out}");
    let (_, out, _) = d.dnsctl(&["--json", "query", "ok.sub.test"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["verdict"], "allowed");
    assert_eq!(v["matches"].as_array().unwrap().len(), 2, "{v}");
}

#[test]
fn response_modes_and_ede() {
    for (mode, check) in
        [("null", "0.0.0.0"), ("nxdomain", "NXDOMAIN"), ("refused", "REFUSED"), ("192.0.2.99", "192.0.2.99")]
    {
        let (_rt, _up, d, _l) = setup(&format!("block_response = \"{mode}\"\nblock_ttl = \"42s\""), "");
        let out = dig(d.dns, &["ads.test", "A"]);
        assert!(out.contains(check), "{mode}: {out}");
        assert!(out.contains("EDE: 15 (Blocked)") && out.contains("(ads)"), "{mode}: {out}");
        if mode == "null" {
            assert!(out.contains("\t42\tIN\tA\t0.0.0.0"), "{out}");
            let out = dig(d.dns, &["ads.test", "AAAA"]);
            assert!(out.contains("\tAAAA\t::"), "{out}");
            let out = dig(d.dns, &["ads.test", "MX"]);
            assert_eq!(dig_status(&out), "NOERROR");
            assert!(out.contains("ANSWER: 0"), "other types get NODATA: {out}");
        }
    }
}

#[test]
fn cname_cloaking() {
    let (_rt, up, d, _l) = setup("", "");
    up.set_cname("cloaked.test", "x.sub.test", 300);
    up.set_a("x.sub.test", "192.0.2.50".parse().unwrap(), 300);
    for _ in 0..2 {
        // The second time the answer comes from the cache: still blocked.
        let m = a_from(&d, "127.0.0.1", "cloaked.test.");
        assert!(is_blocked(&m), "{m:?}");
    }
    let m = a_from(&d, "127.0.0.3", "cloaked.test.");
    assert!(!is_blocked(&m) && !m.answers.is_empty(), "iot is unfiltered");
}

#[test]
fn url_lists_200_304_500_and_offline_start() {
    let server = ListServer::start("||urlblocked.test^\n");
    let extra = format!(
        "\n[[list]]\nname = \"remote\"\nurl = \"{}\"\nrefresh = \"1m\"\ngroups = [\"default\"]\n",
        server.url()
    );
    let (_rt, _up, d, _l) = setup("", &extra);
    let wait_blocked = |name: &str, want: bool| {
        for _ in 0..100 {
            if is_blocked(&a_from(&d, "127.0.0.1", name)) == want {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    };
    assert!(wait_blocked("urlblocked.test.", true), "downloaded list applies");
    // `dnsctl lists refresh` asks again now instead of in a minute.
    assert_eq!(d.dnsctl(&["lists", "refresh"]).0, 0);
    for _ in 0..50 {
        if server.not_modified.load(Ordering::Relaxed) >= 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(server.not_modified.load(Ordering::Relaxed) >= 1, "refresh sent If-None-Match and got 304");
    server.set_body("v2", "||second.test^\n");
    d.dnsctl(&["lists", "refresh"]);
    assert!(wait_blocked("second.test.", true), "a changed list is picked up");
    server.status.store(500, Ordering::Relaxed);
    d.dnsctl(&["lists", "refresh"]);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "second.test.")), "500: previous copy kept");
    let s = d.status();
    let remote = s["lists"].as_array().unwrap().iter().find(|l| l["name"] == "remote").unwrap().clone();
    assert!(remote["last_error"].as_str().unwrap().contains("500"), "{remote}");
    // Restart with the server gone: the stored copy is used.
    let port = server.addr;
    drop(server);
    let _ = port;
    let d = d.kill_and_restart();
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "second.test.")), "offline start uses the stored copy");
}

#[test]
fn list_edit_under_load_fails_no_query() {
    let (_rt, _up, d, lists) = setup("", "");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, bad) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let t = {
        let (stop, ok, bad, server) = (stop.clone(), ok.clone(), bad.clone(), d.dns);
        std::thread::spawn(move || {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut buf = vec![0u8; 2048];
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) && i < 300_000 {
                let name = if i.is_multiple_of(2) { "ads.test." } else { "a.test." };
                sock.send_to(&query(name, RecordType::A, None).to_vec().unwrap(), server).unwrap();
                let good = sock
                    .recv_from(&mut buf)
                    .ok()
                    .and_then(|(n, _)| Message::from_vec(&buf[..n]).ok())
                    .is_some_and(|m| m.metadata.response_code == ResponseCode::NoError && !m.answers.is_empty());
                if good {
                    ok.fetch_add(1, Ordering::Relaxed)
                } else {
                    bad.fetch_add(1, Ordering::Relaxed)
                };
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(lists.path().join("ads.txt"), format!("{LIST}\nnewly.test\n")).unwrap();
    assert!(d.wait_log_count("lists compiled", 2, Duration::from_secs(10)), "{}", d.log());
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    t.join().unwrap();
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "newly.test.")));
    assert!(ok.load(Ordering::Relaxed) > 500);
    assert_eq!(bad.load(Ordering::Relaxed), 0, "no query failed while the lists were rebuilt");
}

#[test]
fn pause_and_automatic_resume() {
    let (_rt, _up, d, _l) = setup("", "");
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "ads.test.")));
    let (code, _, err) = d.dnsctl(&["pause", "--for", "2s"]);
    assert_eq!(code, 0, "{err}");
    let m = a_from(&d, "127.0.0.1", "ads.test.");
    assert!(!is_blocked(&m), "paused: {m:?}");
    assert!(d.status()["paused_secs"].as_u64().is_some());
    std::thread::sleep(Duration::from_millis(2300));
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "ads.test.")), "resumed by itself");
    // One group only.
    d.dnsctl(&["pause", "--group", "guest", "--for", "1h"]);
    assert!(!is_blocked(&a_from(&d, "127.0.0.4", "malware.test.")));
    assert!(is_blocked(&a_from(&d, "127.0.0.1", "malware.test.")));
    d.dnsctl(&["resume", "--group", "guest"]);
    assert!(is_blocked(&a_from(&d, "127.0.0.4", "malware.test.")));
    let (code, _, err) = d.dnsctl(&["pause", "--group", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("no group named 'nope'"), "{err}");
}

#[test]
fn query_log_records_verdict_and_list() {
    let (_rt, _up, d, _l) = setup("", "");
    a_from(&d, "127.0.0.1", "ads.test.");
    a_from(&d, "127.0.0.3", "ads.test.");
    a_from(&d, "127.0.0.1", "a.test.");
    let (code, out, err) = d.dnsctl(&["log", "--blocked"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ads.test") && out.contains("blocked (list ads)") && out.contains("127.0.0.1"), "{out}");
    assert!(!out.contains("a.test "), "{out}");
    let (_, json, _) = d.dnsctl(&["--json", "log", "--client", "127.0.0.3"]);
    let entries: Vec<serde_json::Value> = json.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 1, "{json}");
    assert_eq!(entries[0]["outcome"], "forwarded", "iot is not filtered: {json}");
    let (_, out, _) = d.dnsctl(&["log", "--name", "a.test"]);
    assert!(out.contains("a.test") && out.contains("forwarded"), "{out}");
}
