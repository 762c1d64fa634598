//! The service's two tasks: the receive loop that drains the socket into the core, and the
//! 1 s sweep that turns expiries into lease events.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use super::Inner;
use crate::lease::unix_now;
use crate::socket;

pub(super) async fn recv_loop(inner: Arc<Inner>, rx: UdpSocket, cancel: CancellationToken) {
    let mut buf = vec![0u8; 4096];
    loop {
        tokio::select! {
            _ = cancel.cancelled() => break,
            r = rx.readable() => if let Err(e) = r {
                tracing::error!(error = %e, "DHCP socket failed");
                break;
            },
        }
        inner.beats.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Drain everything queued before waiting again.
        loop {
            match rx.try_io(Interest::READABLE, || socket::recv(&rx, &mut buf)) {
                Ok(r) => inner.datagram(&buf[..r.len], &r),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => {
                    tracing::debug!(error = %e, "DHCP recv error");
                    break;
                }
            }
        }
    }
    inner.journal.close();
    tracing::info!("DHCP service stopped");
}

pub(super) async fn sweep_loop(inner: Arc<Inner>, cancel: CancellationToken) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let events = inner.core.lock().sweep(unix_now());
        for e in events {
            inner.emit(e);
        }
    }
}
