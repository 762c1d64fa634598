//! The clock a batch of queries is answered by.

use std::time::Instant;

/// The time a batch of queries is answered at: the UDP threads read both clocks once per
/// `recvmmsg` batch (two clock reads per query were 1-2 % of a cache hit's CPU).
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub mono: Instant,
    /// Unix milliseconds, for the query log.
    pub wall_ms: u64,
}

impl Clock {
    pub fn now() -> Self {
        Clock { mono: Instant::now(), wall_ms: ravens_config::clock::unix_ms() }
    }
}
