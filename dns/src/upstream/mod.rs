//! The upstream pool: which upstream to ask, over which transport, and what to do when
//! they fail. `parallel_best` races the two best healthy upstreams by smoothed RTT and
//! takes the first good answer, launching the next candidate when one fails; `strict`
//! asks in configured order and fails over after a per-attempt timeout. Every query ends
//! by the configured timeout: the caller then answers SERVFAIL (or serves stale).

mod health;
pub mod matching;
mod transport;

use std::io;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use ravens_config::{Dns, Protocol, Strategy, Upstream};
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

pub use health::{Health, LATENCY_BOUNDS_MS, Latency};
pub use matching::Question;
use transport::StreamPool;

use crate::wire::{self, rcode};

/// Why an upstream exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("timed out")]
    Timeout,
    #[error("I/O: {0}")]
    Io(#[from] io::Error),
    #[error("reply did not match the query")]
    Mismatch,
    #[error("TLS: {0}")]
    Tls(String),
    #[error("HTTP: {0}")]
    Http(String),
    #[error("answered with rcode {0}")]
    Rcode(u8),
    #[error("no upstream configured")]
    NoUpstreams,
    /// The validator could not finish (an upstream failed during a chain fetch).
    #[error("DNSSEC validation: {0}")]
    Validation(String),
}

enum Kind {
    /// UDP, with TCP for retries on TC=1.
    Udp(StreamPool<TcpStream>),
    Tcp(StreamPool<TcpStream>),
    Tls(transport::TlsTarget),
    Https {
        client: reqwest::Client,
        url: String,
    },
}

struct Conn {
    cfg: Upstream,
    kind: Kind,
    health: Mutex<Health>,
    /// The last question this upstream failed; probes re-ask it (an upstream serving only
    /// some zones may refuse a root query yet be perfectly usable).
    last_failed: Mutex<Option<Question>>,
}

/// Health of one upstream, for status and metrics.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamStatus {
    pub url: String,
    pub healthy: bool,
    pub srtt_ms: f64,
    pub queries: u64,
    pub errors: u64,
    /// Round-trip histogram of successful exchanges (bounds: `health::LATENCY_BOUNDS_MS`).
    #[serde(default)]
    pub latency: health::Latency,
}

/// All upstreams of the current config.
pub struct Pool {
    conns: Vec<Arc<Conn>>,
    strategy: Strategy,
    timeout: Duration,
    edns_size: u16,
    /// Replies dropped because ID or question did not match.
    pub mismatches: AtomicU64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool").field("upstreams", &self.conns.len()).finish()
    }
}

impl Pool {
    pub fn new(cfg: &Dns) -> Result<Self, UpstreamError> {
        Self::with_upstreams(cfg, &cfg.upstreams)
    }

    /// A pool of `upstreams` (a group's or a forward zone's) with `[dns]`'s strategy,
    /// timeout and CA bundle.
    pub fn with_upstreams(cfg: &Dns, upstreams: &[Upstream]) -> Result<Self, UpstreamError> {
        let tls = transport::tls_config(cfg.upstream_ca_file.as_deref(), &[])?;
        let mut conns = Vec::new();
        for up in upstreams {
            let kind = match up.protocol {
                Protocol::Udp => Kind::Udp(StreamPool::default()),
                Protocol::Tcp => Kind::Tcp(StreamPool::default()),
                Protocol::Tls => {
                    let name = up.tls_name.clone().unwrap_or_else(|| up.addr.ip().to_string());
                    let name = rustls::pki_types::ServerName::try_from(name)
                        .map_err(|e| UpstreamError::Tls(format!("{}: {e}", up.url)))?;
                    Kind::Tls(transport::TlsTarget {
                        connector: TlsConnector::from(tls.clone()),
                        addr: up.addr,
                        name,
                        pool: StreamPool::default(),
                    })
                }
                Protocol::Https => https_kind(up, cfg)?,
            };
            conns.push(Arc::new(Conn {
                cfg: up.clone(),
                kind,
                health: Mutex::new(Health::default()),
                last_failed: Mutex::new(None),
            }));
        }
        Ok(Pool {
            conns,
            strategy: cfg.strategy,
            timeout: cfg.upstream_timeout,
            edns_size: cfg.edns_udp_size,
            mismatches: AtomicU64::new(0),
        })
    }

