//! The DNS service, the twin of `ravens_dhcp::DhcpService`: [`DnsService::start`] builds the
//! [`Resolver`], compiles the lists, binds every `node.dns_listen` address (UDP threads and a
//! TCP task each), starts the upstream prober and the statistics window (loaded from
//! `data_dir/stats.json`, fed from the query log, saved every minute). The returned
//! [`DnsHandle`] takes a new config ([`DnsHandle::reload`]) and stops it all
//! ([`DnsHandle::stop`]). See docs/ARCHITECTURE.md §3.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ravens_config::Config;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::lists::{Lists, ListsError};
use crate::pipeline::{Resolver, State};
use crate::server::{tcp, udp};
use crate::stats::window::Window;
use crate::upstream::{Pool, UpstreamError};

mod encrypted;
mod saver;

/// How long in-flight queries may take to finish after [`DnsHandle::stop`].
const DRAIN: Duration = Duration::from_secs(2);

/// Why the DNS service could not start or take a new config.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("building the upstream pool: {0}")]
    Upstreams(#[from] UpstreamError),
    #[error(transparent)]
    Lists(#[from] ListsError),
    #[error("binding UDP {addr}: {source}")]
    BindUdp { addr: SocketAddr, source: std::io::Error },
    #[error("binding TCP {addr}: {source}")]
    BindTcp { addr: SocketAddr, source: std::io::Error },
    #[error("starting the UDP listener threads: {0}")]
    Threads(std::io::Error),
    #[error("DNS over TLS/HTTPS certificate: {0}")]
    Tls(#[from] crate::server::tls::TlsError),
}

/// Starts the DNS service.
#[derive(Debug)]
pub struct DnsService;

/// Control of a running DNS service.
pub struct DnsHandle {
    resolver: Arc<Resolver>,
    lists: Arc<Lists>,
    window: Arc<Window>,
    /// The bound DNS addresses (UDP and TCP on each), in `dns_listen` order.
    listening: Vec<SocketAddr>,
    threads: Mutex<Vec<udp::UdpThread>>,
    /// Set at stop: the UDP threads end at their next wake-up.
    stop: Arc<AtomicBool>,
    saver: Mutex<Option<JoinHandle<()>>>,
    /// The daemon's data_dir at start, where the statistics are saved until the next start.
    stats_file: std::path::PathBuf,
    /// The DoT/DoH certificate, when those listeners run.
    certs: Option<Arc<crate::server::tls::CertStore>>,
    cancel: CancellationToken,
}

impl std::fmt::Debug for DnsHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsHandle").field("listening", &self.listening).finish_non_exhaustive()
    }
}

impl DnsService {
    /// Serves `config` until [`DnsHandle::stop`] or `cancel`. Lists compile before any
    /// listener opens, so the first answer already blocks. `tcp_limits` are the TCP
    /// connection caps (the daemon sets them from the open-file limit).
    pub async fn start(
        config: Arc<Config>,
        tcp_limits: tcp::Limits,
        cancel: &CancellationToken,
    ) -> Result<DnsHandle, DnsError> {
        let cancel = cancel.child_token();
        let resolver = Arc::new(Resolver::new(State::new(Arc::clone(&config))?));
        let lists = Lists::new(&config, Arc::clone(&resolver))?;
        lists.apply(Arc::clone(&config), &cancel).await;
        let stop = Arc::new(AtomicBool::new(false));
        let (mut listening, mut threads) = (Vec::new(), Vec::new());
        for &addr in &config.node.dns_listen {
            let (socks, tcp_listener) = bind(addr, config.dns.udp_sockets)?;
            let bound = socks[0].local_addr().map_err(|source| DnsError::BindUdp { addr, source })?;
            let rt = tokio::runtime::Handle::current();
            threads.extend(udp::spawn(socks, Arc::clone(&resolver), rt, Arc::clone(&stop)).map_err(DnsError::Threads)?);
            tracing::info!("listening for UDP on {bound}");
            tracing::info!("listening for TCP on {bound}");
            tokio::spawn(tcp::serve(tcp_listener, Arc::clone(&resolver), tcp_limits, None, cancel.clone()));
            listening.push(bound);
        }
        let certs = encrypted::start(&config, &resolver, tcp_limits, &cancel)?;
        for pool in resolver.state().routes.pools() {
            tokio::spawn(Pool::probe_loop(Arc::downgrade(pool), cancel.clone()));
        }
        let stats_file = crate::stats::persist::path_in(&config.node.data_dir);
        let window = Arc::new(saver::load(&stats_file));
        let feed = tokio::spawn(crate::stats::feed::run(Arc::clone(&resolver), Arc::clone(&window), cancel.clone()));
        let saver = saver::spawn(Arc::clone(&window), stats_file.clone(), feed, cancel.clone());
        Ok(DnsHandle {
            resolver,
            lists,
            window,
            listening,
            threads: Mutex::new(threads),
            stop,
            saver: Mutex::new(Some(saver)),
            stats_file,
            certs,
            cancel,
        })
    }
}

