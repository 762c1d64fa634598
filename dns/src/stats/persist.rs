//! Keeps the statistics [`Window`] across restarts in `data_dir/stats.json`: the daemon saves
//! it every minute and at shutdown and reads it back at start.
//!
//! The format is small JSON with a version, so a later ravensd can tell an old file apart:
//!
//! ```json
//! {"version":1,
//!  "minutes":[{"start_ms":1700000040000,"queries":9,"sampled":9,
//!              "outcomes":{"blocked":2,"local":7},
//!              "names":[["nas.lan",3]],"blocked":[["ads.test",2]],"clients":[["10.0.0.2",9]]}],
//!  "hours":[...],
//!  "groups":{"default":9}}
//! ```
//!
//! Outcomes are keyed by name, not by position, so an outcome added later does not shift the
//! counts of a file written before it (unknown names are skipped); zero counts are left out.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write as _};
use std::net::IpAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::Outcome;
use super::topk::TopK;
use super::window::{Bucket, Tier, Window};

/// The file's name in `data_dir`.
pub const FILE_NAME: &str = "stats.json";
/// The format written, and the only one read.
pub const VERSION: u64 = 1;

/// Why the saved statistics could not be written or read back.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: not a statistics file: {source}", path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("{}: unknown format version {version} (this ravensd reads version {VERSION})", path.display())]
    Version { path: PathBuf, version: u64 },
}

/// `data_dir/stats.json`.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join(FILE_NAME)
}

#[derive(Deserialize)]
struct Header {
    version: u64,
}

#[derive(Serialize, Deserialize)]
struct Saved {
    version: u64,
    #[serde(default)]
    minutes: Vec<SavedBucket>,
    #[serde(default)]
    hours: Vec<SavedBucket>,
    #[serde(default)]
    groups: BTreeMap<String, u64>,
}

#[derive(Serialize, Deserialize)]
struct SavedBucket {
    start_ms: u64,
    queries: u64,
    sampled: u64,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    outcomes: BTreeMap<String, u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    names: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    blocked: Vec<(String, u64)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    clients: Vec<(String, u64)>,
}

/// One save at a time: the periodic save and a save before a re-exec share the temp file.
static SAVING: Mutex<()> = Mutex::new(());

/// Writes `window` to `path` atomically: a temp file beside it, synced, then renamed over it,
/// so a crash leaves the old file or the new one, never half of one. Mode 0600: the file
/// names clients and the domains they asked for.
pub fn save(window: &Window, path: &Path) -> Result<(), PersistError> {
    let saved = snapshot(window);
    let _one = SAVING.lock();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!("{name}.tmp"));
    let write = || -> io::Result<()> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        let mut out = BufWriter::new(file);
        serde_json::to_writer(&mut out, &saved)?;
        out.flush()?;
        out.get_ref().sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is only durable once the directory is synced; a filesystem that refuses
        // to sync a directory still has the rename, so that error is not worth failing for.
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let _ = File::open(dir).and_then(|d| d.sync_all());
        Ok(())
    };
    write().map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        PersistError::Io { path: path.to_path_buf(), source }
    })
}

/// The window saved at `path` as of `now_ms`, without the buckets that have left it since.
/// A missing file gives an empty window and no error (the first start); an unreadable,
/// corrupt or unknown-version file gives an empty window and the error, for the caller to log.
pub fn load(path: &Path, now_ms: u64) -> (Window, Option<PersistError>) {
    match read(path, now_ms) {
        Ok(w) => (w, None),
        Err(e) => (Window::default(), Some(e)),
    }
}

fn read(path: &Path, now_ms: u64) -> Result<Window, PersistError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Window::default()),
        Err(source) => return Err(PersistError::Io { path: path.to_path_buf(), source }),
    };
    let corrupt = |source| PersistError::Corrupt { path: path.to_path_buf(), source };
    // The version first: a later format may not parse as this one at all.
    let Header { version } = serde_json::from_slice(&bytes).map_err(corrupt)?;
    if version != VERSION {
        return Err(PersistError::Version { path: path.to_path_buf(), version });
    }
    let saved: Saved = serde_json::from_slice(&bytes).map_err(corrupt)?;
    Ok(restore(saved, now_ms))
}

fn snapshot(window: &Window) -> Saved {
    let tiers = window.tiers.lock();
    let [minutes, hours] = &*tiers;
    let (minutes, hours) = (saved_tier(minutes), saved_tier(hours));
    drop(tiers);
    Saved { version: VERSION, minutes, hours, groups: window.groups.lock().clone() }
}

/// Top lists are saved cut to what a closed bucket keeps: the file stays bounded, and the
/// bucket still filling loses only the tail that closing it would cut anyway.
fn saved_tier(tier: &Tier) -> Vec<SavedBucket> {
    let list = |t: &TopK<Box<str>>| t.top(tier.closed_top).into_iter().map(|(k, c)| (k.into(), c)).collect();
    tier.buckets
        .iter()
        .map(|b| SavedBucket {
            start_ms: b.start_ms,
            queries: b.queries,
            sampled: b.sampled,
            outcomes: Outcome::ALL
                .iter()
                .zip(b.outcomes)
                .filter(|&(_, n)| n > 0)
                .map(|(o, n)| (o.name().to_string(), n))
                .collect(),
            names: list(&b.names),
            blocked: list(&b.blocked),
            clients: b.clients.top(tier.closed_top).into_iter().map(|(ip, c)| (ip.to_string(), c)).collect(),
        })
        .collect()
}

