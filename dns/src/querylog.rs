//! The query log: a bounded in-memory ring of recent queries with their outcome and, for
//! blocked ones, the list that blocked them. Recording is cheap and allocation-free (names
//! are kept inline, cut at 96 bytes); the ring is striped so listener threads rarely meet.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::stats::Outcome;

const STRIPES: usize = 4;
const NAME_MAX: usize = 96;

#[derive(Clone, Copy)]
struct Slot {
    ms: u64,
    client: IpAddr,
    qtype: u16,
    outcome: Outcome,
    list: u16,
    name_len: u8,
    name: [u8; NAME_MAX],
}

/// One logged query, as the admin API returns it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LogEntry {
    /// Unix milliseconds.
    pub time_ms: u64,
    pub client: IpAddr,
    pub name: String,
    pub qtype: u16,
    /// cached, forwarded, local, blocked, stale, refused, servfail, ...
    pub outcome: String,
    /// The list that blocked it.
    pub list: Option<String>,
}

/// Filters of `dnsctl log`.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub client: Option<IpAddr>,
    pub blocked_only: bool,
    pub name_contains: Option<String>,
    pub limit: usize,
    /// Only entries newer than this (Unix ms), for `--follow`.
    pub since_ms: u64,
}

struct Ring {
    slots: Vec<Slot>,
    next: usize,
}

/// The striped ring. `capacity` 0 disables logging.
pub struct QueryLog {
    stripes: Vec<Mutex<Ring>>,
    per_stripe: usize,
    turn: AtomicUsize,
}

impl std::fmt::Debug for QueryLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryLog").field("capacity", &(self.per_stripe * STRIPES)).finish()
    }
}

thread_local! {
    static STRIPE: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

pub fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Cached => "cached",
        Outcome::Stale => "stale",
        Outcome::Forwarded => "forwarded",
        Outcome::Local => "local",
        Outcome::Blocked => "blocked",
        Outcome::Refused => "refused",
        Outcome::Servfail => "servfail",
        Outcome::Formerr => "formerr",
        Outcome::Notimp => "notimp",
        Outcome::Dropped => "dropped",
    }
}

impl QueryLog {
    pub fn new(capacity: usize) -> Self {
        let per_stripe = capacity.div_ceil(STRIPES);
        QueryLog {
            stripes: (0..STRIPES)
                .map(|_| Mutex::new(Ring { slots: Vec::with_capacity(per_stripe), next: 0 }))
                .collect(),
            per_stripe,
            turn: AtomicUsize::new(0),
        }
    }

    /// Each thread walks the stripes in turn (a thread-local counter, no shared atomic), so
    /// one busy thread still fills the whole capacity and two threads rarely collide.
    fn stripe(&self) -> usize {
        STRIPE.with(|s| {
            let next = if s.get() == usize::MAX { self.turn.fetch_add(1, Ordering::Relaxed) } else { s.get() + 1 };
            s.set(next);
            next % STRIPES
        })
    }

    /// Records one query; `name` is dotted lower-case text.
    pub fn record(&self, client: IpAddr, name: &[u8], qtype: u16, outcome: Outcome, list: Option<u16>) {
        if self.per_stripe == 0 {
            return;
        }
        let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut slot =
            Slot { ms, client, qtype, outcome, list: list.map_or(u16::MAX, |l| l), name_len: 0, name: [0; NAME_MAX] };
        let n = name.len().min(NAME_MAX);
        slot.name[..n].copy_from_slice(&name[..n]);
        slot.name_len = n as u8;
        let mut ring = self.stripes[self.stripe()].lock();
        if ring.slots.len() < self.per_stripe {
            ring.slots.push(slot);
        } else {
            let at = ring.next;
            ring.slots[at] = slot;
        }
        ring.next = (ring.next + 1) % self.per_stripe;
    }

    /// Matching entries, newest last, at most `f.limit`. `list_name` maps list ids to names.
    pub fn query(&self, f: &LogFilter, list_name: impl Fn(u16) -> String) -> Vec<LogEntry> {
        let mut all: Vec<Slot> = Vec::new();
        for s in &self.stripes {
            all.extend(s.lock().slots.iter().filter(|e| e.ms > f.since_ms).copied());
        }
        all.sort_by_key(|e| e.ms);
        let mut out: Vec<LogEntry> = all
            .iter()
            .rev()
            .filter(|e| f.client.is_none_or(|c| c == e.client))
            .filter(|e| !f.blocked_only || e.outcome == Outcome::Blocked)
            .map(|e| LogEntry {
                time_ms: e.ms,
                client: e.client,
                name: String::from_utf8_lossy(&e.name[..e.name_len as usize]).into_owned(),
                qtype: e.qtype,
                outcome: outcome_name(e.outcome).to_string(),
                list: (e.list != u16::MAX).then(|| list_name(e.list)),
            })
            .filter(|e| f.name_contains.as_deref().is_none_or(|t| e.name.contains(t)))
            .take(f.limit.max(1))
            .collect();
        out.reverse();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_filters() {
        let log = QueryLog::new(8);
        for i in 0..20u16 {
            let client = IpAddr::from([10, 0, 0, (i % 2) as u8]);
            let outcome = if i % 3 == 0 { Outcome::Blocked } else { Outcome::Cached };
            log.record(client, format!("n{i}.test").as_bytes(), 1, outcome, (i % 3 == 0).then_some(0));
        }
        let all = log.query(&LogFilter { limit: 100, ..Default::default() }, |_| "ads".into());
        assert_eq!(all.len(), 8);
        assert!(all.iter().any(|e| e.name == "n19.test") && !all.iter().any(|e| e.name == "n3.test"), "{all:?}");
        let blocked = log.query(&LogFilter { limit: 100, blocked_only: true, ..Default::default() }, |_| "ads".into());
        assert!(blocked.iter().all(|e| e.outcome == "blocked" && e.list.as_deref() == Some("ads")));
        let one = log
            .query(&LogFilter { limit: 100, client: Some(IpAddr::from([10, 0, 0, 1])), ..Default::default() }, |_| {
                String::new()
            });
        assert!(one.iter().all(|e| e.client == IpAddr::from([10, 0, 0, 1])));
        let named = log
            .query(&LogFilter { limit: 100, name_contains: Some("n1".into()), ..Default::default() }, |_| {
                String::new()
            });
        assert!(named.iter().all(|e| e.name.contains("n1")));
        assert!(QueryLog::new(0).query(&LogFilter::default(), |_| String::new()).is_empty());
    }
}
