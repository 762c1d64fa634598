//! Query counters of the DNS service, by outcome and by query type. Relaxed atomics:
//! counters, not locks. [`window`] keeps the per-minute and per-hour aggregates behind
//! `dnsctl stats` (fed from the query log off the query path by [`feed`]); [`topk`] is
//! their bounded heavy-hitter map; [`persist`] keeps the window across restarts.

pub mod feed;
pub mod persist;
pub mod topk;
pub mod window;

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
    /// Over the client's `dns.rate_limit`: dropped or REFUSED.
    Limited,
    /// Not answered: no header, a response, or garbage on TCP.
    Dropped,
}

impl Outcome {
    /// Every outcome, in the order of [`Outcome::index`].
    pub const ALL: [Outcome; 11] = [
        Outcome::Cached,
        Outcome::Stale,
        Outcome::Forwarded,
        Outcome::Local,
        Outcome::Blocked,
        Outcome::Refused,
        Outcome::Servfail,
        Outcome::Formerr,
        Outcome::Notimp,
        Outcome::Limited,
        Outcome::Dropped,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The name used in the log, the API and metric labels.
    pub fn name(self) -> &'static str {
        crate::querylog::outcome_name(self)
    }
}

/// Query types counted on their own; every other type counts as `other`.
const QTYPES: [(u16, &str); 15] = [
    (1, "A"),
    (2, "NS"),
    (5, "CNAME"),
    (6, "SOA"),
    (12, "PTR"),
    (15, "MX"),
    (16, "TXT"),
    (28, "AAAA"),
    (33, "SRV"),
    (35, "NAPTR"),
    (43, "DS"),
    (48, "DNSKEY"),
    (64, "SVCB"),
    (65, "HTTPS"),
    (255, "ANY"),
];

/// Queries by type: one relaxed increment per query.
#[derive(Debug, Default)]
pub struct QtypeCounts([AtomicU64; QTYPES.len() + 1]);

impl QtypeCounts {
    pub fn record(&self, qtype: u16) {
        // A match (a jump table) rather than a scan of QTYPES: this runs on every query.
        let i = match qtype {
            1 => 0,
            2 => 1,
            5 => 2,
            6 => 3,
            12 => 4,
            15 => 5,
            16 => 6,
            28 => 7,
            33 => 8,
            35 => 9,
            43 => 10,
            48 => 11,
            64 => 12,
            65 => 13,
            255 => 14,
            _ => QTYPES.len(),
        };
        self.0[i].fetch_add(1, Ordering::Relaxed);
    }

    /// (type name, count) for every counted type and `other`.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        QTYPES
            .iter()
            .map(|&(_, n)| n)
            .chain(["other"])
            .zip(&self.0)
            .map(|(n, c)| (n, c.load(Ordering::Relaxed)))
            .collect()
    }
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
    pub limited: AtomicU64,
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
    /// Absent from older daemons' answers.
    #[serde(default)]
    pub limited: u64,
    pub dropped: u64,
    pub truncated: u64,
    pub tcp_connections: u64,
    pub tcp_rejected: u64,
}

impl StatsSnapshot {
    /// The count of each outcome, in the order of [`Outcome::ALL`].
    pub fn by_outcome(&self) -> [(Outcome, u64); 11] {
        let v = [
            self.cached,
            self.stale,
            self.forwarded,
            self.local,
            self.blocked,
            self.refused,
            self.servfail,
            self.formerr,
            self.notimp,
            self.limited,
            self.dropped,
        ];
        std::array::from_fn(|i| (Outcome::ALL[i], v[i]))
    }

    /// What was counted between `earlier` and this snapshot.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let d = |a: u64, b: u64| a.saturating_sub(b);
        StatsSnapshot {
            queries: d(self.queries, earlier.queries),
            cached: d(self.cached, earlier.cached),
            stale: d(self.stale, earlier.stale),
            forwarded: d(self.forwarded, earlier.forwarded),
            local: d(self.local, earlier.local),
            blocked: d(self.blocked, earlier.blocked),
            refused: d(self.refused, earlier.refused),
            servfail: d(self.servfail, earlier.servfail),
            formerr: d(self.formerr, earlier.formerr),
            notimp: d(self.notimp, earlier.notimp),
            limited: d(self.limited, earlier.limited),
            dropped: d(self.dropped, earlier.dropped),
            truncated: d(self.truncated, earlier.truncated),
            tcp_connections: d(self.tcp_connections, earlier.tcp_connections),
            tcp_rejected: d(self.tcp_rejected, earlier.tcp_rejected),
        }
    }
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
            Outcome::Limited => &self.limited,
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
            limited: l(&self.limited),
            dropped: l(&self.dropped),
            truncated: l(&self.truncated),
            tcp_connections: l(&self.tcp_connections),
            tcp_rejected: l(&self.tcp_rejected),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_counted_type_has_its_own_slot() {
        let c = QtypeCounts::default();
        for &(t, _) in &QTYPES {
            c.record(t);
        }
        c.record(99);
        c.record(99);
        let snap = c.snapshot();
        assert!(snap[..QTYPES.len()].iter().zip(&QTYPES).all(|(&(n, v), &(_, name))| n == name && v == 1), "{snap:?}");
        assert_eq!(snap[QTYPES.len()], ("other", 2));
    }
}
