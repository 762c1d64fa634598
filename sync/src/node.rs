//! Starting a sync node: chitchat with the sealed transport, plus three small tasks that move
//! data between chitchat and the sans-IO [`Replica`](crate::replica::Replica):
//!
//! - **apply**: chitchat key-change callbacks → decode → replica → [`SyncEvent::Records`];
//!   adopts remote site-config winners into our own key space so they outlive their writer;
//! - **monitor** (every 100 ms): liveness → [`SyncEvent::PeerUp`]/[`SyncEvent::PeerDown`],
//!   last heard, `~seen` acknowledgements, tombstone purge;
//! - **nudge**: an extra gossip round right after a local write or a received batch (at most
//!   one per 10 ms), so replication does not wait for the 250 ms gossip tick and a resync
//!   runs at network speed instead of one delta per tick.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chitchat::transport::Transport;
use chitchat::{ChitchatConfig, ChitchatId, FailureDetectorConfig, spawn_chitchat};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;

use crate::handle::{Shared, State, SyncError, SyncEvent, SyncHandle};
use crate::monitor::monitor_loop;
use crate::record::{Record, RecordError};
use crate::seal::SealStats;
use crate::secret::load_secret;
use crate::transport::{SealKeys, SealedTransport, wall_ms};

/// Settings of one sync node.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// This node's id (`[node].name`), `[A-Za-z0-9._-]`.
    pub node_id: String,
    /// Cluster name: chitchat cluster id and HKDF info.
    pub cluster: String,
    /// Gossip UDP address to bind.
    pub listen: SocketAddr,
    /// Address peers should use; defaults to `listen`.
    pub advertise: Option<SocketAddr>,
    /// Peers' gossip addresses (`host:port` strings are resolved by chitchat).
    pub seeds: Vec<String>,
    /// Cluster secret file.
    pub secret_file: PathBuf,
    /// Previous secret file, accepted for opening during a rotation.
    pub previous_secret_file: Option<PathBuf>,
    /// Gossip tick. Default 250 ms.
    pub gossip_interval: Duration,
    /// Phi-accrual threshold. Default 8: with a 250 ms tick a silent peer is dead after
    /// about 1–1.5 s.
    pub phi_threshold: f64,
    /// Key prefixes whose remote winners this node re-publishes under its own keys (with the
    /// original stamp) so they survive their writer's restart. Default `["c/"]`.
    pub adopt_prefixes: Vec<String>,
    /// chitchat generation; default: boot time in ms.
    pub generation: Option<u64>,
}

impl SyncConfig {
    /// A config with the defaults above.
    pub fn new(node_id: &str, cluster: &str, listen: SocketAddr, secret_file: PathBuf) -> Self {
        Self {
            node_id: node_id.to_owned(),
            cluster: cluster.to_owned(),
            listen,
            advertise: None,
            seeds: Vec::new(),
            secret_file,
            previous_secret_file: None,
            gossip_interval: Duration::from_millis(250),
            phi_threshold: 8.0,
            adopt_prefixes: vec!["c/".to_owned()],
            generation: None,
        }
    }
}

/// Entry point; see [`SyncNode::start`].
#[derive(Debug)]
pub struct SyncNode;

/// A chitchat key change: which node's key space, key, value.
type KeyChange = (ChitchatId, String, String);

impl SyncNode {
    /// Reads the secret file(s), binds the gossip socket and starts gossiping. Runs until
    /// `cancel` fires. Events arrive on the receiver (bounded: a daemon that stops reading
    /// slows replication down rather than growing memory in this crate's tasks).
    pub async fn start(
        config: SyncConfig,
        cancel: CancellationToken,
    ) -> Result<(SyncHandle, mpsc::Receiver<SyncEvent>), SyncError> {
        let current = load_secret(&config.secret_file)?;
        let previous = config.previous_secret_file.as_deref().map(load_secret).transpose()?;
        let stats = Arc::new(SealStats::default());
        let keys = SealKeys { current, previous, cluster: config.cluster.clone() };
        let transport = SealedTransport::new(keys, stats.clone());
        Self::start_with_transport(config, &transport, stats, cancel).await
    }

