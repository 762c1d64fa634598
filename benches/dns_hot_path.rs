//! Criterion benches of the DNS hot paths: the whole cache-hit path through
//! `Resolver::handle` (decode → ACL → local zone → cache → patch), cache insert with
//! eviction, and upstream reply matching.

use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ravens_dns::cache::{Cache, CachePolicy, KEY_MAX, make_key};
use ravens_dns::upstream::matching::{Question, reply_matches};
use ravens_dns::wire::{self, build_query, name_from_text};
use ravens_dns::{Resolver, State, Step, Transport};

/// A NOERROR response to `name`/A with one answer (owner compressed to the question).
fn response(name: &str, id: u16) -> Vec<u8> {
    let mut m = build_query(id, &name_from_text(name).unwrap(), 1, 1, false, None);
    m[2] |= 0x80;
    m[3] |= 0x80;
    m[7] = 1;
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 1]);
    m
}

fn resolver(extra: &str) -> Resolver {
    let text = format!("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n{extra}");
    let cfg = ravens_config::parse_with(&text, "bench", &String::new).unwrap();
    Resolver::new(State::new(Arc::new(cfg)).unwrap())
}

/// Five forward zones (one a /20: 16 reverse zones) and a group with its own upstreams that
/// holds the bench's client.
const FORWARDS: &str = r#"
[[group]]
name = "bench"
clients = ["127.0.0.0/8"]
upstreams = ["udp://127.0.0.1:9"]
[[forward]]
domain = "corp.example"
upstreams = ["udp://127.0.0.1:9"]
[[forward]]
domain = "lab.example"
upstreams = ["udp://127.0.0.1:9"]
groups = ["bench"]
[[forward]]
domain = "lan"
upstreams = ["udp://127.0.0.1:9"]
[[forward]]
domain = "192.168.0.0/16"
upstreams = ["udp://127.0.0.1:9"]
[[forward]]
domain = "10.1.16.0/20"
upstreams = ["udp://127.0.0.1:9"]
"#;

fn cache_hit_path(c: &mut Criterion) {
    cache_hits(c, "handle: cache hit (EDNS, 10k names)", "");
    // No limiter at all: the baseline for what limiting costs (issue 15: at most 3 %).
    cache_hits(c, "handle: cache hit, rate limit off", "rate_limit = \"off\"\n");
    // The same through the rate limiter: the source is not exempt and never runs out.
    let limited = "rate_limit = \"4000000/s\"\nrate_limit_burst = 4000000\nrate_limit_exempt = []\n";
    cache_hits(c, "handle: cache hit, rate-limited client", limited);
    // Issue 15: forward zones (none holds the names asked) and a group with upstreams of its
    // own; the client is in that group, so its key carries the group's set (1).
    let routed = format!("{limited}{FORWARDS}");
    cache_hits_in(c, "handle: cache hit, forward zones + group upstreams + rate limit", &routed, 1);
    let r = resolver("");
    let src: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let mut out = Vec::with_capacity(4096);
    let local = build_query(7, &name_from_text("nothere.lan").unwrap(), 1, 1, false, None);
    c.bench_function("handle: local NXDOMAIN", |b| {
        b.iter(|| matches!(r.handle(black_box(&local), src, Transport::Udp, &mut out), Step::Reply))
    });
    let q = build_query(7, &name_from_text("h00001.hbench").unwrap(), 1, 1, false, Some((1232, false)));
    c.bench_function("parse_query", |b| b.iter(|| wire::parse_query(black_box(&q)).unwrap().qtype));
}

/// Cache hits of 10k names asked from 127.0.0.1, stored under upstream set `set` (the set
/// the config gives that client: `crate::route`).
fn cache_hits(c: &mut Criterion, bench: &str, extra: &str) {
    cache_hits_in(c, bench, extra, 0)
}

fn cache_hits_in(c: &mut Criterion, bench: &str, extra: &str, set: u16) {
    let r = resolver(extra);
    let names: Vec<String> = (0..10_000).map(|i| format!("h{i:05}.hbench")).collect();
    let now = Instant::now();
    for n in &names {
        let mut key = [0u8; KEY_MAX];
        let k = make_key(&mut key, &name_from_text(n).unwrap(), 1, 1, false, false, set);
        assert!(r.cache.insert(&key[..k], &response(n, 0), now));
    }
    let queries: Vec<Vec<u8>> =
        names.iter().map(|n| build_query(7, &name_from_text(n).unwrap(), 1, 1, false, Some((1232, false)))).collect();
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
}

fn cache_insert(c: &mut Criterion) {
    let policy = CachePolicy {
        max_bytes: 4 << 20,
        min_ttl: 0,
        max_ttl: 86_400,
        max_negative_ttl: 3600,
        stale_max_age: std::time::Duration::from_secs(3600),
        prefetch: true,
    };
    let cache = Cache::new(policy);
    let resps: Vec<(Vec<u8>, Vec<u8>)> = (0..100_000)
        .map(|i| {
            let n = format!("n{i}.example");
            let mut key = [0u8; KEY_MAX];
            let k = make_key(&mut key, &name_from_text(&n).unwrap(), 1, 1, false, false, 0);
            (key[..k].to_vec(), response(&n, 0))
        })
        .collect();
    let now = Instant::now();
    let mut i = 0;
    c.bench_function("cache insert (4 MiB bound, evicting)", |b| {
        b.iter(|| {
            i = (i + 1) % resps.len();
            cache.insert(black_box(&resps[i].0), black_box(&resps[i].1), now)
        })
    });
    println!(
        "cache after insert bench: {:?} entries/bytes, {} evictions",
        cache.usage(),
        cache.stats.evictions.load(std::sync::atomic::Ordering::Relaxed)
    );
}

fn reply_matching(c: &mut Criterion) {
    let q = Question { name_wire: name_from_text("www.example.com").unwrap(), qtype: 1, qclass: 1 };
    let reply = response("WWW.Example.com", 4242);
    let mut scratch = Vec::with_capacity(256);
    c.bench_function("upstream reply matching", |b| {
        b.iter(|| reply_matches(black_box(&reply), 4242, &q, &mut scratch))
    });
}

criterion_group!(benches, cache_hit_path, cache_insert, reply_matching);
criterion_main!(benches);
