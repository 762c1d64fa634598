//! The daemon-facing API of a running sync node: [`SyncHandle`] to publish, delete, read the
//! merged view, peers and counters; [`SyncEvent`]s for what changed remotely.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chitchat::{Chitchat, ChitchatHandle, ChitchatId};
use tokio::sync::Notify;

use crate::hlc::HlcClock;
use crate::record::{Record, RecordError};
use crate::replica::Replica;
use crate::seal::{SealCounts, SealStats};
use crate::transport::wall_ms;

/// Why a sync operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The record was refused (key, node id or value size).
    #[error(transparent)]
    Record(#[from] RecordError),
    /// The secret file could not be read.
    #[error(transparent)]
    Secret(#[from] crate::secret::SecretError),
    /// chitchat could not start (e.g. the listen address is taken).
    #[error("starting gossip: {0:#}")]
    Start(anyhow::Error),
}

/// What changed, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// Keys whose winning record changed because of another node's entries. Tombstones are
    /// included (`deleted`), so the daemon can drop what the record held.
    Records(Vec<Record>),
    /// A peer became live.
    PeerUp { id: String, addr: SocketAddr },
    /// A peer stopped being live (failure detector).
    PeerDown { id: String, addr: SocketAddr },
}

/// One peer as seen by this node (for `dnsctl status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// Node id.
    pub id: String,
    /// Gossip address.
    pub addr: SocketAddr,
    /// chitchat generation (boot time in ms) of the newest incarnation seen.
    pub generation: u64,
    /// Live according to the failure detector.
    pub live: bool,
    /// When `live` last changed (or when the peer was first seen).
    pub since: SystemTime,
    /// When its heartbeat last advanced.
    pub last_heard: Option<SystemTime>,
    /// Delivery delay of the newest record it wrote (now − HLC wall time at arrival; assumes
    /// clocks within a few ms). `None` until it writes something.
    pub lag: Option<Duration>,
    /// It has acknowledged (through its `~seen` key) everything we had published 2 s ago:
    /// the "caught up" input of [`crate::failover::Failover::observe`].
    pub caught_up: bool,
}

impl PeerStatus {
    /// How long since its heartbeat last advanced (since `since` when never heard), for
    /// [`crate::failover::Failover::observe_since`]: `Instant::now() - peer.silent_for()`.
    pub fn silent_for(&self) -> Duration {
        SystemTime::now().duration_since(self.last_heard.unwrap_or(self.since)).unwrap_or_default()
    }
}

/// Counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Sealed transport counters (sealed, opened, rejected by reason).
    pub seal: SealCounts,
    /// Records this node published or deleted.
    pub published: u64,
    /// Remote entries applied (whether or not they won).
    pub applied: u64,
    /// Remote values that were not valid records (dropped).
    pub bad_records: u64,
    /// Remote records in a format newer than this version reads (skipped, not misread).
    pub newer_records: u64,
}

/// Handle on a running sync node; cheap to clone.
#[derive(Clone)]
pub struct SyncHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for SyncHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandle").field("node", &self.shared.me.node_id).finish()
    }
}

pub(crate) struct Shared {
    pub(crate) me: ChitchatId,
    pub(crate) chitchat: Arc<tokio::sync::Mutex<Chitchat>>,
    pub(crate) server: Mutex<Option<ChitchatHandle>>,
    pub(crate) state: Mutex<State>,
    pub(crate) nudge: Notify,
    pub(crate) seal_stats: Arc<SealStats>,
    pub(crate) adopt_prefixes: Vec<String>,
    pub(crate) published: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) bad_records: AtomicU64,
    pub(crate) newer_records: AtomicU64,
}