fn restore(saved: Saved, now_ms: u64) -> Window {
    let w = Window::default();
    let mut tiers = w.tiers.lock();
    let [minutes, hours] = &mut *tiers;
    fill(minutes, saved.minutes, now_ms);
    fill(hours, saved.hours, now_ms);
    drop(tiers);
    *w.groups.lock() = saved.groups;
    w
}

/// Puts back the saved buckets that still overlap the span the tier answers for (the last
/// hour of minutes, the last day of hours). Buckets after `now_ms` (the clock was set back)
/// are dropped too: the tier only ever appends, so one would stand in the way of the bucket
/// for now. So are buckets not on the tier's grid and repeated starts (a damaged file).
fn fill(tier: &mut Tier, mut saved: Vec<SavedBucket>, now_ms: u64) {
    let span = tier.width_ms * (tier.keep as u64 - 1);
    let oldest_end = now_ms.saturating_sub(span);
    saved
        .retain(|b| b.start_ms % tier.width_ms == 0 && b.start_ms <= now_ms && b.start_ms + tier.width_ms > oldest_end);
    saved.sort_by_key(|b| b.start_ms);
    saved.dedup_by_key(|b| b.start_ms);
    let skip = saved.len().saturating_sub(tier.keep);
    tier.buckets = saved.into_iter().skip(skip).map(|b| bucket(tier, b)).collect();
}

