//! ravensd's start-up and signals: load the config, start the DNS and DHCP services, the
//! cluster and the admin API, watch the config file, and shut down gracefully on
//! SIGTERM/SIGINT (SIGHUP reloads). The shared state is [`crate::state::Daemon`]; this file
//! imports the others and none imports it (docs/ARCHITECTURE.md §2).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use parking_lot::Mutex;
use ravens_config::Config;
use ravens_config::site::SiteFile;
use ravens_dns::DnsService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::ConfigState;
use crate::site::Site;
use crate::state::Daemon;

/// Options from the command line.
#[derive(Debug, Clone)]
pub struct Options {
    pub config: Option<PathBuf>,
}

/// Runs the daemon until SIGTERM/SIGINT.
pub async fn run(opts: Options) -> anyhow::Result<()> {
    let (cfg, text) = load(opts.config.as_deref())?;
    let (tcp_limits, admin_limits) = crate::fdlimit::connection_limits(&cfg.dns);
    let data_dir = &cfg.node.data_dir;
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating data_dir {}", data_dir.display()))?;
    let token = crate::token::for_node(&cfg)?;
    let site = Arc::new(Site::open(&cfg.node.name, data_dir));
    ingest_site(&site, &cfg, text, opts.config.as_deref());
    let cancel = CancellationToken::new();
    let dns = Arc::new(DnsService::start(Arc::clone(&cfg), tcp_limits, &cancel).await?);
    let mut listeners: Vec<String> = dns.listening().iter().map(|a| format!("udp+tcp {a}")).collect();
    let dhcp = if cfg.subnets.is_empty() {
        None
    } else {
        let (handle, events) = ravens_dhcp::DhcpService::start(&cfg, cancel.clone()).context("starting DHCP")?;
        crate::leases::spawn_dns_names(handle.clone(), events, Arc::clone(dns.resolver()), cancel.clone());
        listeners.push(format!("dhcp {}", cfg.node.dhcp_listen));
        Some(handle)
    };
    let cluster = crate::cluster::start(&cfg, dns.resolver(), dhcp.as_ref(), &site, &cancel).await?;
    let admin = TcpListener::bind(cfg.node.admin_listen)
        .await
        .with_context(|| format!("binding admin API {}", cfg.node.admin_listen))?;
    let admin_addr = admin.local_addr()?;
    listeners.push(format!("admin http://{admin_addr}"));
    if let Some(c) = &cluster {
        c.publish_admin(admin_addr).await;
    }
    let daemon = Arc::new(Daemon {
        dns,
        config_path: opts.config.clone(),
        config_state: Mutex::new(ConfigState {
            origin: cfg.origin.clone(),
            loaded_at: ravens_config::clock::unix_secs(),
            last_error: None,
            reloads: 0,
        }),
        started: Instant::now(),
        listeners,
        token,
        cancel: cancel.clone(),
        dhcp,
        cluster,
        site,
    });
    spawn_write_back(Arc::clone(&daemon), cancel.clone());
    let names = vec![cfg.node.name.clone(), "localhost".into(), admin_addr.ip().to_string()];
    let tls = match crate::admin::tls::acceptor(&cfg.node.data_dir, names) {
        Ok(t) => Some(t),
        Err(e) => {
            tracing::warn!("web UI without HTTPS: {e:#}");
            None
        }
    };
    let https = tls.is_some();
    tokio::spawn(crate::admin::serve(admin, Arc::clone(&daemon), admin_limits, cancel.clone(), tls));
    tracing::info!("admin API on http://{admin_addr}");
    if https {
        tracing::info!("web UI on https://{admin_addr}/ (same port)");
    }
    if let Some(path) = &opts.config {
        crate::watch::spawn(path.clone(), Arc::clone(&daemon), cancel.clone())?;
    }
    tracing::info!("ready");
    let loops = crate::systemd::watchdog::loops(daemon.dns.probes(), daemon.dhcp.as_ref());
    crate::systemd::ready(&daemon.listeners.join(", "), loops, &cancel);
    wait_for_shutdown(&daemon).await?;
    tracing::info!("shutting down");
    crate::systemd::stopping();
    cancel.cancel();
    // Returns once in-flight queries had their moment and the statistics are on disk.
    daemon.dns.stop().await;
    tracing::info!("stopped");
    Ok(())
}

/// The config to start with (the file's text too, for site-config replication).
fn load(path: Option<&std::path::Path>) -> anyhow::Result<(Arc<Config>, Option<String>)> {
    let (config, text) = match path {
        Some(path) => {
            // Temp files of edits cut short (a crash, a kill) are stale now.
            crate::config_file::remove_stale_temp(path);
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
    Ok((Arc::new(config), text))
}

/// Hands the file's site config to replication, stamped with the file's mtime.
fn ingest_site(site: &Site, cfg: &Arc<Config>, text: Option<String>, path: Option<&std::path::Path>) {
    let (Some(text), Some(path)) = (text, path) else { return };
    match SiteFile::parse(text) {
        Ok(f) => site.on_loaded(Arc::new(f), Arc::clone(cfg), std::fs::metadata(path).and_then(|m| m.modified()).ok()),
        Err(e) => tracing::error!("site config not replicated: {e}"),
    }
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
            let _ = tokio::task::spawn_blocking(move || crate::config_file::write_back(&d)).await;
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
