//! Per-client rate limits end to end (issue 15 part 3): loopback sources 127.0.0.x are
//! different clients (`client::udp_from`), so one can be limited while another is served.
//! Limited queries are counted per client (status, dnsctl status, metrics). The limits are
//! small (1 query per second, a bucket of 3) so that the few queries a test sends in well
//! under a second are enough, on any machine, to empty a bucket.

mod common;

use std::process::Command;
use std::time::Duration;

use common::client::{self, dig, dig_status, query};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

fn start(action: &str) -> (tokio::runtime::Runtime, TestUpstream, Daemon) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start(&format!(
        "[dns]\nupstreams = [\"{}\"]\nrate_limit = \"1/s\"\nrate_limit_burst = 3\nrate_limit_action = \"{action}\"\nrate_limit_exempt = [\"127.0.0.3/32\"]\n",
        up.udp_url()
    ));
    (rt, up, d)
}

/// The rcode `from` gets for a.test, or `None` when nothing came back.
fn ask(d: &Daemon, from: &str) -> Option<ResponseCode> {
    client::udp_from(d.dns, from, &query("a.test.", RecordType::A, None)).map(|m| m.metadata.response_code)
}

#[test]
fn a_client_over_the_limit_is_refused_while_others_are_served_and_counted() {
    let (_rt, _up, d) = start("refused");
    let answers: Vec<_> = (0..8).map(|_| ask(&d, "127.0.0.2")).collect();
    assert!(answers[..3].iter().all(|a| *a == Some(ResponseCode::NoError)), "the bucket of 3: {answers:?}");
    let limited = answers.iter().filter(|a| **a == Some(ResponseCode::Refused)).count();
    assert!(limited >= 4, "at most one token refilled meanwhile: {answers:?}");
    assert_eq!(ask(&d, "127.0.0.4"), Some(ResponseCode::NoError), "another client, the same second");
    let out = dig(d.dns, &["-b", "127.0.0.2", "a.test", "A"]);
    assert_eq!(dig_status(&out), "REFUSED", "{out}");
    for _ in 0..20 {
        assert_eq!(ask(&d, "127.0.0.3"), Some(ResponseCode::NoError), "exempt networks are never limited");
    }
    // Counted: the status counter, the metrics, the query log, one log line for the client.
    let s = d.status();
    assert!(s["queries"]["limited"].as_u64().unwrap() >= 5, "{}", s["queries"]);
    let metrics = Command::new("curl").arg("-s").arg(format!("http://{}/metrics", d.admin)).output().unwrap();
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    let line = metrics.lines().find(|l| l.starts_with("ravens_dns_queries_total{outcome=\"limited\"}"));
    let n: f64 = line.and_then(|l| l.split(' ').nth(1)).unwrap_or("0").parse().unwrap();
    assert!(n >= 5.0, "{line:?}");
    // Per client: the status, dnsctl status and the metrics name the limited client alone.
    let top = s["limited_clients"].as_array().expect("limited_clients in the status");
    assert_eq!((top.len(), &top[0]["client"]), (1, &serde_json::json!("127.0.0.2/32")), "{s}");
    assert!(top[0]["limited"].as_u64().unwrap() >= 5, "{s}");
    let (_, text, _) = d.dnsctl(&["status"]);
    assert!(text.contains("limited     lately, most first: 127.0.0.2/32 "), "{text}");
    assert!(metrics.contains("ravens_dns_limited_client_queries{client=\"127.0.0.2/32\"}"), "{metrics}");
    let (_, json, _) = d.dnsctl(&["--json", "log", "--client", "127.0.0.2"]);
    assert!(json.contains("\"outcome\":\"limited\""), "{json}");
    assert!(d.wait_log("client over dns.rate_limit", Duration::from_secs(5)));
    assert_eq!(d.log().matches("client over dns.rate_limit").count(), 1, "once per client per minute");
    // The bucket refills at 1/s: two seconds later the client is served again.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(ask(&d, "127.0.0.2"), Some(ResponseCode::NoError), "served again after the refill");
}

#[test]
fn drop_sends_nothing_to_a_client_over_the_limit() {
    let (_rt, _up, d) = start("drop");
    // Eight queries at once from one socket, then every reply that comes within 2 s.
    let s = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    for id in 0..8u16 {
        let mut m = query("a.test.", RecordType::A, None);
        m.metadata.id = id;
        s.send_to(&m.to_vec().unwrap(), d.dns).unwrap();
    }
    let mut buf = [0u8; 512];
    let mut replies = 0;
    while s.recv_from(&mut buf).is_ok() {
        replies += 1;
    }
    assert!(
        (3..=4).contains(&replies),
        "the bucket of 3 (and at most one refill) answered, the rest dropped: {replies}"
    );
    assert_eq!(ask(&d, "127.0.0.4"), Some(ResponseCode::NoError), "another client is served");
}
