//! UDP listener threads. Each thread owns one SO_REUSEPORT socket and answers what it can
//! synchronously (cache hits, local names, errors); misses go to the tokio runtime and the
//! reply is sent from there on the same socket. Datagrams are taken and answered in
//! batches (`recvmmsg`/`sendmmsg`): under load that halves the syscalls per query.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::sys::socket::{MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};

use crate::pipeline::{Clock, Resolver, Step, Transport};

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
    /// Receive calls returned so far: the thread's heartbeat, for a watchdog.
    beats: Arc<AtomicU64>,
}

/// What a watchdog reads of one listener thread: its heartbeat and the socket it drains.
#[derive(Debug, Clone)]
pub struct Probe {
    pub beats: Arc<AtomicU64>,
    pub sock: Arc<UdpSocket>,
}

impl UdpThread {
    /// Wakes the thread out of its blocking receive (set `stop` first). On Linux a read
    /// shutdown of an unconnected UDP socket reports ENOTCONN but still wakes the reader.
    pub fn wake(&self) {
        let _ = socket2::SockRef::from(&*self.sock).shutdown(std::net::Shutdown::Read);
    }

    pub fn probe(&self) -> Probe {
        Probe { beats: Arc::clone(&self.beats), sock: Arc::clone(&self.sock) }
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
            let (sock, beats) = (Arc::new(sock), Arc::new(AtomicU64::new(0)));
            let (resolver, rt, stop, s) = (Arc::clone(&resolver), rt.clone(), Arc::clone(&stop), Arc::clone(&sock));
            let b = Arc::clone(&beats);
            let handle = std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve(s, &resolver, &rt, &stop, &b))?;
            Ok(UdpThread { handle, sock, beats })
        })
        .collect()
}

/// Datagrams taken per `recvmmsg` and answered per `sendmmsg`. Under load several queries
/// are queued by the time the thread looks, and one syscall each way replaces one per
/// packet; with a single queued query the call returns at once (MSG_WAITFORONE).
const BATCH: usize = 32;
/// Receive buffer per datagram: a query never comes near it (std's `recv_from` on a buffer
/// of this size was used before, with the same silent truncation of anything longer).
const RECV_BUF: usize = 4096;

/// Buffers of one listener thread, allocated once: nothing on the hot path allocates.
struct Batch {
    bufs: Box<[[u8; RECV_BUF]; BATCH]>,
    rx: MultiHeaders<SockaddrStorage>,
    tx: MultiHeaders<SockaddrStorage>,
    /// Length and source of each received datagram.
    got: [(usize, Option<SockaddrStorage>); BATCH],
    /// Replies answered inline, and where each goes.
    outs: Vec<Vec<u8>>,
    dests: [Option<SockaddrStorage>; BATCH],
}

impl Batch {
    fn new() -> Self {
        Batch {
            bufs: vec![[0u8; RECV_BUF]; BATCH].into_boxed_slice().try_into().expect("BATCH buffers"),
            rx: MultiHeaders::preallocate(BATCH, None),
            tx: MultiHeaders::preallocate(BATCH, None),
            got: [(0, None); BATCH],
            outs: (0..BATCH).map(|_| Vec::with_capacity(RECV_BUF)).collect(),
            dests: [None; BATCH],
        }
    }

    /// Blocks for at least one datagram and takes whatever else is already queued.
    fn receive(&mut self, fd: RawFd) -> nix::Result<usize> {
        let mut iov = self.bufs.each_mut().map(|b| [IoSliceMut::new(b)]);
        let res = recvmmsg(fd, &mut self.rx, iov.iter_mut(), MsgFlags::MSG_WAITFORONE, None)?;
        let mut n = 0;
        for (slot, m) in self.got.iter_mut().zip(res) {
            *slot = (m.bytes, m.address);
            n += 1;
        }
        Ok(n)
    }

    /// Sends the first `n` replies, in as few calls as the kernel allows. A message the
    /// kernel refuses (sendmmsg reports the error on the call that starts with it) is
    /// dropped, as a failed `send_to` was, and the rest still go out.
    fn send(&mut self, fd: RawFd, n: usize) {
        let outs = &self.outs;
        let iov: [[IoSlice<'_>; 1]; BATCH] = std::array::from_fn(|i| [IoSlice::new(outs.get(i).map_or(&[], |v| v))]);
        let mut start = 0;
        while start < n {
            match sendmmsg(fd, &mut self.tx, &iov[start..n], &self.dests[start..n], [], MsgFlags::empty()) {
                Ok(res) => match res.count() {
                    0 => start += 1,
                    sent => start += sent,
                },
                Err(Errno::EINTR) => {}
                Err(e) => {
                    tracing::trace!(error = %e, "udp send error");
                    start += 1;
                }
            }
        }
    }
}

fn std_addr(a: &SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = a.as_sockaddr_in() {
        Some(SocketAddr::V4((*v4).into()))
    } else {
        a.as_sockaddr_in6().map(|v6| SocketAddr::V6((*v6).into()))
    }
}

fn serve(
    sock: Arc<UdpSocket>,
    resolver: &Arc<Resolver>,
    rt: &tokio::runtime::Handle,
    stop: &AtomicBool,
    beats: &AtomicU64,
) {
    let fd = sock.as_raw_fd();
    let mut b = Batch::new();
    let mut taken = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let received = b.receive(fd);
        // One relaxed store per batch: the whole cost of the watchdog on this path.
        taken = taken.wrapping_add(1);
        beats.store(taken, Ordering::Relaxed);
        let n = match received {
            Ok(n) => n,
            // ICMP errors from earlier sends surface here (ECONNREFUSED): not fatal.
            Err(e) => {
                if e != Errno::EINTR {
                    tracing::trace!(error = %e, "udp receive error");
                }
                continue;
            }
        };
        // The shutdown wake returns an empty "datagram": not a query to count.
        if stop.load(Ordering::Relaxed) {
            break;
        }
        // Answer the whole batch, then send the replies with one call.
        let clock = Clock::now();
        let mut replies = 0;
        for i in 0..n {
            let (len, addr) = b.got[i];
            let Some(src) = addr.as_ref().and_then(std_addr) else { continue };
            let msg = &b.bufs[i][..len.min(RECV_BUF)];
            match resolver.handle_at(msg, src, Transport::Udp, &mut b.outs[replies], clock) {
                Step::Reply => {
                    b.dests[replies] = addr;
                    replies += 1;
                }
                Step::Drop => {}
                Step::Forward(p) => {
                    // Misses never hold up the batch: resolved on the runtime, answered from there.
                    let (sock, resolver) = (Arc::clone(&sock), Arc::clone(resolver));
                    rt.spawn(async move {
                        let reply = resolver.forward(p).await;
                        let _ = sock.send_to(&reply, src);
                    });
                }
            }
        }
        b.send(fd, replies);
    }
}
