//! The pair (DESIGN §5): gossip of leases with the other nodes (ravens-sync) and the DHCP
//! failover rules.
//!
//! Data flow: DHCP lease events of this node → `l/<subnet>/<client key>` records → gossip;
//! remote record changes → merged lease winner per client → [`ravens_dhcp::DhcpHandle::import`]
//! (the address is never handed out again, the client can renew in place anywhere, and the
//! import's lease events give the DNS names on every node). A 100 ms tick feeds peer liveness
//! into [`Failover`] and publishes the bucket owners the DHCP answer filter reads, and keeps
//! this node's pool slice in step with the node ids known.
//!
//! Slices come from the sorted ids of every node ever seen (persisted in
//! `data_dir/cluster-nodes`, since the config lists peers by address only). A node that has
//! peers configured but has never learned any peer id allocates nothing new for
//! `takeover_after` after start (it may only renew in place), then the whole pool: the one
//! unsafe case is two never-introduced nodes both starting alone while partitioned.

#[path = "cluster/lease_sync.rs"]
mod lease_sync;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use ravens_config::Config;
use ravens_dhcp::{AnswerFilter, DhcpHandle, LeaseEvent, Slice};
use ravens_dns::Resolver;
use ravens_sync::failover::{Failover, PeerPhase, Transition};
use ravens_sync::{SyncConfig, SyncEvent, SyncHandle, SyncNode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Takeover delay after the peer's last heartbeat. Issue 5 allows 2 s from a crash to a new
/// client's lease, and a client's second DISCOVER leaves about 1 s after its first, so the
/// survivor must own the buckets by then. A needless takeover (a peer only briefly slow)
/// costs duplicate offers, never a duplicate address: new addresses come from each node's
/// own slice.
pub const TAKEOVER_AFTER: Duration = Duration::from_millis(1000);
/// A peer whose heartbeat (every 250 ms) has not advanced for this long counts as not live,
/// even before the phi-accrual detector says so (it takes ~1–1.5 s).
const SILENT_DEAD: Duration = Duration::from_millis(1000);
/// How often liveness feeds the failover state machine.
const TICK: Duration = Duration::from_millis(100);
/// How long a node's request for its own leases (`r/<node>`) stays up after a start with an
/// empty journal: peers that are up answer within a gossip round or two.
const RESEED_ASK_FOR: Duration = Duration::from_secs(30);
/// A slice that owns no address (before any peer id is known).
const NO_SLICE: Slice = Slice::NONE;

/// A running cluster membership.
#[derive(Debug, Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    sync: SyncHandle,
    me: String,
    cluster: String,
    gossip_listen: std::net::SocketAddr,
    dhcp: Option<DhcpHandle>,
    view: Mutex<View>,
    owners: Arc<ArcSwap<Vec<String>>>,
    nodes_file: PathBuf,
    configured_peers: usize,
    started: Instant,
    site: Arc<crate::site::Site>,
    /// Import leases granted under this node's name (see `start`).
    reseed_own: bool,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.me).finish_non_exhaustive()
    }
}

struct View {
    failover: Failover,
    /// Every node id ever seen, this one included.
    known: BTreeSet<String>,
    slice: Option<Slice>,
}

