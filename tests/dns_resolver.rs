//! The forwarding resolver end to end: the real ravensd binary, a real upstream the test
//! starts (UDP/TCP/DoT/DoH), queried by hickory messages over real sockets and by `dig`.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::client::{self, dig, dig_status, query};
use common::daemon::Daemon;
use common::upstream::{Mode, TestUpstream};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{RData, RecordType};

fn upstream() -> (tokio::runtime::Runtime, TestUpstream) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    (rt, up)
}

fn forwarding_to(urls: &[String], extra: &str) -> String {
    let list: Vec<String> = urls.iter().map(|u| format!("\"{u}\"")).collect();
    format!("[dns]\nupstreams = [{}]\n{extra}\n", list.join(", "))
}

#[test]
fn every_record_type_is_forwarded() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    for (name, t) in [
        ("a.test.", RecordType::A),
        ("v6.test.", RecordType::AAAA),
        ("mx.test.", RecordType::MX),
        ("txt.test.", RecordType::TXT),
        ("srv.test.", RecordType::SRV),
    ] {
        let m = client::udp(d.dns, &query(name, t, Some(1232)));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{name}");
        assert!(m.answers.iter().any(|r| r.record_type() == t), "{name} {t}: {m:?}");
        assert!(!m.metadata.authoritative, "forwarded answers are not authoritative");
    }
    let m = client::udp(d.dns, &query("cname.test.", RecordType::A, None));
    let types: Vec<_> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::A]);
    let out = dig(d.dns, &["multi.test", "A"]);
    assert_eq!(dig_status(&out), "NOERROR");
    assert_eq!(out.matches("\tA\t").count(), 2, "{out}");
}

#[test]
fn nxdomain_and_nodata_carry_the_soa_and_are_cached() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    let m = client::udp(d.dns, &query("missing.test.", RecordType::A, Some(1232)));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    let before = up.queries().total();
    let m = client::udp(d.dns, &query("MISSING.test.", RecordType::A, Some(1232)));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(up.queries().total(), before, "the negative answer came from the cache");
    let m = client::udp(d.dns, &query("txt.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty() && m.authorities.len() == 1, "NODATA with SOA: {m:?}");
}

#[test]
fn truncated_over_udp_then_complete_over_tcp() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    // The upstream itself truncates big.test over UDP: ravensd must retry over TCP.
    let m = client::udp(d.dns, &query("big.test.", RecordType::TXT, None));
    assert!(m.metadata.truncation, "512-byte client gets TC=1");
    assert!(m.answers.is_empty());
    assert!(up.queries().tcp >= 1, "ravensd retried upstream over TCP");
    let m = client::tcp(d.dns, &query("big.test.", RecordType::TXT, None));
    assert!(!m.metadata.truncation);
    assert!(!m.answers.is_empty());
    let out = dig(d.dns, &["+tcp", "big.test", "TXT"]);
    assert!(out.contains("ANSWER: 1") || out.contains("ANSWER: "), "{out}");
}

#[test]
fn edns_sizes_are_honoured() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    // Warm the cache over TCP so the UDP answers below come from it.
    client::tcp(d.dns, &query("big.test.", RecordType::TXT, Some(4096)));
    for (size, want_tc) in [(512u16, true), (1232, true), (4096, false)] {
        let m = client::udp(d.dns, &query("big.test.", RecordType::TXT, Some(size)));
        let e = m.edns.as_ref().expect("OPT in reply to an EDNS query");
        assert_eq!(e.max_payload(), 1232, "we advertise our own size");
        // big.test is > 1500 bytes; we never send more than 1232 over UDP.
        assert_eq!(m.metadata.truncation, want_tc || size > 1232, "size {size}");
    }
    let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert!(m.edns.is_none(), "no OPT in reply to a plain query");
}

#[test]
fn cache_hit_has_a_decremented_ttl() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    let first = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(first.answers[0].ttl, 300);
    let n = up.queries().total();
    std::thread::sleep(Duration::from_millis(2100));
    let second = client::udp(d.dns, &query("A.Test.", RecordType::A, None));
    assert!(second.answers[0].ttl <= 298, "ttl {}", second.answers[0].ttl);
    assert_eq!(up.queries().total(), n, "served from cache");
    let out = dig(d.dns, &["A.Test", "A", "+noedns"]);
    assert!(out.contains(";A.Test.\t"), "question case echoed: {out}");
}

