//! Records the build date (Unix seconds) for the DNSSEC clock rule: a system clock earlier
//! than the binary's build is wrong, and no signature can be judged on it. Reproducible
//! builds set SOURCE_DATE_EPOCH; otherwise the time of the first build of this crate.

use std::time::{SystemTime, UNIX_EPOCH};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or_else(|| SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()));
    println!("cargo:rustc-env=RAVENS_BUILD_UNIX={t}");
}