fn bucket(tier: &Tier, saved: SavedBucket) -> Bucket {
    let mut b = Bucket {
        start_ms: saved.start_ms,
        queries: saved.queries,
        outcomes: Outcome::ALL.map(|o| saved.outcomes.get(o.name()).copied().unwrap_or(0)),
        sampled: saved.sampled,
        names: TopK::new(tier.open_cap),
        blocked: TopK::new(tier.open_cap),
        clients: TopK::new(tier.open_cap),
    };
    // Names saved by an older version may hold raw control bytes: escaped like new ones.
    for (name, n) in saved.names {
        b.names.add(crate::wire::printable(&name).into(), n);
    }
    for (name, n) in saved.blocked {
        b.blocked.add(crate::wire::printable(&name).into(), n);
    }
    for (ip, n) in saved.clients {
        if let Ok(ip) = ip.parse::<IpAddr>() {
            b.clients.add(ip, n);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::StatsSnapshot;
    use crate::stats::window::WindowStats;

    const MIN: u64 = 60_000;
    const HOUR: u64 = 60 * MIN;
    const T0: u64 = 500 * HOUR + 30 * MIN;

    /// A temporary directory (removed on drop) and the stats file's path in it.
    fn scratch() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let file = path_in(dir.path());
        (dir, file)
    }

    fn seen(w: &Window, ms: u64, name: &str, client: [u8; 4], blocked: bool) {
        w.adder().add(ms, name.as_bytes(), IpAddr::from(client), blocked);
    }

    /// Traffic now and two hours ago: in the day, only the recent part in the hour.
    fn busy_window() -> Window {
        let w = Window::default();
        w.add_counts(T0 - 2 * HOUR, &StatsSnapshot { queries: 5, cached: 5, ..Default::default() });
        for _ in 0..5 {
            seen(&w, T0 - 2 * HOUR, "old.test", [10, 0, 0, 9], false);
        }
        w.add_counts(T0 - 5 * MIN, &StatsSnapshot { queries: 3, forwarded: 3, ..Default::default() });
        for name in ["a.test", "a.test", "b.test"] {
            seen(&w, T0 - 5 * MIN, name, [10, 0, 0, 2], false);
        }
        w.add_counts(T0, &StatsSnapshot { queries: 4, local: 2, blocked: 2, ..Default::default() });
        seen(&w, T0, "ads.test", [10, 0, 0, 1], true);
        seen(&w, T0, "ads.test", [10, 0, 0, 1], true);
        seen(&w, T0, "nas.lan", [10, 0, 0, 1], false);
        seen(&w, T0, "nas.lan", [10, 0, 0, 3], false);
        w.add_groups([("default".to_string(), 10), ("kids".to_string(), 2)]);
        w
    }

    fn both(w: &Window, now: u64) -> [WindowStats; 2] {
        [3600, 24 * 3600].map(|s| w.stats(now, Duration::from_secs(s), 100))
    }

    fn assert_same(a: &WindowStats, b: &WindowStats) {
        assert_eq!((a.queries, a.blocked, a.sampled, a.from_ms), (b.queries, b.blocked, b.sampled, b.from_ms));
        assert_eq!(a.outcomes, b.outcomes);
        assert_eq!(a.top_domains, b.top_domains);
        assert_eq!(a.top_blocked, b.top_blocked);
        assert_eq!(a.top_clients, b.top_clients);
    }

    #[test]
    fn round_trip_keeps_counts_and_top_lists() {
        let (dir, file) = scratch();
        let w = busy_window();
        save(&w, &file).unwrap();
        let (back, err) = load(&file, T0);
        assert!(err.is_none(), "{err:?}");
        for (a, b) in both(&w, T0).iter().zip(&both(&back, T0)) {
            assert_same(a, b);
        }
        let [hour, day] = both(&back, T0);
        assert_eq!((hour.queries, day.queries), (7, 12));
        assert_eq!(day.top_domains[0].name, "old.test");
        assert_eq!(hour.top_blocked[0].name, "ads.test");
        assert_eq!(hour.outcomes["forwarded"], 3);
        assert_eq!(back.groups(), w.groups());
        // Still live: new traffic lands in the restored bucket for now.
        seen(&back, T0 + 1, "ads.test", [10, 0, 0, 1], true);
        assert_eq!(back.stats(T0 + 1, Duration::from_secs(3600), 1).top_domains[0].count, 3);
        // Saved again over the old file, and no temp file is left beside it.
        save(&back, &file).unwrap();
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[test]
    fn buckets_older_than_the_window_are_dropped_on_load() {
        let (_dir, file) = scratch();
        save(&busy_window(), &file).unwrap();
        // 70 minutes on: the minute tier has nothing left, the hour tier has all of it.
        let (w, _) = load(&file, T0 + 70 * MIN);
        assert_eq!(w.tiers.lock()[0].buckets.len(), 0);
        let [hour, day] = both(&w, T0 + 70 * MIN);
        assert_eq!((hour.queries, day.queries), (0, 12));
        // 22h40m on: the hour bucket of two hours before T0 ended 24h10m ago, out of the day.
        let later = T0 + 22 * HOUR + 40 * MIN;
        let (w, _) = load(&file, later);
        assert_eq!(w.tiers.lock()[1].buckets.len(), 1);
        assert_eq!(w.stats(later, Duration::from_secs(24 * 3600), 10).queries, 7);
        // Over a day on: nothing but the per-group counts.
        let (w, err) = load(&file, T0 + 25 * HOUR);
        assert!(err.is_none());
        assert!(w.tiers.lock().iter().all(|t| t.buckets.is_empty()));
        assert_eq!(w.groups().len(), 2);
        // The clock set back before the newest bucket: it is dropped, the older ones stay.
        let (w, _) = load(&file, T0 - 4 * MIN);
        assert_eq!(w.stats(T0 - 4 * MIN, Duration::from_secs(3600), 10).queries, 3);
    }

    #[test]
    fn a_corrupt_file_gives_an_empty_window_and_an_error() {
        let (_dir, file) = scratch();
        let (w, err) = load(&file, T0);
        assert!(err.is_none(), "a missing file is the first start: {err:?}");
        assert_eq!(w.stats(T0, Duration::from_secs(3600), 10).queries, 0);
        save(&busy_window(), &file).unwrap();
        let good = std::fs::read(&file).unwrap();
        let cases: [&[u8]; 4] = [&good[..good.len() / 2], b"", b"\x00\xff garbage", br#"{"version":"one"}"#];
        for bytes in cases {
            std::fs::write(&file, bytes).unwrap();
            let (w, err) = load(&file, T0);
            let err = err.expect("an error to log");
            assert!(matches!(err, PersistError::Corrupt { .. }), "{err}");
            assert!(err.to_string().contains(FILE_NAME), "names the file: {err}");
            assert_eq!(both(&w, T0).map(|s| s.queries), [0, 0]);
            assert!(w.groups().is_empty());
        }
        std::fs::write(&file, br#"{"version":2,"minutes":"elsewhere"}"#).unwrap();
        let (w, err) = load(&file, T0);
        assert!(matches!(err, Some(PersistError::Version { version: 2, .. })), "{err:?}");
        assert_eq!(w.stats(T0, Duration::from_secs(3600), 10).queries, 0);
    }

    #[test]
    fn outcomes_are_matched_by_name() {
        let (_dir, file) = scratch();
        let start = T0 - T0 % MIN;
        let text = format!(
            r#"{{"version":1,"minutes":[{{"start_ms":{start},"queries":9,"sampled":0,
                "outcomes":{{"someday":4,"blocked":2,"cached":3}},"clients":[["not an ip",1],["::1",9]]}}],
                "hours":[],"future_field":true}}"#
        );
        std::fs::write(&file, text).unwrap();
        let (w, err) = load(&file, T0);
        assert!(err.is_none(), "{err:?}");
        let s = w.stats(T0, Duration::from_secs(3600), 10);
        assert_eq!((s.queries, s.blocked), (9, 2));
        assert_eq!(s.outcomes["cached"], 3);
        assert_eq!(s.outcomes.values().sum::<u64>(), 5, "the unknown outcome is skipped: {:?}", s.outcomes);
        assert_eq!(s.top_clients.len(), 1);
        assert_eq!(s.top_clients[0].name, "::1");
    }
}
