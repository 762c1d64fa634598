//! The tokio driver and the API the daemon wires: [`DhcpService::start`] binds the socket, opens
//! the journal, restores leases and spawns the receive loop and the expiry sweep; the returned
//! [`DhcpHandle`] lists and releases leases, reports pool usage and counters, and reloads config.
//! This code only moves bytes: every decision is made by the sans-IO [`Core`].

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Instant;

use dhcproto::v4::MessageType;
use parking_lot::Mutex;
use ravens_config::Config;
use socket2::Socket;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::counters::{AtomicCounters, C, Counters};
use crate::failover::AnswerFilter;
use crate::failover::held::HeldQueue;
use crate::iface::{self, Iface};
use crate::journal::{Journal, JournalOptions};
use crate::lease::{Lease, LeaseEvent, LeaseState, unix_now};
use crate::machine::{Action, Context, Core, DropReason, Outgoing};
use crate::packet;
use crate::pool::Slice;
use crate::reply::Destination;
use crate::socket;
use crate::state::Usage;

mod adopt;
mod loops;
use loops::{recv_loop, sweep_loop};

/// Why the service could not start or reload.
#[derive(Debug, thiserror::Error)]
pub enum DhcpError {
    #[error("cannot bind the DHCP socket on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot open the lease journal in {dir}: {source}")]
    Journal { dir: String, source: io::Error },
    #[error("DHCP interface(s) not found: {0}")]
    Interfaces(String),
}

/// What the receive loop, the journal thread and the handle share.
struct Inner {
    core: Mutex<Core>,
    journal: Journal,
    /// A second descriptor of the DHCP socket, for sending (from the journal thread too).
    tx: Socket,
    ifaces: Vec<Iface>,
    counters: AtomicCounters,
    /// Lease event subscribers: the daemon's DNS names and, in a cluster, the sync glue.
    events: Mutex<Vec<Subscriber>>,
    /// This node's name: the `node` of the leases it grants.
    node: Arc<str>,
    /// The config the core was built from, to rebuild it with another slice.
    config: Mutex<Config>,
    /// DISCOVERs left to a peer, answered late if this node takes their bucket over.
    held: Mutex<HeldQueue>,
    /// Wake-ups of the receive loop: its heartbeat, for a watchdog.
    beats: std::sync::atomic::AtomicU64,
}

/// One lease event channel.
struct Subscriber {
    tx: mpsc::Sender<LeaseEvent>,
    /// Only the events of leases this node granted: what the cluster replicates. Imports of
    /// other nodes' leases never reach it, so they cannot loop back into the gossip.
    own_only: bool,
}

/// Control of a running DHCP service. Cheap to clone.
#[derive(Clone)]
pub struct DhcpHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DhcpHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhcpHandle").finish_non_exhaustive()
    }
}

/// Starts the DHCP service.
#[derive(Debug)]
pub struct DhcpService;

impl DhcpService {
    /// Binds `config.node.dhcp_listen`, restores leases from `data_dir`, and serves until
    /// `cancel`. Lease events arrive on the returned receiver (capacity 4096; when it is full,
    /// events are dropped and counted rather than stalling ACKs).
    pub fn start(
        config: &Config,
        cancel: CancellationToken,
    ) -> Result<(DhcpHandle, mpsc::Receiver<LeaseEvent>), DhcpError> {
        let dir = &config.node.data_dir;
        let (journal, recovery) = Journal::open(dir, JournalOptions::default())
            .map_err(|source| DhcpError::Journal { dir: dir.display().to_string(), source })?;
        if recovery.torn_bytes > 0 || recovery.corrupt > 0 {
            tracing::warn!(torn_bytes = recovery.torn_bytes, corrupt = recovery.corrupt, "lease journal repaired");
        }
        if recovery.unknown > 0 {
            tracing::info!(skipped = recovery.unknown, "lease journal holds records of a newer release; ignored");
        }
        let (ifaces, missing) = iface::lookup(&config.node.dhcp_interfaces);
        if !missing.is_empty() {
            return Err(DhcpError::Interfaces(missing.join(", ")));
        }
        let addr = config.node.dhcp_listen;
        let sock = socket::bind(addr).map_err(|source| DhcpError::Bind { addr, source })?;
        let tx = sock.try_clone().map_err(|source| DhcpError::Bind { addr, source })?;
        let rx =
            UdpSocket::from_std(std::net::UdpSocket::from(sock)).map_err(|source| DhcpError::Bind { addr, source })?;
        // A cluster member owns no address until the cluster wiring has learned its slice:
        // serving the whole pool in between could offer a peer's (or a forgotten) address.
        let slice = if config.cluster.is_some() { Slice::NONE } else { Slice::WHOLE };
        let mut core = Core::new(config, slice, &recovery.records, unix_now());
        core.set_own_addrs(own_addrs(addr, &ifaces));
        tracing::info!(leases = recovery.records.len(), "restored DHCP leases");
        let (events, events_rx) = mpsc::channel(4096);
        let inner = Arc::new(Inner {
            core: Mutex::new(core),
            journal,
            tx,
            ifaces,
            counters: Default::default(),
            events: Mutex::new(vec![Subscriber { tx: events, own_only: false }]),
            node: Arc::from(config.node.name.as_str()),
            config: Mutex::new(config.clone()),
            held: Mutex::new(HeldQueue::default()),
            beats: Default::default(),
        });
        tracing::info!("listening for DHCP on {addr}");
        tokio::spawn(recv_loop(inner.clone(), rx, cancel.clone()));
        tokio::spawn(sweep_loop(inner.clone(), cancel));
        Ok((DhcpHandle { inner }, events_rx))
    }
}