    pub fn status(&self) -> Vec<UpstreamStatus> {
        self.conns
            .iter()
            .map(|c| {
                let h = c.health.lock();
                UpstreamStatus {
                    url: c.cfg.url.clone(),
                    healthy: h.healthy(),
                    srtt_ms: f64::from(h.srtt_us) / 1000.0,
                    queries: h.queries,
                    errors: h.errors,
                    latency: h.latency.clone(),
                }
            })
            .collect()
    }

    /// Upstream indices in the order to try them.
    fn candidates(&self) -> Vec<usize> {
        let mut healthy: Vec<(usize, u32)> = Vec::new();
        let mut down = Vec::new();
        for (i, c) in self.conns.iter().enumerate() {
            let h = c.health.lock();
            if h.healthy() { healthy.push((i, h.rank())) } else { down.push(i) }
        }
        if self.strategy == Strategy::ParallelBest {
            healthy.sort_by_key(|&(_, rank)| rank);
        }
        healthy.into_iter().map(|(i, _)| i).chain(down).collect()
    }

    /// Resolves a question upstream. Never takes longer than the configured timeout (plus
    /// scheduling slack); losers of a race run on in the background so their health counts.
    pub async fn resolve(self: &Arc<Self>, q: &Question, cd: bool, dnssec_ok: bool) -> Result<Vec<u8>, UpstreamError> {
        let order = self.candidates();
        if order.is_empty() {
            return Err(UpstreamError::NoUpstreams);
        }
        let start = Instant::now();
        let deadline = start + self.timeout;
        let parallel = if self.strategy == Strategy::ParallelBest { 2 } else { 1 };
        let mut set = JoinSet::new();
        let mut next = 0;
        let launch = |set: &mut JoinSet<_>, idx: usize| {
            let pool = Arc::clone(self);
            let q = q.clone();
            set.spawn(async move { pool.exchange(idx, &q, cd, dnssec_ok, deadline).await });
        };
        while next < parallel.min(order.len()) {
            launch(&mut set, order[next]);
            next += 1;
        }
        let mut last_err = UpstreamError::Timeout;
        loop {
            let attempt_end = match self.strategy {
                Strategy::Strict if next < order.len() => {
                    (Instant::now() + self.attempt_timeout(order[next - 1])).min(deadline)
                }
                _ => deadline + Duration::from_millis(20),
            };
            match tokio::time::timeout_at(attempt_end.into(), set.join_next()).await {
                Ok(Some(Ok(Ok(reply)))) => {
                    set.detach_all();
                    return Ok(reply);
                }
                Ok(Some(Ok(Err(e)))) => last_err = e,
                Ok(Some(Err(_join))) => {}
                Ok(None) if next >= order.len() => return Err(last_err),
                Ok(None) => {}
                Err(_) if attempt_end >= deadline => {
                    set.detach_all();
                    return Err(UpstreamError::Timeout);
                }
                Err(_) => {}
            }
            // Strict launches the next upstream on every failure or attempt timeout (earlier
            // ones may still answer); parallel_best keeps two in flight.
            let room = self.strategy == Strategy::Strict || set.len() < parallel;
            if next < order.len() && room {
                launch(&mut set, order[next]);
                next += 1;
            }
        }
    }

    /// Strict fail-over waits this long for one upstream before trying the next.
    fn attempt_timeout(&self, idx: usize) -> Duration {
        let srtt = Duration::from_micros(u64::from(self.conns[idx].health.lock().srtt_us));
        (srtt * 4).max(Duration::from_millis(250)).min(self.timeout / 2)
    }

