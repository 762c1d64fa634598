//! The blocklist service: compile the engine off the query path (a blocking
//! task, one compile at a time so peak memory stays bounded), swap it in with arc-swap, and
//! refresh URL lists on their schedule (ETag / If-Modified-Since, last good copy on disk).
//! The copies of lists no longer configured are deleted at start and at each change, and a
//! list file outside `node.list_dirs` is never read (see [`Lists::compile`]).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use ravens_config::Config;
use ravens_config::clock::unix_secs;
use ravens_config::policy::{ListKind, ListSource};
use tokio_util::sync::CancellationToken;

use crate::Resolver;
use crate::blocklist::{self, CompileInput, FetchStatus, ListData, ListReport, ListStore};

mod status;

pub use status::{ListStatus, RejectedLine};

/// The built-in starter blocklist (`dns.builtin_blocklist`), for the `default` group.
pub const BUILTIN: &str = include_str!("builtin.txt");

/// Why the blocklist service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListsError {
    #[error("creating the list directory {dir}: {source}")]
    Dir { dir: String, source: std::io::Error },
    #[error("building the HTTP client for list downloads: {0}")]
    Client(#[from] reqwest::Error),
}

/// List state shared with the admin API.
pub struct Lists {
    store: ListStore,
    client: reqwest::Client,
    resolver: Arc<Resolver>,
    /// Serialises compiles: two at once would double peak memory.
    compiling: tokio::sync::Mutex<()>,
    status: Mutex<Vec<ListStatus>>,
    /// Cancels the refresh tasks of the previous config version.
    tasks: Mutex<CancellationToken>,
}

impl std::fmt::Debug for Lists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lists").field("dir", &self.store.dir()).finish()
    }
}

