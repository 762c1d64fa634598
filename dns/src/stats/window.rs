//! Query statistics over a time window (`dnsctl stats --since 1h|24h`).
//!
//! The query log ring is too short for a day, so [`super::feed`] folds every logged query
//! into time buckets: one tier of minute buckets for the last hour and one of hour buckets
//! for the last day. Each bucket holds exact totals by outcome (from the counters) and
//! bounded heavy-hitter maps ([`TopK`]) of names, blocked names and clients; a bucket that
//! closes is cut to its top entries. Memory stays bounded (a few MiB at most) whatever the
//! traffic; top lists are approximate for names outside each bucket's top entries.

use std::collections::{BTreeMap, VecDeque};
use std::net::IpAddr;
use std::time::Duration;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::topk::TopK;
use super::{Outcome, StatsSnapshot};

/// The longest window answered.
pub const MAX_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Windows up to this long are answered from minute buckets, longer ones from hour buckets.
const MINUTE_TIER_UP_TO: Duration = Duration::from_secs(3600);

/// One entry of a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Top {
    pub name: String,
    pub count: u64,
}

/// `GET /api/v1/stats?since=1h` for this node (dnsctl merges nodes with `api::WindowStats::merge`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct WindowStats {
    /// The nodes whose numbers these are.
    pub nodes: Vec<String>,
    /// The window asked for.
    pub since_secs: u64,
    /// Start of the oldest bucket counted (Unix ms): the window is rounded out to whole buckets.
    pub from_ms: u64,
    pub queries: u64,
    pub blocked: u64,
    /// Blocked queries in percent of all queries.
    pub blocked_percent: f64,
    /// Queries by outcome (cached, forwarded, local, blocked, ...).
    pub outcomes: BTreeMap<String, u64>,
    pub top_domains: Vec<Top>,
    pub top_blocked: Vec<Top>,
    pub top_clients: Vec<Top>,
    /// Queries the top lists were made from: fewer than `queries` when the query log
    /// overflowed between two reads (then the top lists are a sample) or is off.
    pub sampled: u64,
}

fn percent(part: u64, all: u64) -> f64 {
    (10_000 * part).checked_div(all).map_or(0.0, |p| p as f64 / 100.0)
}

fn tops<K: std::hash::Hash + Eq + Clone + Ord + ToString>(t: &TopK<K>, n: usize) -> Vec<Top> {
    t.top(n).into_iter().map(|(k, count)| Top { name: k.to_string(), count }).collect()
}

// Fields are visible to the sibling `persist`, which saves and restores them as they are.
pub(super) struct Bucket {
    pub(super) start_ms: u64,
    pub(super) queries: u64,
    pub(super) outcomes: [u64; Outcome::ALL.len()],
    pub(super) sampled: u64,
    pub(super) names: TopK<Box<str>>,
    pub(super) blocked: TopK<Box<str>>,
    pub(super) clients: TopK<IpAddr>,
}

pub(super) struct Tier {
    pub(super) width_ms: u64,
    /// Buckets kept (the window's length in buckets, plus the one filling).
    pub(super) keep: usize,
    /// Entries a closed bucket keeps per top list.
    pub(super) closed_top: usize,
    /// Bound of each top list of the bucket filling.
    pub(super) open_cap: usize,
    pub(super) buckets: VecDeque<Bucket>,
}

impl Tier {
    fn new(width: Duration, keep: usize, closed_top: usize, open_cap: usize) -> Self {
        Tier { width_ms: width.as_millis() as u64, keep, closed_top, open_cap, buckets: VecDeque::new() }
    }

    /// The bucket holding `ms`, opening a new one (and closing the last) when `ms` is past
    /// it; `None` for a time older than every bucket kept.
    fn bucket(&mut self, ms: u64) -> Option<&mut Bucket> {
        let start = ms - ms % self.width_ms;
        if self.buckets.back().is_none_or(|b| b.start_ms < start) {
            if let Some(last) = self.buckets.back_mut() {
                last.names.shrink_to(self.closed_top);
                last.blocked.shrink_to(self.closed_top);
                last.clients.shrink_to(self.closed_top);
            }
            self.buckets.push_back(Bucket {
                start_ms: start,
                queries: 0,
                outcomes: [0; Outcome::ALL.len()],
                sampled: 0,
                names: TopK::new(self.open_cap),
                blocked: TopK::new(self.open_cap),
                clients: TopK::new(self.open_cap),
            });
            while self.buckets.len() > self.keep {
                self.buckets.pop_front();
            }
        }
        self.buckets.iter_mut().rev().find(|b| b.start_ms == start)
    }
}

