//! The answer cache: responses kept as wire bytes, served with ID and TTLs patched.
//!
//! Policy is sans-IO: every call takes `now`. Keys are the case-folded question name,
//! type, class and the DO/CD bits. Entries are bounded by bytes per shard and evicted
//! with CLOCK (second chance), which approximates LRU without a linked list. Negative
//! answers are cached from their SOA (RFC 2308); expired entries can be served stale
//! (RFC 8767) while the upstreams fail; popular entries ask for a prefetch near expiry.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;

// foldhash: several times faster than SipHash on short keys, still randomly seeded per
// process so query names cannot be chosen to collide.
use foldhash::fast::RandomState;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use crate::dnssec::Security;

const SHARDS: usize = 16;
/// TTL given to stale answers (RFC 8767 §4 recommends 30 s).
pub const STALE_TTL: u32 = 30;
/// Longest time a bogus answer is cached (unbound's `val-bogus-ttl` is 60 s).
pub const BOGUS_TTL: u32 = 30;
/// Bookkeeping bytes per entry beyond its key and wire bytes.
const ENTRY_OVERHEAD: usize = 96;

/// Cache tuning, from `[dns]`.
#[derive(Debug, Clone, Copy)]
pub struct CachePolicy {
    pub max_bytes: u64,
    pub min_ttl: u32,
    pub max_ttl: u32,
    pub max_negative_ttl: u32,
    pub stale_max_age: Duration,
    pub prefetch: bool,
}

impl CachePolicy {
    /// The policy `[dns]` sets.
    pub fn of(c: &ravens_config::Config) -> Self {
        CachePolicy {
            max_bytes: c.dns.cache_size,
            min_ttl: c.dns.min_ttl,
            max_ttl: c.dns.max_ttl,
            max_negative_ttl: c.dns.max_negative_ttl,
            stale_max_age: c.dns.stale_max_age,
            prefetch: c.dns.prefetch,
        }
    }
}

/// The longest key: a 255-byte name, type, class, flags and an upstream set.
pub const KEY_MAX: usize = 262;

/// Build the lookup key of a question into `buf`; returns its length. `set`: the upstream
/// set answering (`crate::route`), so sets never share an entry; the default set (0) adds
/// nothing (the common key stays as it was), another appends its two bytes.
pub fn make_key(
    buf: &mut [u8; KEY_MAX],
    name_wire: &[u8],
    qtype: u16,
    qclass: u16,
    dnssec_ok: bool,
    cd: bool,
    set: u16,
) -> usize {
    let n = name_wire.len();
    buf[..n].copy_from_slice(name_wire);
    buf[n..n + 2].copy_from_slice(&qtype.to_be_bytes());
    buf[n + 2..n + 4].copy_from_slice(&qclass.to_be_bytes());
    buf[n + 4] = u8::from(dnssec_ok) | (u8::from(cd) << 1);
    if set == 0 {
        return n + 5;
    }
    buf[n + 5..n + 7].copy_from_slice(&set.to_be_bytes());
    n + 7
}

/// What a lookup found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hit {
    /// Unexpired; `prefetch` asks the caller to refresh the entry in the background.
    Fresh { prefetch: bool },
    /// Expired but within the stale window, served with [`STALE_TTL`].
    Stale,
}

/// One cached answer. Key, wire bytes and TTL offsets share one allocation, and the entry
/// itself is small: a hit on a cold cache costs a miss per distinct memory block touched
/// (table bucket, then this block), which dominated the lookup when they were three boxes.
struct Entry {
    /// key ‖ wire ‖ TTL field offsets (u16, native endian).
    data: Box<[u8]>,
    stored: Instant,
    key_len: u16,
    wire_len: u16,
    ttl: u32,
    hits: u32,
    referenced: bool,
    prefetching: bool,
    /// [`Security::to_byte`]: what DNSSEC validation found, so a hit is not revalidated.
    security: u8,
}

