//! The query log: a bounded in-memory ring of recent queries with their outcome and, for
//! blocked ones, the list that blocked them. Recording is cheap and allocation-free (names
//! are kept inline in wire form, cut at 96 bytes); the ring is striped so listener threads
//! rarely meet. Names become text only when read out, in presentation form
//! ([`crate::wire::name_to_text`]: `\027` for an escape byte, `\.` for a dot inside a
//! label), so a hostile name cannot reach a terminal or a page as control characters.
//!
//! The ring also feeds the statistics: [`QueryLog::drain`] hands a background task every
//! entry recorded since its last call, so aggregation costs the query path nothing. With
//! anonymising on, client addresses are masked (IPv4 /24, IPv6 /48) in everything read out
//! of the log; the raw address stays only in the ring's memory (the group of a client is
//! derived from it).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use crate::stats::{Outcome, QtypeCounts};

pub mod file;

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
    /// The question name in presentation form, escaped as `dig` does (never raw bytes).
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
    /// Entries ever written, for [`QueryLog::drain`]'s cursor.
    written: u64,
}

/// The striped ring. `capacity` 0 disables logging (queries are still counted by type).
pub struct QueryLog {
    stripes: Vec<Mutex<Ring>>,
    per_stripe: usize,
    turn: AtomicUsize,
    anonymize: AtomicBool,
    /// Queries by type (every query the pipeline logs, whatever the capacity).
    pub qtypes: QtypeCounts,
}

/// One logged query as [`QueryLog::drain`] hands it over (client not masked).
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub ms: u64,
    pub client: IpAddr,
    /// The question name in wire form (possibly cut short): see [`Seen::name_text`].
    pub name: &'a [u8],
    pub qtype: u16,
    pub outcome: Outcome,
    pub list: Option<u16>,
}

impl Seen<'_> {
    /// The name in presentation form, the only form in which it is shown.
    pub fn name_text(&self) -> String {
        crate::wire::name_to_text(self.name)
    }

    /// The entry as the API and the log file show it (`client` already masked as needed).
    pub fn entry(&self, client: IpAddr, list_name: impl Fn(u16) -> String) -> LogEntry {
        LogEntry {
            time_ms: self.ms,
            client,
            name: self.name_text(),
            qtype: self.qtype,
            outcome: outcome_name(self.outcome).to_string(),
            list: self.list.map(list_name),
        }
    }
}

/// Where [`QueryLog::drain`] stopped reading, per stripe.
#[derive(Debug, Clone, Default)]
pub struct DrainCursor {
    read: [u64; STRIPES],
    buf: Vec<Slot>,
}

impl Slot {
    fn seen(&self) -> Seen<'_> {
        Seen {
            ms: self.ms,
            client: self.client,
            name: &self.name[..self.name_len as usize],
            qtype: self.qtype,
            outcome: self.outcome,
            list: (self.list != u16::MAX).then_some(self.list),
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("ms", &self.ms).finish_non_exhaustive()
    }
}

/// Masks a client address for the anonymised log: IPv4 to its /24, IPv6 to its /48.
pub fn mask_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(v4.to_bits() & 0xffff_ff00)),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !((1u128 << 80) - 1))),
    }
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
        Outcome::Limited => "limited",
        Outcome::Dropped => "dropped",
    }
}

impl QueryLog {
    pub fn new(capacity: usize) -> Self {
        let per_stripe = capacity.div_ceil(STRIPES);
        QueryLog {
            stripes: (0..STRIPES)
                .map(|_| Mutex::new(Ring { slots: Vec::with_capacity(per_stripe), next: 0, written: 0 }))
                .collect(),
            per_stripe,
            turn: AtomicUsize::new(0),
            anonymize: AtomicBool::new(false),
            qtypes: QtypeCounts::default(),
        }
    }

    /// Turns masking of client addresses on or off (takes effect for every read after).
    pub fn set_anonymize(&self, on: bool) {
        self.anonymize.store(on, Ordering::Relaxed);
    }

    pub fn anonymize(&self) -> bool {
        self.anonymize.load(Ordering::Relaxed)
    }