/// Starts gossip when `[cluster]` is configured.
pub async fn start(
    cfg: &Arc<Config>,
    _resolver: &Arc<Resolver>,
    dhcp: Option<&DhcpHandle>,
    site: &Arc<crate::site::Site>,
    cancel: &CancellationToken,
) -> anyhow::Result<Option<Cluster>> {
    let Some(cl) = &cfg.cluster else { return Ok(None) };
    if !cl.secret_file.exists() {
        anyhow::bail!(
            "cluster secret file {0} not found: create it with `ravensd --gen-secret {0}` and copy it to every node",
            cl.secret_file.display()
        );
    }
    let me = cfg.node.name.clone();
    let mut sc = SyncConfig::new(&me, &cl.name, cl.gossip_listen, cl.secret_file.clone());
    sc.seeds = cl.peers.iter().map(ToString::to_string).collect();
    // No lease of ours in the journal: a fresh disk (or a new node). Leases the cluster holds
    // under our name are then imported like anyone else's, and we ask the peers for them
    // (`r/<me>`, see `adopt_for`): our own records died with our disk and our old chitchat
    // incarnation.
    let reseed_own = dhcp.is_some_and(|h| !h.leases(None).iter().any(|l| l.node == me));
    // Subscribe before starting, so no lease granted from here on is missed.
    let local_events = dhcp.map(DhcpHandle::subscribe);
    let (sync, events) = SyncNode::start(sc, cancel.clone())
        .await
        .with_context(|| format!("starting cluster gossip on {}", cl.gossip_listen))?;
    tracing::info!(node = %me, cluster = %cl.name, "gossip on {}", cl.gossip_listen);
    let nodes_file = cfg.node.data_dir.join("cluster-nodes");
    let mut known: BTreeSet<String> = std::fs::read_to_string(&nodes_file)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    known.insert(me.clone());
    let peers: Vec<&str> = known.iter().map(String::as_str).filter(|p| *p != me).collect();
    let failover = Failover::new(&me, &peers, TAKEOVER_AFTER, Instant::now());
    let owners = Arc::new(ArcSwap::from_pointee(vec![me.clone()]));
    let inner = Arc::new(Inner {
        sync: sync.clone(),
        me: me.clone(),
        cluster: cl.name.clone(),
        gossip_listen: cl.gossip_listen,
        dhcp: dhcp.cloned(),
        view: Mutex::new(View { failover, known, slice: None }),
        owners: Arc::clone(&owners),
        nodes_file,
        configured_peers: cl.peers.len(),
        started: Instant::now(),
        site: Arc::clone(site),
        reseed_own,
    });
    site.attach(sync.clone());
    inner.tick();
    if let Some(h) = dhcp {
        let me2 = me.clone();
        h.set_answer_filter(Some(AnswerFilter(Arc::new(move |id: &[u8], secs: u16| {
            let owners = owners.load();
            let refs: Vec<&str> = owners.iter().map(String::as_str).collect();
            ravens_sync::buckets::should_answer_among(&me2, &refs, id, secs)
        }))));
        republish(&sync, h, cfg, &me).await;
        if reseed_own {
            ask_for_own_leases(&sync, &me, cancel).await;
        }
    }
    if let Some(rx) = local_events {
        tokio::spawn(publish_loop(sync.clone(), me.clone(), rx, cancel.clone()));
    }
    tokio::spawn(event_loop(Arc::clone(&inner), events, cancel.clone()));
    tokio::spawn(tick_loop(Arc::clone(&inner), cancel.clone()));
    Ok(Some(Cluster { inner }))
}

/// After a restart: this node's journal leases go back into the cluster.
async fn republish(sync: &SyncHandle, dhcp: &DhcpHandle, cfg: &Config, me: &str) {
    let lease_secs = |subnet: &str| cfg.subnets.iter().find(|s| s.name == subnet).map_or(0, |s| s.lease_time.as_secs());
    let records: Vec<_> = dhcp
        .leases(None)
        .iter()
        .filter(|l| l.node == me)
        .filter_map(|l| lease_sync::record_of_info(l, lease_secs(&l.subnet), me))
        .collect();
    let n = records.len();
    match sync.republish(records).await {
        Ok(()) if n > 0 => tracing::info!(leases = n, "republished this node's leases"),
        Ok(()) => {}
        Err(e) => tracing::warn!("republishing leases failed: {e:#}"),
    }
}

/// This node's lease events → records.
async fn publish_loop(sync: SyncHandle, me: String, mut rx: mpsc::Receiver<LeaseEvent>, cancel: CancellationToken) {
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
        };
        if ev.node != me {
            continue; // imported from a peer: it is that peer's record
        }
        let Some((key, value)) = lease_sync::value_of_event(&ev) else { continue };
        let Ok(bytes) = serde_json::to_vec(&value) else { continue };
        if let Err(e) = sync.publish(&key, bytes).await {
            tracing::warn!(key, "publishing a lease failed: {e:#}");
        }
    }
}

/// Publishes `r/<me>` (peers answer with [`adopt_for`]) and withdraws it after a while, so a
/// peer's later restart does not read it as a new request and send every lease again.
async fn ask_for_own_leases(sync: &SyncHandle, me: &str, cancel: &CancellationToken) {
    let key = format!("r/{me}");
    if let Err(e) = sync.publish(&key, now_ms_bytes()).await {
        tracing::warn!("asking the peers for this node's leases failed: {e:#}");
        return;
    }
    let (sync, cancel) = (sync.clone(), cancel.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(RESEED_ASK_FOR) => {
                if let Err(e) = sync.delete(&key).await {
                    tracing::warn!("withdrawing the lease request failed: {e:#}");
                }
            }
        }
    });
}