impl DnsHandle {
    /// Serves a new config version: new upstreams, local zone and policy for the next query,
    /// the lists recompiled in the background. Listen addresses change only at a restart.
    /// A config whose upstreams cannot be built changes nothing.
    pub fn reload(&self, config: Arc<Config>) -> Result<(), DnsError> {
        let old = self.resolver.state();
        if config.node.dns_listen != old.config.node.dns_listen
            || config.node.admin_listen != old.config.node.admin_listen
        {
            tracing::warn!("listen addresses changed: they take effect at the next restart");
        }
        let state = State::new(config)?;
        let pools: Vec<_> = state.routes.pools().map(Arc::downgrade).collect();
        let (lists, cfg, cancel) = (Arc::clone(&self.lists), Arc::clone(&state.config), self.cancel.clone());
        tokio::spawn(async move { lists.apply(cfg, &cancel).await });
        self.resolver.reload(state);
        for pool in pools {
            tokio::spawn(Pool::probe_loop(pool, self.cancel.clone()));
        }
        Ok(())
    }

    /// Stops serving: the listeners close, queries in flight get a moment to finish, and the
    /// statistics are saved one last time (this returns once they are on disk).
    pub async fn stop(&self) {
        self.cancel.cancel();
        self.stop.store(true, Ordering::Relaxed);
        let drain_until = Instant::now() + DRAIN;
        let threads = std::mem::take(&mut *self.threads.lock());
        for t in threads {
            t.wake();
            let _ = tokio::task::spawn_blocking(move || t.handle.join()).await;
        }
        tokio::time::sleep_until(drain_until.min(Instant::now() + Duration::from_millis(100)).into()).await;
        // The saver writes the window one last time on `cancel`.
        let saver = self.saver.lock().take();
        if let Some(s) = saver {
            let _ = s.await;
        }
    }

    /// Compiles the lists again and restarts the URL lists' downloads (`dnsctl lists refresh`).
    pub async fn refresh_lists(&self) {
        self.lists.apply(Arc::clone(&self.resolver.state().config), &self.cancel).await;
    }

    /// Saves the statistics window now (before a re-exec, which skips [`DnsHandle::stop`]).
    /// The error names the file.
    pub async fn save_stats(&self) -> Result<(), String> {
        saver::save(Arc::clone(&self.window), self.stats_file.clone()).await
    }

    /// The query pipeline: blocking state, cache, query log and counters.
    /// Why the certificate files on disk are not the ones DoT/DoH serve, if they are not.
    pub fn tls_error(&self) -> Option<String> {
        self.certs.as_ref().and_then(|c| c.last_error.lock().clone())
    }

    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }

    /// The blocklist service.
    pub fn lists(&self) -> &Arc<Lists> {
        &self.lists
    }

    /// Query statistics over the last hour and day, fed from the query log.
    pub fn window(&self) -> &Window {
        &self.window
    }

    /// The bound DNS addresses, each serving UDP and TCP.
    pub fn listening(&self) -> &[SocketAddr] {
        &self.listening
    }

    /// Heartbeat and socket of each UDP listener thread, for a watchdog.
    pub fn probes(&self) -> Vec<udp::Probe> {
        self.threads.lock().iter().map(udp::UdpThread::probe).collect()
    }
}

/// Binds the UDP sockets and the TCP listener of one DNS address. With port 0 the kernel
/// picks a UDP port that may be taken for TCP: then try another (tests bind port 0).
fn bind(addr: SocketAddr, udp_sockets: usize) -> Result<(Vec<std::net::UdpSocket>, TcpListener), DnsError> {
    let mut attempts = 0;
    loop {
        let socks = udp::bind(addr, udp_sockets).map_err(|source| DnsError::BindUdp { addr, source })?;
        let bound = socks[0].local_addr().map_err(|source| DnsError::BindUdp { addr, source })?;
        match tcp::bind(bound) {
            Ok(tcp) => return Ok((socks, tcp)),
            Err(e) if addr.port() == 0 && attempts < 20 => {
                attempts += 1;
                tracing::debug!(port = bound.port(), error = %e, "TCP port taken; picking another");
            }
            Err(source) => return Err(DnsError::BindTcp { addr: bound, source }),
        }
    }
}
