//! The query pipeline (docs/ARCHITECTURE.md §3): decode → ACL → local zone → cache → upstream.
//!
//! [`Resolver::handle`] is synchronous and allocation-free on the cache-hit path: it
//! either writes the reply into the caller's buffer, drops the message, or hands back a
//! [`Pending`] query that [`Resolver::forward`] resolves asynchronously. Errors never
//! escape: every query ends as an answer, an error rcode, or a counted drop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use arc_swap::ArcSwap;
use ipnet::IpNet;
use parking_lot::Mutex;
use ravens_config::{Config, DnssecMode};
use tokio::sync::Semaphore;

use crate::admission;
use crate::block::{self, Blocking, Decision, PolicyState};
use crate::blocklist::GroupId;
use crate::cache::{self, Cache, CachePolicy, Hit};
use crate::dnssec::{Security, Validation};
use crate::querylog::QueryLog;
use crate::ratelimit::{RateLimiter, Verdict};
use crate::route::{Routes, SetId};
use crate::special;
use crate::stats::{Outcome, Stats};
use crate::upstream::UpstreamError;
use crate::wire::{self, Query, WireError, rcode};
use crate::zone::{HostName, LocalZone};

mod clock;
mod forward;
pub use clock::Clock;

/// Where a query came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What to do with a received message.
#[derive(Debug)]
pub enum Step {
    /// The reply is in the output buffer.
    Reply,
    /// Send nothing.
    Drop,
    /// Resolve upstream with [`Resolver::forward`].
    Forward(Box<Pending>),
}

/// A query waiting for an upstream answer.
#[derive(Debug)]
pub struct Pending {
    msg: Vec<u8>,
    q: Query,
    transport: Transport,
    group: GroupId,
    client: IpAddr,
    /// The upstream set that resolves it (`crate::route`).
    set: SetId,
}

/// Everything derived from one config version, swapped as a whole on reload.
#[derive(Debug)]
pub struct State {
    pub config: Arc<Config>,
    acl: Vec<IpNet>,
    /// The upstream sets: `dns.upstreams`, groups' `upstreams`, `[[forward]]` zones.
    pub routes: Routes,
    pub policy: PolicyState,
    /// `None` when `dns.rate_limit = "off"`.
    pub limiter: Option<RateLimiter>,
    /// `None` when `dns.dnssec = "off"`.
    pub dnssec: Option<Arc<Validation>>,
}

/// The DNS service: shared by every listener.
#[derive(Debug)]
pub struct Resolver {
    state: ArcSwap<State>,
    zone: ArcSwap<LocalZone>,
    hosts: Mutex<Vec<HostName>>,
    pub cache: Arc<Cache>,
    pub stats: Stats,
    pub blocking: Blocking,
    pub querylog: QueryLog,
    inflight: Arc<Semaphore>,
    /// Runtime for background work started from the (non-tokio) UDP threads.
    rt: Option<tokio::runtime::Handle>,
}

impl State {
    pub fn new(config: Arc<Config>) -> Result<Self, UpstreamError> {
        let routes = Routes::new(&config)?;
        let limiter = RateLimiter::new(&config.dns.rate_limit);
        let dnssec = match config.dns.dnssec.mode {
            DnssecMode::Off => None,
            DnssecMode::Validate => {
                Some(Arc::new(Validation::new(&config, routes.pools().count()).map_err(UpstreamError::Validation)?))
            }
        };
        let (acl, policy) = (config.dns.serve_networks.clone(), PolicyState::new(&config));
        Ok(State { acl, routes, policy, limiter, dnssec, config })
    }
}

impl Resolver {
    pub fn new(state: State) -> Self {
        let c = &state.config;
        let zone = LocalZone::build(&c.dns.local_domain, &c.records, &[]);
        let querylog = QueryLog::new(c.dns.query_log_size);
        Resolver {
            cache: Arc::new(Cache::new(CachePolicy::of(c))),
            rt: tokio::runtime::Handle::try_current().ok(),
            inflight: Arc::new(Semaphore::new(c.dns.max_inflight)),
            zone: ArcSwap::from_pointee(zone),
            hosts: Mutex::new(Vec::new()),
            state: ArcSwap::from_pointee(state),
            stats: Stats::default(),
            blocking: Blocking::default(),
            querylog,
        }
    }

    /// Swaps in a new config; queries in flight finish with the state they started with.
    pub fn reload(&self, state: State) {
        self.cache.set_policy(CachePolicy::of(&state.config));
        let hosts = self.hosts.lock();
        if let Some(z) = crate::zone::updated(&self.zone.load(), &self.state.load().config, &state.config, &hosts) {
            crate::zone::free_in_background(self.zone.swap(Arc::new(z)));
        }
        drop(hosts);
        self.state.store(Arc::new(state));
    }