    /// Like [`SyncNode::start`] over any chitchat transport (tests use chitchat's in-memory
    /// `ChannelTransport`; `stats` then stays at zero for sealing).
    pub async fn start_with_transport(
        config: SyncConfig,
        transport: &dyn Transport,
        seal_stats: Arc<SealStats>,
        cancel: CancellationToken,
    ) -> Result<(SyncHandle, mpsc::Receiver<SyncEvent>), SyncError> {
        crate::record::check_node_id(&config.node_id)?;
        let generation = config.generation.unwrap_or_else(wall_ms);
        let advertise = config.advertise.unwrap_or(config.listen);
        let me = ChitchatId::new(config.node_id.clone(), generation, advertise);
        let server = spawn_chitchat(chitchat_config(&config, me.clone()), Vec::new(), transport)
            .await
            .map_err(SyncError::Start)?;
        let shared = Arc::new(Shared {
            me: me.clone(),
            chitchat: server.chitchat(),
            server: Mutex::new(Some(server)),
            state: Mutex::new(State::default()),
            nudge: Notify::new(),
            seal_stats,
            adopt_prefixes: config.adopt_prefixes.clone(),
            published: AtomicU64::new(0),
            applied: AtomicU64::new(0),
            bad_records: AtomicU64::new(0),
            newer_records: AtomicU64::new(0),
        });
        let (change_tx, change_rx) = mpsc::unbounded_channel::<KeyChange>();
        let listener = shared.chitchat.lock().await.subscribe_event("", move |ev| {
            // Runs under chitchat's lock: only filter and hand over.
            if ev.node != &me && !ev.key.starts_with('~') {
                let _ = change_tx.send((ev.node.clone(), ev.key.to_owned(), ev.value.to_owned()));
            }
        });
        let (event_tx, event_rx) = mpsc::channel(1024);
        tokio::spawn(apply_loop(shared.clone(), change_rx, event_tx.clone(), cancel.clone(), listener));
        tokio::spawn(monitor_loop(shared.clone(), event_tx, cancel.clone()));
        tokio::spawn(nudge_loop(shared.clone(), cancel.clone()));
        Ok((SyncHandle { shared }, event_rx))
    }
}

fn chitchat_config(config: &SyncConfig, id: ChitchatId) -> ChitchatConfig {
    let interval = config.gossip_interval;
    ChitchatConfig {
        chitchat_id: id,
        cluster_id: config.cluster.clone(),
        gossip_interval: interval,
        listen_addr: config.listen,
        seed_nodes: config.seeds.clone(),
        failure_detector_config: FailureDetectorConfig {
            phi_threshold: config.phi_threshold,
            sampling_window_size: 100,
            // chitchat's phi is "silence / mean interval": gaps longer than this are outages,
            // not samples, so they must not inflate the mean.
            max_interval: interval * 4,
            initial_interval: interval,
            dead_node_grace_period: Duration::from_secs(24 * 3600),
        },
        // Only engine-level purges (tombstones past 30 days) delete chitchat keys.
        marked_for_deletion_grace_period: Duration::from_secs(3600),
        catchup_callback: None,
        extra_liveness_predicate: None,
    }
}

async fn apply_loop(
    shared: Arc<Shared>,
    mut rx: mpsc::UnboundedReceiver<KeyChange>,
    events: mpsc::Sender<SyncEvent>,
    cancel: CancellationToken,
    _listener: chitchat::ListenerHandle,
) {
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => break,
            m = rx.recv() => match m { Some(m) => m, None => break },
        };
        let mut batch = vec![first];
        while batch.len() < 8192 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let (changed, adopt) = apply_batch(&shared, batch);
        if !adopt.is_empty() {
            shared.write_own(&adopt, true).await;
        }
        // More may be waiting on the peer's side: pull again soon rather than next tick.
        shared.nudge.notify_one();
        if !changed.is_empty() && events.send(SyncEvent::Records(changed)).await.is_err() {
            tracing::debug!("sync event receiver dropped");
        }
    }
    shutdown(&shared).await;
}

/// Decodes and applies a batch; returns the changed winners (one per key) and the records to
/// adopt into our own key space.
fn apply_batch(shared: &Shared, batch: Vec<KeyChange>) -> (Vec<Record>, Vec<Record>) {
    let now = wall_ms();
    let mut changed: HashMap<String, Record> = HashMap::new();
    let mut st = shared.state();
    for (node, key, value) in batch {
        let rec = match Record::decode_value(&key, &value) {
            Ok(rec) => rec,
            Err(RecordError::NewerFormat(format)) => {
                // A peer on a later version: skipped, not misread; this node keeps the entries
                // it has until it is upgraded too. Said once, counted always.
                if shared.newer_records.fetch_add(1, Ordering::Relaxed) == 0 {
                    tracing::warn!(peer = %node.node_id, key, format, "record in a newer format skipped; upgrade this node");
                }
                continue;
            }
            Err(_) => {
                shared.bad_records.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        shared.applied.fetch_add(1, Ordering::Relaxed);
        st.clock.observe(rec.hlc, now);
        if *rec.origin == *node.node_id
            && let Some(p) = st.peers.get_mut(&rec.origin)
        {
            p.lag = Some(Duration::from_millis(now.saturating_sub(rec.hlc.wall_ms)));
        }
        if let Some(w) = st.replica.apply(rec) {
            changed.insert(w.key.clone(), w.clone());
        }
    }
    let me = &*shared.me.node_id;
    let adopt = changed
        .values()
        .filter(|r| r.origin != me && shared.adopt_prefixes.iter().any(|p| r.key.starts_with(p)))
        .cloned()
        .collect();
    (changed.into_values().collect(), adopt)
}

/// Extra gossip rounds with the live peers when woken, at most one per 10 ms.
async fn nudge_loop(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = shared.nudge.notified() => {}
        }
        let peers: Vec<SocketAddr> = {
            let cc = shared.chitchat.lock().await;
            cc.live_nodes().filter(|id| **id != shared.me).map(|id| id.gossip_advertise_addr).collect()
        };
        if let Some(server) = shared.server.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            for addr in peers {
                let _ = server.gossip(addr);
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn shutdown(shared: &Shared) {
    let server = shared.server.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(server) = server {
        let _ = server.shutdown().await;
    }
}
