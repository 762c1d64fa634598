//! Query counters of the DNS service, by outcome. Relaxed atomics: counters, not locks.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// Outcome of one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Cached,
    Stale,
    Forwarded,
    Local,
    Blocked,
    Refused,
    Servfail,
    Formerr,
    Notimp,
    /// Not answered: no header, a response, or garbage on TCP.
    Dropped,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub queries: AtomicU64,
    pub cached: AtomicU64,
    pub stale: AtomicU64,
    pub forwarded: AtomicU64,
    pub local: AtomicU64,
    pub blocked: AtomicU64,
    pub refused: AtomicU64,
    pub servfail: AtomicU64,
    pub formerr: AtomicU64,
    pub notimp: AtomicU64,
    pub dropped: AtomicU64,
    pub truncated: AtomicU64,
    pub tcp_connections: AtomicU64,
    pub tcp_rejected: AtomicU64,
}

/// A point-in-time copy for status and metrics.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StatsSnapshot {
    pub queries: u64,
    pub cached: u64,
    pub stale: u64,
    pub forwarded: u64,
    pub local: u64,
    pub blocked: u64,
    pub refused: u64,
    pub servfail: u64,
    pub formerr: u64,
    pub notimp: u64,
    pub dropped: u64,
    pub truncated: u64,
    pub tcp_connections: u64,
    pub tcp_rejected: u64,
}

impl Stats {
    pub fn record(&self, o: Outcome) {
        let c = match o {
            Outcome::Cached => &self.cached,
            Outcome::Stale => &self.stale,
            Outcome::Forwarded => &self.forwarded,
            Outcome::Local => &self.local,
            Outcome::Blocked => &self.blocked,
            Outcome::Refused => &self.refused,
            Outcome::Servfail => &self.servfail,
            Outcome::Formerr => &self.formerr,
            Outcome::Notimp => &self.notimp,
            Outcome::Dropped => &self.dropped,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> StatsSnapshot {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        StatsSnapshot {
            queries: l(&self.queries),
            cached: l(&self.cached),
            stale: l(&self.stale),
            forwarded: l(&self.forwarded),
            local: l(&self.local),
            blocked: l(&self.blocked),
            refused: l(&self.refused),
            servfail: l(&self.servfail),
            formerr: l(&self.formerr),
            notimp: l(&self.notimp),
            dropped: l(&self.dropped),
            truncated: l(&self.truncated),
            tcp_connections: l(&self.tcp_connections),
            tcp_rejected: l(&self.tcp_rejected),
        }
    }
}