impl Lists {
    pub fn new(cfg: &Config, resolver: Arc<Resolver>) -> Result<Arc<Self>, ListsError> {
        let dir = cfg.node.data_dir.join("lists");
        std::fs::create_dir_all(&dir).map_err(|source| ListsError::Dir { dir: dir.display().to_string(), source })?;
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("ravens/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(Lists {
            store: ListStore::new(dir),
            client,
            resolver,
            compiling: tokio::sync::Mutex::new(()),
            status: Mutex::new(Vec::new()),
            tasks: Mutex::new(CancellationToken::new()),
        }))
    }

    /// Where the stored copy of URL list `name` is.
    pub fn copy_path(&self, name: &str) -> std::path::PathBuf {
        self.store.copy_path(name)
    }

    pub fn status(&self) -> Vec<ListStatus> {
        self.status.lock().clone()
    }

    /// Applies a config version: compile from what is on disk now, then refresh URL lists
    /// in the background on their schedules (each successful change recompiles).
    pub async fn apply(self: &Arc<Self>, cfg: Arc<Config>, cancel: &CancellationToken) {
        let token = cancel.child_token();
        let old = std::mem::replace(&mut *self.tasks.lock(), token.clone());
        old.cancel();
        self.remove_stale_copies(&cfg);
        self.init_status(&cfg);
        self.compile(&cfg).await;
        let (me, c, t) = (Arc::clone(self), Arc::clone(&cfg), token.clone());
        tokio::spawn(async move { me.watch_files(c, t).await });
        for list in cfg.policy.lists.iter().filter(|l| l.enabled) {
            if let ListSource::Url(url) = &list.source {
                let (me, cfg, token) = (Arc::clone(self), Arc::clone(&cfg), token.clone());
                let (name, url, every) = (list.name.clone(), url.clone(), list.refresh);
                tokio::spawn(async move { me.refresh_loop(cfg, name, url, every, token).await });
            }
        }
    }

    /// Deletes the stored copies of URL lists the config no longer has (a disabled list keeps
    /// its copy, so it comes back offline). Failure is logged: it costs disk, not service.
    fn remove_stale_copies(&self, cfg: &Config) {
        let keep: Vec<&str> = cfg
            .policy
            .lists
            .iter()
            .filter(|l| matches!(l.source, ListSource::Url(_)))
            .map(|l| l.name.as_str())
            .collect();
        let files: Vec<std::path::PathBuf> = cfg
            .policy
            .lists
            .iter()
            .filter_map(|l| match &l.source {
                ListSource::Path(p) => Some(ravens_config::paths::resolve(p)),
                ListSource::Url(_) | ListSource::Inline(_) => None,
            })
            .collect();
        let dir = ravens_config::paths::resolve(self.store.dir());
        match ListStore::new(dir).remove_stale(&keep, &files) {
            Ok(removed) => {
                for f in removed {
                    tracing::info!(file = %f.display(), "removed the stored copy of a list no longer configured");
                }
            }
            Err(e) => tracing::warn!(dir = %self.store.dir().display(), "cleaning up list copies failed: {e}"),
        }
    }

    fn init_status(&self, cfg: &Config) {
        let mut st = self.status.lock();
        let old = std::mem::take(&mut *st);
        for l in &cfg.policy.lists {
            let prev = old.iter().find(|s| s.name == l.name);
            st.push(ListStatus {
                name: l.name.clone(),
                kind: if l.kind == ListKind::Allow { "allow" } else { "block" }.into(),
                source: match &l.source {
                    ListSource::Path(p) => p.display().to_string(),
                    ListSource::Url(u) => u.clone(),
                    ListSource::Inline(e) => {
                        format!("inline ({} entr{})", e.len(), if e.len() == 1 { "y" } else { "ies" })
                    }
                },
                enabled: l.enabled,
                entries: prev.map_or(0, |p| p.entries),
                lines: prev.map_or(0, |p| p.lines),
                rejected: prev.map_or(0, |p| p.rejected),
                first_rejected: prev.map_or_else(Vec::new, |p| p.first_rejected.clone()),
                last_refresh: prev.and_then(|p| p.last_refresh),
                last_error: prev.and_then(|p| p.last_error.clone()),
            });
        }
        if cfg.dns.builtin_blocklist {
            st.push(ListStatus {
                name: "builtin".into(),
                kind: "block".into(),
                source: "built-in".into(),
                enabled: true,
                ..Default::default()
            });
        }
    }

    /// What to compile, and the list files refused because they are outside
    /// `node.list_dirs` (checked again here: a symlink may have changed since the config
    /// was validated). A refused file is not read at all, so not a line of it, not even a
    /// rejected-line sample, reaches the API.
    fn inputs(&self, cfg: &Config) -> (Vec<CompileInput>, Vec<(String, std::path::PathBuf)>) {
        let refused: Vec<(String, std::path::PathBuf)> = cfg
            .policy
            .lists
            .iter()
            .filter_map(|l| match &l.source {
                ListSource::Path(p) if !cfg.node.allows_list_file(p) => Some((l.name.clone(), p.clone())),
                _ => None,
            })
            .collect();
        let mut inputs = blocklist::inputs_from_policy(&cfg.policy, &self.store);
        inputs.retain(|i| !refused.iter().any(|(name, _)| *name == i.name));
        if cfg.dns.builtin_blocklist {
            inputs.push(CompileInput {
                name: "builtin".into(),
                data: ListData::Text(BUILTIN.into()),
                groups: 1,
                allow_list: false,
            });
        }
        (inputs, refused)
    }

    /// Compiles every list and swaps the new engine in. Queries never wait for this.
    pub async fn compile(&self, cfg: &Config) {
        let _one_at_a_time = self.compiling.lock().await;
        let (inputs, refused) = self.inputs(cfg);
        let started = std::time::Instant::now();
        let Ok((engine, reports)) = tokio::task::spawn_blocking(move || blocklist::compile(&inputs)).await else {
            tracing::error!("list compile task failed; keeping the previous lists");
            return;
        };
        let entries = engine.len();
        self.resolver.blocking.engine.store(Arc::new(engine));
        tracing::info!(entries, ms = started.elapsed().as_millis() as u64, "lists compiled");
        self.record_reports(&reports);
        self.record_refused(cfg, &refused);
    }

    fn record_refused(&self, cfg: &Config, refused: &[(String, std::path::PathBuf)]) {
        let dirs: Vec<String> = cfg.node.list_dirs.iter().map(|d| d.display().to_string()).collect();
        let mut st = self.status.lock();
        for (name, path) in refused {
            tracing::warn!(list = %name, file = %path.display(), "list file outside node.list_dirs: not read");
            if let Some(s) = st.iter_mut().find(|s| s.name == *name) {
                (s.entries, s.lines, s.rejected) = (0, 0, 0);
                s.first_rejected.clear();
                s.last_error =
                    Some(format!("not read: {} is outside node.list_dirs ({})", path.display(), dirs.join(", ")));
            }
        }
    }

    fn record_reports(&self, reports: &[ListReport]) {
        let mut st = self.status.lock();
        for r in reports {
            if let Some(s) = st.iter_mut().find(|s| s.name == r.name) {
                s.entries = r.entries;
                s.lines = r.lines;
                s.rejected = r.rejected;
                s.first_rejected = r
                    .first_rejected
                    .iter()
                    .map(|l| RejectedLine { line: l.line, text: l.text.clone(), reason: l.reason.into() })
                    .collect();
                if let Some(e) = &r.error {
                    s.last_error = Some(e.clone());
                } else if !s.source.starts_with("http://") && !s.source.starts_with("https://") {
                    // A file list read fine this time: an earlier "cannot read" is over. (A
                    // URL list's error is about its download and clears on the next success.)
                    s.last_error = None;
                }
                if r.rejected > 0 {
                    tracing::info!(list = %r.name, rejected = r.rejected, "list lines rejected");
                }
            }
        }
    }

    /// Recompiles when a list file changes (its size or mtime), checked every 2 s: a stat
    /// per file, cheap, and it works for editors that replace files as for `>>` appends.
    async fn watch_files(self: Arc<Self>, cfg: Arc<Config>, cancel: CancellationToken) {
        let paths: Vec<std::path::PathBuf> = cfg
            .policy
            .lists
            .iter()
            .filter(|l| l.enabled)
            .filter_map(|l| match &l.source {
                ListSource::Path(p) => Some(p.clone()),
                ListSource::Url(_) | ListSource::Inline(_) => None,
            })
            .collect();
        if paths.is_empty() {
            return;
        }
        let stamp = |p: &std::path::Path| std::fs::metadata(p).ok().map(|m| (m.len(), m.modified().ok()));
        let mut seen: Vec<_> = paths.iter().map(|p| stamp(p)).collect();
        loop {
            if cancel.run_until_cancelled(tokio::time::sleep(Duration::from_secs(2))).await.is_none() {
                return;
            }
            let now: Vec<_> = paths.iter().map(|p| stamp(p)).collect();
            if now != seen {
                tracing::info!("a list file changed: recompiling");
                seen = now;
                self.compile(&cfg).await;
            }
        }
    }

    async fn refresh_loop(
        self: Arc<Self>,
        cfg: Arc<Config>,
        name: String,
        url: String,
        every: Duration,
        cancel: CancellationToken,
    ) {
        loop {
            // A config change cancels the download too: the list may be gone, and its copy
            // with it, or the new config's loop fetches it again.
            let Some(result) = cancel.run_until_cancelled(self.store.refresh(&self.client, &name, &url)).await else {
                return;
            };
            let changed = matches!(result, Ok(FetchStatus::Updated { .. }));
            {
                let mut st = self.status.lock();
                if let Some(s) = st.iter_mut().find(|s| s.name == name) {
                    match &result {
                        Ok(_) => {
                            s.last_refresh = Some(unix_secs());
                            s.last_error = None;
                        }
                        Err(e) => {
                            let why = e.with_causes();
                            tracing::warn!(list = %name, error = %why, "list refresh failed; keeping the previous copy");
                            s.last_error = Some(why);
                        }
                    }
                }
            }
            if changed && !cancel.is_cancelled() {
                self.compile(&cfg).await;
            }
            // A failed download is retried sooner than the regular schedule.
            let wait = if result.is_err() { every.min(Duration::from_secs(300)) } else { every };
            if cancel.run_until_cancelled(tokio::time::sleep(wait)).await.is_none() {
                return;
            }
        }
    }
}
