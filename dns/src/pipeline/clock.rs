//! The clock a batch of queries is answered by.

use std::sync::LazyLock;
use std::time::Instant;

/// The start of [`Clock::mono_ms`]: the first clock read of the process.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

/// The time a batch of queries is answered at: the UDP threads read both clocks once per
/// `recvmmsg` batch (two clock reads per query were 1-2 % of a cache hit's CPU).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub mono: Instant,
    /// Milliseconds since the first clock read of the process, wrapping after 49 days (only
    /// differences are used): the rate limiter's time, made here once per batch because the
    /// `Duration` arithmetic was a third of the limiter's cost per query.
    pub mono_ms: u32,
    /// Unix milliseconds, for the query log.
    pub wall_ms: u64,
}

impl Clock {
    pub fn now() -> Self {
        let mono = Instant::now();
        let mono_ms = mono.saturating_duration_since(*EPOCH).as_millis() as u32;
        Clock { mono, mono_ms, wall_ms: ravens_config::clock::unix_ms() }
    }
}
