//! Answers a recursive service owes its clients whatever the upstream is (issue 15 part 5):
//! RA=1 and AA=0 on forwarded and cached answers even from an authoritative upstream (the
//! test upstream answers AA=1, RA=0), class CH answered locally and never forwarded (the
//! test upstream would tell its own identity), other classes NOTIMP, ANY minimal (RFC 8482).

mod common;

use common::client::{self, dig, dig_status, query};
use common::daemon::Daemon;
use common::upstream::{CH_IDENTITY, TestUpstream};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

fn upstream() -> (tokio::runtime::Runtime, TestUpstream) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    (rt, up)
}

fn start(up: &TestUpstream, extra: &str) -> Daemon {
    Daemon::start(&format!("[dns]\nupstreams = [\"{}\"]\n{extra}\n", up.udp_url()))
}

fn class_query(name: &str, qtype: RecordType, class: DNSClass) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    let mut q = Query::query(name.parse::<Name>().unwrap(), qtype);
    q.set_query_class(class);
    m.add_query(q);
    m
}

#[test]
fn forwarded_and_cached_answers_say_recursion_available_and_not_authoritative() {
    let (_rt, up) = upstream();
    let d = start(&up, "");
    for round in ["forwarded", "cached"] {
        let m = client::udp(d.dns, &query("a.test.", RecordType::A, Some(1232)));
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{round}");
        assert!(m.metadata.recursion_available, "{round}: RA=1 whatever the upstream said");
        assert!(!m.metadata.authoritative, "{round}: AA=0");
    }
    let m = client::udp(d.dns, &query("missing.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.metadata.recursion_available && !m.metadata.authoritative, "negative answers too");
    let out = dig(d.dns, &["a.test", "A"]);
    assert!(!out.contains("recursion requested but not available"), "{out}");
    assert!(out.contains(" ra;") || out.contains(" ra "), "dig shows ra: {out}");
}

#[test]
fn chaos_queries_are_refused_locally_and_never_forwarded() {
    let (_rt, up) = upstream();
    let d = start(&up, "");
    let before = up.queries().total();
    for name in ["version.bind.", "hostname.bind.", "id.server.", "version.server.", "a.test."] {
        let m = client::udp(d.dns, &class_query(name, RecordType::TXT, DNSClass::CH));
        assert_eq!(m.metadata.response_code, ResponseCode::Refused, "{name}: {m:?}");
        assert!(m.answers.is_empty(), "{name}: no upstream identity: {m:?}");
    }
    let out = dig(d.dns, &["version.bind", "CH", "TXT"]);
    assert_eq!(dig_status(&out), "REFUSED", "{out}");
    assert!(!out.contains(CH_IDENTITY), "{out}");
    assert_eq!(up.queries().total(), before, "no CH query reached the upstream");
}

#[test]
fn chaos_identity_names_the_node_and_hides_the_version() {
    let (_rt, up) = upstream();
    let d = start(&up, "chaos = \"identity\"");
    let out = dig(d.dns, &["id.server", "CH", "TXT"]);
    assert_eq!(dig_status(&out), "NOERROR", "{out}");
    assert!(out.contains("\"test\""), "the node's name (node.name = test): {out}");
    let m = client::udp(d.dns, &class_query("hostname.bind.", RecordType::TXT, DNSClass::CH));
    let RData::TXT(txt) = &m.answers[0].data else { panic!("{m:?}") };
    assert_eq!(txt.to_string(), "test");
    let out = dig(d.dns, &["version.bind", "CH", "TXT"]);
    assert_eq!(dig_status(&out), "REFUSED", "{out}");
    assert_eq!(up.queries().total(), 0, "nothing forwarded");
}

#[test]
fn other_classes_are_not_implemented_and_not_forwarded() {
    let (_rt, up) = upstream();
    let d = start(&up, "");
    for class in [DNSClass::HS, DNSClass::ANY] {
        let m = client::udp(d.dns, &class_query("a.test.", RecordType::A, class));
        assert_eq!(m.metadata.response_code, ResponseCode::NotImp, "{class:?}");
    }
    assert_eq!(up.queries().total(), 0);
}

#[test]
fn any_is_answered_with_one_synthesized_hinfo() {
    let (_rt, up) = upstream();
    let d = start(&up, "");
    let m = client::udp(d.dns, &query("multi.test.", RecordType::ANY, Some(1232)));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 1, "{m:?}");
    assert_eq!(m.answers[0].record_type(), RecordType::HINFO);
    let out = dig(d.dns, &["big.test", "ANY"]);
    assert!(out.contains("HINFO\t\"RFC8482\" \"\""), "{out}");
    assert_eq!(up.queries().total(), 0, "ANY is never forwarded");
    // Local names keep their own (small) answer.
    let out = dig(d.dns, &["ravens.lan", "ANY"]);
    assert_eq!(dig_status(&out), "NXDOMAIN", "no record configured here: local_domain answers: {out}");
}
