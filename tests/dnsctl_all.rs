//! `dnsctl --all` and `--node NAME` against two real clustered ravensd on loopback: one
//! admin token for both (derived from the cluster secret), each node's admin address found
//! through gossip, status side by side, stats summed, logs interleaved by time, and a node
//! that stops answering reported while the other's answer is still shown.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::client::{query, udp};
use common::daemon::Daemon;
use hickory_proto::rr::RecordType;

const SITE: &str = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nbuiltin_blocklist = true\n\n\
                    [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.168.1.10\"\n";

/// Starts node `name` gossiping on `gossip` with `peer` as its peer.
fn node(name: &str, gossip: SocketAddr, peer: SocketAddr, secret: &Path) -> Daemon {
    common::daemon::cluster_node(name, "alltest", (gossip, peer), secret, "", SITE)
}

fn free(last: u8) -> SocketAddr {
    UdpSocket::bind((Ipv4Addr::new(127, 0, 0, last), 0)).unwrap().local_addr().unwrap()
}

/// dnsctl with a client config naming `d`'s real admin address and data_dir (the node's
/// own config says port 0).
fn dnsctl(d: &Daemon, args: &[&str]) -> (i32, String, String) {
    let client = d.dir.path().join("client.toml");
    let text = format!(
        "[node]\nname = \"client\"\ndata_dir = \"{}\"\nadmin_listen = \"{}\"\n",
        d.dir.path().join("data").display(),
        d.admin
    );
    std::fs::write(&client, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dnsctl")).arg("--config").arg(&client).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = dnsctl(d, args);
    assert_eq!(code, 0, "dnsctl {args:?}: {err}");
    out
}

/// Waits until `f` holds, for at most 15 s.
fn until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(15);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn all_and_node_name_across_a_real_pair() {
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let (ga, gb) = (free(21), free(22));
    let a = node("a", ga, gb, &secret);
    let b = node("b", gb, ga, &secret);
    let token = |d: &Daemon| std::fs::read_to_string(d.token_file()).unwrap();
    assert_eq!(token(&a), token(&b), "one admin token for the cluster");
    until("both admin addresses in both status blocks", || {
        [&a, &b].iter().all(|d| d.status()["cluster"]["admin"].as_object().is_some_and(|m| m.len() == 2))
    });
    assert_eq!(a.status()["cluster"]["admin"]["b"], b.admin.to_string());

    for _ in 0..2 {
        udp(a.dns, &query("nas.lan", RecordType::A, None));
    }
    for _ in 0..3 {
        udp(b.dns, &query("nas.lan", RecordType::A, None));
    }
    udp(b.dns, &query("ads.doubleclick.net", RecordType::A, None));
    let sampled = |d: &Daemon| {
        let v: serde_json::Value = serde_json::from_str(&ok(d, &["--json", "stats", "--since", "1h"])).unwrap();
        v["sampled"].as_u64().unwrap()
    };
    until("the statistics fed", || sampled(&a) == 2 && sampled(&b) == 4);

    // Stats summed over both nodes.
    let s: serde_json::Value = serde_json::from_str(&ok(&a, &["--all", "--json", "stats", "--since", "1h"])).unwrap();
    assert_eq!(s["nodes"], serde_json::json!(["a", "b"]), "{s}");
    assert_eq!((s["queries"].as_u64(), s["blocked"].as_u64()), (Some(6), Some(1)), "{s}");
    assert_eq!(s["top_domains"][0], serde_json::json!({"name": "nas.lan", "count": 5}), "{s}");
    let human = ok(&a, &["--all", "stats", "--since", "1h"]);
    assert!(human.contains("a + b over the last") && human.contains("6 queries, 1 blocked"), "{human}");

    // Status of both, side by side.
    let st: serde_json::Value = serde_json::from_str(&ok(&b, &["--all", "--json", "status"])).unwrap();
    let names: Vec<&str> = st.as_array().unwrap().iter().map(|s| s["node"].as_str().unwrap()).collect();
    assert_eq!(names, ["b", "a"], "the node asked first, then the others");
    let table = ok(&a, &["--all", "status"]);
    let row = table.lines().find(|l| l.starts_with("node ")).unwrap();
    assert!(row.contains(" a ") && row.trim_end().ends_with('b'), "{table}");
    assert!(table.lines().any(|l| l.starts_with("queries") && l.contains('2') && l.contains('4')), "{table}");

    // Logs interleaved by time, each line with its node.
    let log = ok(&a, &["--all", "--json", "log"]);
    let entries: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), 6, "{log}");
    assert!(entries.windows(2).all(|w| w[0]["time_ms"].as_u64() <= w[1]["time_ms"].as_u64()), "{log}");
    let from = |n: &str| entries.iter().filter(|e| e["node"] == n).count();
    assert_eq!((from("a"), from("b")), (2, 4), "{log}");
    assert!(
        ok(&a, &["--all", "log", "--blocked"])
            .lines()
            .any(|l| l.starts_with("b ") && l.contains("ads.doubleclick.net"))
    );

    // --node NAME picks a node by its name.
    let sb: serde_json::Value = serde_json::from_str(&ok(&a, &["--node", "b", "--json", "status"])).unwrap();
    assert_eq!(sb["node"], "b");
    let (code, _, err) = dnsctl(&a, &["--node", "nosuch", "status"]);
    assert_eq!(code, 1);
    assert!(err.contains("no node named 'nosuch'") && err.contains("a, b"), "{err}");
    let (code, _, err) = dnsctl(&a, &["--all", "pause"]);
    assert_eq!(code, 2, "--all with a command that does not merge is a usage error: {err}");

    // A node that stopped: the other's answer is shown, the failure named, exit 1.
    let _stopped = b.kill();
    let (code, out, err) = dnsctl(&a, &["--all", "--json", "stats", "--since", "1h"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("node b") && err.contains("cannot reach"), "{err}");
    let s: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!((s["nodes"].clone(), s["queries"].as_u64()), (serde_json::json!(["a"]), Some(2)), "{s}");
}
