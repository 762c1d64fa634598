//! Site-config replication (docs/ARCHITECTURE.md §6): the config file's site sections as versioned
//! records, gossiped to the other nodes and written back into each node's own file.
//!
//! Every successful load of the file is diffed against the versions this node last applied:
//! each record that changed gets a new version (HLC, this node), each that vanished a
//! tombstone, and they gossip as `c/<key>`. A remote version that wins (last writer by (HLC,
//! node)) is applied, and the file is rewritten with `toml_edit` (only the items that differ;
//! comments and `[node]`/`[cluster]` kept) and reloaded. The applied versions persist in
//! `data_dir/site-config.json`, so after a restart an edit made while the daemon was down
//! is still seen as an edit (stamped with the file's mtime, so a newer edit elsewhere wins),
//! and the node's versions are republished as they were.
//!
//! A node whose file holds no site config (only `[node]` and `[cluster]`) and whose data_dir
//! is empty has nothing to publish: it takes the whole site config from its peers.

#[path = "site/state.rs"]
mod state;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use parking_lot::Mutex;
use ravens_config::Config;
use ravens_config::clock::{ms_of, unix_ms};
use ravens_config::site::{SiteFile, SiteRecords};
use ravens_sync::{Hlc, HlcClock, Record, SyncHandle};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Prefix of site-config keys in the replica.
pub const PREFIX: &str = "c/";

/// One applied version of a site record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Version {
    wall_ms: u64,
    logical: u32,
    origin: String,
    /// `None` for a tombstone.
    value: Option<String>,
}

impl Version {
    fn hlc(&self) -> Hlc {
        Hlc::new(self.wall_ms, self.logical)
    }

    fn order(&self) -> (Hlc, &str) {
        (self.hlc(), &self.origin)
    }
}

/// The state file's content (see [`state`] for its format).
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
struct Applied {
    /// Key (without `c/`) → the winning version known here.
    records: BTreeMap<String, Version>,
}

/// This node's site-config state.
pub struct Site {
    me: String,
    state_path: PathBuf,
    inner: Mutex<Inner>,
    sync: OnceLock<SyncHandle>,
    /// Woken when remote versions changed what the file should hold.
    pub remote_changed: Arc<Notify>,
    /// Serialises whole-file edits (dnsctl changes, write-backs).
    pub(crate) edit: Mutex<()>,
    /// Serialises loads of the file (edits, the watcher, SIGHUP), so an older text is never
    /// applied after a newer one.
    pub(crate) load: Mutex<()>,
    /// Why the last write-back of remote changes failed, for `dnsctl status`.
    pub last_error: Mutex<Option<String>>,
}

struct Inner {
    applied: Applied,
    clock: HlcClock,
    /// The file last ingested (loaded successfully) and the config it validated to: what
    /// the next edit starts from.
    loaded: Option<(Arc<SiteFile>, Arc<Config>)>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site").field("node", &self.me).finish_non_exhaustive()
    }
}

impl Site {
    /// Opens the state of `data_dir` (an unreadable state file counts as empty: the peers and
    /// the file then supply everything again).
    pub fn open(me: &str, data_dir: &std::path::Path) -> Self {
        let state_path = data_dir.join(state::FILE_NAME);
        let (applied, err) = state::load(&state_path);
        if let Some(e) = err {
            tracing::warn!("site-config state not used ({e}); starting empty");
        }
        let mut clock = HlcClock::new();
        let now = unix_ms();
        for v in applied.records.values() {
            clock.observe(v.hlc(), now);
        }
        Self {
            me: me.to_string(),
            state_path,
            inner: Mutex::new(Inner { applied, clock, loaded: None }),
            sync: OnceLock::new(),
            remote_changed: Arc::new(Notify::new()),
            edit: Mutex::new(()),
            load: Mutex::new(()),
            last_error: Mutex::new(None),
        }
    }

    /// The file last ingested, when its text is `text` (a reload would change nothing).
    pub fn loaded(&self, text: &str) -> Option<Arc<SiteFile>> {
        self.loaded_with_config(text).map(|(f, _)| f)
    }

    /// [`Site::loaded`] with the config that file validated to.
    pub fn loaded_with_config(&self, text: &str) -> Option<(Arc<SiteFile>, Arc<Config>)> {
        self.inner.lock().loaded.clone().filter(|(f, _)| f.text() == text)
    }

    /// After a load whose site items could not be cut into records: no text is "the
    /// loaded file" until one is ingested again.
    pub fn forget_loaded(&self) {
        self.inner.lock().loaded = None;
    }

    /// The live site records (what every node's file should hold).
    pub fn desired(&self) -> SiteRecords {
        let inner = self.inner.lock();
        inner.applied.records.iter().filter_map(|(k, v)| Some((k.clone(), v.value.clone()?))).collect()
    }

