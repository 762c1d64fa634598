//! Cache insert of arbitrary "upstream responses", then lookup: never panics, and whatever is
//! served back is at most as long as what was stored.
#![no_main]
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use ravens_dns::cache::{Cache, CachePolicy};

fuzz_target!(|data: &[u8]| {
    let cache = Cache::new(CachePolicy {
        max_bytes: 1 << 16,
        min_ttl: 0,
        max_ttl: 86_400,
        max_negative_ttl: 3600,
        stale_max_age: Duration::from_secs(60),
        prefetch: true,
    });
    let now = Instant::now();
    if cache.insert(b"key", data, now) {
        let mut out = Vec::new();
        assert!(cache.get(b"key", now, false, &mut out).is_some());
        assert!(out.len() <= data.len());
        let _ = cache.get(b"key", now + Duration::from_secs(100_000), true, &mut out);
    }
});
