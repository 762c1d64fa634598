//! The DHCP service's counters: lock-free increments on the packet path, a plain snapshot
//! for the API and metrics.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the service's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub discover: u64,
    pub request: u64,
    pub release: u64,
    pub decline: u64,
    pub inform: u64,
    pub offer: u64,
    pub ack: u64,
    pub nak: u64,
    /// Datagrams that were not well-formed DHCP requests.
    pub malformed: u64,
    /// Well-formed requests that got no answer (no subnet, silence, other server, pool full).
    pub unanswered: u64,
    pub pool_exhausted: u64,
    pub send_errors: u64,
    pub journal_errors: u64,
    /// Lease events dropped because the daemon's channel was full.
    pub events_dropped: u64,
    /// DISCOVERs left to a silent peer and answered again when this node took its clients over.
    #[serde(default)]
    pub held_replayed: u64,
}

#[derive(Default)]
pub(crate) struct AtomicCounters([AtomicU64; 15]);

#[derive(Clone, Copy)]
pub(crate) enum C {
    Discover,
    Request,
    Release,
    Decline,
    Inform,
    Offer,
    Ack,
    Nak,
    Malformed,
    Unanswered,
    PoolExhausted,
    SendErrors,
    JournalErrors,
    EventsDropped,
    HeldReplayed,
}

impl AtomicCounters {
    pub(crate) fn inc(&self, c: C) {
        self.0[c as usize].fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn snapshot(&self) -> Counters {
        let g = |c: C| self.0[c as usize].load(Ordering::Relaxed);
        Counters {
            discover: g(C::Discover),
            request: g(C::Request),
            release: g(C::Release),
            decline: g(C::Decline),
            inform: g(C::Inform),
            offer: g(C::Offer),
            ack: g(C::Ack),
            nak: g(C::Nak),
            malformed: g(C::Malformed),
            unanswered: g(C::Unanswered),
            pool_exhausted: g(C::PoolExhausted),
            send_errors: g(C::SendErrors),
            journal_errors: g(C::JournalErrors),
            events_dropped: g(C::EventsDropped),
            held_replayed: g(C::HeldReplayed),
        }
    }
}
