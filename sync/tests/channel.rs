//! Replication over chitchat's in-memory channel transport with message drops and delays:
//! two and three nodes converge on the same merged view.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chitchat::ChitchatMessage;
use chitchat::transport::{ChannelTransport, Socket, Transport, TransportExt};
use common::wait_until;
use ravens_sync::{CancellationToken, SealStats, SyncConfig, SyncHandle, SyncNode};
use tokio::sync::mpsc;

/// A transport that delays every sent message by a random 0..`max` (chitchat's own delay
/// wrapper takes a trait that chitchat 0.11 does not export).
struct Delayed {
    inner: Box<dyn Transport>,
    max: Duration,
}

#[async_trait::async_trait]
impl Transport for Delayed {
    async fn open(&self, listen: SocketAddr) -> anyhow::Result<Box<dyn Socket>> {
        let inner = self.inner.open(listen).await?;
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        tokio::spawn(pump(inner, out_rx, in_tx, self.max));
        Ok(Box::new(DelayedSocket { out_tx, in_rx }))
    }
}

type Msg = (SocketAddr, ChitchatMessage);

/// Owns the real socket: receives into `in_tx`, sends what the delay timers let go.
async fn pump(
    mut inner: Box<dyn Socket>,
    mut out_rx: mpsc::UnboundedReceiver<Msg>,
    in_tx: mpsc::UnboundedSender<Msg>,
    max: Duration,
) {
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel::<Msg>();
    loop {
        tokio::select! {
            r = inner.recv() => match r {
                Ok(m) => if in_tx.send(m).is_err() { return },
                Err(_) => return,
            },
            m = out_rx.recv() => {
                let Some(m) = m else { return };
                let delay = max.mul_f64(rand::random::<f64>());
                let ready = ready_tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = ready.send(m);
                });
            }
            Some((to, msg)) = ready_rx.recv() => { let _ = inner.send(to, msg).await; }
        }
    }
}

struct DelayedSocket {
    out_tx: mpsc::UnboundedSender<Msg>,
    in_rx: mpsc::UnboundedReceiver<Msg>,
}

#[async_trait::async_trait]
impl Socket for DelayedSocket {
    async fn send(&mut self, to: SocketAddr, msg: ChitchatMessage) -> anyhow::Result<()> {
        self.out_tx.send((to, msg)).map_err(|_| anyhow::anyhow!("closed"))
    }

    async fn recv(&mut self) -> anyhow::Result<Msg> {
        self.in_rx.recv().await.ok_or_else(|| anyhow::anyhow!("closed"))
    }
}

fn addr(i: u16) -> SocketAddr {
    ([127, 0, 0, 1], 41_000 + i).into()
}

async fn start_nodes(n: u16, transport: &dyn Transport, cancel: &CancellationToken) -> Vec<SyncHandle> {
    let mut nodes = Vec::new();
    for i in 0..n {
        let mut cfg = SyncConfig::new(&format!("n{i}"), "chan", addr(i), "unused".into());
        cfg.seeds = (0..n).filter(|j| *j != i).map(|j| addr(j).to_string()).collect();
        cfg.gossip_interval = Duration::from_millis(100);
        let stats = Arc::new(SealStats::default());
        let (h, _events) = SyncNode::start_with_transport(cfg, transport, stats, cancel.clone()).await.unwrap();
        nodes.push(h);
    }
    nodes
}

/// Every node writes its own keys plus one contended key; all must end up identical.
async fn converge(n: u16, transport: Box<dyn Transport>) {
    let cancel = CancellationToken::new();
    let nodes = start_nodes(n, transport.as_ref(), &cancel).await;
    for (i, node) in nodes.iter().enumerate() {
        for k in 0..20 {
            node.publish(&format!("l/s/{i}-{k}"), format!("{{\"k\":{k}}}").into_bytes()).await.unwrap();
        }
        node.publish("c/dns/upstreams", format!("from {i}").into_bytes()).await.unwrap();
    }
    nodes[0].delete("l/s/0-0").await.unwrap();
    let want = usize::from(n) * 20; // 20 keys per node, one deleted, plus the shared key
    let ok = wait_until(Duration::from_secs(20), || {
        nodes.iter().all(|h| h.snapshot().len() == want)
            && nodes.iter().all(|h| h.get("c/dns/upstreams") == nodes[0].get("c/dns/upstreams"))
            && nodes.iter().all(|h| h.get("l/s/0-0").is_some_and(|r| r.deleted))
    })
    .await;
    let sizes: Vec<usize> = nodes.iter().map(|h| h.snapshot().len()).collect();
    assert!(ok.is_some(), "{n} nodes did not converge: {sizes:?}");
    // The contended key went to the highest (HLC, node id) writer everywhere.
    let winner = nodes[0].get("c/dns/upstreams").unwrap();
    assert!(nodes.iter().all(|h| h.entries("c/dns/upstreams").iter().all(|e| e.order() <= winner.order())));
    cancel.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_converge_with_drops() {
    converge(2, ChannelTransport::with_mtu(65_507).drop_message(0.2)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_with_delays() {
    converge(
        3,
        Box::new(Delayed { inner: Box::new(ChannelTransport::with_mtu(65_507)), max: Duration::from_millis(50) }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_converge_with_drops() {
    converge(3, ChannelTransport::with_mtu(65_507).drop_message(0.3)).await;
}
