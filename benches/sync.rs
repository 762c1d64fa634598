//! Criterion benches of the pair's hot paths: sealing and opening a gossip datagram and
//! merging a full lease set from a peer (ravens-sync), and the per-packet "who answers"
//! decision (ravens-dhcp's failover policy).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ravens_dhcp::failover::Failover;
use ravens_dhcp::failover::buckets::{bucket_of, should_answer_among};
use ravens_sync::seal::{FragHeader, Keyring};
use ravens_sync::{Hlc, Record, Replica};

fn seal_open(c: &mut Criterion) {
    let tx = Keyring::new(b"0123456789abcdef0123456789abcdef", None, "home");
    let mut rx = Keyring::new(b"0123456789abcdef0123456789abcdef", None, "home");
    let payload = vec![0x42u8; 1024];
    let now = 1_700_000_000_000u64;
    let mut g = c.benchmark_group("seal");
    g.throughput(Throughput::Bytes(1024));
    g.bench_function("seal_1k", |b| b.iter(|| tx.seal(black_box(&payload), FragHeader::WHOLE, now)));
    // The clock advances 1 ms per datagram so the replay cache holds a steady ~60k nonces
    // (60 s of traffic at 1000 datagrams/s) instead of growing for the whole run.
    let mut t = now;
    g.bench_function("seal_open_1k", |b| {
        b.iter(|| {
            t += 1;
            let d = tx.seal(black_box(&payload), FragHeader::WHOLE, t);
            rx.open(&d, t).unwrap()
        })
    });
    g.finish();
}

fn lease(i: u32, wall: u64, node: &str) -> Record {
    let key = format!("l/10.0.{}.0/01:02:03:{:02x}:{:02x}:{:02x}", i % 4, (i >> 16) as u8, (i >> 8) as u8, i as u8);
    let value =
        format!(r#"{{"ip":"10.0.{}.{}","hostname":"host-{i}","expires_ms":{}}}"#, i % 4, i % 250, wall + 43_200_000);
    Record::new(&key, value.into_bytes(), Hlc::new(wall, i), node).unwrap()
}

fn merge_50k(c: &mut Criterion) {
    const N: u32 = 50_000;
    let mut local = Replica::new();
    for i in 0..N {
        local.apply(lease(i, 1_000, "a"));
    }
    // The peer's view: half its entries newer (they win), half older.
    let remote: Vec<Record> = (0..N).map(|i| lease(i, if i % 2 == 0 { 2_000 } else { 500 }, "b")).collect();
    let mut g = c.benchmark_group("merge");
    g.throughput(Throughput::Elements(u64::from(N)));
    g.sample_size(10);
    g.bench_function("apply_50k_remote_leases", |b| {
        b.iter_batched(
            || (local.clone(), remote.clone()),
            |(mut rep, recs)| {
                let mut changed = 0usize;
                for r in recs {
                    changed += usize::from(rep.apply(r).is_some());
                }
                assert_eq!(changed, N as usize / 2);
                rep
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("decode_50k_values", |b| {
        let encoded: Vec<(String, String)> = remote.iter().map(|r| (r.key.clone(), r.encode_value())).collect();
        b.iter(|| {
            encoded.iter().for_each(|(k, v)| {
                std::hint::black_box(Record::decode_value(k, v).unwrap());
            })
        })
    });
    g.finish();
}

fn bucket_decision(c: &mut Criterion) {
    let mac = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
    let t0 = Instant::now();
    let mut f = Failover::new("a", &["a", "b"], Duration::from_secs(2), t0);
    f.observe("b", true, true, t0);
    let mut g = c.benchmark_group("buckets");
    g.bench_function("rfc3074_hash", |b| b.iter(|| bucket_of(black_box(&mac))));
    g.bench_function("should_answer_pure_2_nodes", |b| {
        b.iter(|| should_answer_among("a", &["a", "b"], black_box(&mac), 0))
    });
    g.bench_function("failover_should_answer_2_nodes", |b| b.iter(|| f.should_answer(black_box(&mac), 0, t0)));
    g.finish();
}

criterion_group!(benches, seal_open, merge_50k, bucket_decision);
criterion_main!(benches);
