//! Hybrid logical clock (HLC): a timestamp that follows wall time but never goes backwards
//! and always moves past every stamp this node has seen, so "written after I saw X" implies
//! "stamped higher than X" even when the nodes' clocks disagree a little.
//!
//! Sans-IO: the caller passes the physical time in milliseconds since the Unix epoch.

use std::fmt;

/// One HLC stamp. Ordered by `wall_ms`, then `logical` (derived `Ord` relies on field order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hlc {
    /// Highest physical time (ms since the Unix epoch) known when the stamp was made.
    pub wall_ms: u64,
    /// Counter that orders events within one `wall_ms`.
    pub logical: u32,
}

impl Hlc {
    /// The stamp `(wall_ms, logical)`.
    pub const fn new(wall_ms: u64, logical: u32) -> Self {
        Self { wall_ms, logical }
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.wall_ms, self.logical)
    }
}

/// The clock of one node: the last stamp it issued or observed.
#[derive(Debug, Clone, Default)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A clock that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The last stamp issued or observed.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A fresh stamp for a local event, strictly greater than every earlier one.
    pub fn now(&mut self, physical_ms: u64) -> Hlc {
        self.last = if physical_ms > self.last.wall_ms { Hlc::new(physical_ms, 0) } else { bump(self.last) };
        self.last
    }

    /// Folds in a stamp received from another node, so our next stamp is greater than it.
    /// Returns the new last stamp (itself greater than both inputs' previous values).
    pub fn observe(&mut self, remote: Hlc, physical_ms: u64) -> Hlc {
        let wall = physical_ms.max(self.last.wall_ms).max(remote.wall_ms);
        self.last = if wall == self.last.wall_ms && wall == remote.wall_ms {
            bump(Hlc::new(wall, self.last.logical.max(remote.logical)))
        } else if wall == self.last.wall_ms {
            bump(self.last)
        } else if wall == remote.wall_ms {
            bump(remote)
        } else {
            Hlc::new(wall, 0)
        };
        self.last
    }
}

/// Next stamp after `h`; the logical counter overflowing (4 billion events in one ms) moves
/// the wall part instead of wrapping, so order is kept.
fn bump(h: Hlc) -> Hlc {
    match h.logical.checked_add(1) {
        Some(logical) => Hlc::new(h.wall_ms, logical),
        None => Hlc::new(h.wall_ms + 1, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_strictly_monotonic_even_when_wall_time_stalls_or_jumps_back() {
        let mut c = HlcClock::new();
        let a = c.now(1000);
        let b = c.now(1000);
        let d = c.now(900);
        let e = c.now(1001);
        assert!(a < b && b < d && d < e);
        assert_eq!(a, Hlc::new(1000, 0));
        assert_eq!(d, Hlc::new(1000, 2));
        assert_eq!(e, Hlc::new(1001, 0));
    }

    #[test]
    fn observe_moves_past_a_remote_stamp_from_the_future() {
        let mut c = HlcClock::new();
        c.now(1000);
        let seen = c.observe(Hlc::new(5000, 7), 1001);
        assert_eq!(seen, Hlc::new(5000, 8));
        assert!(c.now(1002) > Hlc::new(5000, 7));
    }

    #[test]
    fn observe_same_wall_takes_max_logical() {
        let mut c = HlcClock::new();
        c.now(1000);
        c.now(1000); // (1000, 1)
        assert_eq!(c.observe(Hlc::new(1000, 5), 999), Hlc::new(1000, 6));
        assert_eq!(c.observe(Hlc::new(10, 50), 999), Hlc::new(1000, 7));
        assert_eq!(c.observe(Hlc::new(10, 50), 2000), Hlc::new(2000, 0));
    }

    #[test]
    fn total_order_wall_then_logical() {
        assert!(Hlc::new(1, 9) < Hlc::new(2, 0));
        assert!(Hlc::new(2, 0) < Hlc::new(2, 1));
        assert_eq!(Hlc::new(3, 3).cmp(&Hlc::new(3, 3)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn logical_overflow_carries_into_wall() {
        let mut c = HlcClock { last: Hlc::new(10, u32::MAX) };
        assert_eq!(c.now(5), Hlc::new(11, 0));
    }
}
