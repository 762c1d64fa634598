//! The admin API's listener. `axum::serve` has no header timeout and no connection cap, so
//! idle or trickling connections, which need no token, could pile up until the process ran
//! out of descriptors and DNS could not open upstream sockets. This loop caps connections
//! (in total and per client address, shares of the open-file limit), closes a connection
//! that does not send a full request head in time (new or idle between requests), or that
//! stops reading a response, and backs off when accept runs out of descriptors.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1::Builder;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use ravens_dns::server::limit::{Acceptor, ConnLimits, Refused, Throttle, WARN_EVERY};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Sleep;
use tokio_util::sync::CancellationToken;

/// How long a client may take to send a request head, counted from when the connection
/// opens or its last response went out (so it is the keep-alive idle timeout as well).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may wait for the client to read it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// Caps and timeouts of the admin listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_conns: usize,
    pub max_per_client: usize,
    pub header_timeout: Duration,
    pub write_timeout: Duration,
}

impl Limits {
    /// The limits for at most `max_conns` connections (`fdlimit` sets it from the open-file
    /// limit).
    pub fn for_connections(max_conns: usize) -> Limits {
        Limits {
            max_conns,
            max_per_client: (max_conns / 4).max(1),
            header_timeout: HEADER_TIMEOUT,
            write_timeout: WRITE_TIMEOUT,
        }
    }
}

/// Serves `app` on `listener` until cancelled; open connections then finish their request.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    cancel: CancellationToken,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    let conns = ConnLimits::new(limits.max_conns, limits.max_per_client);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout);
    let mut listener = Acceptor::new(listener, "admin");
    let mut warn = Throttle::new(WARN_EVERY);
    loop {
        let (stream, src) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let slot = match conns.admit(src.ip()) {
            Ok(s) => s,
            Err(why) => {
                let what = match why {
                    Refused::Full => format!("all {} admin connections are taken", limits.max_conns),
                    Refused::ClientFull => format!("{} holds {} admin connections", src.ip(), limits.max_per_client),
                };
                if warn.ready() {
                    tracing::warn!(client = %src, "admin connection refused: {what} (logged once a minute)");
                } else {
                    tracing::debug!(client = %src, "admin connection refused: {what}");
                }
                continue; // `stream` is dropped: closed at once rather than queued
            }
        };
        let (http, app, cancel, tls) = (http.clone(), app.clone(), cancel.clone(), tls.clone());
        tokio::spawn(async move {
            let conn = Conn { peer: src, tls: false, tls_on_port: tls.is_some() };
            // TLS or plain HTTP on one port: a TLS connection opens with a handshake record.
            let mut first = [0u8; 1];
            let peeked = tokio::time::timeout(limits.header_timeout, stream.peek(&mut first)).await;
            let io = WriteDeadline::new(stream, limits.write_timeout);
            match (tls, peeked) {
                (Some(tls), Ok(Ok(1))) if first[0] == super::tls::HANDSHAKE => {
                    match tokio::time::timeout(limits.header_timeout, tls.accept(io)).await {
                        Ok(Ok(io)) => connection(http, io, app, Conn { tls: true, ..conn }, cancel).await,
                        Ok(Err(e)) => tracing::debug!(client = %src, "admin TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(client = %src, "admin TLS handshake timed out"),
                    }
                }
                (_, Ok(Ok(n))) if n > 0 => connection(http, io, app, conn, cancel).await,
                _ => {} // closed or silent before its first byte
            }
            drop(slot);
        });
    }
}

/// Serves one connection (plain or TLS) until it ends; cancelled, it finishes its request.
async fn connection<I>(http: Builder, io: I, app: Router, conn: Conn, cancel: CancellationToken)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Handlers that need the client's address and transport (the UI's login limit, its
    // cookie and redirect) find them here.
    let app = tower::ServiceExt::map_request(app, move |mut req: axum::http::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conn);
        req
    });
    let c = http.serve_connection(TokioIo::new(io), TowerToHyperService::new(app));
    let mut c = std::pin::pin!(c);
    let done = tokio::select! {
        r = c.as_mut() => r,
        _ = cancel.cancelled() => {
            c.as_mut().graceful_shutdown();
            c.await
        }
    };
    if let Err(e) = done {
        tracing::debug!(client = %conn.peer, "admin connection closed: {e}");
    }
}

/// How a request reached the admin port.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub peer: std::net::SocketAddr,
    /// It came over TLS.
    pub tls: bool,
    /// The port serves TLS too (a certificate is loaded).
    pub tls_on_port: bool,
}

/// A TCP stream whose writes fail once they have waited `limit` for the client to read:
/// otherwise a client that sends requests and never reads the responses would keep its
/// connection, and its slot, for good. Reads need no such bound here: hyper's header timeout
/// covers waiting for a request, and a request body is only read after the token check.
struct WriteDeadline {
    io: TcpStream,
    limit: Duration,
    /// Running while a write is pending; cleared by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(io: TcpStream, limit: Duration) -> WriteDeadline {
        WriteDeadline { io, limit, stalled: None }
    }

    /// Passes `r` on, turning a write that has been pending too long into an error.
    fn check<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let timer = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not read the response in time",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, buf);
        this.check(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.check(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_flush(cx);
        this.check(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_shutdown(cx);
        this.check(cx, r)
    }
}
