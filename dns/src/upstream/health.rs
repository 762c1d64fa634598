//! Per-upstream health: smoothed RTT, consecutive failures and back-off. Sans-IO: the
//! caller passes `now`. After three consecutive failures an upstream is down for a
//! back-off that doubles from 1 s to 30 s; when it elapses the prober tries it again.

use std::time::{Duration, Instant};

const DOWN_AFTER: u32 = 3;
const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Upper bounds (ms) of the latency histogram's buckets; one more bucket counts the rest.
pub const LATENCY_BOUNDS_MS: [f64; 11] = [1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0];

/// Round-trip times of successful exchanges: per-bucket counts (not cumulative) and the sum.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Latency {
    /// `buckets[i]` counts RTTs ≤ `LATENCY_BOUNDS_MS[i]` (and above the bound before); the
    /// last one those above every bound.
    pub buckets: Vec<u64>,
    pub sum_ms: f64,
}

impl Latency {
    fn observe(&mut self, rtt: Duration) {
        let ms = rtt.as_secs_f64() * 1000.0;
        if self.buckets.is_empty() {
            self.buckets = vec![0; LATENCY_BOUNDS_MS.len() + 1];
        }
        let i = LATENCY_BOUNDS_MS.iter().position(|&b| ms <= b).unwrap_or(LATENCY_BOUNDS_MS.len());
        self.buckets[i] += 1;
        self.sum_ms += ms;
    }
}

#[derive(Debug, Clone, Default)]
pub struct Health {
    /// Smoothed RTT in microseconds (RFC 6298 style, α = 1/8); 0 = not measured yet.
    pub srtt_us: u32,
    pub failures: u32,
    pub down_until: Option<Instant>,
    pub queries: u64,
    pub errors: u64,
    pub latency: Latency,
}

impl Health {
    pub fn on_success(&mut self, rtt: Duration) {
        let rtt_d = rtt;
        let rtt = u32::try_from(rtt.as_micros()).unwrap_or(u32::MAX);
        self.srtt_us = if self.srtt_us == 0 { rtt } else { self.srtt_us - self.srtt_us / 8 + rtt / 8 };
        self.failures = 0;
        self.down_until = None;
        self.queries += 1;
        self.latency.observe(rtt_d);
    }

    pub fn on_failure(&mut self, now: Instant) {
        self.failures = self.failures.saturating_add(1);
        self.queries += 1;
        self.errors += 1;
        if self.failures >= DOWN_AFTER {
            let exp = (self.failures - DOWN_AFTER).min(5);
            self.down_until = Some(now + (BACKOFF_MIN * 2u32.pow(exp)).min(BACKOFF_MAX));
        }
    }

    /// Healthy = fewer than three failures in a row.
    pub fn healthy(&self) -> bool {
        self.failures < DOWN_AFTER
    }

    /// Down and its back-off has elapsed: time for a probe.
    pub fn probe_due(&self, now: Instant) -> bool {
        self.down_until.is_some_and(|t| now >= t)
    }

    /// Sort key for "best": unmeasured first (so they get measured), then lowest SRTT.
    pub fn rank(&self) -> u32 {
        self.srtt_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_down_after_three_failures_and_backs_off() {
        let t0 = Instant::now();
        let mut h = Health::default();
        h.on_failure(t0);
        h.on_failure(t0);
        assert!(h.healthy());
        h.on_failure(t0);
        assert!(!h.healthy());
        assert!(!h.probe_due(t0));
        assert!(h.probe_due(t0 + BACKOFF_MIN));
        h.on_failure(t0);
        assert!(!h.probe_due(t0 + BACKOFF_MIN), "back-off doubles");
        assert!(h.probe_due(t0 + BACKOFF_MIN * 2));
        for _ in 0..20 {
            h.on_failure(t0);
        }
        assert!(h.probe_due(t0 + BACKOFF_MAX));
        h.on_success(Duration::from_millis(5));
        assert!(h.healthy() && h.down_until.is_none());
    }

    #[test]
    fn srtt_smooths() {
        let mut h = Health::default();
        h.on_success(Duration::from_micros(800));
        assert_eq!(h.srtt_us, 800);
        h.on_success(Duration::from_micros(1600));
        assert_eq!(h.srtt_us, 900);
        assert_eq!(h.latency.buckets[0..2], [1, 1], "0.8 ms ≤ 1 ms, 1.6 ms ≤ 2.5 ms");
        assert!((h.latency.sum_ms - 2.4).abs() < 1e-9);
    }
}
