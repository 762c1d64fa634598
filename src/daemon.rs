//! ravensd wiring: load the config, start the listeners and the admin API, watch the
//! config file, and shut down gracefully on SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use parking_lot::Mutex;
use ravens_config::Config;
use ravens_dns::{Resolver, State};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{CacheStatus, ConfigState, Status};

/// How long in-flight queries may take to finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(2);
/// How often the statistics window is saved to `data_dir/stats.json` (and once at shutdown):
/// a crash loses at most this much of it.
const STATS_SAVE_EVERY: Duration = Duration::from_secs(60);

/// Shared daemon state, read by the admin API.
pub struct Daemon {
    pub resolver: Arc<Resolver>,
    pub config_path: Option<PathBuf>,
    pub config_state: Mutex<ConfigState>,
    pub started: Instant,
    pub listeners: Vec<String>,
    pub token: String,
    pub cancel: CancellationToken,
    /// The DHCP service, when subnets are configured.
    pub dhcp: Option<ravens_dhcp::DhcpHandle>,
    pub lists: Arc<crate::lists::Lists>,
    pub cluster: Option<crate::cluster::Cluster>,
    /// Query statistics over the last hour and day (`/api/v1/stats`), fed from the query log.
    pub window: Arc<ravens_dns::stats::window::Window>,
    /// Site-config versions and their replication.
    pub site: Arc<crate::site::Site>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("config_path", &self.config_path).finish()
    }
}

pub(crate) fn epoch_secs() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Daemon {
    /// Runs a validated config: new upstreams, lists, zone and DHCP settings.
    pub(crate) fn apply(&self, cfg: Config) -> anyhow::Result<()> {
        let old = self.resolver.state();
        if cfg.node.dns_listen != old.config.node.dns_listen || cfg.node.admin_listen != old.config.node.admin_listen {
            tracing::warn!("listen addresses changed: they take effect at the next restart");
        }
        let state = State::new(Arc::new(cfg)).context("building the upstream pool")?;
        let pool = Arc::downgrade(&state.pool);
        let (lists, cfg, cancel) = (Arc::clone(&self.lists), Arc::clone(&state.config), self.cancel.clone());
        tokio::spawn(async move { lists.apply(cfg, &cancel).await });
        if let Some(dhcp) = &self.dhcp {
            dhcp.reload(&state.config);
        } else if !state.config.subnets.is_empty() {
            // The DHCP service and its cluster wiring are built at start only; a node that
            // gains its first subnet (a re-seed from a peer, an edit) restarts itself.
            tracing::warn!("DHCP subnets were added: restarting ravensd to start the DHCP service");
            // The data_dir this process started with (a new one takes effect at the restart).
            let (window, stats_file) = (Arc::clone(&self.window), stats_path(&old.config));
            tokio::spawn(async move {
                // Let the answer to the request that caused it go out first.
                tokio::time::sleep(Duration::from_millis(300)).await;
                if let Err(e) = save_stats(window, stats_file).await {
                    tracing::warn!("saving the statistics before the restart failed: {e}");
                }
                reexec();
            });
        }
        self.resolver.reload(state);
        tokio::spawn(ravens_dns::upstream::Pool::probe_loop(pool, self.cancel.clone()));
        Ok(())
    }

    pub fn status(&self) -> Status {
        let state = self.resolver.state();
        let c = &self.resolver.cache;
        let (entries, bytes) = c.usage();
        let l = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Status {
            node: state.config.node.name.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_secs: self.started.elapsed().as_secs(),
            config: self.config_state.lock().clone(),
            listeners: self.listeners.clone(),
            upstreams: state.pool.status(),
            upstreams_from_system: state.config.dns.upstreams_from_system,
            cache: CacheStatus {
                entries,
                bytes,
                max_bytes: c.policy().max_bytes,
                hits: l(&c.stats.hits),
                misses: l(&c.stats.misses),
                stale_hits: l(&c.stats.stale_hits),
                inserts: l(&c.stats.inserts),
                evictions: l(&c.stats.evictions),
            },
            queries: self.resolver.stats.snapshot(),
            local_names: self.resolver.zone_names(),
            lists: self.lists.status(),
            blocklist_entries: self.resolver.blocking.engine.load().len(),
            paused_secs: self.resolver.blocking.paused_for(None, Instant::now()).map(|d| d.as_secs().max(1)),
            cluster: self.cluster.as_ref().map(|c| c.status()),
            dhcp: self.dhcp.as_ref().map(|h| crate::api::DhcpStatus {
                listen: state.config.node.dhcp_listen.to_string(),
                pools: h
                    .pool_usage()
                    .into_iter()
                    .map(|(subnet, used, total)| crate::api::PoolUsage { subnet, used, total })
                    .collect(),
                counters: h.counters(),
            }),
        }
    }
}

