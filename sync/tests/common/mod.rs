//! Helpers shared by the sync integration tests: node start-up, bounded waits.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use ravens_sync::{CancellationToken, SyncConfig, SyncEvent, SyncHandle, SyncNode};
use tokio::sync::mpsc;

/// A running node and what stops it.
pub struct TestNode {
    pub handle: SyncHandle,
    pub events: mpsc::Receiver<SyncEvent>,
    pub cancel: CancellationToken,
    pub addr: SocketAddr,
}

/// A free UDP port on `ip` (bound then closed; tests use distinct 127.x addresses so the
/// tiny reuse race does not matter).
pub fn free_addr(ip: [u8; 4]) -> SocketAddr {
    let s = std::net::UdpSocket::bind(SocketAddr::from((ip, 0))).unwrap();
    s.local_addr().unwrap()
}

/// Config for a loopback node with the test timings.
pub fn config(id: &str, addr: SocketAddr, seeds: &[SocketAddr], secret: &Path) -> SyncConfig {
    let mut c = SyncConfig::new(id, "test-cluster", addr, secret.to_path_buf());
    c.seeds = seeds.iter().map(ToString::to_string).collect();
    c
}

/// Starts a sealed node.
pub async fn start(cfg: SyncConfig) -> TestNode {
    let cancel = CancellationToken::new();
    let addr = cfg.advertise.unwrap_or(cfg.listen);
    let (handle, events) = SyncNode::start(cfg, cancel.clone()).await.unwrap();
    TestNode { handle, events, cancel, addr }
}

/// Polls `f` every 10 ms until it is true or `limit` passes; returns the time it took.
pub async fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// True when `node`'s merged view holds `key` with `value`.
pub fn has(node: &SyncHandle, key: &str, value: &[u8]) -> bool {
    node.get(key).is_some_and(|r| !r.deleted && r.value == value)
}

/// True when `node` sees `peer` live.
pub fn sees_live(node: &SyncHandle, peer: &str) -> bool {
    node.peers().iter().any(|p| p.id == peer && p.live)
}

/// A secret file in `dir`.
pub fn secret(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("cluster.key");
    ravens_sync::generate_secret(&p).unwrap();
    p
}

/// Starts one sealed node per address in `ips` (ids `n0`, `n1`, ...), each seeded with the
/// others, and waits until every node sees every other live.
pub async fn cluster(ips: &[[u8; 4]], secret: &Path) -> Vec<TestNode> {
    let addrs: Vec<SocketAddr> = ips.iter().map(|ip| free_addr(*ip)).collect();
    let mut nodes = Vec::new();
    for (i, a) in addrs.iter().enumerate() {
        let seeds: Vec<SocketAddr> = addrs.iter().filter(|x| *x != a).copied().collect();
        nodes.push(start(config(&format!("n{i}"), *a, &seeds, secret)).await);
    }
    let all_live = wait_until(Duration::from_secs(5), || {
        nodes.iter().all(|n| {
            (0..ips.len()).all(|j| n.handle.node_id() == format!("n{j}") || sees_live(&n.handle, &format!("n{j}")))
        })
    })
    .await;
    assert!(all_live.is_some(), "cluster never became fully live");
    nodes
}