/// The minute and hour tiers.
pub struct Window {
    /// Minutes, then hours.
    pub(super) tiers: Mutex<[Tier; 2]>,
    pub(super) groups: Mutex<BTreeMap<String, u64>>,
}

/// See [`Window::adder`].
pub struct Adder<'a>(parking_lot::MutexGuard<'a, [Tier; 2]>);

impl Adder<'_> {
    /// One logged query; `name` in presentation form, `client` as it may be shown (masked
    /// when anonymising).
    pub fn add(&mut self, ms: u64, name: &[u8], client: IpAddr, blocked: bool) {
        let name = String::from_utf8_lossy(name);
        for tier in self.0.iter_mut() {
            let Some(b) = tier.bucket(ms) else { continue };
            b.sampled += 1;
            b.names.add_with(name.as_ref(), 1, |n: &str| Box::from(n));
            if blocked {
                b.blocked.add_with(name.as_ref(), 1, |n: &str| Box::from(n));
            }
            b.clients.add_with(&client, 1, |c| *c);
        }
    }
}

impl std::fmt::Debug for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Window").finish_non_exhaustive()
    }
}

impl Default for Window {
    fn default() -> Self {
        Window {
            tiers: Mutex::new([
                Tier::new(Duration::from_secs(60), 61, 100, 4096),
                Tier::new(Duration::from_secs(3600), 25, 500, 16_384),
            ]),
            groups: Mutex::default(),
        }
    }
}

impl Window {
    /// Adds counter deltas (queries by outcome since the last call) at `now_ms`.
    pub fn add_counts(&self, now_ms: u64, delta: &StatsSnapshot) {
        let by_outcome = delta.by_outcome();
        for tier in self.tiers.lock().iter_mut() {
            if let Some(b) = tier.bucket(now_ms) {
                b.queries += delta.queries;
                for (o, (_, d)) in b.outcomes.iter_mut().zip(by_outcome) {
                    *o += d;
                }
            }
        }
    }

