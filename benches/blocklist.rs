//! Blocklist engine benchmarks (issue 3): load (read + parse + build) and lookup for 1M and
//! 2M generated domains; lookups of exact hits, subdomains of `||x^` names and unrelated
//! names, all 4 labels. Also prints the engine's heap bytes and per-lookup percentiles.
//!
//! `cargo bench --bench blocklist -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ravens_dns::blocklist::{CompileInput, Engine, GroupId, ListData, compile};

const PREFIX: [&str; 8] = ["ads", "trk", "pix", "log", "stat", "beacon", "cdn-ad", "metric"];
const NET: [&str; 6] = ["adnet", "track", "pixel", "count", "serve", "metrics"];
const TLD: [&str; 6] = ["com", "net", "org", "io", "xyz", "info"];
/// Names looked up per round, cycled so caches see a realistic spread.
const PROBES: usize = 8192;

/// The i-th generated domain, 3 labels: `trk-000123.adnet7.net`.
fn domain(i: usize) -> String {
    let h = i.wrapping_mul(0x9E37_79B9) >> 3;
    format!("{}-{i:06}.{}{}.{}", PREFIX[h % 8], NET[(h / 8) % 6], h % 50, TLD[(h / 400) % 6])
}

/// A list of `n` domains: every 4th one an adblock subtree rule, the rest hosts lines.
fn write_list(n: usize) -> PathBuf {
    let path = std::env::temp_dir().join(format!("ravens-bench-blocklist-{n}-{}.txt", std::process::id()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(f, "# generated: {n} domains").unwrap();
    for i in 0..n {
        if i % 4 == 0 {
            writeln!(f, "||{}^", domain(i)).unwrap();
        } else {
            writeln!(f, "0.0.0.0 www.{}", domain(i)).unwrap();
        }
    }
    f.flush().unwrap();
    path
}

fn load(path: &Path) -> Engine {
    let input =
        CompileInput { name: "gen".into(), data: ListData::File(path.to_path_buf()), groups: 0b11, allow_list: false };
    let (engine, reports) = compile(&[input]);
    assert!(reports[0].rejected == 0 && reports[0].error.is_none(), "{}", reports[0]);
    engine
}

/// A `/proc/self/status` field in KiB (`VmRSS`, `VmHWM`); 0 where there is none.
fn status_kib(field: &str) -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let line = s.lines().find(|l| l.starts_with(field)).unwrap_or("x: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The three probe sets, 4 labels each.
fn probes(n: usize) -> [(&'static str, Vec<Vec<u8>>); 3] {
    let pick = |k: usize| (k.wrapping_mul(2_654_435_761) % n) & !3;
    let exact = (0..PROBES).map(|k| format!("www.{}", domain(pick(k) + 1)).into_bytes()).collect();
    let sub = (0..PROBES).map(|k| format!("img.{}", domain(pick(k))).into_bytes()).collect();
    let unrelated = (0..PROBES).map(|k| format!("www.shop-{k:06}.example{}.org", k % 50).into_bytes()).collect();
    [("exact_hit", exact), ("subdomain_of_blocked", sub), ("unrelated", unrelated)]
}

fn expect(engine: &Engine, kind: &str, names: &[Vec<u8>]) {
    let blocked = names.iter().filter(|n| engine.lookup(n, GroupId(1)).is_blocked()).count();
    let want = if kind == "unrelated" { 0 } else { names.len() };
    assert_eq!(blocked, want, "{kind}");
}

/// Lookup latency percentiles from batches of [`BATCH`] lookups each timed as one: in this
/// VM a clock read costs about as much as a lookup, so single calls cannot be timed well.
fn percentiles(engine: &Engine, names: &[Vec<u8>]) -> (f64, f64) {
    const BATCH: usize = 32;
    let mut samples: Vec<f64> = Vec::with_capacity(names.len() / BATCH * 16);
    for _ in 0..16 {
        for chunk in names.chunks_exact(BATCH) {
            let t = Instant::now();
            for n in chunk {
                black_box(engine.lookup(black_box(n), GroupId(1)));
            }
            samples.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
        }
    }
    samples.sort_unstable_by(f64::total_cmp);
    (samples[samples.len() / 2], samples[samples.len() * 99 / 100])
}

/// What one `Instant::now()` pair costs here.
fn clock_cost() -> u128 {
    let mut samples: Vec<u128> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            t.elapsed().as_nanos()
        })
        .collect();
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// Three lists with the same names (stacked overlapping lists): names are stored once.
fn overlap(path: &Path, base_kib: u64) {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let inputs: Vec<CompileInput> = (0..3)
        .map(|i| CompileInput {
            name: format!("copy{i}"),
            data: ListData::File(path.to_path_buf()),
            groups: 1 << i,
            allow_list: false,
        })
        .collect();
    let t = Instant::now();
    let (engine, _) = compile(&inputs);
    println!(
        "blocklist 3 overlapping copies of 1M: load {:.0} ms, {} names, heap {:.1} MiB, peak RSS +{:.1} MiB",
        t.elapsed().as_secs_f64() * 1e3,
        engine.len(),
        engine.heap_bytes() as f64 / (1 << 20) as f64,
        status_kib("VmHWM:").saturating_sub(base_kib) as f64 / 1024.0,
    );
}

fn bench(c: &mut Criterion) {
    println!("blocklist: one clock read pair costs {} ns here", clock_cost());
    for n in [1_000_000usize, 2_000_000] {
        let path = write_list(n);
        // Writing 5 to clear_refs resets the peak (VmHWM) to the current RSS.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let t = Instant::now();
        let engine = load(&path);
        let took = t.elapsed();
        let mib = |kib: u64| kib.saturating_sub(before) as f64 / 1024.0;
        println!(
            "blocklist {n}: load {:.0} ms, {} names, heap {:.1} MiB ({:.1} B/name), RSS +{:.1} MiB, peak +{:.1} MiB",
            took.as_secs_f64() * 1e3,
            engine.len(),
            engine.heap_bytes() as f64 / (1 << 20) as f64,
            engine.heap_bytes() as f64 / engine.len() as f64,
            mib(status_kib("VmRSS:")),
            mib(status_kib("VmHWM:")),
        );
        if n == 1_000_000 {
            overlap(&path, before);
        }
        let mut g = c.benchmark_group(format!("blocklist_{}M", n / 1_000_000));
        g.sample_size(10);
        g.bench_function("load", |b| b.iter(|| black_box(load(&path))));
        g.sample_size(100);
        for (kind, names) in probes(n) {
            expect(&engine, kind, &names);
            let (p50, p99) = percentiles(&engine, &names);
            println!("blocklist {n} {kind}: p50 {p50:.0} ns, p99 {p99:.0} ns (mean of 32-lookup batches)");
            let mut i = 0;
            g.bench_with_input(BenchmarkId::new("lookup", kind), &names, |b, names| {
                b.iter(|| {
                    i = (i + 1) % PROBES;
                    black_box(engine.lookup(black_box(&names[i]), GroupId(1)))
                })
            });
        }
        g.finish();
        drop(engine);
        let _ = std::fs::remove_file(&path);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
