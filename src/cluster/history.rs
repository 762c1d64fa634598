//! The takeover history (issue 13's cluster page): every takeover and hand-back this node
//! made, with the buckets that moved, in a bounded ring in memory. Nothing else keeps it: the
//! failover state machine only knows the current phase, and the log may be gone or elsewhere.

use std::collections::VecDeque;

use parking_lot::Mutex;
use ravens_dhcp::failover::Transition;
use ravens_dhcp::failover::buckets::{BUCKETS, bucket_owner};

use crate::api::cluster::FailoverEvent;

/// Events kept: a flapping peer makes two per flap, and the page shows the recent ones.
pub const HISTORY: usize = 32;

#[derive(Debug, Default)]
pub struct History {
    events: Mutex<VecDeque<FailoverEvent>>,
}

impl History {
    /// Records `t`, made by `me` with `owners` the bucket owners after it.
    pub fn record(&self, t: &Transition, me: &str, owners: &[String], time_ms: u64) {
        let (kind, peer) = match t {
            Transition::TakeOver(p) => ("take_over", p),
            Transition::HandBack(p) => ("hand_back", p),
        };
        let ev = FailoverEvent { time_ms, kind: kind.into(), peer: peer.clone(), buckets: moved(me, peer, owners) };
        let mut q = self.events.lock();
        if q.len() == HISTORY {
            q.pop_back();
        }
        q.push_front(ev);
    }

    /// Newest first.
    pub fn list(&self) -> Vec<FailoverEvent> {
        self.events.lock().iter().cloned().collect()
    }
}

/// The buckets that are `peer`'s while it serves and `me`'s while it does not, among the
/// other `owners`: what a takeover of `peer` gives `me` and its hand-back returns
/// (rendezvous hashing moves no other bucket).
fn moved(me: &str, peer: &str, owners: &[String]) -> usize {
    let without: Vec<&str> = owners.iter().map(String::as_str).filter(|o| *o != peer).collect();
    let mut with = without.clone();
    with.push(peer);
    (0..BUCKETS)
        .filter(|b| {
            let b = *b as u8;
            bucket_owner(b, &with) == Some(peer) && bucket_owner(b, &without) == Some(me)
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_moves_the_peers_buckets_and_the_ring_is_bounded() {
        let h = History::default();
        // After a takeover in a pair, `a` owns everything; the peer had its share.
        h.record(&Transition::TakeOver("b".into()), "a", &["a".into()], 1);
        let share = (0..BUCKETS).filter(|b| bucket_owner(*b as u8, &["a", "b"]) == Some("b")).count();
        assert!(share > 0 && share < BUCKETS);
        assert_eq!(
            h.list()[0],
            FailoverEvent { time_ms: 1, kind: "take_over".into(), peer: "b".into(), buckets: share }
        );
        // The hand-back, with both owners again, returns the same buckets.
        h.record(&Transition::HandBack("b".into()), "a", &["a".into(), "b".into()], 2);
        assert_eq!((h.list()[0].kind.as_str(), h.list()[0].buckets), ("hand_back", share));
        // Three nodes: `a` gets only the part of c's buckets that are not b's to take.
        let three = moved("a", "c", &["a".into(), "b".into()]);
        assert!(three > 0 && three < share + 1, "{three}");
        for i in 0..(HISTORY as u64 + 5) {
            h.record(&Transition::TakeOver("b".into()), "a", &["a".into()], 10 + i);
        }
        let l = h.list();
        assert_eq!(l.len(), HISTORY, "bounded");
        assert_eq!(l[0].time_ms, 10 + HISTORY as u64 + 4, "newest first");
    }
}
