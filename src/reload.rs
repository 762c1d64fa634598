//! Loading the config file into the running daemon: on start, from the file watcher, on
//! SIGHUP and after every edit. A file that fails to parse or validate changes nothing and
//! shows as `last_error` in `dnsctl status` until the file loads again, or until it holds
//! the running config again (an edit undone by hand).

use std::sync::Arc;
use std::time::Duration;

use ravens_config::Config;
use ravens_config::site::SiteFile;

use crate::state::Daemon;

impl Daemon {
    /// Re-reads the config file. A file that fails to parse or validate changes nothing.
    pub fn reload(&self) {
        self.reload_file(true);
    }

    /// [`Daemon::reload`] unless the file holds what was last loaded (a file watch event
    /// after this daemon's own write, for one).
    pub fn reload_if_changed(&self) {
        self.reload_file(false);
    }

    fn reload_file(&self, force: bool) {
        let Some(path) = &self.config_path else { return };
        let _one_load = self.site.load.lock();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!("config reload failed, keeping the last good config: reading {}: {e}", path.display());
                self.config_state.lock().last_error = Some(format!("reading {}: {e}", path.display()));
                return;
            }
        };
        if !force && self.site.loaded(&text).is_some() {
            // The file holds the running config: whatever failed to load since is gone.
            if self.config_state.lock().last_error.take().is_some() {
                tracing::info!(file = %path.display(), "config file holds the running config again; reload error cleared");
            } else {
                tracing::debug!(file = %path.display(), "config file unchanged");
            }
            return;
        }
        let outcome = ravens_config::parse(&text, &path.display().to_string())
            .map_err(anyhow::Error::from)
            .and_then(|cfg| self.install(cfg, text));
        if let Err(e) = outcome {
            tracing::error!("config reload failed, keeping the last good config: {e:#}");
            self.config_state.lock().last_error = Some(format!("{e:#}"));
        }
    }

    /// Runs `cfg`, parsed from `text`, and ingests the file's site config.
    fn install(&self, cfg: Config, text: String) -> anyhow::Result<()> {
        // A file whose site items cannot be cut into records still runs (the config
        // validated); it is only not replicated, and edits refuse it with the reason.
        let file = SiteFile::parse(text).map_err(|e| tracing::error!("site config not replicated: {e}")).ok();
        let cfg = Arc::new(cfg);
        self.apply(Arc::clone(&cfg))?;
        match file {
            Some(f) => self.site.on_loaded(Arc::new(f), cfg, None),
            // The running config is not the last ingested file any more.
            None => self.site.forget_loaded(),
        }
        self.loaded_ok();
        Ok(())
    }

    /// Runs `cfg`, validated from `file`'s text just written by an edit: no second parse.
    pub(crate) fn load_edited(&self, cfg: Config, file: SiteFile) -> anyhow::Result<()> {
        let _one_load = self.site.load.lock();
        let cfg = Arc::new(cfg);
        let outcome = self.apply(Arc::clone(&cfg));
        match &outcome {
            Ok(()) => {
                self.site.on_loaded(Arc::new(file), cfg, None);
                self.loaded_ok();
            }
            Err(e) => self.config_state.lock().last_error = Some(format!("{e:#}")),
        }
        outcome
    }

    fn loaded_ok(&self) {
        let mut st = self.config_state.lock();
        st.loaded_at = ravens_config::clock::unix_secs();
        st.last_error = None;
        st.reloads += 1;
        if let Some(path) = &self.config_path {
            tracing::info!(file = %path.display(), "config reloaded");
        }
    }

    /// Runs a validated config: new upstreams, lists, zone and DHCP settings.
    pub(crate) fn apply(&self, cfg: Arc<Config>) -> anyhow::Result<()> {
        self.dns.reload(Arc::clone(&cfg))?;
        if let Some(dhcp) = &self.dhcp {
            dhcp.reload(&cfg);
        } else if !cfg.subnets.is_empty() {
            // The DHCP service and its cluster wiring are built at start only; a node that
            // gains its first subnet (a re-seed from a peer, an edit) restarts itself.
            tracing::warn!("DHCP subnets were added: restarting ravensd to start the DHCP service");
            let dns = Arc::clone(&self.dns);
            tokio::spawn(async move {
                // Let the answer to the request that caused it go out first.
                tokio::time::sleep(Duration::from_millis(300)).await;
                // Into the data_dir this process started with (a new one takes effect at the
                // restart).
                if let Err(e) = dns.save_stats().await {
                    tracing::warn!("saving the statistics before the restart failed: {e}");
                }
                reexec();
            });
        }
        Ok(())
    }
}

/// Replaces this process with a fresh ravensd on the same arguments (same PID, so a
/// supervisor sees no exit). Sockets are close-on-exec; the new image reads everything again
/// from the config file and data_dir.
fn reexec() {
    use std::os::unix::process::CommandExt as _;
    let err = match std::env::current_exe() {
        Ok(exe) => std::process::Command::new(exe).args(std::env::args_os().skip(1)).exec(),
        Err(e) => e,
    };
    tracing::error!("restarting ravensd failed ({err}); DHCP starts at the next restart");
}