    /// Replaces the dynamic host names (from DHCP leases).
    pub fn set_hosts(&self, hosts: Vec<HostName>) {
        let state = self.state.load();
        self.rebuild_zone(&state.config, &hosts);
        *self.hosts.lock() = hosts;
    }

    fn rebuild_zone(&self, c: &Config, hosts: &[HostName]) {
        let zone = LocalZone::build(&c.dns.local_domain, &c.records, hosts);
        crate::zone::free_in_background(self.zone.swap(Arc::new(zone)));
    }

    pub fn state(&self) -> Arc<State> {
        self.state.load_full()
    }

    pub fn zone_names(&self) -> usize {
        self.zone.load().len()
    }

    /// Handles one message synchronously. See [`Step`].
    pub fn handle(&self, msg: &[u8], src: SocketAddr, transport: Transport, out: &mut Vec<u8>) -> Step {
        self.handle_at(msg, src, transport, out, Clock::now())
    }

    /// [`Resolver::handle`] with the time read by the caller.
    pub fn handle_at(
        &self,
        msg: &[u8],
        src: SocketAddr,
        transport: Transport,
        out: &mut Vec<u8>,
        clock: Clock,
    ) -> Step {
        let stats = &self.stats;
        stats.queries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let q = match wire::parse_query(msg) {
            Ok(q) if q.flags & wire::QR != 0 => return self.done(Outcome::Dropped, Step::Drop),
            Ok(q) => q,
            Err(WireError::NoHeader) => return self.done(Outcome::Dropped, Step::Drop),
            Err(_) => {
                let step = if wire::header_only_reply(msg, rcode::FORMERR, out) { Step::Reply } else { Step::Drop };
                return self.done(Outcome::Formerr, step);
            }
        };
        let state = self.state.load();
        let ours = state.config.dns.edns_udp_size;
        if q.opcode() != 0 {
            wire::reply_skeleton(msg, &q, rcode::NOTIMP, 0, ours, out);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Notimp, None, Step::Reply);
        }
        if q.edns.is_some_and(|e| e.version > 0) {
            // RFC 6891 §6.1.3: BADVERS is extended rcode 16 = upper bits 1 in the OPT TTL.
            wire::reply_skeleton(msg, &q, rcode::NOERROR, 0, ours, out);
            let at = out.len() - 6;
            out[at] = 1;
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Formerr, None, Step::Reply);
        }
        if !admission::allowed(&state.acl, src.ip()) {
            wire::reply_skeleton(msg, &q, rcode::REFUSED, 0, ours, out);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Refused, None, Step::Reply);
        }
        if let Some(Verdict::Limited { log, count }) = state.limiter.as_ref().map(|l| l.check(src.ip(), clock.mono_ms))
        {
            let action = state.config.dns.rate_limit.action;
            let step = admission::over_limit(action, msg, &q, ours, src.ip(), log, count, out);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Limited, None, step);
        }
        if q.qtype == 251 || q.qtype == 252 {
            // Zone transfers are not a forwarder's business.
            wire::reply_skeleton(msg, &q, rcode::REFUSED, 0, ours, out);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Refused, None, Step::Reply);
        }
        if q.qclass != special::CLASS_IN {
            let c = &state.config;
            let o = special::other_class(msg, &q, c.dns.chaos, &c.node.name, ours, out);
            return self.logged(clock.wall_ms, &q, src.ip(), o, None, Step::Reply);
        }
        // A forward zone of the client's group takes the name from the built-in local zones.
        let routes = &state.routes;
        let (group, zone_set) = if routes.has_zones() {
            let g = self.blocking.group_of(&state.policy, src.ip());
            (Some(g), routes.zone(q.name_wire(), g))
        } else {
            (None, None)
        };
        if self.zone.load().answer(msg, &q, out, zone_set.is_some()) {
            crate::zone::finish_local(out, &q, ours, transport, msg);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Local, None, Step::Reply);
        }
        let now = clock.mono;
        let group = group.unwrap_or_else(|| self.blocking.group_of(&state.policy, src.ip()));
        let set = zone_set.unwrap_or_else(|| routes.group_set(group));
        // The dotted name serves the blocklist only: made here, on the stack, once the answers
        // that need no name are out. (The query log keeps the wire form: a label may hold a
        // '.', which only the wire form tells apart.)
        let mut name_buf = [0u8; 256];
        let name = block::dotted(q.name_wire(), &mut name_buf);
        if let Some(list) = self.block_if_listed(&state, group, name, msg, &q, transport, now, out) {
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Blocked, Some(list), Step::Reply);
        }
        if q.qtype == special::TYPE_ANY {
            let o = special::any(msg, &q, ours, out);
            return self.logged(clock.wall_ms, &q, src.ip(), o, None, Step::Reply);
        }
        let mut key = [0u8; cache::KEY_MAX];
        let klen =
            cache::make_key(&mut key, q.name_wire(), q.qtype, q.qclass, q.dnssec_ok(), q.checking_disabled(), set);
        if let Some((Hit::Fresh { prefetch }, security)) = self.cache.get_checked(&key[..klen], now, false, out) {
            if let Security::Bogus(code) = security {
                forward::write_bogus(msg, &q, code, Security::ede_text(code), ours, out);
                return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Servfail, None, Step::Reply);
            }
            if prefetch {
                self.prefetch(&state, &q, set, &key[..klen]);
            }
            if let Some(list) = self.cloaked(&state, group, out, msg, &q, transport, now) {
                return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Blocked, Some(list), Step::Reply);
            }
            forward::set_ad(out, &q, security);
            self.finish_for_client(out, msg, &q, ours, transport);
            return self.logged(clock.wall_ms, &q, src.ip(), Outcome::Cached, None, Step::Reply);
        }
        Step::Forward(Box::new(Pending { msg: msg.to_vec(), q, transport, group, client: src.ip(), set }))
    }

    /// Writes the block answer and returns the blocking list when `name` (dotted) is blocked
    /// for `group`.
    #[allow(clippy::too_many_arguments)]
    fn block_if_listed(
        &self,
        state: &State,
        group: GroupId,
        name: &[u8],
        msg: &[u8],
        q: &Query,
        transport: Transport,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<u16> {
        let Decision::Block { list, response } = self.blocking.decide(&state.policy, group, name, now) else {
            return None;
        };
        let engine = self.blocking.engine.load();
        let ours = state.config.dns.edns_udp_size;
        block::write_block(msg, q, response, state.policy.block_ttl, engine.list_name(list), ours, out);
        self.truncate_if_needed(out, msg, q, ours, transport);
        Some(list)
    }

    /// CNAME cloaking: an answer whose CNAME chain reaches a blocked name is blocked too.
    #[allow(clippy::too_many_arguments)]
    fn cloaked(
        &self,
        state: &State,
        group: GroupId,
        answer: &mut Vec<u8>,
        msg: &[u8],
        q: &Query,
        transport: Transport,
        now: Instant,
    ) -> Option<u16> {
        if self.blocking.engine.load().is_empty() {
            return None;
        }
        let targets = block::cname_chain(answer);
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        for t in &targets {
            let target = block::dotted(t, &mut buf);
            if let Some(list) = self.block_if_listed(state, group, target, msg, q, transport, now, &mut out) {
                *answer = out;
                return Some(list);
            }
        }
        None
    }

    fn done(&self, o: Outcome, step: Step) -> Step {
        self.stats.record(o);
        step
    }

    /// Counts the outcome and records the query (its wire-format name) in the query log.
    fn logged(&self, ms: u64, q: &Query, client: IpAddr, o: Outcome, list: Option<u16>, step: Step) -> Step {
        self.querylog.record_at(ms, client, q.name_wire(), q.qtype, o, list);
        self.done(o, step)
    }

    /// Patches a stored or upstream reply for this client: ID, RD/CD, AA=0 and RA=1 (we are a
    /// recursive service, not the authority, whatever the upstream was), the question's
    /// letter case, our OPT, and truncation to the client's UDP size.
    fn finish_for_client(&self, out: &mut Vec<u8>, msg: &[u8], q: &Query, ours: u16, transport: Transport) {
        out[0..2].copy_from_slice(&q.id.to_be_bytes());
        out[2] = (out[2] & !0x05) | ((q.flags >> 8) as u8 & 0x01);
        out[3] |= 0x80;
        out[3] = (out[3] & !0x10) | (q.flags as u8 & 0x10);
        if out.len() >= q.question_end
            && wire::skip_name(out, wire::HEADER_LEN) == wire::skip_name(msg, wire::HEADER_LEN)
        {
            out[wire::HEADER_LEN..q.question_end].copy_from_slice(&msg[wire::HEADER_LEN..q.question_end]);
        }
        if q.edns.is_some() {
            wire::push_opt(out, ours, q.dnssec_ok(), None);
        }
        self.truncate_if_needed(out, msg, q, ours, transport);
    }

    fn truncate_if_needed(&self, out: &mut Vec<u8>, msg: &[u8], q: &Query, ours: u16, transport: Transport) {
        if transport == Transport::Udp && out.len() > q.max_udp_size(ours) {
            wire::reply_skeleton(msg, q, rcode::NOERROR, wire::TC, ours, out);
            self.stats.truncated.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