    /// One exchange with one upstream; records health.
    async fn exchange(
        &self,
        idx: usize,
        q: &Question,
        cd: bool,
        dnssec_ok: bool,
        deadline: Instant,
    ) -> Result<Vec<u8>, UpstreamError> {
        let conn = &self.conns[idx];
        let start = Instant::now();
        let result = self.exchange_raw(conn, q, cd, dnssec_ok, deadline).await;
        let result = result.and_then(|reply| match reply[3] & 0x0F {
            rcode::SERVFAIL | rcode::REFUSED | rcode::NOTIMP | rcode::FORMERR => {
                Err(UpstreamError::Rcode(reply[3] & 0x0F))
            }
            _ => Ok(reply),
        });
        let mut h = conn.health.lock();
        match &result {
            Ok(_) => h.on_success(start.elapsed()),
            Err(e) => {
                tracing::debug!(upstream = %conn.cfg.url, error = %e, "upstream failed");
                h.on_failure(Instant::now());
                *conn.last_failed.lock() = Some(q.clone());
            }
        }
        result
    }

    async fn exchange_raw(
        &self,
        conn: &Conn,
        q: &Question,
        cd: bool,
        dnssec_ok: bool,
        deadline: Instant,
    ) -> Result<Vec<u8>, UpstreamError> {
        let id: u16 = if matches!(conn.kind, Kind::Https { .. }) { 0 } else { rand::random() };
        let query = wire::build_query(id, &q.name_wire, q.qtype, q.qclass, cd, Some((self.edns_size, dnssec_ok)));
        let addr = conn.cfg.addr;
        match &conn.kind {
            Kind::Udp(tcp_pool) => {
                let reply = transport::udp(addr, &query, id, q, deadline, &self.mismatches).await?;
                if reply[2] & 0x02 == 0 {
                    return Ok(reply);
                }
                // Truncated: the same question over TCP, with a fresh ID.
                let id: u16 = rand::random();
                let query =
                    wire::build_query(id, &q.name_wire, q.qtype, q.qclass, cd, Some((self.edns_size, dnssec_ok)));
                transport::tcp(tcp_pool, addr, &query, id, q, deadline).await
            }
            Kind::Tcp(pool) => transport::tcp(pool, addr, &query, id, q, deadline).await,
            Kind::Tls(target) => transport::tls(target, &query, id, q, deadline).await,
            Kind::Https { client, url } => transport::https(client, url, &query, q, deadline).await,
        }
    }

    /// Re-probes upstreams whose back-off has elapsed (a root NS query). Ends when
    /// cancelled or when the pool is dropped (replaced by a reload).
    pub async fn probe_loop(pool: std::sync::Weak<Pool>, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let root = Question { name_wire: vec![0], qtype: 2, qclass: 1 };
        while cancel.run_until_cancelled(tick.tick()).await.is_some() {
            let Some(pool) = pool.upgrade() else { return };
            let now = Instant::now();
            for idx in 0..pool.conns.len() {
                {
                    let mut h = pool.conns[idx].health.lock();
                    if !h.probe_due(now) {
                        continue;
                    }
                    h.down_until = Some(now + pool.timeout); // one probe at a time
                }
                let probe = pool.conns[idx].last_failed.lock().clone().unwrap_or_else(|| root.clone());
                let pool = Arc::clone(&pool);
                tokio::spawn(async move {
                    let _ = pool.exchange(idx, &probe, false, false, Instant::now() + pool.timeout).await;
                });
            }
        }
    }
}

fn https_kind(up: &Upstream, cfg: &Dns) -> Result<Kind, UpstreamError> {
    let url = up.https_url.clone().unwrap_or_default();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .http2_adaptive_window(true)
        .pool_max_idle_per_host(4)
        .timeout(cfg.upstream_timeout);
    if let Some(path) = &cfg.upstream_ca_file {
        let pem = std::fs::read(path).map_err(|e| UpstreamError::Tls(format!("{}: {e}", path.display())))?;
        for cert in reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| UpstreamError::Tls(e.to_string()))? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if let Some(host) = &up.tls_name
        && up.addr.port() != 0
    {
        // Bootstrap: connect to the configured IP without asking any resolver.
        builder = builder.resolve(host, up.addr);
    }
    let client = builder.build().map_err(|e| UpstreamError::Http(e.to_string()))?;
    Ok(Kind::Https { client, url })
}
