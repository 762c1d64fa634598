//! Watches the config file with `notify` and reloads after a quiet period (debounce), so
//! an editor's write-rename-chmod sequence causes one reload, not three. A file that keeps
//! changing is still reloaded at least every [`MAX_WAIT`].
//!
//! A symlinked config is watched twice: the link (it may be pointed elsewhere) and the file
//! it resolves to, whose edits are what matter.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::state::Daemon;

const DEBOUNCE: Duration = Duration::from_millis(300);
/// The longest a reload waits for the file to be quiet.
const MAX_WAIT: Duration = Duration::from_secs(1);

/// The directories watched and the file names in them that matter.
struct Watched {
    watcher: RecommendedWatcher,
    dirs: HashSet<PathBuf>,
    names: Arc<Mutex<HashSet<OsString>>>,
}

impl Watched {
    /// Watches the directory of `file` (editors replace files, which breaks watches on the
    /// file itself) for events on its name.
    fn add(&mut self, file: &Path) -> anyhow::Result<()> {
        if let Some(name) = file.file_name() {
            self.names.lock().insert(name.to_os_string());
        }
        let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), PathBuf::from);
        if self.dirs.insert(dir.clone()) {
            self.watcher
                .watch(&dir, RecursiveMode::NonRecursive)
                .with_context(|| format!("watching {}", dir.display()))?;
        }
        Ok(())
    }
}

pub fn spawn(path: PathBuf, daemon: Arc<Daemon>, cancel: CancellationToken) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let names: Arc<Mutex<HashSet<OsString>>> = Arc::default();
    let wanted = Arc::clone(&names);
    let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && !ev.kind.is_access()
            && ev.paths.iter().any(|p| p.file_name().is_some_and(|n| wanted.lock().contains(n)))
        {
            let _ = tx.send(());
        }
    })
    .context("starting the config file watcher")?;
    let mut watched = Watched { watcher, dirs: HashSet::new(), names };
    watched.add(&path)?;
    watched.add(&crate::config_file::target(&path))?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = rx.recv() => if ev.is_none() { return },
            }
            if !settle(&mut rx).await {
                return;
            }
            tracing::info!(file = %path.display(), "config file changed");
            let d = Arc::clone(&daemon);
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::task::spawn_blocking(move || d.reload_if_changed()) => {}
            }
            // The link may point elsewhere now.
            if let Err(e) = watched.add(&crate::config_file::target(&path)) {
                tracing::warn!("{e:#}");
            }
        }
    });
    Ok(())
}

/// Waits until no event arrived for [`DEBOUNCE`], or [`MAX_WAIT`] passed; false when the
/// watcher is gone.
async fn settle(rx: &mut mpsc::UnboundedReceiver<()>) -> bool {
    let deadline = Instant::now() + MAX_WAIT;
    loop {
        let quiet = (Instant::now() + DEBOUNCE).min(deadline);
        match tokio::time::timeout_at(quiet, rx.recv()).await {
            Ok(Some(())) if Instant::now() < deadline => continue,
            Ok(Some(())) | Err(_) => return true,
            Ok(None) => return false,
        }
    }
}
