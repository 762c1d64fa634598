//! Moving one query to one upstream and back: UDP (fresh socket = random source port),
//! TCP and DoT (length-prefixed, idle connections reused), DoH (HTTP/2 POST).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout_at;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::UpstreamError;
use super::matching::{Question, reply_matches};

/// Idle stream connections kept per upstream.
const MAX_IDLE: usize = 4;

/// A stream (TCP or TLS) that can be pooled.
pub trait DnsStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> DnsStream for T {}

/// Idle connections of one upstream.
pub struct StreamPool<S> {
    idle: Mutex<Vec<S>>,
}

impl<S> Default for StreamPool<S> {
    fn default() -> Self {
        Self { idle: Mutex::new(Vec::new()) }
    }
}

impl<S> StreamPool<S> {
    fn take(&self) -> Option<S> {
        self.idle.lock().pop()
    }

    fn put(&self, s: S) {
        let mut idle = self.idle.lock();
        if idle.len() < MAX_IDLE {
            idle.push(s);
        }
    }
}

/// Sends `query` over UDP and waits for a matching reply. Replies that do not match are
/// dropped (counted in `mismatches`); the wait goes on until the deadline.
pub async fn udp(
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
    mismatches: &std::sync::atomic::AtomicU64,
) -> Result<Vec<u8>, UpstreamError> {
    let bind: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse().unwrap() } else { "[::]:0".parse().unwrap() };
    let sock = UdpSocket::bind(bind).await?;
    // A connected socket only accepts datagrams from the upstream's address and port.
    sock.connect(addr).await?;
    sock.send(query).await?;
    let mut buf = vec![0u8; 65_535];
    let mut scratch = Vec::with_capacity(256);
    loop {
        let n = timeout_at(deadline.into(), sock.recv(&mut buf)).await.map_err(|_| UpstreamError::Timeout)??;
        if reply_matches(&buf[..n], id, q, &mut scratch) {
            buf.truncate(n);
            return Ok(buf);
        }
        mismatches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// One length-prefixed exchange on a stream.
async fn stream_exchange<S: DnsStream>(
    s: &mut S,
    query: &[u8],
    id: u16,
    q: &Question,
) -> Result<Vec<u8>, UpstreamError> {
    let mut framed = Vec::with_capacity(query.len() + 2);
    framed.extend_from_slice(&(query.len() as u16).to_be_bytes());
    framed.extend_from_slice(query);
    s.write_all(&framed).await?;
    s.flush().await?;
    let mut scratch = Vec::with_capacity(256);
    // A pooled connection may carry a late reply of an earlier query: skip non-matching ones.
    for _ in 0..4 {
        let len = s.read_u16().await? as usize;
        let mut buf = vec![0u8; len];
        s.read_exact(&mut buf).await?;
        if reply_matches(&buf, id, q, &mut scratch) {
            return Ok(buf);
        }
    }
    Err(UpstreamError::Mismatch)
}

/// Exchange over a pooled stream; a reused connection that fails is retried once fresh.
async fn pooled<S, F, Fut>(
    pool: &StreamPool<S>,
    connect: F,
    query: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Result<Vec<u8>, UpstreamError>
where
    S: DnsStream,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = io::Result<S>>,
{
    let attempt = async {
        if let Some(mut s) = pool.take()
            && let Ok(reply) = stream_exchange(&mut s, query, id, q).await
        {
            pool.put(s);
            return Ok(reply);
        }
        let mut s = connect().await?;
        let reply = stream_exchange(&mut s, query, id, q).await?;
        pool.put(s);
        Ok(reply)
    };
    timeout_at(deadline.into(), attempt).await.map_err(|_| UpstreamError::Timeout)?
}

pub async fn tcp(
    pool: &StreamPool<TcpStream>,
    addr: SocketAddr,
    query: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Result<Vec<u8>, UpstreamError> {
    pooled(pool, || tcp_connect(addr), query, id, q, deadline).await
}

/// A TCP connection for DNS (TCP and DoT): small messages, sent at once (no Nagle delay).
async fn tcp_connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// A DoT upstream: where to connect and whom to expect.
pub struct TlsTarget {
    pub connector: TlsConnector,
    pub addr: SocketAddr,
    pub name: rustls::pki_types::ServerName<'static>,
    pub pool: StreamPool<TlsStream<TcpStream>>,
}

pub async fn tls(
    t: &TlsTarget,
    query: &[u8],
    id: u16,
    q: &Question,
    deadline: Instant,
) -> Result<Vec<u8>, UpstreamError> {
    let connect = || async move { t.connector.connect(t.name.clone(), tcp_connect(t.addr).await?).await };
    pooled(&t.pool, connect, query, id, q, deadline).await
}

/// DoH (RFC 8484): POST application/dns-message; the ID is 0 on the wire.
pub async fn https(
    client: &reqwest::Client,
    url: &str,
    query: &[u8],
    q: &Question,
    deadline: Instant,
) -> Result<Vec<u8>, UpstreamError> {
    let req = client
        .post(url)
        .header("content-type", "application/dns-message")
        .header("accept", "application/dns-message")
        .body(query.to_vec());
    let attempt = async {
        let resp = req.send().await.map_err(|e| UpstreamError::Http(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(UpstreamError::Http(format!("HTTP status {}", resp.status())));
        }
        let body = resp.bytes().await.map_err(|e| UpstreamError::Http(e.to_string()))?;
        let mut scratch = Vec::new();
        if reply_matches(&body, 0, q, &mut scratch) { Ok(body.to_vec()) } else { Err(UpstreamError::Mismatch) }
    };
    timeout_at(deadline.into(), attempt).await.map_err(|_| UpstreamError::Timeout)?
}

/// TLS client config: built-in web PKI roots plus the PEM certificates of `ca_file`.
pub fn tls_config(
    ca_file: Option<&std::path::Path>,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>, UpstreamError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path).map_err(|e| UpstreamError::Tls(format!("{}: {e}", path.display())))?;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| UpstreamError::Tls(format!("{}: {e}", path.display())))?;
            roots.add(cert).map_err(|e| UpstreamError::Tls(format!("{}: {e}", path.display())))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| UpstreamError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(cfg))
}
