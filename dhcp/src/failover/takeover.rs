//! The takeover state machine (sans-IO, injected `Instant`): which nodes own buckets now
//! (docs/ARCHITECTURE.md §7). The daemon runs it with [`super::TAKEOVER_AFTER`].
//!
//! While every node is live, each owns its rendezvous share of the 256 buckets. A peer that
//! stops being live keeps its buckets (and the others stay silent for its clients) for
//! `takeover_after`; then the survivors take them over. When it is live again it gets them back
//! only once it has caught up with the replicated state, so it never answers from stale data.
//!
//! ```text
//!  Serving --not live--> Silent --takeover_after elapsed--> TakenOver --live, behind--> Returning
//!     ^                    |                                   |  ^                       |
//!     +------live----------+        <------live, caught up-----+  +------not live---------+
//!     +------------------------------------------live, caught up-----------------------------+
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::buckets::should_answer_among;

/// Where one peer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerPhase {
    /// Live and caught up: owns its buckets.
    Serving,
    /// Not live since the instant given, for less than `takeover_after`: still owns its
    /// buckets, so its clients get no answer for a moment (the price of no double answers).
    Silent(Instant),
    /// Not live for `takeover_after` or more: the others serve its buckets.
    TakenOver,
    /// Live again but not caught up: the others keep serving its buckets.
    Returning,
}

/// A change of bucket ownership, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The survivors now answer this peer's clients.
    TakeOver(String),
    /// This peer answers its own clients again.
    HandBack(String),
}

/// Bucket ownership as seen by one node.
#[derive(Debug, Clone)]
pub struct Failover {
    me: String,
    takeover_after: Duration,
    peers: BTreeMap<String, PeerPhase>,
}

impl Failover {
    /// `peers` are the other nodes expected in the cluster. They start `Silent` at `now`, so a
    /// node that boots alone serves everyone after `takeover_after`, not before.
    pub fn new(me: &str, peers: &[&str], takeover_after: Duration, now: Instant) -> Self {
        let peers = peers.iter().filter(|p| **p != me).map(|p| ((*p).to_owned(), PeerPhase::Silent(now))).collect();
        Self { me: me.to_owned(), takeover_after, peers }
    }

    /// The phase of `peer` at `now`. Read-only: only [`Failover::tick`] and the observe calls
    /// move phases, so their transitions are always reported (a status read that advanced the
    /// state used to swallow the "taking over" of the next tick).
    pub fn phase(&self, peer: &str, now: Instant) -> Option<PeerPhase> {
        self.peers.get(peer).map(|p| advance(*p, self.takeover_after, now))
    }

    /// Feeds the latest liveness of `peer` (from the failure detector) and whether it has caught
    /// up (e.g. its replicated version ≥ ours). Unknown peers are added. A peer that stops
    /// being live is silent from `now`; see [`Failover::observe_since`] to count the failure
    /// detector's own delay inside `takeover_after`.
    pub fn observe(&mut self, peer: &str, live: bool, caught_up: bool, now: Instant) -> Option<Transition> {
        self.observe_since(peer, live, caught_up, now, now)
    }

    /// Like [`Failover::observe`], with the instant the peer was last heard from as the start
    /// of its silence: the takeover then happens `takeover_after` after the peer's last
    /// heartbeat, not after the failure detector noticed (which takes another ~1 s).
    pub fn observe_since(
        &mut self,
        peer: &str,
        live: bool,
        caught_up: bool,
        last_heard: Instant,
        now: Instant,
    ) -> Option<Transition> {
        if peer == self.me {
            return None;
        }
        let takeover = self.takeover_after;
        let phase = self.peers.entry(peer.to_owned()).or_insert(PeerPhase::Silent(now));
        // Transitions are reported against the stored phase: a silence that ran past
        // `takeover_after` between two observations is a takeover too.
        let stored = *phase;
        let before = advance(stored, takeover, now);
        let after = match (before, live) {
            (PeerPhase::Serving, false) => PeerPhase::Silent(last_heard.min(now)),
            (PeerPhase::Silent(_), true) => PeerPhase::Serving,
            (PeerPhase::TakenOver | PeerPhase::Returning, true) if caught_up => PeerPhase::Serving,
            (PeerPhase::TakenOver, true) => PeerPhase::Returning,
            (PeerPhase::Returning, false) => PeerPhase::TakenOver,
            (p, _) => p,
        };
        // Silence counted from the last heartbeat may already exceed `takeover_after`.
        let after = advance(after, takeover, now);
        *phase = after;
        transition(peer, stored, after)
    }

    /// Applies elapsed time (Silent → TakenOver); returns the takeovers that happened.
    pub fn tick(&mut self, now: Instant) -> Vec<Transition> {
        let takeover = self.takeover_after;
        let mut out = Vec::new();
        for (peer, phase) in &mut self.peers {
            let next = advance(*phase, takeover, now);
            out.extend(transition(peer, *phase, next));
            *phase = next;
        }
        out
    }

    /// The nodes that own buckets at `now`: this node, and every peer that is serving or only
    /// briefly silent.
    pub fn owners(&self, now: Instant) -> Vec<&str> {
        let takeover = self.takeover_after;
        let peers = self
            .peers
            .iter()
            .filter(|(_, p)| matches!(advance(**p, takeover, now), PeerPhase::Serving | PeerPhase::Silent(_)));
        std::iter::once(self.me.as_str()).chain(peers.map(|(n, _)| n.as_str())).collect()
    }

    /// Should this node answer the client with this id and DHCP `secs` at `now`?
    pub fn should_answer(&self, client_id: &[u8], secs: u16, now: Instant) -> bool {
        should_answer_among(&self.me, &self.owners(now), client_id, secs)
    }
}

/// Stateless form of the rule for callers that track liveness themselves: `live` are the live
/// nodes (with `me`), `down` the others with how long each has not been live.
pub fn should_answer(
    me: &str,
    live: &[&str],
    down: &[(&str, Duration)],
    client_id: &[u8],
    secs: u16,
    takeover_after: Duration,
) -> bool {
    let mut owners: Vec<&str> = live.to_vec();
    owners.extend(down.iter().filter(|(_, d)| *d < takeover_after).map(|(n, _)| *n));
    if !owners.contains(&me) {
        owners.push(me);
    }
    should_answer_among(me, &owners, client_id, secs)
}

fn advance(phase: PeerPhase, takeover_after: Duration, now: Instant) -> PeerPhase {
    match phase {
        PeerPhase::Silent(since) if now.saturating_duration_since(since) >= takeover_after => PeerPhase::TakenOver,
        p => p,
    }
}

fn transition(peer: &str, before: PeerPhase, after: PeerPhase) -> Option<Transition> {
    let owns = |p: PeerPhase| matches!(p, PeerPhase::Serving | PeerPhase::Silent(_));
    match (owns(before), owns(after)) {
        (true, false) => Some(Transition::TakeOver(peer.to_owned())),
        (false, true) => Some(Transition::HandBack(peer.to_owned())),
        _ => None,
    }
}

#[cfg(test)]
#[path = "takeover_tests.rs"]
mod tests;
