//! The statistics window survives a restart: a real ravensd answers queries, stops on
//! SIGTERM (saving `data_dir/stats.json`), starts again on the same data_dir and shows the
//! same numbers; a corrupt file is reported and the daemon starts with empty statistics.

mod common;

use std::time::{Duration, Instant};

use common::client::{query, udp};
use common::daemon::{Daemon, node_section};
use hickory_proto::rr::RecordType;

const LOCAL: &str = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nbuiltin_blocklist = true\n\n\
                     [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.168.1.10\"\n";

fn ask(d: &Daemon, name: &str, times: usize) {
    for _ in 0..times {
        udp(d.dns, &query(name, RecordType::A, None));
    }
}

/// `dnsctl --json stats --since WINDOW` parsed.
fn stats(d: &Daemon, since: &str) -> serde_json::Value {
    let (code, out, err) = d.dnsctl(&["--json", "stats", "--since", since]);
    assert_eq!(code, 0, "dnsctl stats failed: {err}");
    serde_json::from_str(&out).unwrap()
}

/// Polls the last hour's statistics until `done` holds (they are fed every 250 ms).
fn wait_stats(d: &Daemon, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let v = stats(d, "1h");
        if done(&v) || Instant::now() > end {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn statistics_survive_a_graceful_restart() {
    let mut d = Daemon::start(LOCAL);
    ask(&d, "nas.lan", 3);
    ask(&d, "ads.doubleclick.net", 2);
    ask(&d, "nothing.lan", 1);
    let before = wait_stats(&d, |v| v["sampled"] == 6);
    assert_eq!(before["queries"], 6, "{before}");
    assert_eq!(before["top_domains"][0], serde_json::json!({"name": "nas.lan", "count": 3}), "{before}");
    let day_before = stats(&d, "24h");

    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(0), "{}", d.log());
    let file = d.dir.path().join("data").join("stats.json");
    assert!(file.is_file(), "saved at shutdown: {}", d.log());
    let d = d.kill().restart();

    let after = stats(&d, "1h");
    for key in ["queries", "blocked", "sampled", "outcomes", "top_domains", "top_blocked", "top_clients"] {
        assert_eq!(after[key], before[key], "{key}: before {before}\nafter {after}");
    }
    assert_eq!(after["top_domains"][0]["name"], "nas.lan", "{after}");
    let day_after = stats(&d, "24h");
    assert_eq!(
        (&day_after["queries"], &day_after["top_domains"]),
        (&day_before["queries"], &day_before["top_domains"])
    );
    assert!(!d.log().contains("statistics not restored"), "{}", d.log());

    // New queries add to the restored numbers.
    ask(&d, "nas.lan", 1);
    let more = wait_stats(&d, |v| v["sampled"] == 7);
    assert_eq!(more["queries"], 7, "{more}");
    assert_eq!(more["top_domains"][0], serde_json::json!({"name": "nas.lan", "count": 4}), "{more}");
}

#[test]
fn a_corrupt_statistics_file_is_reported_and_the_daemon_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("stats.json"), "{\"version\":1,\"minutes\":[{\"start_ms\":").unwrap();
    let config_path = dir.path().join("ravens.toml");
    std::fs::write(&config_path, format!("{}{LOCAL}", node_section(dir.path(), "127.0.0.1"))).unwrap();
    let d = Daemon::start_with_file(dir, config_path);

    let log = d.log();
    let warning = log.lines().find(|l| l.contains("statistics not restored")).unwrap_or_else(|| panic!("{log}"));
    assert!(warning.contains("WARN") && warning.contains("stats.json"), "{warning}");
    assert_eq!(stats(&d, "24h")["queries"], 0);
    ask(&d, "nas.lan", 2);
    let s = wait_stats(&d, |v| v["sampled"] == 2);
    assert_eq!(s["queries"], 2, "{s}");
}
