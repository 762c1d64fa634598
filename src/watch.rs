//! Watches the config file with `notify` and reloads after a quiet period (debounce), so
//! an editor's write-rename-chmod sequence causes one reload, not three.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use notify::{RecursiveMode, Watcher};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::daemon::Daemon;

const DEBOUNCE: Duration = Duration::from_millis(300);

/// Watches the file's directory (editors replace files, which breaks watches on the file itself).
pub fn spawn(path: PathBuf, daemon: Arc<Daemon>, cancel: CancellationToken) -> anyhow::Result<()> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let file_name = path.file_name().map(|n| n.to_os_string());
    let mut watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
        if let Ok(ev) = ev
            && ev.paths.iter().any(|p| p.file_name().map(|n| n.to_os_string()) == file_name)
            && !ev.kind.is_access()
        {
            let _ = tx.send(());
        }
    })
    .context("starting the config file watcher")?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).map_or_else(|| PathBuf::from("."), PathBuf::from);
    watcher.watch(&dir, RecursiveMode::NonRecursive).with_context(|| format!("watching {}", dir.display()))?;
    tokio::spawn(async move {
        let _watcher = watcher; // kept alive as long as the task runs
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = rx.recv() => if ev.is_none() { return },
            }
            // Debounce: wait until no event arrived for DEBOUNCE.
            loop {
                match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                    Ok(Some(())) => continue,
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            tracing::info!(file = %path.display(), "config file changed");
            daemon.reload_if_changed();
        }
    });
    Ok(())
}