/// Options from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: Option<PathBuf>,
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    let (config, text) = match &opts.config {
        Some(path) => {
            // Temp files of edits cut short (a crash, a kill) are stale now.
            crate::site::file::remove_stale_temp(path);
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            (ravens_config::parse(&text, &path.display().to_string())?, Some(text))
        }
        None => (ravens_config::embedded_default(), None),
    };
    tracing::info!(node = %config.node.name, config = %config.origin, "ravensd {} starting", env!("CARGO_PKG_VERSION"));
    if config.dns.upstreams.is_empty() {
        tracing::warn!(
            "no upstream resolvers (none configured and none usable in /etc/resolv.conf): non-local names get SERVFAIL"
        );
    }
    let (tcp, admin_limits) = crate::fdlimit::connection_limits(&config.dns);
    let data_dir = config.node.data_dir.clone();
    std::fs::create_dir_all(&data_dir).with_context(|| format!("creating data_dir {}", data_dir.display()))?;
    let token = crate::token::for_node(&config)?;
    let site = Arc::new(crate::site::Site::open(&config.node.name, &data_dir));
    if let (Some(text), Some(path)) = (text, &opts.config) {
        match ravens_config::site::SiteFile::parse(text) {
            Ok(f) => site.on_loaded(Arc::new(f), std::fs::metadata(path).and_then(|m| m.modified()).ok()),
            Err(e) => tracing::error!("site config not replicated: {e}"),
        }
    }
    let cfg = Arc::new(config);
    let resolver = Arc::new(Resolver::new(State::new(Arc::clone(&cfg)).context("building the upstream pool")?));
    let cancel = CancellationToken::new();
    let stop = Arc::new(AtomicBool::new(false));
    // Lists compile before the listeners open, so the first answer already blocks.
    let lists = crate::lists::Lists::new(&cfg, Arc::clone(&resolver))?;
    lists.apply(Arc::clone(&cfg), &cancel).await;
    let mut listeners = Vec::new();
    let mut threads = Vec::new();
    for &addr in &cfg.node.dns_listen {
        let (socks, tcp_listener) = bind_dns(addr, cfg.dns.udp_sockets).await?;
        let bound = socks[0].local_addr()?;
        threads.extend(ravens_dns::server::udp::spawn(
            socks,
            Arc::clone(&resolver),
            tokio::runtime::Handle::current(),
            Arc::clone(&stop),
        )?);
        tracing::info!("listening for UDP on {bound}");
        tracing::info!("listening for TCP on {bound}");
        tokio::spawn(ravens_dns::server::tcp::serve(tcp_listener, Arc::clone(&resolver), tcp, cancel.clone()));
        listeners.push(format!("udp+tcp {bound}"));
    }
    tokio::spawn(ravens_dns::upstream::Pool::probe_loop(Arc::downgrade(&resolver.state().pool), cancel.clone()));
    let dhcp = if cfg.subnets.is_empty() {
        None
    } else {
        let (handle, events) = ravens_dhcp::DhcpService::start(&cfg, cancel.clone()).context("starting DHCP")?;
        crate::leases::spawn_dns_names(handle.clone(), events, Arc::clone(&resolver), cancel.clone());
        listeners.push(format!("dhcp {}", cfg.node.dhcp_listen));
        Some(handle)
    };
    let cluster = crate::cluster::start(&cfg, &resolver, dhcp.as_ref(), &site, &cancel).await?;
    let admin = TcpListener::bind(cfg.node.admin_listen)
        .await
        .with_context(|| format!("binding admin API {}", cfg.node.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    listeners.push(format!("admin http://{admin_addr}"));
    if let Some(c) = &cluster {
        c.publish_admin(admin_addr).await;
    }
    let stats_file = stats_path(&cfg);
    let window = Arc::new(load_stats(&stats_file));
    let feed = tokio::spawn(ravens_dns::stats::feed::run(Arc::clone(&resolver), Arc::clone(&window), cancel.clone()));
    let stats_saver = spawn_stats_save(Arc::clone(&window), stats_file, feed, cancel.clone());
    let daemon = Arc::new(Daemon {
        resolver: Arc::clone(&resolver),
        config_path: opts.config.clone(),
        config_state: Mutex::new(ConfigState {
            origin: cfg.origin.clone(),
            loaded_at: epoch_secs(),
            last_error: None,
            reloads: 0,
        }),
        started: Instant::now(),
        listeners,
        token,
        cancel: cancel.clone(),
        dhcp,
        lists,
        cluster,
        window,
        site,
    });
    spawn_write_back(Arc::clone(&daemon), cancel.clone());
    tokio::spawn(crate::admin::serve(admin, Arc::clone(&daemon), admin_limits, cancel.clone()));
    tracing::info!("admin API on http://{admin_addr}");
    if let Some(path) = &opts.config {
        crate::watch::spawn(path.clone(), Arc::clone(&daemon), cancel.clone())?;
    }
    tracing::info!("ready");
    crate::systemd::ready(
        &daemon.listeners.join(", "),
        crate::systemd::watchdog::loops(&threads, daemon.dhcp.as_ref()),
        &cancel,
    );
    wait_for_shutdown(&daemon).await?;
    tracing::info!("shutting down");
    crate::systemd::stopping();
    cancel.cancel();
    stop.store(true, Ordering::Relaxed);
    let drain_until = Instant::now() + DRAIN;
    for t in threads {
        t.wake();
        let _ = tokio::task::spawn_blocking(move || t.handle.join()).await;
    }
    tokio::time::sleep_until(drain_until.min(Instant::now() + Duration::from_millis(100)).into()).await;
    // The saver writes the window one last time on `cancel`; exit only once that is on disk.
    let _ = stats_saver.await;
    tracing::info!("stopped");
    Ok(())
}

/// Binds the UDP sockets and the TCP listener of one DNS address. With port 0 the kernel
/// picks a UDP port that may be taken for TCP: then try another (tests bind port 0).
async fn bind_dns(addr: SocketAddr, udp_sockets: usize) -> anyhow::Result<(Vec<std::net::UdpSocket>, TcpListener)> {
    let mut attempts = 0;
    loop {
        let socks = ravens_dns::server::udp::bind(addr, udp_sockets).with_context(|| format!("binding UDP {addr}"))?;
        let bound = socks[0].local_addr()?;
        match ravens_dns::server::tcp::bind(bound) {
            Ok(tcp) => return Ok((socks, tcp)),
            Err(e) if addr.port() == 0 && attempts < 20 => {
                attempts += 1;
                tracing::debug!(port = bound.port(), error = %e, "TCP port taken; picking another");
            }
            Err(e) => return Err(e).with_context(|| format!("binding TCP {bound}")),
        }
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

fn stats_path(cfg: &Config) -> PathBuf {
    ravens_dns::stats::persist::path_in(&cfg.node.data_dir)
}

/// The statistics saved by the last run. Never fails the start: a file that cannot be read
/// back is reported and the window starts empty (the next save replaces the file).
fn load_stats(path: &std::path::Path) -> ravens_dns::stats::window::Window {
    let (window, err) = ravens_dns::stats::persist::load(path, ravens_dns::querylog::now_ms());
    if let Some(e) = err {
        // The error names the file.
        tracing::warn!("statistics not restored, starting empty: {e}");
    }
    window
}

/// Saves the window now, off the runtime threads. The error names the file.
async fn save_stats(window: Arc<ravens_dns::stats::window::Window>, path: PathBuf) -> Result<(), String> {
    let p = path.clone();
    match tokio::task::spawn_blocking(move || ravens_dns::stats::persist::save(&window, &p)).await {
        Ok(saved) => saved.map_err(|e| e.to_string()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Saves the statistics window every [`STATS_SAVE_EVERY`] and once more on `cancel`; the task
/// ends after that last save, so awaiting it at shutdown means the file is written.
fn spawn_stats_save(
    window: Arc<ravens_dns::stats::window::Window>,
    path: PathBuf,
    feed: tokio::task::JoinHandle<()>,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let mut feed = Some(feed);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + STATS_SAVE_EVERY;
        let mut tick = tokio::time::interval_at(start, STATS_SAVE_EVERY);
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
            match save_stats(Arc::clone(&window), path.clone()).await {
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

/// Writes remote site-config changes into the file whenever they arrive.
fn spawn_write_back(daemon: Arc<Daemon>, cancel: CancellationToken) {
    let changed = Arc::clone(&daemon.site.remote_changed);
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = changed.notified() => {}
            }
            let d = Arc::clone(&daemon);
            let _ = tokio::task::spawn_blocking(move || crate::site::file::write_back(&d)).await;
        }
    });
}

async fn wait_for_shutdown(daemon: &Arc<Daemon>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
    loop {
        tokio::select! {
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading config");
                // Off this task: a reload of a large file must not hold up SIGTERM.
                let d = Arc::clone(daemon);
                tokio::task::spawn_blocking(move || crate::systemd::reloading(|| d.reload()));
            }
        }
    }
}