    /// Holds the window for adding a batch of logged queries to the top lists.
    pub fn adder(&self) -> Adder<'_> {
        Adder(self.tiers.lock())
    }

    /// Adds queries counted per client group since the last call.
    pub fn add_groups(&self, counts: impl IntoIterator<Item = (String, u64)>) {
        let mut g = self.groups.lock();
        for (name, n) in counts {
            *g.entry(name).or_default() += n;
        }
    }

    /// Queries per client group since start (from the query log: a sample when it overflows).
    pub fn groups(&self) -> Vec<(String, u64)> {
        self.groups.lock().iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// The window of `since` (capped at a day) ending at `now_ms`, with `top` entries per list;
    /// `top` 0 gives the counts alone, without merging the buckets' top lists (most of the
    /// work: the dashboard's chart asks twelve windows for their counts).
    pub fn stats(&self, now_ms: u64, since: Duration, top: usize) -> WindowStats {
        let since = since.min(MAX_WINDOW);
        let tiers = self.tiers.lock();
        let tier = if since <= MINUTE_TIER_UP_TO { &tiers[0] } else { &tiers[1] };
        let from = now_ms.saturating_sub(since.as_millis() as u64);
        let mut out = WindowStats { since_secs: since.as_secs(), ..Default::default() };
        let mut outcomes = [0u64; Outcome::ALL.len()];
        let (mut names, mut blocked, mut clients) =
            (TopK::new(usize::MAX), TopK::new(usize::MAX), TopK::<IpAddr>::new(usize::MAX));
        for b in tier.buckets.iter().filter(|b| b.start_ms + tier.width_ms > from && b.start_ms <= now_ms) {
            out.from_ms = if out.from_ms == 0 { b.start_ms } else { out.from_ms.min(b.start_ms) };
            out.queries += b.queries;
            out.sampled += b.sampled;
            for (o, v) in outcomes.iter_mut().zip(b.outcomes) {
                *o += v;
            }
            if top > 0 {
                names.merge(&b.names);
                blocked.merge(&b.blocked);
                clients.merge(&b.clients);
            }
        }
        drop(tiers);
        out.outcomes = Outcome::ALL.iter().zip(outcomes).map(|(o, v)| (o.name().to_string(), v)).collect();
        out.blocked = outcomes[Outcome::Blocked.index()];
        out.blocked_percent = percent(out.blocked, out.queries);
        out.top_domains = tops(&names, top);
        out.top_blocked = tops(&blocked, top);
        out.top_clients = tops(&clients, top);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60_000;
    const HOUR: u64 = 60 * MIN;

    fn seen(w: &Window, ms: u64, name: &str, client: [u8; 4], blocked: bool) {
        w.adder().add(ms, name.as_bytes(), IpAddr::from(client), blocked);
    }

    #[test]
    fn an_hour_and_a_day_from_their_own_buckets() {
        let w = Window::default();
        let t0 = 100 * HOUR;
        // Three hours ago: counts for the day, not for the hour.
        w.add_counts(t0 - 3 * HOUR, &StatsSnapshot { queries: 10, cached: 10, ..Default::default() });
        for _ in 0..10 {
            seen(&w, t0 - 3 * HOUR, "old.test", [10, 0, 0, 9], false);
        }
        w.add_counts(t0, &StatsSnapshot { queries: 4, forwarded: 2, blocked: 2, ..Default::default() });
        seen(&w, t0, "ads.test", [10, 0, 0, 1], true);
        seen(&w, t0, "ads.test", [10, 0, 0, 1], true);
        seen(&w, t0, "a.test", [10, 0, 0, 2], false);
        seen(&w, t0, "b.test", [10, 0, 0, 2], false);
        let h = w.stats(t0, Duration::from_secs(3600), 10);
        assert_eq!((h.queries, h.blocked, h.sampled), (4, 2, 4));
        let counts = w.stats(t0, Duration::from_secs(3600), 0);
        assert_eq!((counts.queries, counts.blocked, counts.top_domains.len()), (4, 2, 0), "top 0: counts only");
        assert_eq!(h.blocked_percent, 50.0);
        assert_eq!(h.top_domains[0], Top { name: "ads.test".into(), count: 2 });
        assert_eq!(h.top_blocked, vec![Top { name: "ads.test".into(), count: 2 }]);
        assert_eq!(h.top_clients.len(), 2);
        assert_eq!(h.outcomes["forwarded"], 2);
        let d = w.stats(t0, Duration::from_secs(24 * 3600), 1);
        assert_eq!((d.queries, d.sampled), (14, 14));
        assert_eq!(d.top_domains, vec![Top { name: "old.test".into(), count: 10 }]);
        // A day later the old hour has left the window.
        assert_eq!(w.stats(t0 + 22 * HOUR, Duration::from_secs(24 * 3600), 10).queries, 4);
    }

    #[test]
    fn memory_stays_bounded_and_merging_sums() {
        let w = Window::default();
        for i in 0..20_000u32 {
            seen(&w, 5 * HOUR + u64::from(i) * 200, &format!("n{i}.test"), [10, 0, 0, 1], false);
            seen(&w, 5 * HOUR + u64::from(i) * 200, "hot.test", [10, 0, 0, 1], false);
        }
        let tiers = w.tiers.lock();
        assert!(tiers[0].buckets.iter().all(|b| b.names.len() <= 4096));
        assert!(tiers[0].buckets.iter().rev().skip(1).all(|b| b.names.len() <= 100), "closed buckets are cut");
        drop(tiers);
        let a = w.stats(5 * HOUR + 4_000_000, Duration::from_secs(3600), 3);
        // 67 minutes of traffic: the hour holds the last 61 minute buckets (from minute 6).
        assert_eq!(a.top_domains[0], Top { name: "hot.test".into(), count: 20_000 - 1800 });
    }
}