/// A peer restarted with an empty disk asked for its leases: re-publish, under our keys and
/// with their original stamps, the unexpired lease records it wrote that we hold. Costs
/// nothing in steady state (leases are not carried twice), one resync per such restart.
async fn adopt_for(sync: &SyncHandle, origin: &str) {
    let now = lease_sync::now_ms();
    let records: Vec<ravens_sync::Record> = sync.with_replica(|r| {
        r.winners()
            .filter(|w| w.key.starts_with("l/") && w.origin == origin && !w.deleted)
            .filter(|w| ravens_sync::lease_expiry_ms(&w.value).is_some_and(|e| e > now))
            .cloned()
            .collect()
    });
    let n = records.len();
    match sync.republish(records).await {
        Ok(()) => tracing::info!(peer = origin, leases = n, "peer restarted without its leases; sent them back"),
        Err(e) => tracing::warn!(peer = origin, "re-publishing a peer's leases failed: {e:#}"),
    }
}

/// Remote record changes → DHCP imports (and, through their events, DNS names).
async fn event_loop(inner: Arc<Inner>, mut events: mpsc::Receiver<SyncEvent>, cancel: CancellationToken) {
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            ev = events.recv() => match ev { Some(ev) => ev, None => return },
        };
        match ev {
            SyncEvent::Records(records) => {
                if inner.site.on_remote(&records) {
                    inner.site.remote_changed.notify_one();
                }
                for r in records.iter().filter(|r| r.key.starts_with("r/") && !r.deleted && r.origin != inner.me) {
                    adopt_for(&inner.sync, &r.origin).await;
                }
                let Some(dhcp) = &inner.dhcp else { continue };
                let leases: Vec<_> = records
                    .iter()
                    .filter(|r| r.key.starts_with("l/"))
                    .filter_map(|r| lease_sync::remote_lease(&inner.sync, r, &inner.me, inner.reseed_own))
                    .collect();
                if !leases.is_empty() {
                    tracing::debug!(leases = leases.len(), "importing remote leases");
                    dhcp.import(&leases);
                }
            }
            SyncEvent::PeerUp { id, addr } => tracing::info!(peer = %id, %addr, "peer up"),
            SyncEvent::PeerDown { id, addr } => tracing::warn!(peer = %id, %addr, "peer down"),
        }
        inner.tick();
    }
}

async fn tick_loop(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut t = tokio::time::interval(TICK);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = t.tick() => inner.tick(),
        }
    }
}

impl Inner {
    /// Liveness → failover → bucket owners; known node ids → pool slice.
    fn tick(&self) {
        let now = Instant::now();
        let peers = self.sync.peers();
        let mut v = self.view.lock();
        let before = v.known.len();
        v.known.extend(peers.iter().map(|p| p.id.clone()));
        if v.known.len() != before {
            let list: String = v.known.iter().map(|n| format!("{n}\n")).collect();
            if let Err(e) = std::fs::write(&self.nodes_file, list) {
                tracing::warn!(file = %self.nodes_file.display(), "cannot persist cluster node ids: {e}");
            }
        }
        let mut transitions = Vec::new();
        for p in &peers {
            let silent = p.silent_for();
            let heard = now.checked_sub(silent).unwrap_or(now);
            let live = p.live && silent < SILENT_DEAD;
            transitions.extend(v.failover.observe_since(&p.id, live, p.caught_up, heard, now));
        }
        transitions.extend(v.failover.tick(now));
        for t in transitions {
            match t {
                Transition::TakeOver(p) => tracing::warn!(peer = %p, "taking over the peer's DHCP clients"),
                Transition::HandBack(p) => tracing::info!(peer = %p, "handing DHCP clients back to the peer"),
            }
        }
        let owners: Vec<String> = v.failover.owners(now).into_iter().map(String::from).collect();
        let owners_changed = **self.owners.load() != owners;
        if owners_changed {
            tracing::info!(owners = ?owners, "DHCP bucket owners");
            self.owners.store(Arc::new(owners));
        }
        let slice = if v.known.len() > 1 {
            let ids: Vec<&str> = v.known.iter().map(String::as_str).collect();
            Slice::for_node(&ids, &self.me)
        } else if self.configured_peers == 0 || now.duration_since(self.started) >= TAKEOVER_AFTER {
            Slice::WHOLE
        } else {
            NO_SLICE
        };
        if v.slice != Some(slice) {
            v.slice = Some(slice);
            drop(v);
            if let Some(d) = &self.dhcp {
                d.set_slice(slice);
            }
            tracing::info!(index = slice.index, count = slice.count, "pool slice");
        }
        // A takeover answers at once the DISCOVERs the dead peer's clients sent meanwhile.
        if owners_changed && let Some(d) = &self.dhcp {
            let n = d.answer_held();
            if n > 0 {
                tracing::info!(replayed = n, "answered DISCOVERs held while the owner was silent");
            }
        }
    }
}

