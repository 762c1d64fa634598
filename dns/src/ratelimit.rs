//! Per-client query rate limit (`dns.rate_limit`): a token bucket per client prefix (IPv4
//! address, IPv6 /56) in a fixed table of atomic slots.
//!
//! Why this shape: the check runs on every query, next to a cache hit of a few hundred ns, so
//! it takes no lock and allocates nothing: one hash, at most [`PROBES`] slots read, one
//! compare-and-swap. The table never grows: a spoofed-source flood can only recycle slots.
//! A slot whose bucket has refilled holds no information (a new client starts full too),
//! so it is free for any other client; when every probed slot is busy, the first is taken
//! over (its client starts again with a full bucket: under such a flood per-client limits
//! cannot hold anyway, and memory stays bounded).

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use ravens_config::RateLimit;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the table: clients tracked at once (1 MiB).
const SLOTS: usize = 1 << 15;
/// Slots looked at per client before one is taken over.
const PROBES: usize = 4;
/// Tokens are kept in thousandths, so a rate of N/s refills N units per millisecond.
const UNIT: u64 = 1000;
/// A limited client is logged at most once per this many milliseconds.
const LOG_EVERY_MS: u32 = 60_000;

#[derive(Default)]
struct Slot {
    /// The client prefix ([`prefix_key`]); 0 = never used.
    key: AtomicU64,
    /// Tokens (high 32 bits, thousandths) and the last refill (low 32 bits, ms since start).
    bucket: AtomicU64,
    /// Queries limited since the slot was (re)claimed.
    limited: AtomicU64,
    /// When the client was last logged (ms since start; 0 = not yet).
    logged_ms: AtomicU32,
}

/// The verdict on one query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    /// Over the limit; `log` is true at most once a minute per client.
    Limited {
        log: bool,
        count: u64,
    },
}

/// The table and its settings (one per config version: a reload starts it afresh).
pub struct RateLimiter {
    slots: Box<[Slot]>,
    seed: u64,
    per_ms: u64,
    cap: u64,
    exempt: Exempt,
}

/// `dns.rate_limit_exempt` as (address, mask) pairs, one AND and one compare per network:
/// `IpNet::contains` over the list was about 90 instructions for a loopback client, a
/// third of the limiter's cost. IPv4-mapped IPv6 sources are matched as IPv4.
#[derive(Default)]
struct Exempt {
    v4: Box<[(u32, u32)]>,
    v6: Box<[(u128, u128)]>,
}

impl Exempt {
    fn new(nets: &[IpNet]) -> Self {
        let mask = |bits: u8, width: u32| u128::MAX.checked_shl(width - u32::from(bits)).unwrap_or(0);
        let v4 = nets.iter().filter_map(|n| match n {
            IpNet::V4(n) => Some((u32::from(n.network()), mask(n.prefix_len(), 32) as u32)),
            IpNet::V6(_) => None,
        });
        let v6 = nets.iter().filter_map(|n| match n {
            IpNet::V6(n) => Some((u128::from(n.network()), mask(n.prefix_len(), 128))),
            IpNet::V4(_) => None,
        });
        Exempt { v4: v4.collect(), v6: v6.collect() }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let v4 = match ip {
            IpAddr::V4(v4) => v4,
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4,
                None => return self.v6.iter().any(|&(net, mask)| u128::from(v6) & mask == net),
            },
        };
        self.v4.iter().any(|&(net, mask)| u32::from(v4) & mask == net)
    }
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter").field("per_ms", &self.per_ms).field("cap", &self.cap).finish()
    }
}

/// The client's prefix as a non-zero key: IPv4 tagged 1, IPv6 /56 tagged 2 (IPv4-mapped
/// IPv6 sources count as IPv4).
pub fn prefix_key(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => (1 << 56) | u64::from(u32::from(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => prefix_key(IpAddr::V4(v4)),
            None => (2 << 56) | (u128::from(v6) >> 72) as u64,
        },
    }
}

/// The network a key stands for (for the log).
pub fn key_network(key: u64) -> IpNet {
    let bits = key & ((1 << 56) - 1);
    if key >> 56 == 1 {
        IpNet::V4(Ipv4Net::new((bits as u32).into(), 32).unwrap())
    } else {
        IpNet::V6(Ipv6Net::new((u128::from(bits) << 72).into(), 56).unwrap())
    }
}

