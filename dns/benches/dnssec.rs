//! Criterion benches of DNSSEC validation (issue 16; `cargo bench -p ravens-dns --bench dnssec`): a cold secure answer validated from
//! recorded upstream answers (`benches/data/dnssec-chain*.txt`, made by
//! `benches/dnssec-fixture.sh`: the chain root → rvn. → ok.rvn., signed for 2020..2080; every
//! zone ECDSA P-256, and again with the root and the TLD RSA-2048 as the public ones are), so
//! the figure is the validator's CPU without any fetch; a new RRset from a zone whose keys are
//! validated already; the same answer with hickory's validation cache warm; and the cache-hit
//! path of a secure entry (AD set from the stored verdict) beside an unvalidated one.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_net::dnssec::DnssecDnsHandle;
use hickory_proto::dnssec::TrustAnchors;
use ravens_dns::cache::{KEY_MAX, Security, make_key};
use ravens_dns::dnssec::{anchor, canned::Canned, checker, judge};
use ravens_dns::upstream::Question;
use ravens_dns::wire::{build_query, name_from_text};
use ravens_dns::{Resolver, State, Step, Transport};

/// The chain with every zone ECDSA P-256, and with the root and TLD RSA-2048.
const P256: &str = include_str!("../../benches/data/dnssec-chain.txt");
const RSA_TOP: &str = include_str!("../../benches/data/dnssec-chain-rsa.txt");

/// This thread's CPU time so far, in µs.
fn cpu() -> f64 {
    let u = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_THREAD).unwrap();
    let us = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 * 1e6 + t.tv_usec() as f64;
    us(u.user_time()) + us(u.system_time())
}

/// The recorded answers of a fixture and its trust anchor.
fn fixture(text: &str) -> (Canned, TrustAnchors) {
    let mut lines = text.lines();
    let anchors = anchor::dnskey_anchors(lines.next().unwrap()).unwrap();
    let msgs: Vec<Vec<u8>> = lines.map(|l| ravens_config::text::unhex(l).unwrap()).collect();
    (Canned::new(&msgs), anchors)
}

fn question(name: &str, qtype: u16) -> Question {
    Question { name_wire: name_from_text(name).unwrap(), qtype, qclass: 1 }
}

/// CPU µs per run of `f` (the thread's rusage over `n` runs): unlike criterion's wall time it
/// does not grow when other processes share the cores.
fn cpu_per_run(n: u32, mut f: impl FnMut()) -> f64 {
    let start = cpu();
    for _ in 0..n {
        f();
    }
    (cpu() - start) / f64::from(n)
}

fn validation(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (www, aaaa) = (question("www.ok.rvn", 1), question("www.ok.rvn", 28));
    let tampered = question("www.tampered.rvn", 1);
    let judged =
        |ch: &DnssecDnsHandle<Canned>, q: &Question| rt.block_on(async { judge(ch, q).await.unwrap().security });
    for (chain, text) in [("P-256 chain", P256), ("RSA root+TLD", RSA_TOP)] {
        let (canned, anchors) = fixture(text);
        let fresh = || checker(canned.clone(), anchors.clone());
        // The fixture still proves what the bench claims.
        for q in [&www, &aaaa] {
            assert_eq!(judged(&fresh(), q), Security::Secure);
        }
        assert!(matches!(judged(&fresh(), &tampered), Security::Bogus(6)));
        let n = 500;
        let cold = cpu_per_run(n, || assert_eq!(black_box(judged(&fresh(), &www)), Security::Secure));
        let bogus = cpu_per_run(n, || assert!(matches!(black_box(judged(&fresh(), &tampered)), Security::Bogus(_))));
        // A new RRset (AAAA) from a zone whose chain the A answer validated: both, less the A.
        let both = cpu_per_run(n, || {
            let ch = fresh();
            judged(&ch, &www);
            black_box(judged(&ch, &aaaa));
        });
        println!(
            "dnssec, {chain}: cold secure answer {cold:.0} µs CPU, cold bogus {bogus:.0} µs, new RRset in a validated zone {:.0} µs ({n} runs each)",
            both - cold
        );
        c.bench_function(
            &format!("dnssec, {chain}: validate cold secure answer (www.ok.rvn A: 3 zones, 6 RRsets)"),
            |b| b.iter(|| black_box(judged(&fresh(), &www))),
        );
    }
    let (canned, anchors) = fixture(P256);
    let warm = checker(canned.clone(), anchors.clone());
    c.bench_function("dnssec: validate secure answer, hickory's validation cache warm", |b| {
        b.iter(|| black_box(judged(&warm, &www)))
    });
    c.bench_function("dnssec: validate cold bogus answer (tampered RRSIG, EDE found)", |b| {
        b.iter(|| black_box(judged(&checker(canned.clone(), anchors.clone()), &tampered)))
    });
}