fn now_ms_bytes() -> Vec<u8> {
    lease_sync::now_ms().to_string().into_bytes()
}

fn epoch(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Node id → admin API address, from the `n/<node>` records (`{"admin": "IP:PORT"}`).
fn admin_addresses(records: &[ravens_sync::Record]) -> std::collections::BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| {
            let node = r.key.strip_prefix("n/")?;
            let v: serde_json::Value = serde_json::from_slice(&r.value).ok()?;
            Some((node.to_string(), v["admin"].as_str()?.to_string()))
        })
        .collect()
}

impl Cluster {
    /// Publishes this node's admin API address as `n/<node>` so that `dnsctl --all` finds
    /// every node. An unspecified listen address (0.0.0.0) is published with the gossip IP.
    pub async fn publish_admin(&self, admin: std::net::SocketAddr) {
        let i = &self.inner;
        let mut addr = admin;
        if addr.ip().is_unspecified() && !i.gossip_listen.ip().is_unspecified() {
            addr.set_ip(i.gossip_listen.ip());
        }
        let value = serde_json::json!({ "admin": addr.to_string() }).to_string().into_bytes();
        if let Err(e) = i.sync.publish(&format!("n/{}", i.me), value).await {
            tracing::warn!("publishing this node's admin address failed: {e:#}");
        }
    }

    /// The sync handle (records, peers, counters).
    pub fn sync(&self) -> &SyncHandle {
        &self.inner.sync
    }

    /// Membership and replication state for `dnsctl status`: peers (id, gossip address, live,
    /// since, last heard, lag, caught up, failover phase), seal counters, record counts, this
    /// node's pool slice and the nodes currently owning buckets.
    pub fn status(&self) -> serde_json::Value {
        let i = &self.inner;
        let now = Instant::now();
        let v = i.view.lock();
        let peers: Vec<serde_json::Value> = i
            .sync
            .peers()
            .iter()
            .map(|p| {
                let phase = match v.failover.phase(&p.id, now) {
                    Some(PeerPhase::Serving) => "serving",
                    Some(PeerPhase::Silent(_)) => "silent",
                    Some(PeerPhase::TakenOver) => "taken_over",
                    Some(PeerPhase::Returning) => "returning",
                    None => "unknown",
                };
                serde_json::json!({
                    "id": p.id,
                    "addr": p.addr.to_string(),
                    "live": p.live,
                    "since": epoch(p.since),
                    "last_heard": p.last_heard.map(epoch),
                    "silent_ms": p.silent_for().as_millis() as u64,
                    "lag_ms": p.lag.map(|l| l.as_millis() as u64),
                    "caught_up": p.caught_up,
                    "phase": phase,
                })
            })
            .collect();
        let owners: Vec<String> = v.failover.owners(now).into_iter().map(String::from).collect();
        let slice = v.slice.map(|s| serde_json::json!({ "index": s.index, "count": s.count }));
        let known: Vec<String> = v.known.iter().cloned().collect();
        drop(v);
        let st = i.sync.stats();
        let s = st.seal;
        let (records, leases, admin) = i.sync.with_replica(|r| {
            let snap = r.snapshot();
            (snap.len(), snap.iter().filter(|x| x.key.starts_with("l/")).count(), admin_addresses(&snap))
        });
        let (site_live, site_tombstones) = i.site.counts();
        serde_json::json!({
            "node": i.me,
            "cluster": i.cluster,
            "gossip_listen": i.gossip_listen.to_string(),
            "peers": peers,
            "nodes": known,
            "bucket_owners": owners,
            "admin": admin,
            "slice": slice,
            "records": records,
            "lease_records": leases,
            "published": st.published,
            "applied": st.applied,
            "bad_records": st.bad_records,
            "newer_records": st.newer_records,
            "newer_lease_values": lease_sync::newer_values(),
            "site_config": {
                "records": site_live,
                "tombstones": site_tombstones,
                "write_back_error": i.site.last_error.lock().clone(),
            },
            "seal": {
                "sealed": s.sealed, "opened": s.opened, "truncated": s.truncated, "malformed": s.malformed,
                "wrong_key": s.wrong_key, "bad_tag": s.bad_tag, "too_old": s.too_old, "too_new": s.too_new,
                "replay": s.replay,
            },
        })
    }
}
