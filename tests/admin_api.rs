//! The admin API on a real ravensd: `/api/v1/stats` and `dnsctl stats` (success, bad input,
//! token), `/metrics` parsed as Prometheus text with counters moving under real queries, the
//! anonymised query log, and the OpenAPI document against the endpoints that answer.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::client::{query, udp};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::rr::RecordType;

/// One HTTP/1.1 exchange: (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, token: Option<&str>, body: Option<&str>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token.map(|t| format!("Authorization: Bearer {t}\r\n")).unwrap_or_default();
    let body = body.unwrap_or("");
    let ctype = if body.is_empty() { "" } else { "Content-Type: application/json\r\n" };
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}{ctype}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out[9..12].parse().unwrap();
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // Chunked bodies (axum streams some): keep the JSON/text between the chunk sizes.
    let body =
        if out.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.into() };
    (code, body)
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = b.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        b = &rest[n + 2..];
    }
    out
}

fn token(d: &Daemon) -> String {
    std::fs::read_to_string(d.token_file()).unwrap().trim().to_string()
}

fn get_json(d: &Daemon, path: &str) -> serde_json::Value {
    let (code, body) = http(d.admin, "GET", path, Some(&token(d)), None);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// Polls `path` until `done` holds (the statistics are fed every 250 ms).
fn wait_json(d: &Daemon, path: &str, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let v = get_json(d, path);
        if done(&v) || Instant::now() > end {
            return v;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

const LOCAL: &str = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nbuiltin_blocklist = true\n\n\
                     [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.168.1.10\"\n";

fn ask(d: &Daemon, name: &str, t: RecordType, times: usize) {
    for _ in 0..times {
        udp(d.dns, &query(name, t, None));
    }
}

#[test]
fn stats_window_over_real_queries_and_its_errors() {
    let d = Daemon::start(LOCAL);
    ask(&d, "nas.lan", RecordType::A, 3);
    ask(&d, "ads.doubleclick.net", RecordType::A, 2);
    ask(&d, "nothing.lan", RecordType::A, 1);
    let s = wait_json(&d, "/api/v1/stats?since=1h", |v| v["sampled"] == 6);
    assert_eq!(s["queries"], 6, "{s}");
    assert_eq!(s["blocked"], 2, "{s}");
    assert_eq!(s["blocked_percent"], 33.33, "{s}");
    assert_eq!(s["nodes"], serde_json::json!(["test"]));
    assert_eq!(s["since_secs"], 3600);
    assert_eq!(s["top_domains"][0], serde_json::json!({"name": "nas.lan", "count": 3}), "{s}");
    assert_eq!(s["top_blocked"], serde_json::json!([{"name": "ads.doubleclick.net", "count": 2}]), "{s}");
    assert_eq!(s["top_clients"], serde_json::json!([{"name": "127.0.0.1", "count": 6}]), "{s}");
    assert_eq!(s["outcomes"]["local"], 4, "nas.lan and the NXDOMAIN of nothing.lan: {s}");
    let day = get_json(&d, "/api/v1/stats?since=24h&top=1");
    assert_eq!((day["queries"].as_u64(), day["top_domains"].as_array().unwrap().len()), (Some(6), 1), "{day}");
    assert_eq!(get_json(&d, "/api/v1/stats")["since_secs"], 86_400, "default window: a day");
    let counts = get_json(&d, "/api/v1/stats?since=1h&top=0");
    assert_eq!((counts["queries"].as_u64(), counts["top_domains"].as_array().unwrap().len()), (Some(6), 0), "{counts}");

    // Bad input: a clear 400, and the statistics are as they were.
    for bad in ["since=2d", "since=30s", "since=soon", "top=-1", "top=101", "top=many"] {
        let (code, body) = http(d.admin, "GET", &format!("/api/v1/stats?{bad}"), Some(&token(&d)), None);
        assert_eq!(code, 400, "{bad}: {body}");
        let err: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(!err["error"].as_str().unwrap().is_empty(), "{bad}: {body}");
    }
    assert_eq!(get_json(&d, "/api/v1/stats?since=1h")["queries"], 6);
    assert_eq!(http(d.admin, "GET", "/api/v1/stats", None, None).0, 401);
    assert_eq!(http(d.admin, "GET", "/api/v1/stats", Some("wrong"), None).0, 401);

    let (code, out, err) = d.dnsctl(&["stats", "--since", "1h"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("6 queries, 2 blocked (33.33%)") && out.contains("nas.lan"), "{out}");
    assert!(out.contains("TOP BLOCKED") && out.contains("ads.doubleclick.net"), "{out}");
    let (code, out, _) = d.dnsctl(&["--json", "stats", "--since", "1h", "--top", "1"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["top_domains"].as_array().unwrap().len(), 1);
    let (code, _, err) = d.dnsctl(&["stats", "--since", "3d"]);
    assert_eq!(code, 1);
    assert!(err.contains("outside 1m..24h"), "{err}");
}

#[test]
fn anonymised_log_file_and_statistics_mask_clients() {
    let files = tempfile::tempdir().unwrap();
    let log_file = files.path().join("queries.log");
    let extra = format!("query_log_anonymize = true\nquery_log_file = \"{}\"\n", log_file.display());
    let d = Daemon::start(&LOCAL.replace("builtin_blocklist = true\n", &format!("builtin_blocklist = true\n{extra}")));
    ask(&d, "nas.lan", RecordType::A, 2);
    ask(&d, "ads.doubleclick.net", RecordType::A, 1);
    let s = wait_json(&d, "/api/v1/stats?since=1h", |v| v["sampled"] == 3);
    assert_eq!(s["top_clients"], serde_json::json!([{"name": "127.0.0.0", "count": 3}]), "{s}");
    let log = get_json(&d, "/api/v1/log");
    let clients: Vec<&str> = log.as_array().unwrap().iter().map(|e| e["client"].as_str().unwrap()).collect();
    assert_eq!(clients, ["127.0.0.0"; 3], "{log}");
    assert_eq!(get_json(&d, "/api/v1/log?client=127.0.0.1").as_array().unwrap().len(), 3, "--client matches masked");
    let (code, out, err) = d.dnsctl(&["log"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("127.0.0.0") && !out.contains("127.0.0.1 "), "{out}");
    // The file: the same entries as JSON lines, masked, with the blocking list.
    let text = std::fs::read_to_string(&log_file).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines.iter().all(|l| l["client"] == "127.0.0.0"), "{text}");
    assert!(lines.iter().any(|l| l["name"] == "ads.doubleclick.net" && l["list"] == "builtin"), "{text}");
}

/// The value of one sample (`labels` must all match); 0 when absent.
fn sample(scrape: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(h) => h.iter().map(|b| b.count).fold(0.0, f64::max),
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
        .sum()
}

fn scrape(d: &Daemon) -> prometheus_parse::Scrape {
    let (code, body) = http(d.admin, "GET", "/metrics", None, None);
    assert_eq!(code, 200);
    let lines = body.lines().map(|l| Ok(l.to_string()));
    prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text")
}

#[test]
fn metrics_parse_and_move_with_traffic() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let url = up.udp_url();
    let d = Daemon::start(&LOCAL.replace("udp://127.0.0.1:9", &url));
    let before = scrape(&d);
    let name_count = |s: &prometheus_parse::Scrape| s.docs.len();
    assert!(name_count(&before) >= 25, "metric families documented: {:?}", before.docs.keys());
    ask(&d, "nas.lan", RecordType::A, 3);
    ask(&d, "nas.lan", RecordType::AAAA, 1);
    ask(&d, "ads.doubleclick.net", RecordType::A, 2);
    ask(&d, "a.test", RecordType::A, 2); // forwarded, then cached
    ask(&d, "a.test", RecordType::TXT, 1);
    wait_json(&d, "/api/v1/stats?since=1h", |v| v["sampled"] == 9);
    let after = scrape(&d);
    let moved =
        |metric: &str, labels: &[(&str, &str)]| sample(&after, metric, labels) - sample(&before, metric, labels);
    assert_eq!(moved("ravens_dns_queries_total", &[("outcome", "local")]), 4.0);
    assert_eq!(moved("ravens_dns_queries_total", &[("outcome", "blocked")]), 2.0);
    assert_eq!(moved("ravens_dns_queries_total", &[("outcome", "forwarded")]), 2.0, "a.test A and TXT");
    assert_eq!(moved("ravens_dns_queries_total", &[("outcome", "cached")]), 1.0);
    assert_eq!(moved("ravens_dns_queries_by_type_total", &[("qtype", "A")]), 7.0);
    assert_eq!(moved("ravens_dns_queries_by_type_total", &[("qtype", "AAAA")]), 1.0);
    assert_eq!(moved("ravens_dns_queries_by_type_total", &[("qtype", "TXT")]), 1.0);
    assert_eq!(moved("ravens_dns_queries_by_group_total", &[("group", "default")]), 9.0);
    assert_eq!(moved("ravens_dns_cache_hits_total", &[]), 1.0);
    assert!(sample(&after, "ravens_dns_cache_entries", &[]) >= 2.0);
    let up_label = [("upstream", url.as_str())];
    assert_eq!(sample(&after, "ravens_upstream_latency_seconds_count", &up_label), 2.0);
    assert!(sample(&after, "ravens_upstream_latency_seconds_sum", &up_label) > 0.0);
    let inf = after.samples.iter().find(|s| s.metric == "ravens_upstream_latency_seconds").expect("histogram");
    let prometheus_parse::Value::Histogram(buckets) = &inf.value else { panic!("{inf:?}") };
    assert_eq!(buckets.iter().map(|b| b.count).fold(0.0, f64::max), 2.0, "{buckets:?}");
    assert_eq!(sample(&after, "ravens_upstream_errors_total", &up_label), 0.0);
    assert!(
        sample(&after, "ravens_list_entries", &[("list", "builtin")]) > 0.0,
        "{:?}",
        after.samples.iter().filter(|s| s.metric == "ravens_list_entries").collect::<Vec<_>>()
    );
    assert_eq!(sample(&after, "ravens_config_last_reload_failed", &[]), 0.0);
    rt.block_on(up.stop());
}

#[test]
fn openapi_documents_every_endpoint_and_every_endpoint_exists() {
    let d = Daemon::start(LOCAL);
    let (code, body) = http(d.admin, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(code, 200, "served without a token: {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    let t = token(&d);
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        // Path parameters get harmless values: no such lease, no such list.
        let concrete = path.replace("{ip}", "192.0.2.1").replace("{name}", "no-such-list");
        for method in item.as_object().unwrap().keys() {
            let method = method.to_uppercase();
            let body = matches!(method.as_str(), "POST" | "PUT").then_some("{}");
            let (code, text) = http(d.admin, &method, &concrete, Some(&t), body);
            assert!(code != 405, "{method} {path}: method not routed ({text})");
            assert!(!(code == 404 && text.contains("no such endpoint")), "{method} {path}: documented but absent");
            assert!(code != 401, "{method} {path}: the token was refused");
            if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                let (code, text) = http(d.admin, &method, &concrete, None, body);
                assert_eq!(code, 401, "{method} {path} without a token: {text}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} operations documented");
    let (code, text) = http(d.admin, "GET", "/api/v1/nothing-here", Some(&t), None);
    assert_eq!((code, text.contains("no such endpoint")), (404, true), "the fallback is what the check looks for");
}