fn own_addrs(listen: SocketAddr, ifaces: &[Iface]) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = ifaces.iter().flat_map(|i| i.addrs.iter().copied()).collect();
    if let SocketAddr::V4(a) = listen
        && !a.ip().is_unspecified()
    {
        v.push(*a.ip());
    }
    v
}

impl Inner {
    fn datagram(self: &Arc<Self>, bytes: &[u8], r: &socket::Received) {
        self.datagram_at(bytes, r, Instant::now(), false);
    }

    /// Handles a datagram received at `at`; a `replay` of a held one is not counted again.
    fn datagram_at(self: &Arc<Self>, bytes: &[u8], r: &socket::Received, at: Instant, replay: bool) {
        let req = match packet::decode(bytes) {
            Ok(req) => req,
            Err(e) => {
                self.counters.inc(C::Malformed);
                tracing::trace!(src = %r.src, error = %e, "malformed DHCP datagram dropped");
                return;
            }
        };
        if !replay {
            self.counters.inc(match req.msg_type {
                MessageType::Discover => C::Discover,
                MessageType::Request => C::Request,
                MessageType::Release => C::Release,
                MessageType::Decline => C::Decline,
                MessageType::Inform => C::Inform,
                _ => C::Unanswered,
            });
        }
        let iface = self.ifaces.iter().find(|i| i.index == r.ifindex);
        let ctx = Context { dst: r.dst, iface_addrs: iface.map_or(&[][..], |i| &i.addrs), direct: iface.is_some() };
        let action = self.core.lock().handle_request(&req, &ctx, unix_now());
        let server_src = iface.and_then(|i| i.addrs.first().copied()).unwrap_or(r.dst);
        match action {
            Action::Drop(DropReason::PeerAnswers) if req.msg_type == MessageType::Discover => {
                self.held.lock().hold(&req.key.0, bytes, *r, at);
                if !replay {
                    self.dropped(DropReason::PeerAnswers, r);
                }
            }
            Action::Drop(reason) => self.dropped(reason, r),
            Action::Send(out) => self.send(&out, r.ifindex, server_src),
            durable @ Action::Durable { .. } => self.commit(durable, r.ifindex, server_src),
        }
    }

    /// Makes a [`Action::Durable`] record durable, then sends its reply and emits its event.
    fn commit(self: &Arc<Self>, action: Action, ifindex: u32, server_src: Ipv4Addr) {
        let Action::Durable { record, reply, event, undo } = action else { return };
        let me = self.clone();
        let done = Box::new(move |ok: bool| {
            if !ok {
                me.counters.inc(C::JournalErrors);
                // No ACK: the grant must not keep the address (issue 10).
                if let Some(u) = undo {
                    me.core.lock().unjournaled(u, unix_now());
                }
                return;
            }
            if let Some(out) = reply {
                me.send(&out, ifindex, server_src);
            }
            if let Some(e) = event {
                me.emit(e);
            }
        });
        self.journal.append(&record, Some(done));
    }

    fn dropped(&self, reason: DropReason, r: &socket::Received) {
        if reason == DropReason::PoolExhausted {
            self.counters.inc(C::PoolExhausted);
            tracing::warn!(src = %r.src, "DHCP pool exhausted");
        }
        self.counters.inc(C::Unanswered);
        tracing::trace!(src = %r.src, ?reason, "DHCP request not answered");
    }

    fn send(&self, out: &Outgoing, ifindex: u32, src: Ipv4Addr) {
        self.counters.inc(match out.kind {
            MessageType::Offer => C::Offer,
            MessageType::Nak => C::Nak,
            _ => C::Ack,
        });
        let res = match out.dest {
            Destination::Relay(to) | Destination::Unicast(to) => socket::send(&self.tx, &out.bytes, to, None),
            Destination::Broadcast => {
                let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, 68);
                let via = (ifindex != 0 && !src.is_unspecified() && !src.is_broadcast()).then_some((ifindex, src));
                socket::send(&self.tx, &out.bytes, to, via)
            }
        };
        if let Err(e) = res {
            self.counters.inc(C::SendErrors);
            tracing::debug!(error = %e, dest = ?out.dest, "DHCP reply not sent");
        }
    }

    fn emit(&self, e: LeaseEvent) {
        let own = *e.lease.node == *self.node;
        let mut subs = self.events.lock();
        subs.retain(|s| !s.tx.is_closed());
        for s in subs.iter().filter(|s| own || !s.own_only) {
            if s.tx.try_send(e.clone()).is_err() {
                self.counters.inc(C::EventsDropped);
            }
        }
    }
}