/// A NOERROR response to `name`/A with one answer (owner compressed to the question).
fn response(name: &str) -> Vec<u8> {
    let mut m = build_query(0, &name_from_text(name).unwrap(), 1, 1, false, None);
    m[2] |= 0x80;
    m[3] |= 0x80;
    m[7] = 1;
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 1]);
    m
}

/// A resolver with `dnssec`, 10k names cached with `security`, and DO=1 queries for them.
fn hit_setup(dnssec: &str, security: Security) -> (Resolver, Vec<Vec<u8>>) {
    let text = format!("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\ndnssec = \"{dnssec}\"\n");
    let cfg = ravens_config::parse_with(&text, "bench", &String::new).unwrap();
    let r = Resolver::new(State::new(Arc::new(cfg)).unwrap());
    let names: Vec<String> = (0..10_000).map(|i| format!("h{i:05}.hbench")).collect();
    let now = Instant::now();
    for n in &names {
        let mut key = [0u8; KEY_MAX];
        let k = make_key(&mut key, &name_from_text(n).unwrap(), 1, 1, true, false, 0);
        assert!(r.cache.insert_checked(&key[..k], &response(n), now, security));
    }
    let queries: Vec<Vec<u8>> =
        names.iter().map(|n| build_query(7, &name_from_text(n).unwrap(), 1, 1, false, Some((1232, true)))).collect();
    (r, queries)
}

/// DO=1 cache hits of 10k names, stored with `security`, through a resolver with `dnssec`.
fn hits(c: &mut Criterion, bench: &str, dnssec: &str, security: Security) {
    let (r, queries) = hit_setup(dnssec, security);
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(4096);
    let mut i = 0;
    c.bench_function(bench, |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            match r.handle(black_box(&queries[i]), src, Transport::Udp, &mut out) {
                Step::Reply => {}
                other => panic!("not a cache hit: {other:?}"),
            }
            black_box(out.len())
        })
    });
    assert_eq!(out[3] & 0x20 != 0, security == Security::Secure, "AD as the verdict says");
}

/// CPU per hit (rusage), off and validate taking turns so that both see the same load.
fn hit_cpu() {
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let setups =
        [("off", hit_setup("off", Security::Unchecked)), ("validate, secure", hit_setup("validate", Security::Secure))];
    let mut out = Vec::with_capacity(4096);
    let mut total = [0.0f64; 2];
    let n = 200_000;
    for _round in 0..5 {
        for (k, (_, (r, queries))) in setups.iter().enumerate() {
            let start = cpu();
            for i in 0..n {
                black_box(r.handle(black_box(&queries[i % queries.len()]), src, Transport::Udp, &mut out));
            }
            total[k] += cpu() - start;
        }
    }
    for (k, (what, _)) in setups.iter().enumerate() {
        println!(
            "handle: cache hit DO=1, dnssec {what}: {:.0} ns CPU each (5 x {n})",
            total[k] * 1e3 / (5.0 * n as f64)
        );
    }
}

fn cache_hits(c: &mut Criterion) {
    hit_cpu();
    hits(c, "handle: cache hit DO=1, dnssec off", "off", Security::Unchecked);
    hits(c, "handle: cache hit DO=1, dnssec validate, secure entry (AD)", "validate", Security::Secure);
}

criterion_group!(benches, validation, cache_hits);
criterion_main!(benches);
