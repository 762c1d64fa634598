//! The pair's wiring (docs/ARCHITECTURE.md §5, §7): gossip with the other nodes
//! (ravens-sync) joined to the DHCP service's failover policy (`ravens_dhcp::failover`).
//! Nothing is decided here; this file only moves events between the two.
//!
//! - This node's lease events → `l/` records; remote record changes → lease imports
//!   ([`lease_sync`]), and site-config records to [`crate::site::Site`].
//! - Every [`TICK`] the peers' liveness goes into [`Pair::tick`]; what comes out (new node
//!   ids, bucket owners, pool slice) goes to the `cluster-nodes` file, the DHCP answer filter,
//!   [`DhcpHandle::set_slice`] and [`DhcpHandle::answer_held`].

#[path = "cluster/history.rs"]
mod history;
#[path = "cluster/lease_sync.rs"]
mod lease_sync;
#[path = "cluster/status.rs"]
mod status;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use ravens_config::Config;
use ravens_dhcp::failover::buckets::should_answer_among;
use ravens_dhcp::failover::{Pair, PeerView, TICK, Transition};
use ravens_dhcp::{AnswerFilter, DhcpHandle};
use ravens_dns::Resolver;
use ravens_sync::{SyncConfig, SyncEvent, SyncHandle, SyncNode};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use history::HISTORY;

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
    pair: Mutex<Pair>,
    /// The bucket owners the answer filter reads.
    owners: Arc<ArcSwap<Vec<String>>>,
    nodes_file: PathBuf,
    site: Arc<crate::site::Site>,
    /// Import leases granted under this node's name (see `start`).
    reseed_own: bool,
    /// Takeovers and hand-backs made, for the cluster status.
    history: history::History,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("node", &self.me).finish_non_exhaustive()
    }
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
    let reseed_own = dhcp.is_some_and(|h| !h.leases(None).iter().any(|l| *l.node == *me));
    // Subscribe before starting, so no lease granted from here on is missed.
    let local_events = dhcp.map(DhcpHandle::subscribe_own);
    let (sync, events) = SyncNode::start(sc, cancel.clone())
        .await
        .with_context(|| format!("starting cluster gossip on {}", cl.gossip_listen))?;
    tracing::info!(node = %me, cluster = %cl.name, "gossip on {}", cl.gossip_listen);
    // Slices come from every node id ever seen; the config lists peers by address only.
    let nodes_file = cfg.node.data_dir.join("cluster-nodes");
    let remembered = std::fs::read_to_string(&nodes_file).unwrap_or_default();
    let remembered = remembered.lines().map(|l| l.trim().to_owned());
    let pair = Pair::new(&me, remembered, cl.peers.len(), Instant::now());
    let owners = Arc::new(ArcSwap::from_pointee(vec![me.clone()]));
    let inner = Arc::new(Inner {
        sync: sync.clone(),
        me: me.clone(),
        cluster: cl.name.clone(),
        gossip_listen: cl.gossip_listen,
        dhcp: dhcp.cloned(),
        pair: Mutex::new(pair),
        owners: Arc::clone(&owners),
        nodes_file,
        site: Arc::clone(site),
        reseed_own,
        history: history::History::default(),
    });
    site.attach(sync.clone());
    inner.tick();
    if let Some(h) = dhcp {
        let me2 = me.clone();
        h.set_answer_filter(Some(AnswerFilter(Arc::new(move |id: &[u8], secs: u16| {
            let owners = owners.load();
            let refs: Vec<&str> = owners.iter().map(String::as_str).collect();
            should_answer_among(&me2, &refs, id, secs)
        }))));
        lease_sync::republish(&sync, h, cfg, &me).await;
        if reseed_own {
            lease_sync::ask_for_own_leases(&sync, &me, cancel).await;
        }
    }
    if let Some(rx) = local_events {
        tokio::spawn(lease_sync::publish_loop(sync.clone(), rx, cancel.clone()));
    }
    tokio::spawn(event_loop(Arc::clone(&inner), events, cancel.clone()));
    tokio::spawn(tick_loop(Arc::clone(&inner), cancel.clone()));
    Ok(Some(Cluster { inner }))
}

/// Remote record changes → site config, lease requests, DHCP imports (and, through their
/// events, DNS names).
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
                    lease_sync::adopt_for(&inner.sync, &r.origin).await;
                }
                let Some(dhcp) = &inner.dhcp else { continue };
                let leases = lease_sync::remote_leases(&inner.sync, &records, &inner.me, inner.reseed_own);
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
    /// Feeds the peers into [`Pair::tick`] and carries out what it asks for.
    fn tick(&self) {
        let peers = self.sync.peers();
        let views: Vec<PeerView<'_>> = peers
            .iter()
            .map(|p| PeerView { id: &p.id, live: p.live, caught_up: p.caught_up, silent_for: p.silent_for() })
            .collect();
        let mut pair = self.pair.lock();
        let tick = pair.tick(&views, Instant::now());
        if tick.known_changed {
            let list: String = pair.known().map(|n| format!("{n}\n")).collect();
            if let Err(e) = std::fs::write(&self.nodes_file, list) {
                tracing::warn!(file = %self.nodes_file.display(), "cannot persist cluster node ids: {e}");
            }
        }
        drop(pair);
        let owners_now = tick.owners.clone().unwrap_or_else(|| self.owners.load().to_vec());
        for t in tick.transitions {
            match &t {
                Transition::TakeOver(p) => tracing::warn!(peer = %p, "taking over the peer's DHCP clients"),
                Transition::HandBack(p) => tracing::info!(peer = %p, "handing DHCP clients back to the peer"),
            }
            self.history.record(&t, &self.me, &owners_now, ravens_config::clock::unix_ms());
        }
        let owners_changed = tick.owners.is_some();
        if let Some(owners) = tick.owners {
            tracing::info!(owners = ?owners, "DHCP bucket owners");
            self.owners.store(Arc::new(owners));
        }
        if let Some(slice) = tick.slice {
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
}
