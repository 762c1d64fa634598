//! Polling with a bound, for tests that wait on another process (shared by `tests/common` and
//! the namespace tests' harness).

use std::time::{Duration, Instant};

/// Polls `f` every 50 ms until it returns Some, or None after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
