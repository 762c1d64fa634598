//! ravensd as a process: config check, hot reload under load, a broken config that changes
//! nothing, the admin API and its token, dnsctl, metrics, and graceful shutdown.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::client::{self, query};
use common::daemon::{Daemon, node_section};
use common::upstream::TestUpstream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

fn config(upstream: &str, nas_ip: &str) -> String {
    format!(
        "[dns]\nupstreams = [\"{upstream}\"]\n\n[[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"{nas_ip}\"\n"
    )
}

fn rewrite(d: &Daemon, body: &str) {
    // Write a new file and rename it over the old one, as editors and config tools do.
    let tmp = d.config_path.with_extension("tmp");
    std::fs::write(&tmp, format!("{}{body}", node_section(d.dir.path(), "127.0.0.1"))).unwrap();
    std::fs::rename(&tmp, &d.config_path).unwrap();
}

fn nas_ip(d: &Daemon) -> String {
    let m = client::udp(d.dns, &query("nas.lan.", RecordType::A, None));
    match &m.answers[0].data {
        RData::A(a) => a.0.to_string(),
        other => panic!("{other:?}"),
    }
}

fn http_get(addr: SocketAddr, path: &str, token: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}

#[test]
fn check_config_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(&good, "[dns]\nupstreams = [\"udp://127.0.0.1:5300\"]\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--check-config").arg(&good).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[dns]\nupstreams = [\"udp://127.0.0.1:5300\"]\nmax_ttl = \"forever\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--check-config").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:3:11: dns.max_ttl:", bad.display())), "{err}");
}

#[test]
fn reload_under_load_fails_no_query() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start(&config(&up.udp_url(), "10.0.1.1"));
    assert_eq!(nas_ip(&d), "10.0.1.1");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let loops: Vec<_> = (0..3)
        .map(|t| {
            let (stop, ok, failed, server) = (stop.clone(), ok.clone(), failed.clone(), d.dns);
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
                let mut buf = vec![0u8; 4096];
                let mut i = 0u32;
                // Bounded: at most 200k queries or until told to stop.
                while !stop.load(Ordering::Relaxed) && i < 200_000 {
                    let name = if i.is_multiple_of(2) {
                        "nas.lan.".to_string()
                    } else {
                        format!("h{:05}.test.", (i + t) % 50)
                    };
                    let q = query(&name, RecordType::A, None).to_vec().unwrap();
                    sock.send_to(&q, server).unwrap();
                    let good =
                        sock.recv_from(&mut buf).ok().and_then(|(n, _)| Message::from_vec(&buf[..n]).ok()).is_some_and(
                            |m| m.metadata.response_code == ResponseCode::NoError && !m.answers.is_empty(),
                        );
                    if good {
                        ok.fetch_add(1, Ordering::Relaxed)
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed)
                    };
                    i += 1;
                }
            })
        })
        .collect();
    for (n, ip) in ["10.0.1.2", "10.0.1.3", "10.0.1.4", "10.0.1.5"].iter().enumerate() {
        std::thread::sleep(Duration::from_millis(400));
        rewrite(&d, &config(&up.udp_url(), ip));
        assert!(d.wait_log_count("config reloaded", n + 1, Duration::from_secs(5)), "{}", d.log());
    }
    std::thread::sleep(Duration::from_millis(300));
    d.signal("HUP");
    assert!(d.wait_log_count("config reloaded", 5, Duration::from_secs(5)));
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    for l in loops {
        l.join().unwrap();
    }
    assert_eq!(nas_ip(&d), "10.0.1.5");
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 1000, "the loop ran: {ok}");
    assert_eq!(failed, 0, "{failed} of {} queries failed during reloads", ok + failed);
}

