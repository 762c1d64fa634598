//! Self-test of the in-process test upstream (`tests/common/upstream.rs`): every transport,
//! the zone contents, truncation, the misbehaviour knobs; stop, several servers and the
//! background variant in `lifecycle.rs`.

#[path = "../common/mod.rs"]
mod common;
mod lifecycle;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use common::upstream::{Mode, QueryCounts, TLS_NAME, TestUpstream, Transport, client};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const T: Duration = Duration::from_secs(5);
const SHORT: Duration = Duration::from_millis(300);

async fn udp(up: &TestUpstream, name: &str, t: RecordType) -> Message {
    client::udp(up.udp, &client::query(name, t), T).await.unwrap()
}

fn a_addrs(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

fn soa_minimum(m: &Message) -> Option<(u32, u32)> {
    m.authorities.iter().find_map(|r| match &r.data {
        RData::SOA(s) => Some((r.ttl, s.minimum)),
        _ => None,
    })
}

#[tokio::test]
async fn zone_contents_over_udp() {
    let up = TestUpstream::start().await;

    let m = udp(&up, "a.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.metadata.authoritative);
    assert!(m.metadata.recursion_desired, "RD copied");
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(m.answers[0].ttl, 300);
    assert_eq!(m.queries[0].name().to_ascii(), "a.test.");

    let m = udp(&up, "multi.test", RecordType::A).await;
    let mut v = a_addrs(&m);
    v.sort();
    assert_eq!(v, vec![Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 3)]);

    let m = udp(&up, "v6.test", RecordType::AAAA).await;
    assert!(
        matches!(&m.answers[0].data, RData::AAAA(a) if a.0 == "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap())
    );

    let m = udp(&up, "txt.test", RecordType::TXT).await;
    assert!(matches!(&m.answers[0].data, RData::TXT(t) if t.to_string().contains("hello world")));

    let m = udp(&up, "mx.test", RecordType::MX).await;
    assert!(
        matches!(&m.answers[0].data, RData::MX(mx) if mx.preference == 10 && mx.exchange.to_ascii() == "mail.test.")
    );

    let m = udp(&up, "srv.test", RecordType::SRV).await;
    assert!(matches!(&m.answers[0].data, RData::SRV(s) if s.port == 5060 && s.target.to_ascii() == "a.test."));

    // CNAME: the chain in the answer
    let m = udp(&up, "cname.test", RecordType::A).await;
    assert_eq!(m.answers.len(), 2, "{m:?}");
    assert!(matches!(&m.answers[0].data, RData::CNAME(c) if c.0.to_ascii() == "a.test."));
    assert_eq!(m.answers[0].name.to_ascii(), "cname.test.");
    assert_eq!(m.answers[1].name.to_ascii(), "a.test.");
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    // asking for the CNAME itself gives just the CNAME
    let m = udp(&up, "cname.test", RecordType::CNAME).await;
    assert_eq!(m.answers.len(), 1);

    let m = udp(&up, "short.test", RecordType::A).await;
    assert_eq!(m.answers[0].ttl, 2);

    // load names
    let m = udp(&up, "h00000.test", RecordType::A).await;
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 0, 1)]);
    assert_eq!(m.answers[0].ttl, 86400);
    let m = udp(&up, "H09999.TEST", RecordType::A).await;
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(198, 18, 39, 250)]);
    assert_eq!(m.answers[0].name.to_ascii(), "H09999.TEST.", "owner case as asked");
    let m = udp(&up, "h10000.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);

    assert_eq!(up.queries(), QueryCounts { udp: 12, tcp: 0, dot: 0, doh: 0 });
    let log = up.received();
    assert_eq!(log.len(), 12);
    assert_eq!(log[0].name, "a.test.");
    assert_eq!(log[0].transport, Transport::Udp);
    up.reset_queries();
    assert_eq!(up.queries().total(), 0);
}