    /// The client address as the log shows it (masked when anonymising).
    pub fn shown(&self, ip: IpAddr) -> IpAddr {
        if self.anonymize() { mask_ip(ip) } else { ip }
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

    /// Records one query now; `name` is the case-folded question name in wire form.
    pub fn record(&self, client: IpAddr, name: &[u8], qtype: u16, outcome: Outcome, list: Option<u16>) {
        self.record_at(ravens_config::clock::unix_ms(), client, name, qtype, outcome, list);
    }

    /// Records one query answered at `ms` (Unix milliseconds; the UDP threads read the clock
    /// once per batch of datagrams, not once per query).
    pub fn record_at(&self, ms: u64, client: IpAddr, name: &[u8], qtype: u16, outcome: Outcome, list: Option<u16>) {
        self.qtypes.record(qtype);
        if self.per_stripe == 0 {
            return;
        }
        let n = name.len().min(NAME_MAX);
        let list = list.map_or(u16::MAX, |l| l);
        let mut ring = self.stripes[self.stripe()].lock();
        if ring.slots.len() < self.per_stripe {
            ring.slots.push(Slot { ms, client, qtype, outcome, list, name_len: 0, name: [0; NAME_MAX] });
        }
        // Filled in place: a slot is a few hundred bytes, not worth building and copying.
        let at = ring.next;
        let slot = &mut ring.slots[at];
        (slot.ms, slot.client, slot.qtype, slot.outcome, slot.list) = (ms, client, qtype, outcome, list);
        slot.name[..n].copy_from_slice(&name[..n]);
        slot.name_len = n as u8;
        ring.next = if at + 1 == self.per_stripe { 0 } else { at + 1 };
        ring.written += 1;
    }

    /// Calls `f` for every entry recorded since the cursor's last call (stripe by stripe, each
    /// stripe oldest first) and returns how many were overwritten before they could be read.
    /// Each stripe's new slots are copied out under its lock and handed to `f` after.
    pub fn drain(&self, cursor: &mut DrainCursor, mut f: impl FnMut(&Seen<'_>)) -> u64 {
        let mut lost = 0;
        for (i, stripe) in self.stripes.iter().enumerate() {
            cursor.buf.clear();
            {
                let ring = stripe.lock();
                let new = ring.written.saturating_sub(cursor.read[i]);
                let take = new.min(ring.slots.len() as u64) as usize;
                lost += new - take as u64;
                cursor.read[i] = ring.written;
                let len = ring.slots.len();
                // The newest entry is just before `next`; the `take` newest end there.
                for k in (1..=take).rev() {
                    cursor.buf.push(ring.slots[(ring.next + len - k) % len]);
                }
            }
            for s in &cursor.buf {
                f(&s.seen());
            }
        }
        lost
    }

    /// Matching entries, newest last, at most `f.limit`. `list_name` maps list ids to names.
    pub fn query(&self, f: &LogFilter, list_name: impl Fn(u16) -> String) -> Vec<LogEntry> {
        let mut all: Vec<Slot> = Vec::new();
        for s in &self.stripes {
            all.extend(s.lock().slots.iter().filter(|e| e.ms > f.since_ms).copied());
        }
        all.sort_by_key(|e| e.ms);
        // With anonymising on, `--client` matches the masked address (what the log shows).
        let want = f.client.map(|c| self.shown(c));
        let mut out: Vec<LogEntry> = all
            .iter()
            .rev()
            .filter(|e| want.is_none_or(|c| c == self.shown(e.client)))
            .filter(|e| !f.blocked_only || e.outcome == Outcome::Blocked)
            .map(|e| e.seen().entry(self.shown(e.client), &list_name))
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

    fn wire(name: &str) -> Vec<u8> {
        crate::wire::name_from_text(name).unwrap()
    }

    #[test]
    fn ring_keeps_the_newest_and_filters() {
        let log = QueryLog::new(8);
        for i in 0..20u16 {
            let client = IpAddr::from([10, 0, 0, (i % 2) as u8]);
            let outcome = if i % 3 == 0 { Outcome::Blocked } else { Outcome::Cached };
            log.record(client, &wire(&format!("n{i}.test")), 1, outcome, (i % 3 == 0).then_some(0));
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

    #[test]
    fn drain_sees_each_entry_once_and_counts_the_overwritten() {
        let log = QueryLog::new(8);
        let mut cursor = DrainCursor::default();
        let names = |log: &QueryLog, cursor: &mut DrainCursor| {
            let mut seen = Vec::new();
            let lost = log.drain(cursor, |s| seen.push(s.name_text()));
            (seen, lost)
        };
        for i in 0..5 {
            log.record(IpAddr::from([10, 0, 0, 1]), &wire(&format!("a{i}")), 1, Outcome::Cached, None);
        }
        let (mut seen, lost) = names(&log, &mut cursor);
        seen.sort();
        assert_eq!((seen, lost), ((0..5).map(|i| format!("a{i}")).collect::<Vec<_>>(), 0));
        assert_eq!(names(&log, &mut cursor), (vec![], 0), "nothing new");
        for i in 0..20 {
            log.record(IpAddr::from([10, 0, 0, 1]), &wire(&format!("b{i}")), 28, Outcome::Blocked, Some(3));
        }
        let (seen, lost) = names(&log, &mut cursor);
        assert_eq!(seen.len(), 8);
        assert_eq!(lost, 12);
        assert!(seen.contains(&"b19".to_string()) && !seen.contains(&"b0".to_string()), "{seen:?}");
        assert_eq!(log.qtypes.snapshot().iter().map(|(_, n)| n).sum::<u64>(), 25);
    }

    #[test]
    fn issue_10_names_are_read_out_escaped() {
        let log = QueryLog::new(8);
        log.record(IpAddr::from([10, 0, 0, 1]), b"\x03a.b\x04x\x1b\x00y\x03lan\x00", 1, Outcome::Local, None);
        let all = log.query(&LogFilter { limit: 10, ..Default::default() }, |_| String::new());
        assert_eq!(all[0].name, r"a\.b.x\027\000y.lan");
        let named = LogFilter { limit: 10, name_contains: Some(r"\027".into()), ..Default::default() };
        assert_eq!(log.query(&named, |_| String::new()).len(), 1, "--name matches what is shown");
    }

    #[test]
    fn anonymising_masks_what_is_read() {
        let log = QueryLog::new(8);
        log.record(IpAddr::from([192, 168, 1, 77]), &wire("a.test"), 1, Outcome::Cached, None);
        log.record("2001:db8:1:2::5".parse().unwrap(), &wire("b.test"), 1, Outcome::Cached, None);
        log.set_anonymize(true);
        let all = log.query(&LogFilter { limit: 10, ..Default::default() }, |_| String::new());
        let clients: Vec<String> = all.iter().map(|e| e.client.to_string()).collect();
        assert_eq!(clients, ["192.168.1.0", "2001:db8:1::"]);
        let one = log.query(
            &LogFilter { limit: 10, client: Some(IpAddr::from([192, 168, 1, 5])), ..Default::default() },
            |_| String::new(),
        );
        assert_eq!(one.len(), 1, "a --client filter matches the masked address");
    }
}