impl Entry {
    fn new(key: &[u8], wire: &[u8], ttl_offsets: &[u16], stored: Instant, ttl: u32, security: u8) -> Option<Self> {
        let mut data = Vec::with_capacity(key.len() + wire.len() + ttl_offsets.len() * 2);
        data.extend_from_slice(key);
        data.extend_from_slice(wire);
        for off in ttl_offsets {
            data.extend_from_slice(&off.to_ne_bytes());
        }
        Some(Entry {
            data: data.into_boxed_slice(),
            stored,
            key_len: u16::try_from(key.len()).ok()?,
            wire_len: u16::try_from(wire.len()).ok()?,
            ttl,
            hits: 0,
            referenced: false,
            prefetching: false,
            security,
        })
    }

    fn key(&self) -> &[u8] {
        &self.data[..usize::from(self.key_len)]
    }

    fn wire(&self) -> &[u8] {
        let k = usize::from(self.key_len);
        &self.data[k..k + usize::from(self.wire_len)]
    }

    fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let at = usize::from(self.key_len) + usize::from(self.wire_len);
        self.data[at..].chunks_exact(2).map(|c| usize::from(u16::from_ne_bytes([c[0], c[1]])))
    }

    fn bytes(&self) -> usize {
        self.data.len() + ENTRY_OVERHEAD
    }
}

#[derive(Default)]
struct Shard {
    /// Keyed by the key's hash already: an identity-ish hasher would do, foldhash is cheap.
    map: HashMap<u64, Entry, foldhash::fast::FixedState>,
    clock: VecDeque<u64>,
    bytes: usize,
}

/// Counters, readable at any time.
#[derive(Debug, Default)]
pub struct CacheStats {
    pub hits: AtomicU64,
    pub stale_hits: AtomicU64,
    pub misses: AtomicU64,
    pub inserts: AtomicU64,
    pub evictions: AtomicU64,
}

/// The shared answer cache.
pub struct Cache {
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
    policy: arc_swap::ArcSwap<CachePolicy>,
    pub stats: CacheStats,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache").field("entries", &self.len()).finish()
    }
}