impl RateLimiter {
    /// `None` when the limit is off.
    pub fn new(cfg: &RateLimit) -> Option<Self> {
        if cfg.is_off() {
            return None;
        }
        Some(RateLimiter {
            slots: (0..SLOTS).map(|_| Slot::default()).collect(),
            seed: rand::random::<u64>() | 1,
            per_ms: u64::from(cfg.per_second),
            cap: u64::from(cfg.burst) * UNIT,
            exempt: Exempt::new(&cfg.exempt),
        })
    }

    /// Takes one token from `ip`'s bucket at `now_ms` ([`crate::pipeline::Clock::mono_ms`]:
    /// milliseconds on a monotonic clock, wrapping after 49 days; only differences are used).
    pub fn check(&self, ip: IpAddr, now_ms: u32) -> Verdict {
        if self.exempt.contains(ip) {
            return Verdict::Pass;
        }
        let key = prefix_key(ip);
        let slot = self.slot_for(key, now_ms);
        loop {
            let b = slot.bucket.load(Ordering::Relaxed);
            let (tokens, last) = (b >> 32, b as u32);
            let elapsed = now_ms.wrapping_sub(last);
            // Another thread's batch clock may be a little ahead: never move time backwards.
            let (elapsed, stamp) = if elapsed > u32::MAX / 2 { (0, last) } else { (elapsed, now_ms) };
            let tokens = (tokens + u64::from(elapsed) * self.per_ms).min(self.cap);
            if tokens < UNIT {
                return self.limited(slot, now_ms);
            }
            let next = ((tokens - UNIT) << 32) | u64::from(stamp);
            if slot.bucket.compare_exchange_weak(b, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
                return Verdict::Pass;
            }
        }
    }

    fn limited(&self, slot: &Slot, now_ms: u32) -> Verdict {
        let count = slot.limited.fetch_add(1, Ordering::Relaxed) + 1;
        let last = slot.logged_ms.load(Ordering::Relaxed);
        let since = now_ms.wrapping_sub(last);
        let due = last == 0 || (LOG_EVERY_MS..=u32::MAX / 2).contains(&since);
        let stamp = now_ms.max(1);
        let log = due && slot.logged_ms.compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed).is_ok();
        Verdict::Limited { log, count }
    }

    /// The slot holding `key`, claiming a free or refilled one (or taking over the first).
    fn slot_for(&self, key: u64, now_ms: u32) -> &Slot {
        let h = (key ^ self.seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let start = (h >> 40) as usize;
        let mut claimable = None;
        for i in 0..PROBES {
            let slot = &self.slots[(start + i) & (SLOTS - 1)];
            let k = slot.key.load(Ordering::Relaxed);
            if k == key {
                return slot;
            }
            if claimable.is_none() && (k == 0 || self.refilled(slot, now_ms)) {
                claimable = Some((slot, k));
            }
        }
        let (slot, old) = claimable.unwrap_or_else(|| {
            let s = &self.slots[start & (SLOTS - 1)];
            (s, s.key.load(Ordering::Relaxed))
        });
        // A lost race means another client claimed it at the same moment: share it for now.
        if slot.key.compare_exchange(old, key, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            slot.bucket.store((self.cap << 32) | u64::from(now_ms), Ordering::Relaxed);
            slot.limited.store(0, Ordering::Relaxed);
            slot.logged_ms.store(0, Ordering::Relaxed);
        }
        slot
    }

    /// The `top` clients with the most limited queries, most first. A client's count lives
    /// in its slot: it starts at 0 when the slot is claimed, which happens only once the
    /// client has been idle long enough for its bucket to refill (or the table is flooded),
    /// so these are the clients being limited lately. Reads every slot (off the query path:
    /// for status and metrics).
    pub fn limited_clients(&self, top: usize) -> Vec<(IpNet, u64)> {
        let mut out: Vec<(u64, u64)> = self
            .slots
            .iter()
            .filter_map(|s| {
                let (key, n) = (s.key.load(Ordering::Relaxed), s.limited.load(Ordering::Relaxed));
                (key != 0 && n > 0).then_some((key, n))
            })
            .collect();
        out.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(top);
        out.into_iter().map(|(k, n)| (key_network(k), n)).collect()
    }

    /// True when the slot's bucket would be full by now: its client is idle.
    fn refilled(&self, slot: &Slot, now_ms: u32) -> bool {
        let b = slot.bucket.load(Ordering::Relaxed);
        let elapsed = now_ms.wrapping_sub(b as u32);
        elapsed <= u32::MAX / 2 && (b >> 32) + u64::from(elapsed) * self.per_ms >= self.cap
    }
}

#[cfg(test)]
#[path = "ratelimit_tests.rs"]
mod tests;
