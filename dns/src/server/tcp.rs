//! TCP listener (RFC 7766), and DNS over TLS (RFC 7858) on the same code: length-prefixed
//! messages, pipelined (replies may come back out of order), an idle timeout on reads and on
//! writes (and on the TLS handshake), a cap on connections (in total and per client address)
//! and on queries in flight per connection.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::limit::{Acceptor, ConnLimits};
use crate::pipeline::{Resolver, Step, Transport};

/// Queries one connection may have in flight upstream at once.
const PER_CONN_INFLIGHT: usize = 32;

/// Binds the TCP listener of a DNS address. An IPv6 address listens for IPv6 only, as its UDP
/// sockets do: a dual-stack `[::]:53` would also take `0.0.0.0:53`, so configuring both (all
/// addresses of a machine) failed with "Address already in use".
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As tokio's TcpListener::bind: a restart rebinds while old connections sit in TIME_WAIT.
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    TcpListener::from_std(s.into())
}

/// Connection caps and the timeout of one read or write.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_conns: usize,
    pub max_per_client: usize,
    /// The next query must arrive, and each reply must be taken by the client, within this.
    pub idle: Duration,
}

/// Accepts connections until cancelled; with `tls`, each one is DNS over TLS.
pub async fn serve(
    listener: TcpListener,
    resolver: Arc<Resolver>,
    limits: Limits,
    tls: Option<tokio_rustls::TlsAcceptor>,
    cancel: CancellationToken,
) {
    let name = if tls.is_some() { "dns-tls" } else { "dns-tcp" };
    let served = Arc::clone(&resolver);
    accept_loop(listener, &resolver, limits, name, cancel, move |stream, src, cancel| {
        let (resolver, tls) = (Arc::clone(&served), tls.clone());
        async move {
            match tls {
                None => connection(stream, src, resolver, limits.idle, cancel).await,
                Some(tls) => {
                    if let Some(stream) = super::tls::handshake(&tls, stream, src, limits.idle).await {
                        connection(stream, src, resolver, limits.idle, cancel).await;
                    }
                }
            }
        }
    })
    .await;
}

/// The accept loop of every DNS stream listener (TCP, DoT, DoH): the connection caps (over
/// them a connection is closed at once rather than queued), the counters, no Nagle; `serve`
/// runs one admitted connection on a task of its own, which holds the slot until it ends.
pub(super) async fn accept_loop<F, Fut>(
    listener: TcpListener,
    resolver: &Resolver,
    limits: Limits,
    name: &'static str,
    cancel: CancellationToken,
    serve: F,
) where
    F: Fn(TcpStream, SocketAddr, CancellationToken) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let conns = ConnLimits::new(limits.max_conns, limits.max_per_client);
    let mut listener = Acceptor::new(listener, name);
    loop {
        let (stream, src) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok(slot) = conns.admit(src.ip()) else {
            resolver.stats.tcp_rejected.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        resolver.stats.tcp_connections.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let conn = serve(stream, src, cancel.child_token());
        tokio::spawn(async move {
            conn.await;
            drop(slot);
        });
    }
}

async fn connection<S>(stream: S, src: SocketAddr, resolver: Arc<Resolver>, idle: Duration, cancel: CancellationToken)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(PER_CONN_INFLIGHT);
    // A client that sends queries but does not read the replies fills its receive window;
    // the write then waits. Without a bound it would hold its connection slot for good.
    let stalled = cancel.clone();
    let writer = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let mut framed = Vec::with_capacity(reply.len() + 2);
            framed.extend_from_slice(&(reply.len() as u16).to_be_bytes());
            framed.extend_from_slice(&reply);
            match timeout(idle, wr.write_all(&framed)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    tracing::debug!(client = %src, "TCP client does not read its replies; closing");
                    break;
                }
            }
        }
        // Ends the reader too (it may be waiting to queue a reply that will never go out).
        stalled.cancel();
        let _ = wr.shutdown().await;
    });
    let inflight = Arc::new(Semaphore::new(PER_CONN_INFLIGHT));
    let mut out = Vec::with_capacity(1024);
    loop {
        // The whole next message must arrive within the idle timeout (slow clients lose).
        let read = async {
            let len = rd.read_u16().await? as usize;
            let mut msg = vec![0u8; len];
            rd.read_exact(&mut msg).await?;
            Ok::<_, std::io::Error>(msg)
        };
        let msg = tokio::select! {
            _ = cancel.cancelled() => break,
            r = timeout(idle, read) => match r {
                Ok(Ok(m)) => m,
                _ => break,
            },
        };
        match resolver.handle(&msg, src, Transport::Tcp, &mut out) {
            Step::Reply => {
                let sent = tokio::select! {
                    _ = cancel.cancelled() => break,
                    s = tx.send(out.clone()) => s,
                };
                if sent.is_err() {
                    break;
                }
            }
            Step::Drop => {}
            Step::Forward(p) => {
                let permit = tokio::select! {
                    _ = cancel.cancelled() => break,
                    p = Arc::clone(&inflight).acquire_owned() => p,
                };
                let Ok(permit) = permit else { break };
                let (tx, resolver) = (tx.clone(), Arc::clone(&resolver));
                tokio::spawn(async move {
                    let reply = resolver.forward(p).await;
                    let _ = tx.send(reply).await;
                    drop(permit);
                });
            }
        }
    }
    drop(tx);
    let _ = writer.await;
}