impl Cache {
    pub fn new(policy: CachePolicy) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hasher: RandomState::default(),
            policy: arc_swap::ArcSwap::from_pointee(policy),
            stats: CacheStats::default(),
        }
    }

    /// Replaces the policy (on reload); entries stay.
    pub fn set_policy(&self, policy: CachePolicy) {
        self.policy.store(std::sync::Arc::new(policy));
    }

    pub fn policy(&self) -> CachePolicy {
        **self.policy.load()
    }

    fn shard(&self, hash: u64) -> &Mutex<Shard> {
        &self.shards[(hash >> 59) as usize % SHARDS]
    }

    /// Looks `key` up. On a hit the stored answer is copied to `out` with TTLs decremented
    /// (ID still zero). Stale entries are returned only when `allow_stale`.
    pub fn get(&self, key: &[u8], now: Instant, allow_stale: bool, out: &mut Vec<u8>) -> Option<Hit> {
        self.get_checked(key, now, allow_stale, out).map(|(hit, _)| hit)
    }

    /// [`Cache::get`] with the entry's DNSSEC [`Security`].
    pub fn get_checked(
        &self,
        key: &[u8],
        now: Instant,
        allow_stale: bool,
        out: &mut Vec<u8>,
    ) -> Option<(Hit, Security)> {
        let hash = self.hasher.hash_one(key);
        let policy = **self.policy.load();
        let mut shard = self.shard(hash).lock();
        let Some(e) = shard.map.get_mut(&hash).filter(|e| e.key() == key) else {
            drop(shard);
            if !allow_stale {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
            }
            return None;
        };
        let age = now.saturating_duration_since(e.stored).as_secs();
        let age32 = u32::try_from(age).unwrap_or(u32::MAX);
        if age32 < e.ttl {
            e.referenced = true;
            e.hits = e.hits.saturating_add(1);
            let remaining = e.ttl - age32;
            let prefetch = policy.prefetch && !e.prefetching && e.hits >= 2 && e.ttl >= 10 && remaining * 10 <= e.ttl;
            e.prefetching |= prefetch;
            copy_patched(e, out, |ttl| ttl.saturating_sub(age32));
            let security = Security::from_byte(e.security);
            drop(shard);
            self.stats.hits.fetch_add(1, Ordering::Relaxed);
            return Some((Hit::Fresh { prefetch }, security));
        }
        let stale_ok = Duration::from_secs(age.saturating_sub(u64::from(e.ttl))) <= policy.stale_max_age;
        if allow_stale && stale_ok {
            copy_patched(e, out, |_| STALE_TTL);
            let security = Security::from_byte(e.security);
            drop(shard);
            self.stats.stale_hits.fetch_add(1, Ordering::Relaxed);
            return Some((Hit::Stale, security));
        }
        if !stale_ok {
            let e = shard.map.remove(&hash).map(|e| e.bytes()).unwrap_or(0);
            shard.bytes -= e;
        }
        drop(shard);
        if !allow_stale {
            self.stats.misses.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// Stores an upstream response for `key`. Returns false when it is not cacheable
    /// (truncated, an error, malformed, a TTL of zero, or larger than one shard's share of
    /// `max_bytes`).
    pub fn insert(&self, key: &[u8], response: &[u8], now: Instant) -> bool {
        self.insert_checked(key, response, now, Security::Unchecked)
    }

    /// [`Cache::insert`] with what DNSSEC validation found; a bogus answer is kept for at
    /// most [`BOGUS_TTL`] (the zone may be repaired, or a key rolled, any moment).
    pub fn insert_checked(&self, key: &[u8], response: &[u8], now: Instant, security: Security) -> bool {
        let policy = **self.policy.load();
        let Some((wire, ttl_offsets, mut ttl)) = prepare(response, &policy) else {
            return false;
        };
        if matches!(security, Security::Bogus(_)) {
            ttl = ttl.min(BOGUS_TTL);
        }
        let Some(entry) = Entry::new(key, &wire, &ttl_offsets, now, ttl, security.to_byte()) else {
            return false;
        };
        let budget = (policy.max_bytes as usize / SHARDS).max(4096);
        if entry.bytes() > budget {
            // It would evict the whole shard and then itself (found by the dns_cache fuzz
            // target: reported as cached, gone at once). Only with a very small cache_size.
            return false;
        }
        let hash = self.hasher.hash_one(key);
        let mut shard = self.shard(hash).lock();
        shard.bytes += entry.bytes();
        if let Some(old) = shard.map.insert(hash, entry) {
            shard.bytes -= old.bytes();
        } else {
            shard.clock.push_back(hash);
        }
        let evicted = evict(&mut shard, budget);
        drop(shard);
        self.stats.inserts.fetch_add(1, Ordering::Relaxed);
        self.stats.evictions.fetch_add(evicted, Ordering::Relaxed);
        true
    }

    /// Entries and bytes held.
    pub fn usage(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, b), s| {
            let s = s.lock();
            (n + s.map.len(), b + s.bytes)
        })
    }

    pub fn len(&self) -> usize {
        self.usage().0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn clear(&self) {
        for s in self.shards.iter() {
            *s.lock() = Shard::default();
        }
    }
}

/// CLOCK eviction until the shard fits its budget.
fn evict(shard: &mut Shard, budget: usize) -> u64 {
    let mut evicted = 0;
    let mut spins = shard.clock.len() * 2 + 1;
    while shard.bytes > budget && spins > 0 {
        spins -= 1;
        let Some(hash) = shard.clock.pop_front() else { break };
        match shard.map.get_mut(&hash) {
            None => {} // removed earlier; drop the stale clock slot
            Some(e) if e.referenced => {
                e.referenced = false;
                shard.clock.push_back(hash);
            }
            Some(_) => {
                let e = shard.map.remove(&hash).map(|e| e.bytes()).unwrap_or(0);
                shard.bytes -= e;
                evicted += 1;
            }
        }
    }
    evicted
}

fn copy_patched(e: &Entry, out: &mut Vec<u8>, ttl: impl Fn(u32) -> u32) {
    out.clear();
    out.extend_from_slice(e.wire());
    for at in e.ttl_offsets() {
        let stored = u32::from_be_bytes([out[at], out[at + 1], out[at + 2], out[at + 3]]);
        out[at..at + 4].copy_from_slice(&ttl(stored).to_be_bytes());
    }
}

#[path = "cache_prepare.rs"]
mod prepare;
use prepare::prepare;
pub(crate) use prepare::strip_opt;

#[cfg(test)]
#[path = "cache_tests.rs"]
mod tests;
