//! The statistics window across restarts: loaded at start, saved every
//! [`SAVE_EVERY`] and once more at stop (`data_dir/stats.json`, [`crate::stats::persist`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::stats::persist;
use crate::stats::window::Window;

/// How often the window is saved: a crash loses at most this much of it.
const SAVE_EVERY: Duration = Duration::from_secs(60);

/// The statistics saved by the last run. Never fails the start: a file that cannot be read
/// back is reported and the window starts empty (the next save replaces the file).
pub(super) fn load(path: &Path) -> Window {
    let (window, err) = persist::load(path, ravens_config::clock::unix_ms());
    if let Some(e) = err {
        // The error names the file.
        tracing::warn!("statistics not restored, starting empty: {e}");
    }
    window
}

/// Saves the window now, off the runtime threads. The error names the file.
pub(super) async fn save(window: Arc<Window>, path: PathBuf) -> Result<(), String> {
    let p = path.clone();
    match tokio::task::spawn_blocking(move || persist::save(&window, &p)).await {
        Ok(saved) => saved.map_err(|e| e.to_string()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Saves the window every [`SAVE_EVERY`] and once more on `cancel`; the task ends after that
/// last save, so awaiting it at stop means the file is written.
pub(super) fn spawn(
    window: Arc<Window>,
    path: PathBuf,
    feed: JoinHandle<()>,
    cancel: CancellationToken,
) -> JoinHandle<()> {
    let mut feed = Some(feed);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + SAVE_EVERY;
        let mut tick = tokio::time::interval_at(start, SAVE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // A failure that repeats (a full disk, a read-only data_dir) is warned about once,
        // not every minute, until a save succeeds again; the last save always reports.
        let mut failing = false;
        loop {
            let last = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = tick.tick() => false,
            };
            // The last save waits for the feed's last turn (it ends on the same cancel).
            if let Some(f) = feed.take_if(|_| last) {
                let _ = f.await;
            }
            match save(Arc::clone(&window), path.clone()).await {
                Ok(()) => failing = false,
                Err(e) if !failing || last => {
                    tracing::warn!("saving the statistics failed: {e}");
                    failing = true;
                }
                Err(e) => tracing::debug!("saving the statistics failed again: {e}"),
            }
            if last {
                return;
            }
        }
    })
}
