//! Issue 12's speed target: a v6 Teleporter archive with 100 adlists, 50,000 domainlist
//! entries (5,000 of them regexes) and 2,000 leases, imported whole: unpack + read gravity.db
//! + map + merge into a config + validate with ravens's parser. Target: under 3 s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use common::*;
use criterion::{Criterion, criterion_group, criterion_main};
use ravens_config::site;
use ravens_import::{Source, import, validate};

const ADLISTS: usize = 100;
const DOMAINS: usize = 50_000;
const REGEXES: usize = 5_000;
const LEASES: usize = 2_000;

fn big_gravity() -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gravity.db");
    let mut db = rusqlite::Connection::open(&p).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    let tx = db.transaction().unwrap();
    for (id, name) in [(0, "Default"), (1, "Kids"), (2, "IoT"), (3, "Work")] {
        tx.execute("INSERT INTO \"group\" (id, name) VALUES (?1, ?2)", (id, name)).unwrap();
    }
    for c in 1..=30i64 {
        tx.execute("INSERT INTO client (id, ip) VALUES (?1, ?2)", (c, format!("10.0.{}.{}", c % 4, c))).unwrap();
        tx.execute("INSERT INTO client_by_group VALUES (?1, ?2)", (c, c % 4)).unwrap();
    }
    for a in 1..=ADLISTS as i64 {
        tx.execute(
            "INSERT INTO adlist (id, address) VALUES (?1, ?2)",
            (a, format!("https://lists{a}.example/hosts.txt")),
        )
        .unwrap();
        tx.execute("INSERT INTO adlist_by_group VALUES (?1, ?2)", (a, a % 4)).unwrap();
    }
    for d in 1..=DOMAINS as i64 {
        let regex = d as usize <= REGEXES;
        let (ty, domain) = if regex {
            (3, format!(r"^ad{d}[0-9]*\.tracker-{}\.example$", d % 97))
        } else {
            (d % 2, format!("host{d}.domain{}.example", d % 1000))
        };
        tx.execute("INSERT INTO domainlist (id, type, domain) VALUES (?1, ?2, ?3)", (d, ty, domain)).unwrap();
        tx.execute("INSERT INTO domainlist_by_group VALUES (?1, ?2)", (d, d % 4)).unwrap();
    }
    tx.commit().unwrap();
    drop(db);
    std::fs::read(p).unwrap()
}

fn big_leases() -> String {
    (0..LEASES)
        .map(|i| {
            let (hi, lo) = (i / 250, i % 250 + 1);
            format!("{} 02:00:00:00:{hi:02x}:{lo:02x} 192.168.{}.{lo} host{i} *\n", NOW + 3600, 4 + hi)
        })
        .collect()
}

fn archive() -> Vec<u8> {
    let toml = PIHOLE_TOML.replace("start = \"192.168.1.100\"", "start = \"192.168.4.1\"").replace(
        "end = \"192.168.1.199\"\nrouter = \"192.168.1.1\"\nnetmask = \"255.255.255.0\"",
        "end = \"192.168.11.250\"\nrouter = \"192.168.4.254\"\nnetmask = \"255.255.240.0\"",
    );
    zip(&[
        ("etc/pihole/pihole.toml".into(), toml.into_bytes()),
        ("etc/pihole/gravity.db".into(), big_gravity()),
        ("etc/pihole/dhcp.leases".into(), big_leases().into_bytes()),
    ])
}

fn bench(c: &mut Criterion) {
    let bytes = archive();
    let empty = site::records(BASE).unwrap();
    // One run outside the timing, to show what is being measured.
    let src = Source::from_bytes(&bytes).unwrap();
    let imp = import(&src, &empty, NOW).unwrap();
    let text = validate(BASE, &imp).unwrap();
    eprintln!(
        "archive {} KiB, config {} KiB, {} leases\n{:#?}",
        bytes.len() >> 10,
        text.len() >> 10,
        imp.leases.len(),
        {
            let mut r = imp.report.clone();
            r.skipped.truncate(3);
            r
        }
    );
    c.bench_function("pihole import: 100 adlists, 50k domains (5k regex), 2k leases", |b| {
        b.iter(|| {
            let src = Source::from_bytes(&bytes).unwrap();
            let imp = import(&src, &empty, NOW).unwrap();
            validate(BASE, &imp).unwrap()
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(20));
    targets = bench
}
criterion_main!(benches);
