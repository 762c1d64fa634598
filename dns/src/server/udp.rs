//! UDP listener threads. Each thread owns one SO_REUSEPORT socket and answers what it can
//! synchronously (cache hits, local names, errors); misses go to the tokio runtime and the
//! reply is sent from there on the same socket.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use socket2::{Domain, Protocol, Socket, Type};

use crate::pipeline::{Resolver, Step, Transport};

/// Binds `count` sockets to `addr` (the first one fixes the port when it is 0).
pub fn bind(addr: SocketAddr, count: usize) -> io::Result<Vec<UdpSocket>> {
    let mut socks = Vec::with_capacity(count);
    let mut bound = addr;
    for _ in 0..count.max(1) {
        let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        s.set_reuse_port(true)?;
        s.set_reuse_address(true)?;
        if addr.is_ipv6() {
            s.set_only_v6(true)?;
        }
        // Bursts of queries should queue in the kernel, not be dropped.
        let _ = s.set_recv_buffer_size(4 << 20);
        s.bind(&bound.into())?;
        // No read timeout: a timed blocking receive arms and cancels a kernel timer on
        // every wait, which costs on the hot path; shutdown wakes the threads instead.
        let s: UdpSocket = s.into();
        bound = s.local_addr()?;
        socks.push(s);
    }
    Ok(socks)
}

/// A listener thread and its socket.
#[derive(Debug)]
pub struct UdpThread {
    pub handle: JoinHandle<()>,
    sock: Arc<UdpSocket>,
}

impl UdpThread {
    /// Wakes the thread out of its blocking receive (set `stop` first). On Linux a read
    /// shutdown of an unconnected UDP socket reports ENOTCONN but still wakes the reader.
    pub fn wake(&self) {
        let _ = socket2::SockRef::from(&*self.sock).shutdown(std::net::Shutdown::Read);
    }
}

/// Starts one thread per socket. Threads end when `stop` is set and they are woken.
pub fn spawn(
    socks: Vec<UdpSocket>,
    resolver: Arc<Resolver>,
    rt: tokio::runtime::Handle,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<UdpThread>> {
    socks
        .into_iter()
        .enumerate()
        .map(|(i, sock)| {
            let sock = Arc::new(sock);
            let (resolver, rt, stop, s) = (Arc::clone(&resolver), rt.clone(), Arc::clone(&stop), Arc::clone(&sock));
            let handle = std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve(s, &resolver, &rt, &stop))?;
            Ok(UdpThread { handle, sock })
        })
        .collect()
}

fn serve(sock: Arc<UdpSocket>, resolver: &Arc<Resolver>, rt: &tokio::runtime::Handle, stop: &AtomicBool) {
    let mut buf = vec![0u8; 4096];
    let mut out = Vec::with_capacity(4096);
    while !stop.load(Ordering::Relaxed) {
        let (n, src) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                // ICMP errors from earlier sends surface here (ECONNREFUSED): not fatal.
                tracing::trace!(error = %e, "udp receive error");
                continue;
            }
        };
        match resolver.handle(&buf[..n], src, Transport::Udp, &mut out) {
            Step::Reply => {
                let _ = sock.send_to(&out, src);
            }
            Step::Drop => {}
            Step::Forward(p) => {
                let (sock, resolver) = (Arc::clone(&sock), Arc::clone(resolver));
                rt.spawn(async move {
                    let reply = resolver.forward(p).await;
                    let _ = sock.send_to(&reply, src);
                });
            }
        }
    }
}
