//! The pair's DHCP policy as one sans-IO state (docs/ARCHITECTURE.md §7): what the daemon's
//! cluster wiring feeds in every [`super::TICK`] (the peers the gossip layer sees) and what it
//! must do about it (persist new node ids, log takeovers, publish new bucket owners to the
//! answer filter, set a new pool slice, replay held DISCOVERs).
//!
//! Slices come from the sorted ids of every node ever seen (persisted by the wiring, since the
//! config lists peers by address only). A node that has peers configured but has never learned
//! any peer id allocates nothing new for [`super::TAKEOVER_AFTER`] after start (it may only
//! renew in place), then the whole pool: the one unsafe case is two never-introduced nodes both
//! starting alone while partitioned.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use super::takeover::{Failover, PeerPhase, Transition};
use super::{SILENT_DEAD, TAKEOVER_AFTER};
use crate::pool::Slice;

/// One peer as the gossip layer sees it at a tick.
#[derive(Debug, Clone, Copy)]
pub struct PeerView<'a> {
    pub id: &'a str,
    /// The failure detector's verdict.
    pub live: bool,
    /// The peer has acknowledged what this node had published a while ago.
    pub caught_up: bool,
    /// Time since its heartbeat last advanced.
    pub silent_for: Duration,
}

/// What a tick asks the wiring to do.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// Takeovers and hand-backs that happened, for the log.
    pub transitions: Vec<Transition>,
    /// New node ids were learned: persist [`Pair::known`].
    pub known_changed: bool,
    /// The bucket owners changed: publish them to the answer filter and replay the held
    /// DISCOVERs ([`crate::DhcpHandle::answer_held`]), so a dead peer's new client is
    /// answered as soon as this node may.
    pub owners: Option<Vec<String>>,
    /// This node's pool slice changed: hand it to [`crate::DhcpHandle::set_slice`].
    pub slice: Option<Slice>,
}

/// Bucket ownership and pool slice as one node sees them.
#[derive(Debug)]
pub struct Pair {
    me: String,
    failover: Failover,
    /// Every node id ever seen, this one included.
    known: BTreeSet<String>,
    slice: Option<Slice>,
    owners: Vec<String>,
    configured_peers: usize,
    started: Instant,
}

impl Pair {
    /// `me` with the node ids remembered from earlier runs and the number of peers the
    /// config lists, started at `now`. Remembered peers start silent (see [`Failover::new`]).
    pub fn new(me: &str, remembered: impl IntoIterator<Item = String>, configured_peers: usize, now: Instant) -> Self {
        let mut known: BTreeSet<String> = remembered.into_iter().filter(|n| !n.is_empty()).collect();
        known.insert(me.to_owned());
        let peers: Vec<&str> = known.iter().map(String::as_str).filter(|p| *p != me).collect();
        let failover = Failover::new(me, &peers, TAKEOVER_AFTER, now);
        Pair {
            me: me.to_owned(),
            failover,
            known,
            slice: None,
            owners: vec![me.to_owned()],
            configured_peers,
            started: now,
        }
    }

    /// Liveness → failover → bucket owners; known node ids → pool slice.
    pub fn tick(&mut self, peers: &[PeerView<'_>], now: Instant) -> Tick {
        let mut out = Tick::default();
        let before = self.known.len();
        self.known.extend(peers.iter().map(|p| p.id.to_owned()));
        out.known_changed = self.known.len() != before;
        for p in peers {
            let heard = now.checked_sub(p.silent_for).unwrap_or(now);
            let live = p.live && p.silent_for < SILENT_DEAD;
            out.transitions.extend(self.failover.observe_since(p.id, live, p.caught_up, heard, now));
        }
        out.transitions.extend(self.failover.tick(now));
        let owners: Vec<String> = self.failover.owners(now).into_iter().map(String::from).collect();
        if owners != self.owners {
            self.owners.clone_from(&owners);
            out.owners = Some(owners);
        }
        let slice = if self.known.len() > 1 {
            let ids: Vec<&str> = self.known.iter().map(String::as_str).collect();
            Slice::for_node(&ids, &self.me)
        } else if self.configured_peers == 0 || now.duration_since(self.started) >= TAKEOVER_AFTER {
            Slice::WHOLE
        } else {
            Slice::NONE
        };
        if self.slice != Some(slice) {
            self.slice = Some(slice);
            out.slice = Some(slice);
        }
        out
    }

    /// Every node id ever seen, this one included, sorted.
    pub fn known(&self) -> impl Iterator<Item = &str> {
        self.known.iter().map(String::as_str)
    }

    /// The nodes that own buckets at `now`.
    pub fn owners(&self, now: Instant) -> Vec<&str> {
        self.failover.owners(now)
    }

    /// The failover phase of `peer` at `now`.
    pub fn phase(&self, peer: &str, now: Instant) -> Option<PeerPhase> {
        self.failover.phase(peer, now)
    }

    /// This node's pool slice, once the first tick chose one.
    pub fn slice(&self) -> Option<Slice> {
        self.slice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: &str, live: bool, silent_ms: u64) -> PeerView<'_> {
        PeerView { id, live, caught_up: true, silent_for: Duration::from_millis(silent_ms) }
    }

    #[test]
    fn a_node_alone_with_peers_configured_waits_then_takes_the_whole_pool() {
        let t0 = Instant::now();
        let mut p = Pair::new("a", [], 1, t0);
        assert_eq!(p.tick(&[], t0).slice, Some(Slice::NONE));
        assert_eq!(p.tick(&[], t0 + TAKEOVER_AFTER).slice, Some(Slice::WHOLE));
        let mut alone = Pair::new("a", [], 0, t0);
        assert_eq!(alone.tick(&[], t0).slice, Some(Slice::WHOLE));
    }

    #[test]
    fn a_peer_seen_splits_the_pool_and_its_silence_hands_its_buckets_over() {
        let t0 = Instant::now();
        let mut p = Pair::new("a", [], 1, t0);
        let t = p.tick(&[peer("b", true, 0)], t0);
        assert!(t.known_changed);
        assert_eq!(t.slice, Some(Slice::for_node(&["a", "b"], "a")));
        assert_eq!(t.owners, Some(vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(p.known().collect::<Vec<_>>(), ["a", "b"]);
        // Live by the detector but its heartbeat stalled past SILENT_DEAD: not live.
        let t1 = t0 + SILENT_DEAD;
        let t = p.tick(&[peer("b", true, SILENT_DEAD.as_millis() as u64)], t1);
        assert_eq!(t.transitions, [Transition::TakeOver("b".into())], "silent since its last heartbeat");
        assert_eq!(t.owners, Some(vec!["a".to_owned()]));
        assert_eq!((t.slice, t.known_changed), (None, false), "the slice stays: b's id is still known");
        assert_eq!(p.tick(&[peer("b", true, 0)], t1).transitions, [Transition::HandBack("b".into())]);
    }
}
