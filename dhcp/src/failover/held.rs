//! DISCOVERs left to a peer, kept for a moment so a takeover can answer them at once
//! (docs/ARCHITECTURE.md §7).
//!
//! While a peer owns a client's bucket this node stays silent for it. When the peer dies, the
//! survivor takes its buckets over `takeover_after` later, but the client that asked in
//! between would wait for its own retransmission (dhclient: 1–2 s later, then doubling) before
//! anyone answers. Replaying the DISCOVERs heard in the last few seconds when the bucket owners
//! change sends the OFFER as soon as this node may answer. ISC dhclient and udhcpc keep one
//! `xid` across the retransmissions of a DISCOVER, so a late OFFER is taken. An OFFER commits
//! nothing (the address is held a few seconds), so replaying one the client no longer wants is
//! harmless; REQUESTs are never replayed.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::socket::Received;

/// How long a DISCOVER is worth answering late. Past this the client has retransmitted.
pub const HOLD_FOR: Duration = Duration::from_secs(4);
/// At most this many are kept (the newest): a flood during a peer's silence costs a bounded
/// copy per datagram, and replaying more would only delay the takeover's first answers.
pub const CAPACITY: usize = 64;

/// A datagram and where it came from.
#[derive(Debug)]
pub struct Held {
    /// The client ([`crate::packet::ClientKey`] bytes).
    pub key: Vec<u8>,
    pub bytes: Vec<u8>,
    pub meta: Received,
    pub at: Instant,
}

/// A bounded queue of recent DISCOVERs this node left to a peer.
#[derive(Debug, Default)]
pub struct HeldQueue {
    q: VecDeque<Held>,
}

impl HeldQueue {
    /// Keeps a copy of `bytes`, dropping the oldest entry when full.
    pub fn hold(&mut self, key: &[u8], bytes: &[u8], meta: Received, at: Instant) {
        // A pair under load holds every DISCOVER of the peer's buckets: once full, the oldest
        // entry's buffers are reused, so holding allocates nothing in steady state.
        let reused = if self.q.len() >= CAPACITY { self.q.pop_front() } else { None };
        let mut h = reused.unwrap_or_else(|| Held { key: Vec::new(), bytes: Vec::new(), meta, at });
        h.key.clear();
        h.key.extend_from_slice(key);
        h.bytes.clear();
        h.bytes.extend_from_slice(bytes);
        (h.meta, h.at) = (meta, at);
        self.q.push_back(h);
    }

    /// Forgets the DISCOVERs of a client that has since got a lease from another node: the
    /// peer did answer it, and a late OFFER from here would move the client's binding here.
    pub fn forget(&mut self, key: &[u8]) {
        if !self.q.is_empty() {
            self.q.retain(|h| h.key != key);
        }
    }

    /// Everything still worth answering at `now`; the queue is left empty.
    pub fn take_fresh(&mut self, now: Instant) -> Vec<Held> {
        self.q.drain(..).filter(|h| now.saturating_duration_since(h.at) < HOLD_FOR).collect()
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, SocketAddrV4};

    fn meta() -> Received {
        Received { len: 1, src: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 67), dst: Ipv4Addr::BROADCAST, ifindex: 0 }
    }

    #[test]
    fn bounded_newest_kept_and_stale_ones_dropped() {
        let t0 = Instant::now();
        let mut h = HeldQueue::default();
        for i in 0..(CAPACITY + 10) {
            h.hold(b"k", &[i as u8], meta(), t0 + Duration::from_millis(i as u64));
        }
        assert_eq!(h.len(), CAPACITY);
        let fresh = h.take_fresh(t0 + Duration::from_millis(20));
        assert_eq!(fresh.len(), CAPACITY);
        assert_eq!(fresh[0].bytes, [10u8], "the oldest ten gave way");
        assert!(h.is_empty());
        h.hold(b"k", &[1], meta(), t0);
        h.hold(b"k", &[2], meta(), t0 + HOLD_FOR);
        let fresh = h.take_fresh(t0 + HOLD_FOR + Duration::from_millis(1));
        assert_eq!(fresh.iter().map(|f| f.bytes[0]).collect::<Vec<_>>(), [2], "older than HOLD_FOR: dropped");
    }

    #[test]
    fn a_client_served_elsewhere_is_forgotten() {
        let t0 = Instant::now();
        let mut h = HeldQueue::default();
        h.hold(b"a", &[1], meta(), t0);
        h.hold(b"b", &[2], meta(), t0);
        h.hold(b"a", &[3], meta(), t0);
        h.forget(b"a");
        assert_eq!(h.take_fresh(t0).iter().map(|f| f.bytes[0]).collect::<Vec<_>>(), [2]);
    }
}
