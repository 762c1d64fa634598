//! Measurements, not assertions on speed (run them on purpose, optimised):
//! `cargo test -p ravens-sync --release --test measure -- --ignored --nocapture`
//!
//! - replication lag (publish on A → event on B) p50/p99 at ~100 and ~5000 records/s;
//! - full resync of 50k records to a node that (re)starts with an empty state.

mod common;

use std::time::{Duration, Instant};

use common::{TestNode, config, free_addr, secret, sees_live, start, wait_until};
use ravens_sync::SyncEvent;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Publishes `rate` records/s on `a` for `secs` and collects B's arrival delays.
async fn lag_run(a: &TestNode, b: &mut TestNode, rate: u32, secs: u32, base: Instant) -> (Vec<Duration>, u32) {
    let prefix = format!("l/lag{rate}/");
    let mut published = 0u32;
    let mut lags = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let per_tick = rate / 100;
    let deadline = Instant::now() + Duration::from_secs(u64::from(secs));
    while Instant::now() < deadline {
        tokio::select! {
            _ = tick.tick() => {
                for _ in 0..per_tick {
                    let t = base.elapsed().as_nanos();
                    let v = format!(r#"{{"t_ns":{t},"ip":"10.0.1.{}","expires_ms":99999999999999}}"#, published % 250);
                    a.handle.publish(&format!("{prefix}{published}"), v.into_bytes()).await.unwrap();
                    published += 1;
                }
            }
            Some(ev) = b.events.recv() => collect(&ev, &prefix, base, &mut lags),
        }
    }
    // Drain what is still in flight (bounded).
    let drain_until = Instant::now() + Duration::from_secs(3);
    while lags.len() < published as usize && Instant::now() < drain_until {
        if let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), b.events.recv()).await {
            collect(&ev, &prefix, base, &mut lags);
        }
    }
    (lags, published)
}

fn collect(ev: &SyncEvent, prefix: &str, base: Instant, lags: &mut Vec<Duration>) {
    let SyncEvent::Records(recs) = ev else { return };
    let now = base.elapsed().as_nanos();
    for r in recs.iter().filter(|r| r.key.starts_with(prefix)) {
        let v: serde_json::Value = serde_json::from_slice(&r.value).unwrap();
        let t = v["t_ns"].as_u64().unwrap() as u128;
        lags.push(Duration::from_nanos((now - t) as u64));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run optimised with --ignored --nocapture"]
async fn replication_lag_and_full_resync() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path());
    let (a_addr, b_addr) = (free_addr([127, 0, 0, 51]), free_addr([127, 0, 0, 52]));
    let a = start(config("a", a_addr, &[b_addr], &key)).await;
    let mut b = start(config("b", b_addr, &[a_addr], &key)).await;
    assert!(wait_until(Duration::from_secs(5), || sees_live(&b.handle, "a")).await.is_some());
    let base = Instant::now();
    for rate in [100u32, 5000] {
        let (mut lags, published) = lag_run(&a, &mut b, rate, 5, base).await;
        lags.sort();
        println!(
            "lag at {rate}/s: published {published}, received {}, p50 {:?}, p99 {:?}, max {:?}",
            lags.len(),
            percentile(&lags, 0.5),
            percentile(&lags, 0.99),
            lags.last().unwrap()
        );
    }

    // From here on nobody reads B's events: drain them so back-pressure on the (bounded)
    // event channel does not slow B's apply loop, as a daemon reading its events would.
    let (_keep, dummy) = tokio::sync::mpsc::channel(1);
    let mut events = std::mem::replace(&mut b.events, dummy);
    tokio::spawn(async move { while events.recv().await.is_some() {} });

    // 50k records on A (with the ~10k lag records already there), then a node with an empty
    // state joins: the restart-with-empty-disk case.
    let t = Instant::now();
    for i in 0..50_000u32 {
        let v = format!(
            r#"{{"ip":"10.0.{}.{}","client":"01:02:03:04:{:02x}:{:02x}","hostname":"host-{i}","expires_ms":99999999999999}}"#,
            (i / 250) % 4,
            i % 250,
            (i >> 8) as u8,
            i as u8
        );
        a.handle.publish(&format!("l/10.0.{}.0/c{i}", (i / 250) % 4), v.into_bytes()).await.unwrap();
    }
    let total = a.handle.snapshot().len();
    println!("published 50k records on A in {:?} (A holds {total} records)", t.elapsed());
    let ok = wait_until(Duration::from_secs(60), || b.handle.snapshot().len() == total).await;
    println!("B (live) caught up with the 50k burst after {ok:?} from the end of publishing");

    b.cancel.cancel();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let c_addr = free_addr([127, 0, 0, 53]);
    let t = Instant::now();
    let c = start(config("b", c_addr, &[a_addr], &key)).await;
    let ok = wait_until(Duration::from_secs(60), || c.handle.snapshot().len() == total).await;
    println!("restarted B (empty state) resynced {total} records in {:?} ({ok:?} after start)", t.elapsed());
    println!("A stats {:?}", a.handle.stats());
    a.cancel.cancel();
    c.cancel.cancel();
}
