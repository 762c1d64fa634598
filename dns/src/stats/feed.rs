//! Folds the query log into the statistics window, off the query path: every
//! [`PERIOD`] a task reads the log entries recorded since its last turn, adds them to the
//! window's top lists and per-group counts, and adds the counter deltas to its totals.
//!
//! The log ring holds `query_log_size` entries, so up to that many queries per period are
//! all seen (40 000 queries/s with the default); beyond that the top lists are a sample
//! (`sampled` < `queries`), the totals stay exact.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::StatsSnapshot;
use super::window::Window;
use crate::Resolver;
use crate::querylog::DrainCursor;
use crate::querylog::file::LogFile;

/// How often the log is read.
pub const PERIOD: Duration = Duration::from_millis(250);

/// The feed's position: where it stopped reading the log and the counters it last saw.
#[derive(Debug, Default)]
pub struct Feed {
    cursor: DrainCursor,
    last: StatsSnapshot,
    per_group: Vec<u64>,
    /// `dns.query_log_file`, when configured.
    file: Option<LogFile>,
    /// The file that could not be opened (warned about once).
    failed_file: Option<std::path::PathBuf>,
}

impl Feed {
    /// One turn: the log since the last turn into `window`.
    pub fn turn(&mut self, resolver: &Resolver, window: &Window) {
        let state = resolver.state();
        // The anonymise option follows the config; reading it here keeps reloads free.
        resolver.querylog.set_anonymize(state.config.dns.query_log_anonymize);
        let now = ravens_config::clock::unix_ms();
        let snap = resolver.stats.snapshot();
        window.add_counts(now, &snap.since(&self.last));
        self.last = snap;
        self.per_group.clear();
        self.per_group.resize(state.policy.groups.len().max(1), 0);
        self.follow_file(&state.config.dns);
        let log = &resolver.querylog;
        let engine = resolver.blocking.engine.load();
        let mut adder = window.adder();
        let mut file_error = None;
        // The top lists count names in presentation form (as the log shows them); one
        // buffer serves the whole batch.
        let mut name = String::new();
        log.drain(&mut self.cursor, |s| {
            let g = resolver.blocking.group_of(&state.policy, s.client).index();
            if let Some(c) = self.per_group.get_mut(g) {
                *c += 1;
            }
            let blocked = s.outcome == super::Outcome::Blocked;
            let shown = log.shown(s.client);
            crate::wire::write_name_text(s.name, &mut name);
            adder.add(s.ms, name.as_bytes(), shown, blocked);
            if let Some(f) = &mut self.file
                && file_error.is_none()
            {
                file_error = f.write(&s.entry(shown, |id| engine.list_name(id).to_string())).err();
            }
        });
        drop(adder);
        if let Some(f) = &mut self.file
            && let Some(e) = file_error.or_else(|| f.flush().err())
        {
            tracing::warn!(file = %f.path().display(), "writing the query log file failed; it is closed: {e}");
            self.failed_file = Some(f.path().to_path_buf());
            self.file = None;
        }
        let groups = &state.policy.groups;
        window.add_groups(
            self.per_group
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .map(|(i, &n)| (groups.get(i).map_or_else(|| format!("#{i}"), |g| g.name.clone()), n)),
        );
    }
}

impl Feed {
    /// Opens, reopens or closes the log file as the config says.
    fn follow_file(&mut self, dns: &ravens_config::dns::Dns) {
        let want = dns.query_log_file.as_deref();
        if self.file.as_ref().map(LogFile::path) == want {
            return;
        }
        self.file = None;
        let Some(path) = want else { return };
        if self.failed_file.as_deref() == Some(path) {
            return;
        }
        match LogFile::open(path, dns.query_log_file_size) {
            Ok(f) => self.file = Some(f),
            Err(e) => {
                tracing::warn!(file = %path.display(), "cannot open the query log file: {e}");
                self.failed_file = Some(path.to_path_buf());
            }
        }
    }
}

/// Runs the feed until `cancel`, then takes one last turn, so the queries of the final moments
/// are in the window the daemon saves at shutdown.
pub async fn run(resolver: Arc<Resolver>, window: Arc<Window>, cancel: CancellationToken) {
    let mut feed = Feed::default();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            _ = tick.tick() => feed.turn(&resolver, &window),
        }
    }
    feed.turn(&resolver, &window);
}