#[derive(Default)]
pub(crate) struct State {
    pub(crate) clock: HlcClock,
    pub(crate) replica: Replica,
    pub(crate) peers: BTreeMap<String, PeerStatus>,
    /// Our chitchat max_version over the last seconds, for `caught_up`.
    pub(crate) my_versions: std::collections::VecDeque<(Instant, u64)>,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes records into our own chitchat key space. Each is written only if it is still the
    /// replica's winner under the chitchat lock, so a slower adopt never overwrites a newer
    /// local publish.
    pub(crate) async fn write_own(&self, records: &[Record], only_if_winner: bool) {
        let mut cc = self.chitchat.lock().await;
        let st = self.state();
        for r in records {
            if only_if_winner && st.replica.winner(&r.key).map(Record::order) != Some(r.order()) {
                continue;
            }
            cc.self_node_state().set(&r.key, r.encode_value());
        }
        drop(st);
        drop(cc);
        self.nudge.notify_one();
    }
}

impl SyncHandle {
    /// This node's id.
    pub fn node_id(&self) -> &str {
        &self.shared.me.node_id
    }

    /// Publishes `value` under `key` with a fresh HLC stamp; returns the stored record.
    /// Values over 4 KB are refused with [`RecordError::ValueTooLarge`].
    pub async fn publish(&self, key: &str, value: Vec<u8>) -> Result<Record, SyncError> {
        self.write(key, Some(value)).await
    }

    /// Deletes `key` cluster-wide by publishing a tombstone (kept 30 days).
    pub async fn delete(&self, key: &str) -> Result<Record, SyncError> {
        self.write(key, None).await
    }

    async fn write(&self, key: &str, value: Option<Vec<u8>>) -> Result<Record, SyncError> {
        let me = &self.shared.me.node_id;
        // Stamp and store under the chitchat lock so two concurrent writes of one key reach
        // chitchat in stamp order.
        let mut cc = self.shared.chitchat.lock().await;
        let mut st = self.shared.state();
        let hlc = st.clock.now(wall_ms());
        let rec = match value {
            Some(v) => Record::new(key, v, hlc, me)?,
            None => Record::tombstone(key, hlc, me)?,
        };
        st.replica.apply(rec.clone());
        drop(st);
        cc.self_node_state().set(key, rec.encode_value());
        drop(cc);
        self.shared.published.fetch_add(1, Ordering::Relaxed);
        self.shared.nudge.notify_one();
        Ok(rec)
    }

    /// Re-publishes records as they are (same HLC and origin) under this node's keys: the
    /// daemon calls this after a restart with the records of its journal / config file, so the
    /// cluster gets them back without new versions winning over newer remote edits.
    pub async fn republish(&self, records: Vec<Record>) -> Result<(), SyncError> {
        let now = wall_ms();
        {
            let mut st = self.shared.state();
            for r in &records {
                crate::record::check_key(&r.key)?;
                st.clock.observe(r.hlc, now);
                st.replica.apply(r.clone());
            }
        }
        self.shared.write_own(&records, true).await;
        Ok(())
    }

    /// The merged view of every node's records: one live winner per key.
    pub fn snapshot(&self) -> Vec<Record> {
        self.shared.state().replica.snapshot()
    }

    /// The winner for one key (tombstones included).
    pub fn get(&self, key: &str) -> Option<Record> {
        self.shared.state().replica.winner(key).cloned()
    }

    /// Every node's entry for `key`, for a rule of the reader's own beyond [`crate::merge`].
    pub fn entries(&self, key: &str) -> Vec<Record> {
        self.shared.state().replica.entries(key).to_vec()
    }

    /// Runs `f` on the merged replica without copying it (keep `f` short: it holds a lock).
    pub fn with_replica<T>(&self, f: impl FnOnce(&Replica) -> T) -> T {
        f(&self.shared.state().replica)
    }

    /// Every peer ever seen, newest incarnation per node id.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.shared.state().peers.values().cloned().collect()
    }

    /// Counters.
    pub fn stats(&self) -> SyncStats {
        let s = &self.shared;
        SyncStats {
            seal: s.seal_stats.counts(),
            published: s.published.load(Ordering::Relaxed),
            applied: s.applied.load(Ordering::Relaxed),
            bad_records: s.bad_records.load(Ordering::Relaxed),
            newer_records: s.newer_records.load(Ordering::Relaxed),
        }
    }
}