#[test]
fn serve_stale_when_the_upstream_is_gone() {
    let (rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], "upstream_timeout = \"500ms\""));
    let m = client::udp(d.dns, &query("short.test.", RecordType::A, None));
    assert_eq!(m.answers[0].ttl, 2);
    rt.block_on(up.stop());
    std::thread::sleep(Duration::from_millis(2500));
    let m = client::udp(d.dns, &query("short.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers[0].ttl, 30, "stale answers carry TTL 30 (RFC 8767)");
    let m = client::udp(d.dns, &query("never-seen.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
}

#[test]
fn fails_over_when_an_upstream_is_killed() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let first = rt.block_on(TestUpstream::start_at("127.0.0.11".parse().unwrap()));
    let second = rt.block_on(TestUpstream::start_at("127.0.0.12".parse().unwrap()));
    for strategy in ["strict", "parallel_best"] {
        let extra = format!("upstream_strategy = \"{strategy}\"\nupstream_timeout = \"2s\"");
        let d = Daemon::start(&forwarding_to(&[first.udp_url(), second.udp_url()], &extra));
        let m = client::udp(d.dns, &query(&format!("h00001.{strategy}.test."), RecordType::A, None));
        assert!(
            m.metadata.response_code == ResponseCode::NXDomain || m.metadata.response_code == ResponseCode::NoError
        );
        drop(d);
    }
    rt.block_on(first.stop());
    for strategy in ["strict", "parallel_best"] {
        let extra = format!("upstream_strategy = \"{strategy}\"\nupstream_timeout = \"2s\"");
        let d = Daemon::start(&forwarding_to(&[first.udp_url(), second.udp_url()], &extra));
        for i in 0..5 {
            let t = Instant::now();
            let m = client::udp(d.dns, &query(&format!("h0000{i}.test."), RecordType::A, None));
            assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{strategy} query {i}");
            assert!(t.elapsed() < Duration::from_secs(3));
        }
        let s = d.status();
        let ups = s["upstreams"].as_array().unwrap();
        assert!(ups[0]["errors"].as_u64().unwrap() >= 1, "{strategy}: the dead upstream was tried: {s}");
    }
}

#[test]
fn dot_and_doh_upstreams() {
    let (_rt, up) = upstream();
    for url in [up.tls_url(), up.https_url(), up.https_url_named()] {
        let extra = format!("upstream_ca_file = \"{}\"", up.ca_file.display());
        let d = Daemon::start(&forwarding_to(std::slice::from_ref(&url), &extra));
        let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{url}: {}", d.log());
        assert!(matches!(&m.answers[0].data, RData::A(a) if a.0 == Ipv4Addr::new(192, 0, 2, 1)));
    }
    let q = up.queries();
    assert!(q.dot >= 1 && q.doh >= 2, "{q:?}");
}

#[test]
fn untrusted_certificate_is_refused() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.tls_url()], "upstream_timeout = \"1s\""));
    let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "no CA file: the test CA is not trusted");
}

#[test]
fn all_upstreams_failing_gives_servfail_within_the_timeout() {
    let (_rt, up) = upstream();
    up.set_mode(Mode::Drop);
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], "upstream_timeout = \"700ms\""));
    let t = Instant::now();
    let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(t.elapsed() < Duration::from_millis(1500), "{:?}", t.elapsed());
}

#[test]
fn replies_that_do_not_match_are_dropped() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], "upstream_timeout = \"700ms\""));
    for mode in [Mode::WrongId, Mode::WrongQuestion] {
        up.set_mode(mode);
        let m = client::udp(d.dns, &query(&format!("a{mode:?}.test."), RecordType::A, None));
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{mode:?} must not be accepted");
    }
}

#[test]
fn local_zone_and_private_reverse_never_forwarded() {
    let (_rt, up) = upstream();
    let records = "[[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.0.1.10\"\n[[record]]\nname = \"www.lan\"\ntype = \"CNAME\"\nvalue = \"nas.lan\"\n";
    let d = Daemon::start(&format!("{}{records}", forwarding_to(&[up.udp_url()], "")));
    let out = dig(d.dns, &["nas.lan", "A"]);
    assert!(out.contains("10.0.1.10") && out.contains(" aa"), "{out}");
    assert!(dig(d.dns, &["-x", "10.0.1.10"]).contains("nas.lan."));
    assert!(dig(d.dns, &["www.lan"]).contains("CNAME"));
    assert_eq!(dig_status(&dig(d.dns, &["nothere.lan"])), "NXDOMAIN");
    assert_eq!(dig_status(&dig(d.dns, &["-x", "192.168.7.7"])), "NXDOMAIN");
    assert_eq!(dig_status(&dig(d.dns, &["-x", "172.20.1.1"])), "NXDOMAIN");
    assert_eq!(up.queries().total(), 0, "nothing local leaked upstream: {:?}", up.received());
}

#[test]
fn sources_outside_serve_networks_are_refused() {
    let (_rt, up) = upstream();
    let d = Daemon::start_on("0.0.0.0", &forwarding_to(&[up.udp_url()], "serve_networks = [\"127.0.0.2/32\"]"));
    let server: std::net::SocketAddr = format!("127.0.0.1:{}", d.dns.port()).parse().unwrap();
    let m = client::udp_from(server, "127.0.0.3", &query("a.test.", RecordType::A, None)).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    let m = client::udp_from(server, "127.0.0.2", &query("a.test.", RecordType::A, None)).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn upstream_queries_use_random_ids_and_ports() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], ""));
    for i in 0..20 {
        let mut q = query(&format!("h{i:05}.test."), RecordType::A, None);
        q.metadata.id = 4242;
        client::udp(d.dns, &q);
    }
    let ids: std::collections::HashSet<u16> = up.received().iter().map(|r| r.id).collect();
    assert!(ids.len() >= 18, "IDs are random per query, not the client's: {ids:?}");
    assert!(!ids.contains(&4242) || ids.len() > 1);
}

#[test]
fn a_failing_upstream_backs_off_and_is_reprobed() {
    let (_rt, up) = upstream();
    let d = Daemon::start(&forwarding_to(&[up.udp_url()], "upstream_timeout = \"300ms\"\nserve_stale = false"));
    up.set_mode(Mode::Servfail);
    for i in 0..4 {
        let m = client::udp(d.dns, &query(&format!("x{i}.test."), RecordType::A, None));
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }
    assert_eq!(d.status()["upstreams"][0]["healthy"], false, "down after repeated failures");
    up.set_mode(Mode::Normal);
    let mut healthy = false;
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(100));
        if d.status()["upstreams"][0]["healthy"] == true {
            healthy = true;
            break;
        }
    }
    assert!(healthy, "the prober brought it back: {}", d.status());
    let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}
