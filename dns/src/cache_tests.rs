use std::net::Ipv4Addr;
use std::str::FromStr;

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn policy() -> CachePolicy {
    CachePolicy {
        max_bytes: 1 << 20,
        min_ttl: 0,
        max_ttl: 86_400,
        max_negative_ttl: 3600,
        stale_max_age: Duration::from_secs(3600),
        prefetch: true,
    }
}

fn answer(name: &str, ttl: u32, with_opt: bool) -> Vec<u8> {
    let n = Name::from_str(name).unwrap();
    let mut m = Message::response(7, OpCode::Query);
    m.add_query(Query::query(n.clone(), RecordType::A));
    m.add_answer(Record::from_rdata(n, ttl, RData::A(A(Ipv4Addr::new(192, 0, 2, 1)))));
    if with_opt {
        m.set_edns(Edns::new());
    }
    m.to_vec().unwrap()
}

fn nxdomain(name: &str, soa_ttl: u32, minimum: u32) -> Vec<u8> {
    let n = Name::from_str(name).unwrap();
    let mut m = Message::error_msg(7, OpCode::Query, ResponseCode::NXDomain);
    m.add_query(Query::query(n, RecordType::A));
    let soa = SOA::new(Name::from_str("test.").unwrap(), Name::from_str("h.test.").unwrap(), 1, 60, 60, 600, minimum);
    m.add_authority(Record::from_rdata(Name::from_str("test.").unwrap(), soa_ttl, RData::SOA(soa)));
    m.to_vec().unwrap()
}

fn key(name: &str) -> Vec<u8> {
    key_in(name, 0)
}

fn key_in(name: &str, set: u16) -> Vec<u8> {
    let mut buf = [0u8; KEY_MAX];
    let n = make_key(&mut buf, &crate::wire::name_from_text(name).unwrap(), 1, 1, false, false, set);
    buf[..n].to_vec()
}

fn ttl_of(wire: &[u8]) -> u32 {
    let m = Message::from_vec(wire).unwrap();
    m.answers.first().or(m.authorities.first()).unwrap().ttl
}

#[test]
fn hit_decrements_ttl_and_strips_opt() {
    let c = Cache::new(policy());
    let t0 = Instant::now();
    assert!(c.insert(&key("a.test"), &answer("a.test.", 300, true), t0));
    let mut out = Vec::new();
    assert_eq!(
        c.get(&key("a.test"), t0 + Duration::from_secs(100), false, &mut out),
        Some(Hit::Fresh { prefetch: false })
    );
    let m = Message::from_vec(&out).unwrap();
    assert_eq!(m.answers[0].ttl, 200);
    assert!(m.edns.is_none(), "OPT is hop-by-hop and must not be stored");
    assert_eq!(m.metadata.id, 0);
    assert_eq!(c.get(&key("b.test"), t0, false, &mut out), None);
    assert_eq!(c.stats.hits.load(Ordering::Relaxed), 1);
    assert_eq!(c.stats.misses.load(Ordering::Relaxed), 1);
}

#[test]
fn ttl_clamps_apply() {
    let c = Cache::new(CachePolicy { min_ttl: 60, max_ttl: 120, ..policy() });
    let t0 = Instant::now();
    let mut out = Vec::new();
    c.insert(&key("lo.test"), &answer("lo.test.", 5, false), t0);
    c.get(&key("lo.test"), t0, false, &mut out).unwrap();
    assert_eq!(ttl_of(&out), 60);
    c.insert(&key("hi.test"), &answer("hi.test.", 9999, false), t0);
    c.get(&key("hi.test"), t0, false, &mut out).unwrap();
    assert_eq!(ttl_of(&out), 120);
}

