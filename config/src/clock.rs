//! The Unix wall clock, for every crate of ravens: leases, list downloads, statistics and
//! gossip stamps all count from the epoch. A clock before 1970 reads as 0 rather than
//! failing: these values are shown or compared, never a reason to stop serving.

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, now.
pub fn unix_secs() -> u64 {
    secs_of(SystemTime::now())
}

/// Milliseconds since the Unix epoch, now.
pub fn unix_ms() -> u64 {
    ms_of(SystemTime::now())
}

/// Seconds since the Unix epoch of `t` (0 before it).
pub fn secs_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch of `t` (0 before it, `u64::MAX` past what fits).
pub fn ms_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn before_the_epoch_reads_zero() {
        let before = UNIX_EPOCH - Duration::from_secs(5);
        assert_eq!((secs_of(before), ms_of(before)), (0, 0));
    }

    #[test]
    fn seconds_and_milliseconds_agree() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!((secs_of(t), ms_of(t)), (1_700_000_000, 1_700_000_000_123));
    }
}