impl DhcpHandle {
    /// For a watchdog: the receive loop's wake-ups so far, and the socket it drains (`tx`
    /// shares its receive queue).
    pub fn progress(&self) -> (u64, std::os::fd::BorrowedFd<'_>) {
        use std::os::fd::AsFd as _;
        (self.inner.beats.load(std::sync::atomic::Ordering::Relaxed), self.inner.tx.as_fd())
    }

    /// Bound, unexpired leases, of one subnet or of all.
    pub fn leases(&self, subnet: Option<&str>) -> Vec<Lease> {
        self.inner.core.lock().leases(subnet, unix_now())
    }

    /// Ends the lease on `ip` as if its client had released it ([`Core::release`]; its event
    /// follows once the record is durable). False when no lease is bound there.
    pub fn release(&self, ip: Ipv4Addr) -> bool {
        let Some(action) = self.inner.core.lock().release(ip, unix_now()) else { return false };
        self.inner.commit(action, 0, Ipv4Addr::UNSPECIFIED);
        true
    }

    /// (subnet name, its address use) per subnet.
    pub fn pool_usage(&self) -> Vec<(String, Usage)> {
        self.inner.core.lock().pool_usage(unix_now())
    }

    pub fn counters(&self) -> Counters {
        self.inner.counters.snapshot()
    }

    /// Applies a new config's subnets, keeping every lease whose subnet (by name) still holds
    /// its address. Listen address, relay port and interfaces are not rebound (restart for that).
    pub fn reload(&self, config: &Config) {
        let mut core = self.inner.core.lock();
        let slice = core.slice();
        let placed = core.rebuild(config, slice, unix_now());
        *self.inner.config.lock() = config.clone();
        tracing::info!(subnets = core.subnets().len(), placed = placed.len(), "DHCP config reloaded");
        drop(core);
        for e in placed {
            self.inner.emit(e);
        }
    }

    /// A further stream of lease events (same capacity and drop rule as the first one) with
    /// only the events of leases this node granted, never those of imported ones: the cluster
    /// glue publishes this node's leases from it.
    pub fn subscribe_own(&self) -> mpsc::Receiver<LeaseEvent> {
        let (tx, rx) = mpsc::channel(4096);
        self.inner.events.lock().push(Subscriber { tx, own_only: true });
        rx
    }

    /// This node's slice of every pool.
    pub fn slice(&self) -> Slice {
        self.inner.core.lock().slice()
    }

    /// Allocates new addresses from `slice` from now on. Every remembered lease (this node's
    /// and imported ones) is kept; outstanding offers are forgotten.
    pub fn set_slice(&self, slice: Slice) {
        let config = self.inner.config.lock().clone();
        let mut core = self.inner.core.lock();
        if core.slice() == slice {
            return;
        }
        let placed = core.rebuild(&config, slice, unix_now());
        tracing::info!(index = slice.index, count = slice.count, "DHCP pool slice changed");
        drop(core);
        for e in placed {
            self.inner.emit(e);
        }
    }

    /// Answers again the DISCOVERs of the last few seconds that were left to a peer: call it
    /// when the bucket owners change (a takeover), so a client that asked while its server was
    /// dying gets an OFFER now rather than after its own retransmission. Those still not ours
    /// are held again. Returns how many were replayed.
    pub fn answer_held(&self) -> usize {
        let held = self.inner.held.lock().take_fresh(Instant::now());
        for h in &held {
            self.inner.counters.inc(C::HeldReplayed);
            self.inner.datagram_at(&h.bytes, &h.meta, h.at, true);
        }
        held.len()
    }

    /// Installs (or removes) the cluster's "who answers" filter.
    pub fn set_answer_filter(&self, filter: Option<AnswerFilter>) {
        self.inner.core.lock().set_answer_filter(filter);
    }

    /// Applies leases granted by other nodes ([`Core::import`]) and emits their events.
    pub fn import(&self, leases: &[Lease]) {
        let now = unix_now();
        let events: Vec<LeaseEvent> = {
            let mut core = self.inner.core.lock();
            leases.iter().flat_map(|l| core.import(l, now)).collect()
        };
        let mut held = self.inner.held.lock();
        for l in leases.iter().filter(|l| l.state == LeaseState::Bound) {
            held.forget(&l.key.0);
        }
        drop(held);
        for e in events {
            self.inner.emit(e);
        }
    }

    /// Resolves once every record queued so far is durable (tests, shutdown).
    pub async fn flush(&self) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.inner.journal.barrier(Box::new(move |_| {
            let _ = tx.send(());
        }));
        let _ = rx.await;
    }
}