#[test]
fn broken_config_keeps_the_last_good_one() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start(&config(&up.udp_url(), "10.0.1.1"));
    rewrite(
        &d,
        &format!(
            "{}\n[[record]]\nname = \"x.lan\"\ntype = \"A\"\nvalue = \"not-an-ip\"\n",
            config(&up.udp_url(), "10.0.9.9")
        ),
    );
    assert!(d.wait_log("config reload failed", Duration::from_secs(5)), "{}", d.log());
    assert_eq!(nas_ip(&d), "10.0.1.1", "old config still serving");
    let s = d.status();
    let err = s["config"]["last_error"].as_str().unwrap();
    assert!(err.contains("ravens.toml:18:9: record.value:"), "{err}");
    let (_, human, _) = d.dnsctl(&["status"]);
    assert!(human.contains("LAST RELOAD FAILED"), "{human}");
    rewrite(&d, "[dns]\nupstreams = [\"udp://127.0.0.1:1\"]\nthis is not toml");
    assert!(d.wait_log_count("config reload failed", 2, Duration::from_secs(5)));
    let err = d.status()["config"]["last_error"].as_str().unwrap().to_string();
    assert!(err.contains("ravens.toml:9:"), "{err}");
    rewrite(&d, &config(&up.udp_url(), "10.0.2.2"));
    assert!(d.wait_log("config reloaded", Duration::from_secs(5)));
    assert_eq!(nas_ip(&d), "10.0.2.2");
    assert!(d.status()["config"]["last_error"].is_null());
}

#[test]
fn admin_api_token_dnsctl_and_metrics() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start(&config(&up.udp_url(), "10.0.1.1"));
    let mode = std::fs::metadata(d.token_file()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = std::fs::read_to_string(d.token_file()).unwrap().trim().to_string();
    assert_eq!(http_get(d.admin, "/api/v1/status", None).0, 401);
    assert_eq!(http_get(d.admin, "/api/v1/status", Some("wrong")).0, 401);
    let (code, body) = http_get(d.admin, "/api/v1/status", Some(&token));
    assert_eq!(code, 200);
    let s: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s["node"], "test");
    for _ in 0..3 {
        client::udp(d.dns, &query("a.test.", RecordType::A, None));
    }
    let s = d.status();
    assert_eq!(s["upstreams"][0]["url"], up.udp_url());
    assert!(s["upstreams"][0]["healthy"].as_bool().unwrap());
    assert!(s["cache"]["hits"].as_u64().unwrap() >= 2);
    assert!(s["listeners"].as_array().unwrap().iter().any(|l| l.as_str().unwrap().contains(&d.dns.to_string())));
    let (code, human, _) = d.dnsctl(&["status"]);
    assert_eq!(code, 0);
    for want in ["node        test", "UPSTREAM", &up.udp_url(), "cache", "hits"] {
        assert!(human.contains(want), "missing {want:?} in:\n{human}");
    }
    // dnsctl with a wrong token: exit 1 and a message saying what failed.
    let bad = d.dir.path().join("bad.token");
    std::fs::write(&bad, "nope\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dnsctl"))
        .args(["--node", &d.admin.to_string(), "--token-file", bad.to_str().unwrap(), "status"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let out = Command::new(env!("CARGO_BIN_EXE_dnsctl")).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
    // Metrics: parse every sample line; the cached counter moved.
    let (code, metrics) = http_get(d.admin, "/metrics", None);
    assert_eq!(code, 200);
    let mut cached = None;
    for line in metrics.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("bad sample line {line:?}"));
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        if name == "ravens_dns_queries_total{outcome=\"cached\"}" {
            cached = Some(v);
        }
    }
    assert!(cached.unwrap() >= 2.0, "{metrics}");
}

#[test]
fn sigterm_shuts_down_gracefully() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let mut d = Daemon::start(&config(&up.udp_url(), "10.0.1.1"));
    client::udp(d.dns, &query("a.test.", RecordType::A, None));
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(5)), Some(0), "{}", d.log());
    assert!(d.log().contains("stopped"));
}

#[test]
fn gen_secret_writes_once_with_mode_0600() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cluster.key");
    let run = || Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--gen-secret").arg(&path).output().unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let first = std::fs::read(&path).unwrap();
    assert!(first.len() >= 32);
    let out = run();
    assert_eq!(out.status.code(), Some(1), "never overwrites an existing secret");
    assert_eq!(std::fs::read(&path).unwrap(), first);
}

#[test]
fn dnsctl_completions_and_man_page_need_no_node() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(env!("CARGO_BIN_EXE_dnsctl")).args(["completions", shell]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("leases"), "{shell} completion lists subcommands");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_dnsctl")).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(man.contains(".TH dnsctl 1") && man.contains("status"), "{man}");
}

/// `dnsctl ... | head`: a reader that closes the pipe early ends dnsctl quietly (no panic, no
/// backtrace, status 0).
#[test]
fn dnsctl_stops_quietly_when_its_reader_goes_away() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_dnsctl"))
        .args(["completions", "bash"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before dnsctl writes a byte
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