#[test]
fn negative_answers_use_soa_minimum() {
    let c = Cache::new(policy());
    let t0 = Instant::now();
    assert!(c.insert(&key("nx.test"), &nxdomain("nx.test.", 300, 60), t0));
    let mut out = Vec::new();
    assert!(c.get(&key("nx.test"), t0 + Duration::from_secs(59), false, &mut out).is_some());
    assert_eq!(Message::from_vec(&out).unwrap().metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(c.get(&key("nx.test"), t0 + Duration::from_secs(61), false, &mut out), None);
}

#[test]
fn negative_without_soa_is_not_cached() {
    let c = Cache::new(policy());
    let n = Name::from_str("x.test.").unwrap();
    let mut m = Message::error_msg(7, OpCode::Query, ResponseCode::NXDomain);
    m.add_query(Query::query(n, RecordType::A));
    assert!(!c.insert(&key("x.test"), &m.to_vec().unwrap(), Instant::now()));
}

#[test]
fn servfail_and_truncated_are_not_cached() {
    let c = Cache::new(policy());
    let mut sf = answer("a.test.", 300, false);
    sf[3] |= 2;
    assert!(!c.insert(&key("a.test"), &sf, Instant::now()));
    let mut tc = answer("a.test.", 300, false);
    tc[2] |= 2;
    assert!(!c.insert(&key("a.test"), &tc, Instant::now()));
}

#[test]
fn stale_served_only_when_asked_and_within_window() {
    let c = Cache::new(CachePolicy { stale_max_age: Duration::from_secs(100), ..policy() });
    let t0 = Instant::now();
    c.insert(&key("s.test"), &answer("s.test.", 10, false), t0);
    let mut out = Vec::new();
    let later = t0 + Duration::from_secs(50);
    assert_eq!(c.get(&key("s.test"), later, false, &mut out), None);
    assert_eq!(c.get(&key("s.test"), later, true, &mut out), Some(Hit::Stale));
    assert_eq!(ttl_of(&out), STALE_TTL);
    assert_eq!(c.get(&key("s.test"), t0 + Duration::from_secs(200), true, &mut out), None);
    assert!(c.is_empty(), "entries past the stale window are dropped");
}

#[test]
fn prefetch_is_requested_once_for_popular_entries() {
    let c = Cache::new(policy());
    let t0 = Instant::now();
    c.insert(&key("p.test"), &answer("p.test.", 100, false), t0);
    let mut out = Vec::new();
    let near = t0 + Duration::from_secs(95);
    assert_eq!(c.get(&key("p.test"), t0, false, &mut out), Some(Hit::Fresh { prefetch: false }));
    assert_eq!(c.get(&key("p.test"), near, false, &mut out), Some(Hit::Fresh { prefetch: true }));
    assert_eq!(c.get(&key("p.test"), near, false, &mut out), Some(Hit::Fresh { prefetch: false }));
}

#[test]
fn bounded_by_bytes_with_eviction() {
    let c = Cache::new(CachePolicy { max_bytes: 64 * 1024, ..policy() });
    let t0 = Instant::now();
    for i in 0..5000 {
        let name = format!("n{i}.test");
        c.insert(&key(&name), &answer(&format!("{name}."), 300, false), t0);
    }
    let (entries, bytes) = c.usage();
    assert!(bytes <= 64 * 1024 + 16 * 512, "{bytes}");
    assert!(entries > 100 && entries < 5000, "{entries}");
    assert!(c.stats.evictions.load(Ordering::Relaxed) > 0);
}

#[test]
fn garbage_is_not_cached_and_does_not_panic() {
    let c = Cache::new(policy());
    let good = answer("a.test.", 300, true);
    for cut in 0..good.len() {
        c.insert(&key("a.test"), &good[..cut], Instant::now());
    }
    let mut lying = good.clone();
    lying[7] = 200;
    assert!(!c.insert(&key("a.test"), &lying, Instant::now()));
}

/// Regression (fuzz target dns_cache): section counts summing past u16 overflowed.
#[test]
fn huge_section_counts_do_not_overflow() {
    let c = Cache::new(policy());
    let mut msg = vec![0x01, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x4d, 0x0d, 0x7a];
    assert!(!c.insert(&key("x.test"), &msg, Instant::now()));
    msg[6..12].copy_from_slice(&[0xff; 6]);
    assert!(!c.insert(&key("x.test"), &msg, Instant::now()));
}

#[test]
fn entry_stays_small() {
    // A cold hit waits on the table bucket (u64 key + Entry): keep it within 56 bytes, i.e.
    // at most two cache lines, with the variable bytes in one separate block.
    assert!(std::mem::size_of::<super::Entry>() <= 48, "{}", std::mem::size_of::<super::Entry>());
}

/// Regression (fuzz target dns_cache): an answer larger than one shard's share of the cache
/// was reported as cached and evicted at once, after evicting everything else in its shard.
/// It is now refused and the shard keeps what it had.
#[test]
fn an_answer_larger_than_a_shard_is_refused_and_evicts_nothing() {
    let c = Cache::new(CachePolicy { max_bytes: 1 << 16, ..policy() });
    let now = Instant::now();
    let small = answer("small.test.", 300, false);
    assert!(c.insert(&key("small.test."), &small, now));
    let n = Name::from_str("big.test.").unwrap();
    let mut m = Message::response(7, OpCode::Query);
    m.add_query(Query::query(n.clone(), RecordType::TXT));
    let text = vec!["x".repeat(250); 20];
    m.add_answer(Record::from_rdata(n, 300, RData::TXT(hickory_proto::rr::rdata::TXT::new(text))));
    let big = m.to_vec().unwrap();
    assert!(big.len() > 4096, "{}", big.len());
    assert!(!c.insert(&key("big.test."), &big, now), "refused: larger than a shard's 4 KiB");
    let mut out = Vec::new();
    assert!(c.get(&key("small.test."), now, false, &mut out).is_some(), "nothing evicted");
    assert_eq!(c.stats.evictions.load(Ordering::Relaxed), 0);
    // With room for it, the same answer is cached.
    let roomy = Cache::new(policy());
    assert!(roomy.insert(&key("big.test."), &big, now));
}

#[test]
fn upstream_sets_never_share_an_entry() {
    let c = Cache::new(policy());
    let now = Instant::now();
    assert_eq!(key_in("a.test", 0), key("a.test"), "the default set keeps the plain key");
    assert!(c.insert(&key_in("a.test", 1), &answer("a.test.", 300, false), now));
    let mut out = Vec::new();
    assert_eq!(c.get(&key_in("a.test", 0), now, false, &mut out), None);
    assert_eq!(c.get(&key_in("a.test", 2), now, false, &mut out), None);
    assert!(c.get(&key_in("a.test", 1), now, false, &mut out).is_some());
    // The longest name still fits with a set.
    let long = ["a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61)].join(".");
    assert_eq!(key_in(&long, 7).len(), KEY_MAX);
}
