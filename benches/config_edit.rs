//! Site-config edit benchmarks (issue 10, defect 4): one `dnsctl records add` worth of work
//! on configs of 5k, 50k and 200k local records.
//!
//! - `splice`: the edited file text from the loaded file (`SiteFile::edit`: only the new
//!   item is rendered, the rest copied);
//! - `edit`: `splice` plus the whole-config validation of the result (`ravens_config::parse`),
//!   i.e. all the CPU work of an edit in the daemon but the file write and the reload;
//! - `load`: what a reload of a hand-edited file costs (`ravens_config::parse` and
//!   `SiteFile::parse`);
//! - `whole_file`: the whole-document writer (`site::apply`, used for `[dns]` and group
//!   changes), 5k and 50k only.
//!
//! `cargo bench --bench config_edit -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use ravens_config::site::{self, SiteFile, SiteRecords};
use toml::{Table, Value};

/// A config with `n` records (a comment every 100th), an inline list and a subnet with
/// reservations, as a large home or office config looks.
fn config(n: usize) -> String {
    let mut t = String::from(
        "[node]\nname = \"a\"\ndata_dir = \"/tmp/ravens-bench\"\n\n[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n\n\
         [[list]]\nname = \"custom-block\"\nentries = [\"ads.example\", \"||tracker.example^\", \"pixel.example\"]\n",
    );
    for i in 0..n {
        if i % 100 == 0 {
            t.push_str(&format!("\n# rack {}\n", i / 100));
        }
        t.push_str(&format!(
            "\n[[record]]\nname = \"h{i}.lan\"\ntype = \"A\"\nvalue = \"10.{}.{}.{}\"\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    t.push_str("\n[[subnet]]\nname = \"home\"\ncidr = \"10.200.0.0/16\"\npools = [\"10.200.1.1-10.200.9.254\"]\n");
    for i in 0..200 {
        t.push_str(&format!(
            "\n[[subnet.reservation]]\nmac = \"aa:bb:cc:00:{:02x}:{:02x}\"\nip = \"10.200.0.{}\"\n",
            i >> 8,
            i & 255,
            i + 1
        ));
    }
    t
}

/// The records of `file` plus one new local record.
fn one_more(file: &SiteFile) -> SiteRecords {
    let mut r = file.records().clone();
    let mut t = Table::new();
    for (k, v) in [("name", "new.lan"), ("type", "A"), ("value", "10.250.0.1")] {
        t.insert(k.into(), Value::String(v.into()));
    }
    let (k, v) = site::record(&t).unwrap();
    r.insert(k, v);
    r
}

fn edits(c: &mut Criterion) {
    let mut g = c.benchmark_group("config_edit");
    for n in [5_000, 50_000, 200_000] {
        let text = config(n);
        let file = SiteFile::parse(text.clone()).unwrap();
        let desired = one_more(&file);
        let edited = file.edit(desired.clone()).unwrap();
        assert!(edited.text().contains("new.lan") && edited.text().len() > text.len());
        ravens_config::parse(edited.text(), "bench").unwrap();
        g.bench_with_input(BenchmarkId::new("splice", n), &n, |b, _| {
            b.iter_batched(|| desired.clone(), |d| black_box(file.edit(d).unwrap()), BatchSize::PerIteration)
        });
        g.bench_with_input(BenchmarkId::new("edit", n), &n, |b, _| {
            b.iter_batched(
                || desired.clone(),
                |d| {
                    let new = file.edit(d).unwrap();
                    black_box(ravens_config::parse(new.text(), "bench").unwrap())
                },
                BatchSize::PerIteration,
            )
        });
        g.bench_with_input(BenchmarkId::new("load", n), &n, |b, _| {
            b.iter(|| {
                black_box(ravens_config::parse(&text, "bench").unwrap());
                black_box(SiteFile::parse(text.clone()).unwrap())
            })
        });
        if n <= 50_000 {
            g.bench_with_input(BenchmarkId::new("whole_file", n), &n, |b, _| {
                b.iter(|| black_box(site::apply(&text, &desired).unwrap()))
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = edits
}
criterion_main!(benches);
