//! Real sealed `SyncNode`s on 127.0.0.x UDP ports: replication, deletes, failure detection,
//! and forged / replayed / bit-flipped datagrams that must change nothing and be counted.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{cluster, config, free_addr, has, secret, sees_live, start, wait_until};
use ravens_sync::seal::{FragHeader, Keyring};
use tokio::net::UdpSocket;

const TWO_S: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_replicate_delete_and_detect_death() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = cluster(&[[127, 0, 0, 21], [127, 0, 0, 22]], &secret(dir.path())).await;
    let (a, b) = (&nodes[0].handle, &nodes[1].handle);

    a.publish("l/10.0.1.0/aa:bb", br#"{"ip":"10.0.1.50","expires_ms":1}"#.to_vec()).await.unwrap();
    let t = wait_until(TWO_S, || has(b, "l/10.0.1.0/aa:bb", br#"{"ip":"10.0.1.50","expires_ms":1}"#)).await;
    println!("publish A→B visible after {t:?}");
    assert!(t.is_some());

    a.delete("l/10.0.1.0/aa:bb").await.unwrap();
    let t = wait_until(TWO_S, || b.get("l/10.0.1.0/aa:bb").is_some_and(|r| r.deleted)).await;
    println!("delete A→B visible after {t:?}");
    assert!(t.is_some());

    b.publish("c/record/nas.lan", b"10.0.1.10".to_vec()).await.unwrap();
    assert!(wait_until(TWO_S, || has(a, "c/record/nas.lan", b"10.0.1.10")).await.is_some());
    assert!(wait_until(TWO_S, || b.peers().iter().all(|p| p.caught_up && p.last_heard.is_some())).await.is_some());

    nodes[0].cancel.cancel();
    let t = wait_until(Duration::from_secs(4), || !sees_live(b, "n0")).await;
    println!("A cancelled: B declared it dead after {t:?}");
    assert!(t.is_some_and(|d| d <= Duration::from_secs(3)), "{t:?}");
    assert!(b.stats().seal.rejected() == 0, "{:?}", b.stats());
    nodes[1].cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_replicate_and_detect_death() {
    let dir = tempfile::tempdir().unwrap();
    let mut nodes = cluster(&[[127, 0, 0, 31], [127, 0, 0, 32], [127, 0, 0, 33]], &secret(dir.path())).await;
    nodes[0].handle.publish("c/subnet/iot", b"{}".to_vec()).await.unwrap();
    let t = wait_until(TWO_S, || nodes[1..].iter().all(|n| has(&n.handle, "c/subnet/iot", b"{}"))).await;
    println!("publish A→B,C visible after {t:?}");
    assert!(t.is_some());
    // The events channel reports the remote change.
    let ev = tokio::time::timeout(TWO_S, async {
        loop {
            match nodes[2].events.recv().await {
                Some(ravens_sync::SyncEvent::Records(r)) if r.iter().any(|r| r.key == "c/subnet/iot") => break,
                Some(_) => continue,
                None => panic!("events closed"),
            }
        }
    })
    .await;
    assert!(ev.is_ok());

    nodes[2].cancel.cancel();
    let t = wait_until(Duration::from_secs(4), || nodes[..2].iter().all(|n| !sees_live(&n.handle, "n2"))).await;
    println!("C cancelled: A and B declared it dead after {t:?}");
    assert!(t.is_some_and(|d| d <= Duration::from_secs(3)), "{t:?}");
    for n in &nodes[..2] {
        n.cancel.cancel();
    }
}

/// Forwards B→A datagrams through a socket the test owns (A advertises the proxy address),
/// keeping a copy of each; A's replies (to the proxy) go back to B.
async fn proxy(sock: Arc<UdpSocket>, a: SocketAddr, b: SocketAddr, seen: Arc<Mutex<Vec<Vec<u8>>>>) {
    let mut buf = vec![0u8; 65_536];
    for _ in 0..1_000_000 {
        let Ok((len, from)) = sock.recv_from(&mut buf).await else { return };
        let to = if from == a { b } else { a };
        if from != a {
            seen.lock().unwrap().push(buf[..len].to_vec());
        }
        let _ = sock.send_to(&buf[..len], to).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_flipped_datagrams_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path());
    let (a_addr, b_addr) = (free_addr([127, 0, 0, 41]), free_addr([127, 0, 0, 42]));
    let proxy_sock = Arc::new(UdpSocket::bind("127.0.0.41:0").await.unwrap());
    let proxy_addr = proxy_sock.local_addr().unwrap();
    let captured = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(proxy(proxy_sock, a_addr, b_addr, captured.clone()));

    let mut a_cfg = config("a", a_addr, &[], &key);
    a_cfg.advertise = Some(proxy_addr);
    let a = start(a_cfg).await;
    let b = start(config("b", b_addr, &[proxy_addr], &key)).await;
    b.handle.publish("c/list/ads", b"v1".to_vec()).await.unwrap();
    assert!(wait_until(Duration::from_secs(4), || has(&a.handle, "c/list/ads", b"v1")).await.is_some());

    // Let a few gossip rounds pass through the proxy so there is real traffic to replay.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = a.handle.stats().seal;
    let snap_before = sorted(a.handle.snapshot());
    let attacker = UdpSocket::bind("127.0.0.43:0").await.unwrap();
    let genuine: Vec<Vec<u8>> = captured.lock().unwrap().clone();
    assert!(!genuine.is_empty());
    let mut sent = 0u64;
    for d in genuine.iter().take(20) {
        attacker.send_to(d, a_addr).await.unwrap(); // replay
        for pos in [0, 1, 5, 12, 20, 45, d.len() - 1] {
            let mut f = d.clone();
            f[pos] ^= 0x10; // bit flip
            attacker.send_to(&f, a_addr).await.unwrap();
            sent += 1;
        }
        attacker.send_to(&d[..d.len() / 2], a_addr).await.unwrap(); // truncated
        sent += 2;
    }
    let forger = Keyring::new(b"not-the-cluster-secret-at-all", None, "test-cluster");
    let now = ravens_sync::transport::wall_ms();
    for i in 0..50u8 {
        attacker.send_to(&forger.seal(&[i; 200], FragHeader::WHOLE, now), a_addr).await.unwrap();
        attacker.send_to(&vec![i; usize::from(i) * 7], a_addr).await.unwrap(); // garbage
        sent += 2;
    }
    let got = wait_until(TWO_S, || a.handle.stats().seal.rejected() - before.rejected() >= sent).await;
    let after = a.handle.stats().seal;
    println!("sent {sent} hostile datagrams; rejected before {before:?} after {after:?}");
    assert!(got.is_some(), "not all counted: {after:?}");
    assert!(after.replay > before.replay, "replays counted");
    assert!(
        after.bad_tag > before.bad_tag && after.wrong_key + after.bad_tag >= before.wrong_key + before.bad_tag + 50
    );
    assert!(after.truncated > before.truncated);
    assert_eq!(sorted(a.handle.snapshot()), snap_before, "state changed");
    // Still working after the attack.
    b.handle.publish("c/list/ads", b"v2".to_vec()).await.unwrap();
    assert!(wait_until(TWO_S, || has(&a.handle, "c/list/ads", b"v2")).await.is_some());
    a.cancel.cancel();
    b.cancel.cancel();
}

fn sorted(mut v: Vec<ravens_sync::Record>) -> Vec<ravens_sync::Record> {
    v.sort_by(|x, y| x.key.cmp(&y.key));
    v
}

/// A node restarted with an empty state (new generation, same id and address) gets back the
/// cluster's records, including the ones it wrote before the restart, and its peer sees it
/// live and caught up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_reseeds_from_its_peer() {
    let dir = tempfile::tempdir().unwrap();
    let key = secret(dir.path());
    let nodes = cluster(&[[127, 0, 0, 61], [127, 0, 0, 62]], &key).await;
    let (a, b) = (&nodes[0], &nodes[1]);
    a.handle.publish("l/s/old-a", b"{}".to_vec()).await.unwrap();
    b.handle.publish("c/group/iot", b"{}".to_vec()).await.unwrap();
    assert!(
        wait_until(TWO_S, || has(&b.handle, "l/s/old-a", b"{}") && has(&a.handle, "c/group/iot", b"{}"))
            .await
            .is_some()
    );
    let old_generation = b.handle.peers()[0].generation;

    a.cancel.cancel();
    assert!(wait_until(Duration::from_secs(4), || !sees_live(&b.handle, "n0")).await.is_some());
    let mut restarted = None;
    for _ in 0..20 {
        // The old socket closes asynchronously after cancel; retry the bind briefly.
        let cfg = config("n0", a.addr, &[b.addr], &key);
        let cancel = ravens_sync::CancellationToken::new();
        if let Ok((h, _ev)) = ravens_sync::SyncNode::start(cfg, cancel.clone()).await {
            restarted = Some((h, cancel));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (a2, a2_cancel) = restarted.expect("restart bind");
    let t = wait_until(Duration::from_secs(4), || has(&a2, "l/s/old-a", b"{}") && has(&a2, "c/group/iot", b"{}")).await;
    println!("restarted A re-seeded after {t:?}");
    assert!(t.is_some_and(|d| d <= TWO_S), "{t:?}");
    let back = wait_until(Duration::from_secs(5), || {
        b.handle.peers().iter().any(|p| p.id == "n0" && p.live && p.caught_up && p.generation != old_generation)
    })
    .await;
    println!("B sees restarted A live and caught up after {back:?}");
    assert!(back.is_some());
    a2_cancel.cancel();
    b.cancel.cancel();
}