    /// Ingests a successfully loaded file: new versions for what changed since the last
    /// applied state. `mtime` stamps edits made while the daemon was down (startup); `None`
    /// stamps now.
    pub fn on_loaded(&self, loaded: Arc<SiteFile>, config: Arc<Config>, mtime: Option<SystemTime>) {
        let mut changed = Vec::new();
        {
            let mut inner = self.inner.lock();
            inner.loaded = Some((Arc::clone(&loaded), config));
            let file = loaded.records();
            let now = unix_ms();
            let stamp = |inner: &mut Inner, prev: Option<Hlc>| match mtime {
                // Never below the previous version of the key: that would lose the edit.
                Some(t) => {
                    let at = prev.map_or(Hlc::new(ms_of(t), 0), |p| Hlc::new(ms_of(t), 0).max(bump(p)));
                    inner.clock.observe(at, now);
                    at
                }
                None => inner.clock.now(now),
            };
            // Only the keys that differ are copied: a load of a large file changes few.
            let differ = differing(&inner.applied.records, file);
            for k in differ {
                let prev = inner.applied.records.get(&k).map(Version::hlc);
                let hlc = stamp(&mut inner, prev);
                let want = file.get(&k).cloned();
                let v = Version { wall_ms: hlc.wall_ms, logical: hlc.logical, origin: self.me.clone(), value: want };
                inner.applied.records.insert(k.clone(), v.clone());
                changed.push((k, v));
            }
            if !changed.is_empty() {
                self.persist(&inner.applied);
            }
        }
        if !changed.is_empty() {
            tracing::info!(records = changed.len(), "site config changed here; replicating");
            self.publish(changed);
        }
    }

    /// Applies remote versions (keys with the `c/` prefix); true when the file must change.
    pub fn on_remote(&self, records: &[Record]) -> bool {
        let mut inner = self.inner.lock();
        let now = unix_ms();
        let (mut changed, mut applied) = (false, false);
        for r in records {
            let Some(key) = r.key.strip_prefix(PREFIX) else { continue };
            inner.clock.observe(r.hlc, now);
            let newer = inner.applied.records.get(key).is_none_or(|v| (r.hlc, r.origin.as_str()) > v.order());
            if !newer {
                continue;
            }
            let value = if r.deleted { None } else { String::from_utf8(r.value.clone()).ok() };
            if !r.deleted && value.is_none() {
                continue;
            }
            let v = Version { wall_ms: r.hlc.wall_ms, logical: r.hlc.logical, origin: r.origin.clone(), value };
            let prev = inner.applied.records.insert(key.to_string(), v.clone());
            changed |= prev.and_then(|p| p.value) != v.value;
            applied = true;
        }
        // Most batches are leases only: no site record, nothing to save.
        if applied {
            self.persist(&inner.applied);
        }
        changed
    }

    /// Starts replicating through `sync`: republishes every applied version as it is (same
    /// HLC and origin), so the cluster gets this node's state back after a restart.
    pub fn attach(&self, sync: SyncHandle) {
        let all: Vec<(String, Version)> =
            self.inner.lock().applied.records.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if self.sync.set(sync).is_err() {
            return;
        }
        if !all.is_empty() {
            tracing::info!(records = all.len(), "republishing site config");
            self.publish(all);
        }
    }

    fn publish(&self, versions: Vec<(String, Version)>) {
        let Some(sync) = self.sync.get().cloned() else { return };
        let records: Vec<Record> = versions
            .into_iter()
            .filter_map(|(k, v)| {
                let key = format!("{PREFIX}{k}");
                let hlc = v.hlc();
                let rec = match v.value {
                    Some(val) => Record::new(&key, val.into_bytes(), hlc, &v.origin),
                    None => Record::tombstone(&key, hlc, &v.origin),
                };
                rec.map_err(|e| tracing::error!(key, "site record not replicated: {e}")).ok()
            })
            .collect();
        tokio::spawn(async move {
            if let Err(e) = sync.republish(records).await {
                tracing::error!("replicating site config failed: {e:#}");
            }
        });
    }

    fn persist(&self, applied: &Applied) {
        if let Err(e) = state::save(&self.state_path, applied) {
            tracing::error!(file = %self.state_path.display(), "saving the site-config state failed: {e}");
        }
    }

    /// Live records and tombstones known here (for status).
    pub fn counts(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        let live = inner.applied.records.values().filter(|v| v.value.is_some()).count();
        (live, inner.applied.records.len() - live)
    }
}

/// The keys whose live value in `applied` is not the one in `file` (changed, added, or
/// gone from the file), in one merge of the two sorted maps.
fn differing(applied: &BTreeMap<String, Version>, file: &SiteRecords) -> Vec<String> {
    let (mut a, mut f) = (applied.iter().peekable(), file.iter().peekable());
    let mut out = Vec::new();
    loop {
        let (k, have, want) = match (a.peek(), f.peek()) {
            (None, None) => return out,
            (Some((k, v)), None) => (*k, v.value.as_ref(), None),
            (None, Some((k, w))) => (*k, None, Some(*w)),
            (Some((ka, v)), Some((kf, w))) => match ka.cmp(kf) {
                std::cmp::Ordering::Less => (*ka, v.value.as_ref(), None),
                std::cmp::Ordering::Greater => (*kf, None, Some(*w)),
                std::cmp::Ordering::Equal => (*ka, v.value.as_ref(), Some(*w)),
            },
        };
        if a.peek().is_some_and(|(ka, _)| *ka == k) {
            a.next();
        }
        if f.peek().is_some_and(|(kf, _)| *kf == k) {
            f.next();
        }
        if have != want {
            out.push(k.clone());
        }
    }
}

fn bump(h: Hlc) -> Hlc {
    Hlc::new(h.wall_ms, h.logical.saturating_add(1))
}
