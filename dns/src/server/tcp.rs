//! TCP listener (RFC 7766): length-prefixed messages, pipelined (replies may come back out
//! of order), an idle timeout, a cap on connections and on queries in flight per connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

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

/// Accepts connections until cancelled.
pub async fn serve(
    listener: TcpListener,
    resolver: Arc<Resolver>,
    max_conns: usize,
    idle: Duration,
    cancel: CancellationToken,
) {
    let conns = Arc::new(Semaphore::new(max_conns));
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, src)) = accepted else { continue };
        let Ok(permit) = Arc::clone(&conns).try_acquire_owned() else {
            resolver.stats.tcp_rejected.fetch_add(1, Ordering::Relaxed);
            drop(stream); // over the cap: close at once rather than queue
            continue;
        };
        resolver.stats.tcp_connections.fetch_add(1, Ordering::Relaxed);
        let (resolver, cancel) = (Arc::clone(&resolver), cancel.clone());
        tokio::spawn(async move {
            connection(stream, src, resolver, idle, cancel).await;
            drop(permit);
        });
    }
}

async fn connection(
    stream: TcpStream,
    src: SocketAddr,
    resolver: Arc<Resolver>,
    idle: Duration,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(PER_CONN_INFLIGHT);
    let writer = tokio::spawn(async move {
        while let Some(reply) = rx.recv().await {
            let mut framed = Vec::with_capacity(reply.len() + 2);
            framed.extend_from_slice(&(reply.len() as u16).to_be_bytes());
            framed.extend_from_slice(&reply);
            if wr.write_all(&framed).await.is_err() {
                break;
            }
        }
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
                if tx.send(out.clone()).await.is_err() {
                    break;
                }
            }
            Step::Drop => {}
            Step::Forward(p) => {
                let Ok(permit) = Arc::clone(&inflight).acquire_owned().await else { break };
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
