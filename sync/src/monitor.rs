//! The monitor task: every 100 ms it reads chitchat's membership (liveness, heartbeats, each
//! peer's `~seen` acknowledgements), updates the [`PeerStatus`] table, emits peer up/down
//! events, publishes our own `~seen` (once a second: it is itself a chitchat write, so more
//! often would just make the peers' views churn) and purges old tombstones.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use chitchat::ChitchatId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::handle::{PeerStatus, Shared, State, SyncEvent};
use crate::transport::wall_ms;

/// Key under which each node lists, per node id, the `(generation, max_version)` it holds.
pub(crate) const SEEN_KEY: &str = "~seen";
const TICK: Duration = Duration::from_millis(100);
const SEEN_EVERY: Duration = Duration::from_secs(1);
/// A peer is caught up when it acknowledges what we had published this long ago.
const CAUGHT_UP_WINDOW: Duration = Duration::from_secs(2);
const PURGE_EVERY: Duration = Duration::from_secs(600);

type Seen = BTreeMap<String, (u64, u64)>;

struct NodeView {
    id: ChitchatId,
    live: bool,
    heartbeat: u64,
    seen_me: Option<u64>,
}

struct View {
    nodes: Vec<NodeView>,
    my_max: u64,
    seen: Seen,
}

pub(crate) async fn monitor_loop(shared: Arc<Shared>, events: mpsc::Sender<SyncEvent>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(TICK);
    let mut heartbeats: HashMap<ChitchatId, u64> = HashMap::new();
    let mut last_seen = Instant::now() - SEEN_EVERY;
    let mut last_seen_value = Seen::new();
    let mut last_purge = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let view = read_view(&shared).await;
        let evs = update_peers(&mut shared.state(), &shared.me, &view, &mut heartbeats);
        for e in evs {
            let _ = events.send(e).await;
        }
        if last_seen.elapsed() >= SEEN_EVERY && view.seen != last_seen_value {
            let json = serde_json::to_string(&view.seen).unwrap_or_default();
            shared.chitchat.lock().await.self_node_state().set(SEEN_KEY, json);
            last_seen = Instant::now();
            last_seen_value = view.seen;
        }
        if last_purge.elapsed() >= PURGE_EVERY {
            purge(&shared).await;
            last_purge = Instant::now();
        }
    }
}

async fn read_view(shared: &Shared) -> View {
    let cc = shared.chitchat.lock().await;
    let live: HashSet<&ChitchatId> = cc.live_nodes().collect();
    let me = &shared.me;
    let mut view = View { nodes: Vec::new(), my_max: 0, seen: Seen::new() };
    for (id, ns) in cc.node_states() {
        let newest = view.seen.get(&*id.node_id).is_none_or(|(g, _)| *g <= id.generation_id);
        if newest {
            view.seen.insert(id.node_id.to_string(), (id.generation_id, ns.max_version()));
        }
        if id == me {
            view.my_max = ns.max_version();
            continue;
        }
        let seen_me = ns
            .get(SEEN_KEY)
            .and_then(|s| serde_json::from_str::<Seen>(s).ok())
            .and_then(|m| m.get(&*me.node_id).copied())
            .filter(|(generation, _)| *generation == me.generation_id)
            .map(|(_, v)| v);
        let heartbeat = u64::from(ns.heartbeat());
        view.nodes.push(NodeView { id: id.clone(), live: live.contains(id), heartbeat, seen_me });
    }
    view
}

/// Folds a membership view into the peer table; returns up/down events.
fn update_peers(
    st: &mut State,
    me: &ChitchatId,
    view: &View,
    heartbeats: &mut HashMap<ChitchatId, u64>,
) -> Vec<SyncEvent> {
    let now = SystemTime::now();
    let target = caught_up_target(st, view.my_max);
    // Newest incarnation per node id; older generations of a restarted node are ignored.
    let mut newest: BTreeMap<&str, &NodeView> = BTreeMap::new();
    for n in view.nodes.iter().filter(|n| n.id.node_id != me.node_id) {
        let e = newest.entry(&n.id.node_id).or_insert(n);
        if n.id.generation_id > e.id.generation_id {
            *e = n;
        }
    }
    let mut events = Vec::new();
    for (id, n) in newest {
        let p = st.peers.entry(id.to_owned()).or_insert_with(|| PeerStatus {
            id: id.to_owned(),
            addr: n.id.gossip_advertise_addr,
            generation: n.id.generation_id,
            live: false,
            since: now,
            last_heard: None,
            lag: None,
            caught_up: false,
        });
        p.addr = n.id.gossip_advertise_addr;
        p.generation = n.id.generation_id;
        if heartbeats.insert(n.id.clone(), n.heartbeat) != Some(n.heartbeat) {
            p.last_heard = Some(now);
        }
        p.caught_up = n.seen_me.is_some_and(|v| v >= target);
        if p.live != n.live {
            p.live = n.live;
            p.since = now;
            let (id, addr) = (p.id.clone(), p.addr);
            events.push(if n.live { SyncEvent::PeerUp { id, addr } } else { SyncEvent::PeerDown { id, addr } });
        }
    }
    events
}

/// Our max_version as of [`CAUGHT_UP_WINDOW`] ago (or the oldest sample we have).
fn caught_up_target(st: &mut State, my_max: u64) -> u64 {
    let now = Instant::now();
    st.my_versions.push_back((now, my_max));
    while st.my_versions.len() > 2 && now.duration_since(st.my_versions[1].0) >= CAUGHT_UP_WINDOW {
        st.my_versions.pop_front();
    }
    st.my_versions.front().map_or(0, |(_, v)| *v)
}

/// Drops tombstones older than 30 days from the replica and our chitchat key space.
async fn purge(shared: &Shared) {
    let purged = shared.state().replica.purge(wall_ms());
    if purged.is_empty() {
        return;
    }
    let mut cc = shared.chitchat.lock().await;
    let own = cc.self_node_state();
    for key in purged {
        if own.contains_key(&key) {
            own.delete(&key);
        }
    }
}
