//! The pair's takeover state machine (ravens-dhcp) fed by real sealed gossip nodes
//! (ravens-sync) on loopback: the daemon's failover wiring in miniature. It lives here, in the
//! package that joins the two crates, since neither imports the other.

#[path = "../sync/tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::{cluster, config, secret, wait_until};
use ravens_dhcp::failover::buckets::{bucket_of, bucket_owner};
use ravens_dhcp::failover::{Failover, TAKEOVER_AFTER};

/// The daemon's failover wiring in miniature: B feeds `peers()` into a `Failover` every 50 ms;
/// after A is cancelled, B starts answering A's clients about `takeover_after` after A's last
/// heartbeat, and hands them back once a restarted A is live and caught up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_takeover_and_hand_back_on_real_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path());
    let nodes = cluster(&[[127, 0, 0, 71], [127, 0, 0, 72]], &key).await;
    let b = &nodes[1].handle;
    let client: Vec<u8> = (0u32..)
        .map(|i| i.to_be_bytes().to_vec())
        .find(|id| bucket_owner(bucket_of(id), &["n0", "n1"]) == Some("n0"))
        .unwrap();
    let mut f = Failover::new("n1", &["n0"], TAKEOVER_AFTER, Instant::now());
    let feed = |f: &mut Failover| {
        let now = Instant::now();
        for p in b.peers() {
            let last = now.checked_sub(p.silent_for()).unwrap_or(now);
            f.observe_since(&p.id, p.live, p.caught_up, last, now);
        }
    };
    let ready = wait_until(Duration::from_secs(5), || {
        feed(&mut f);
        !f.should_answer(&client, 0, Instant::now())
    })
    .await;
    assert!(ready.is_some(), "B never left A's client to A");

    nodes[0].cancel.cancel();
    let t = wait_until(Duration::from_secs(5), || {
        feed(&mut f);
        f.should_answer(&client, 0, Instant::now())
    })
    .await;
    println!("A cancelled: B answers A's clients after {t:?}");
    assert!(t.is_some_and(|d| d <= Duration::from_millis(2500)), "{t:?}");

    let cancel = ravens_sync::CancellationToken::new();
    let mut restarted = None;
    for _ in 0..20 {
        let cfg = config("n0", nodes[0].addr, &[nodes[1].addr], &key);
        if let Ok(x) = ravens_sync::SyncNode::start(cfg, cancel.clone()).await {
            restarted = Some(x);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(restarted.is_some());
    let t = wait_until(Duration::from_secs(5), || {
        feed(&mut f);
        !f.should_answer(&client, 0, Instant::now())
    })
    .await;
    println!("A restarted: handed back after {t:?}");
    assert!(t.is_some());
    cancel.cancel();
    nodes[1].cancel.cancel();
}