#[tokio::test]
async fn negative_answers() {
    let up = TestUpstream::start().await;

    let m = udp(&up, "nope.test", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    assert_eq!(soa_minimum(&m), Some((60, 60)));

    // NODATA: the name exists, not that type
    let m = udp(&up, "a.test", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(soa_minimum(&m), Some((60, 60)));

    // CNAME to a name without that type: chain + NODATA
    let m = udp(&up, "cname.test", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1);
    assert!(soa_minimum(&m).is_some());

    // apex SOA
    let m = udp(&up, "test", RecordType::SOA).await;
    assert!(matches!(&m.answers[0].data, RData::SOA(s) if s.minimum == 60));

    // not our zone
    let m = udp(&up, "example.com", RecordType::A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[tokio::test]
async fn udp_truncation_and_tcp_fallback() {
    let up = TestUpstream::start().await;
    assert_eq!(up.udp, up.tcp, "TCP fallback goes to the UDP address");

    // no EDNS: 512 bytes max
    let m = udp(&up, "big.test", RecordType::TXT).await;
    assert!(m.metadata.truncation, "TC set");
    assert!(m.answers.is_empty());
    assert_eq!(m.queries[0].name().to_ascii(), "big.test.");

    // EDNS 1232: still too big
    let m = client::udp(up.udp, &client::query_edns("big.test", RecordType::TXT, 1232), T).await.unwrap();
    assert!(m.metadata.truncation);
    assert!(m.edns.is_some(), "OPT echoed");

    // EDNS 4096: fits
    let m = client::udp(up.udp, &client::query_edns("big.test", RecordType::TXT, 4096), T).await.unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 24);

    // small answers are not truncated without EDNS
    assert!(!udp(&up, "a.test", RecordType::A).await.metadata.truncation);

    // TCP: the whole answer, over 1500 bytes
    let m = client::tcp(up.tcp, &client::query("big.test", RecordType::TXT), T).await.unwrap();
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 24);
    assert!(m.to_vec().unwrap().len() > 1500);
    assert_eq!(up.queries(), QueryCounts { udp: 4, tcp: 1, dot: 0, doh: 0 });
}

#[tokio::test]
async fn tcp_pipelined_queries() {
    let up = TestUpstream::start().await;
    let mut s = tokio::net::TcpStream::connect(up.tcp).await.unwrap();
    let mut ids = Vec::new();
    for n in ["a.test", "v6.test", "big.test"] {
        let q = client::query(n, RecordType::A);
        ids.push(q.metadata.id);
        let b = q.to_vec().unwrap();
        s.write_all(&(b.len() as u16).to_be_bytes()).await.unwrap();
        s.write_all(&b).await.unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..3 {
        let mut len = [0u8; 2];
        tokio::time::timeout(T, s.read_exact(&mut len)).await.unwrap().unwrap();
        let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut buf).await.unwrap();
        got.push(Message::from_vec(&buf).unwrap().metadata.id);
    }
    got.sort();
    ids.sort();
    assert_eq!(got, ids);
}

#[tokio::test]
async fn dot_and_doh() {
    let up = TestUpstream::start().await;
    let ca = std::fs::read_to_string(&up.ca_file).unwrap();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    let q = client::query("a.test", RecordType::A);
    // DoT, by name and by IP SAN
    let m = client::dot(up.dot, up.client_tls(&[]), TLS_NAME, &q, T).await.unwrap();
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    assert_eq!(m.metadata.id, q.metadata.id);
    let m = client::dot(up.dot, up.client_tls(&[b"dot"]), "127.0.0.1", &q, T).await.unwrap();
    assert_eq!(a_addrs(&m).len(), 1);
    // wrong name: certificate check fails
    assert!(client::dot(up.dot, up.client_tls(&[]), "other.test", &q, T).await.is_err());
    // DoT carries big answers whole
    let m = client::dot(up.dot, up.client_tls(&[]), TLS_NAME, &client::query("big.test", RecordType::TXT), T)
        .await
        .unwrap();
    assert_eq!(m.answers.len(), 24);

    // DoH POST and GET
    let h2 = up.client_tls(&[b"h2"]);
    let (st, m) = client::doh(up.doh, h2.clone(), TLS_NAME, &q, false, T).await.unwrap();
    assert_eq!(st, 200);
    assert_eq!(a_addrs(&m.unwrap()), vec![Ipv4Addr::new(192, 0, 2, 1)]);
    let (st, m) = client::doh(up.doh, h2.clone(), "127.0.0.1", &client::query("cname.test", RecordType::A), true, T)
        .await
        .unwrap();
    assert_eq!(st, 200);
    assert_eq!(m.unwrap().answers.len(), 2);
    let (st, m) =
        client::doh(up.doh, h2, TLS_NAME, &client::query("big.test", RecordType::TXT), true, T).await.unwrap();
    assert_eq!(st, 200);
    assert!(!m.as_ref().unwrap().metadata.truncation);
    assert_eq!(m.unwrap().answers.len(), 24);

    assert_eq!(up.queries(), QueryCounts { udp: 0, tcp: 0, dot: 3, doh: 3 });
    let log = up.received();
    assert_eq!(log.iter().filter(|r| r.transport == Transport::Doh).count(), 3);
}

async fn dig(args: &[String]) -> String {
    let out = tokio::time::timeout(T * 2, tokio::process::Command::new("dig").args(args).output())
        .await
        .expect("dig timed out")
        .expect("run dig");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn dig_over_every_transport() {
    if std::process::Command::new("dig").arg("-v").output().is_err() {
        eprintln!("dig not installed: skipped");
        return;
    }
    let up = TestUpstream::start().await;
    let ip = up.udp.ip().to_string();
    let ca = format!("+tls-ca={}", up.ca_file.display());
    let host = format!("+tls-hostname={TLS_NAME}");
    let base = |port: u16| {
        vec![format!("@{ip}"), "-p".into(), port.to_string(), "+short".into(), "+time=2".into(), "+tries=1".into()]
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        ([base(up.udp.port()), vec!["a.test".into()]].concat(), "udp"),
        ([base(up.tcp.port()), vec!["+tcp".into(), "a.test".into()]].concat(), "tcp"),
        ([base(up.dot.port()), vec!["+tls".into(), ca.clone(), host.clone(), "a.test".into()]].concat(), "dot"),
        ([base(up.doh.port()), vec!["+https".into(), ca.clone(), host.clone(), "a.test".into()]].concat(), "doh post"),
        (
            [base(up.doh.port()), vec!["+https-get".into(), ca.clone(), host.clone(), "a.test".into()]].concat(),
            "doh get",
        ),
    ];
    for (args, what) in cases {
        let out = dig(&args).await;
        assert_eq!(out.trim(), "192.0.2.1", "dig {what}: {args:?} -> {out}");
    }
    // dig retries over TCP on TC
    let out = dig(&[base(up.udp.port()), vec!["+noedns".into(), "big.test".into(), "TXT".into()]].concat()).await;
    assert_eq!(out.lines().count(), 24, "{out}");
    let c = up.queries();
    assert_eq!((c.udp, c.tcp, c.dot, c.doh), (2, 2, 1, 2), "{c:?}");
}

#[tokio::test]
async fn modes() {
    let up = TestUpstream::start().await;
    let q = client::query("a.test", RecordType::A);
    let h2 = up.client_tls(&[b"h2"]);

    up.set_mode(Mode::Servfail);
    assert_eq!(up.mode(), Mode::Servfail);
    let m = client::udp(up.udp, &q, T).await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
    let m = client::tcp(up.tcp, &q, T).await.unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);

    up.set_mode(Mode::WrongId);
    let m = client::udp(up.udp, &q, T).await.unwrap();
    assert_eq!(m.metadata.id, q.metadata.id.wrapping_add(1));
    assert_eq!(a_addrs(&m).len(), 1);
    let m = client::dot(up.dot, up.client_tls(&[]), TLS_NAME, &q, T).await.unwrap();
    assert_ne!(m.metadata.id, q.metadata.id);

    up.set_mode(Mode::WrongQuestion);
    let m = client::udp(up.udp, &q, T).await.unwrap();
    assert_eq!(m.metadata.id, q.metadata.id);
    assert_eq!(m.queries[0].name().to_ascii(), "wrong-question.test.");

    up.set_mode(Mode::Drop);
    up.reset_queries();
    assert!(client::udp(up.udp, &q, SHORT).await.is_err());
    assert!(client::tcp(up.tcp, &q, SHORT).await.is_err());
    assert!(client::dot(up.dot, up.client_tls(&[]), TLS_NAME, &q, SHORT).await.is_err());
    assert!(client::doh(up.doh, h2.clone(), TLS_NAME, &q, false, SHORT).await.is_err());
    assert_eq!(up.queries(), QueryCounts { udp: 1, tcp: 1, dot: 1, doh: 1 }, "dropped queries are counted");

    up.set_mode(Mode::Normal);
    up.set_delay(Duration::from_millis(200));
    for transport in ["udp", "tcp", "doh"] {
        let t0 = Instant::now();
        let m = match transport {
            "udp" => client::udp(up.udp, &q, T).await.unwrap(),
            "tcp" => client::tcp(up.tcp, &q, T).await.unwrap(),
            _ => client::doh(up.doh, h2.clone(), TLS_NAME, &q, false, T).await.unwrap().1.unwrap(),
        };
        assert!(t0.elapsed() >= Duration::from_millis(190), "{transport} delayed");
        assert_eq!(a_addrs(&m).len(), 1);
    }
    // a delay shorter than the client's timeout still answers; a longer one does not
    assert!(client::udp(up.udp, &q, Duration::from_millis(50)).await.is_err());
    up.set_delay(Duration::ZERO);
    assert_eq!(a_addrs(&client::udp(up.udp, &q, T).await.unwrap()).len(), 1);
}

#[tokio::test]
async fn runtime_records() {
    let up = TestUpstream::start().await;
    up.set_a("new.test", Ipv4Addr::new(192, 0, 2, 77), 5);
    let m = udp(&up, "new.test", RecordType::A).await;
    assert_eq!(a_addrs(&m), vec![Ipv4Addr::new(192, 0, 2, 77)]);
    assert_eq!(m.answers[0].ttl, 5);
    up.set_a("a.test", Ipv4Addr::new(192, 0, 2, 99), 10);
    assert_eq!(a_addrs(&udp(&up, "a.test", RecordType::A).await), vec![Ipv4Addr::new(192, 0, 2, 99)]);
    up.set_aaaa("new.test", "2001:db8::7".parse().unwrap(), 5);
    assert_eq!(udp(&up, "new.test", RecordType::AAAA).await.answers.len(), 1);
    up.set_cname("alias.test", "new.test", 30);
    assert_eq!(udp(&up, "alias.test", RecordType::A).await.answers.len(), 2);
    up.set_a("h00005.test", Ipv4Addr::new(10, 0, 0, 5), 1);
    assert_eq!(a_addrs(&udp(&up, "h00005.test", RecordType::A).await), vec![Ipv4Addr::new(10, 0, 0, 5)]);
    up.remove("new.test");
    assert_eq!(udp(&up, "new.test", RecordType::A).await.metadata.response_code, ResponseCode::NXDomain);
}
