//! Blocking on the query path: the client's group, pauses, the verdict of the blocklist
//! engine, and the answer a blocked name gets (null address, NXDOMAIN, REFUSED or a custom
//! IP, with Extended DNS Error 15 "Blocked" naming the list, RFC 8914).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use ravens_config::{BlockResponse, Config};

use crate::blocklist::{Engine, EngineBuilder, GroupId, GroupMatcher, Verdict};
use crate::wire::{self, Query, rcode};

const T_A: u16 = 1;
const T_AAAA: u16 = 28;
/// EDE info code 15: Blocked.
const EDE_BLOCKED: u16 = 15;

/// Per-group blocking settings of one config version.
#[derive(Debug, Clone)]
pub struct GroupPolicy {
    pub name: String,
    pub blocking: bool,
    pub response: BlockResponse,
}

/// The policy part of a config version: who is in which group, and what each group gets.
#[derive(Debug, Clone)]
pub struct PolicyState {
    pub matcher: GroupMatcher,
    pub groups: Vec<GroupPolicy>,
    pub block_ttl: u32,
}

impl PolicyState {
    pub fn new(c: &Config) -> Self {
        let groups = c
            .policy
            .groups
            .iter()
            .map(|g| GroupPolicy {
                name: g.name.clone(),
                blocking: g.blocking,
                response: g.block_response.unwrap_or(c.dns.block_response),
            })
            .collect();
        PolicyState { matcher: GroupMatcher::new(&c.policy), groups, block_ttl: c.dns.block_ttl }
    }
}

/// Blocking state that outlives config versions: the compiled engine, pauses, and the
/// MAC addresses of DHCP clients (for MAC-matched groups).
#[derive(Debug)]
pub struct Blocking {
    pub engine: ArcSwap<Engine>,
    macs: ArcSwap<HashMap<IpAddr, [u8; 6]>>,
    /// Milliseconds since `epoch` until which blocking is paused: index 64 = all groups.
    paused_until: [AtomicU64; 65],
    epoch: Instant,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            engine: ArcSwap::from_pointee(EngineBuilder::new().finish().0),
            macs: ArcSwap::from_pointee(HashMap::new()),
            paused_until: std::array::from_fn(|_| AtomicU64::new(0)),
            epoch: Instant::now(),
        }
    }
}

/// What the blocking step decided for a query.
#[derive(Debug, Clone, Copy)]
pub enum Decision {
    Pass,
    Block { list: crate::blocklist::ListId, response: BlockResponse },
}

impl Blocking {
    pub fn set_macs(&self, macs: HashMap<IpAddr, [u8; 6]>) {
        self.macs.store(std::sync::Arc::new(macs));
    }

    /// The group of a client.
    pub fn group_of(&self, p: &PolicyState, ip: IpAddr) -> GroupId {
        p.matcher.group_of_with(ip, |ip| self.macs.load().get(&ip).copied())
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Pauses blocking for one group (or all) until `now + d`; resumes by itself.
    pub fn pause(&self, group: Option<GroupId>, d: Duration, now: Instant) {
        let slot = group.map_or(64, GroupId::index).min(64);
        self.paused_until[slot].store(self.ms(now + d), Ordering::Relaxed);
    }

    /// Ends every pause (`None`) or one group's.
    pub fn resume(&self, group: Option<GroupId>) {
        match group {
            Some(g) => self.paused_until[g.index().min(63)].store(0, Ordering::Relaxed),
            None => self.paused_until.iter().for_each(|p| p.store(0, Ordering::Relaxed)),
        }
    }

    /// Remaining pause of a group (or of all groups).
    pub fn paused_for(&self, group: Option<GroupId>, now: Instant) -> Option<Duration> {
        let until = self.paused_until[group.map_or(64, GroupId::index).min(64)].load(Ordering::Relaxed);
        let now = self.ms(now);
        (until > now).then(|| Duration::from_millis(until - now))
    }

    fn paused(&self, g: GroupId, now: Instant) -> bool {
        let now = self.ms(now);
        self.paused_until[64].load(Ordering::Relaxed) > now
            || self.paused_until[g.index().min(63)].load(Ordering::Relaxed) > now
    }

    /// The verdict for `name` (dotted, lower-case) asked by a client of group `g`.
    pub fn decide(&self, p: &PolicyState, g: GroupId, name: &[u8], now: Instant) -> Decision {
        let Some(gp) = p.groups.get(g.index()) else { return Decision::Pass };
        if !gp.blocking {
            return Decision::Pass;
        }
        match self.engine.load().lookup(name, g) {
            Verdict::Blocked(m) if !self.paused(g, now) => Decision::Block { list: m.list, response: gp.response },
            _ => Decision::Pass,
        }
    }
}

/// Dotted text of a wire name into `buf` (no allocation); returns the used part.
pub fn dotted<'b>(name_wire: &[u8], buf: &'b mut [u8; 256]) -> &'b [u8] {
    let mut n = 0;
    let mut at = 0;
    while at < name_wire.len() && name_wire[at] != 0 {
        let len = name_wire[at] as usize;
        if n > 0 {
            buf[n] = b'.';
            n += 1;
        }
        let end = (at + 1 + len).min(name_wire.len());
        let label = &name_wire[at + 1..end];
        let take = label.len().min(256 - n);
        buf[n..n + take].copy_from_slice(&label[..take]);
        n += take;
        at = end;
    }
    &buf[..n]
}

/// Writes the answer for a blocked name.
pub fn write_block(msg: &[u8], q: &Query, response: BlockResponse, ttl: u32, list: &str, ours: u16, out: &mut Vec<u8>) {
    let rc = match response {
        BlockResponse::Nxdomain => rcode::NXDOMAIN,
        BlockResponse::Refused => rcode::REFUSED,
        _ => rcode::NOERROR,
    };
    wire::reply_skeleton(msg, q, rc, 0, ours, out);
    let addr: Option<Vec<u8>> = match (response, q.qtype) {
        (BlockResponse::Null, T_A) => Some(vec![0; 4]),
        (BlockResponse::Null, T_AAAA) => Some(vec![0; 16]),
        (BlockResponse::Ip(IpAddr::V4(ip)), T_A) => Some(ip.octets().to_vec()),
        (BlockResponse::Ip(IpAddr::V6(ip)), T_AAAA) => Some(ip.octets().to_vec()),
        _ => None, // other types: NODATA, never an address of the wrong type
    };
    if q.edns.is_some() {
        // Drop the skeleton's plain OPT: the answer goes before it, and ours carries EDE.
        out.truncate(q.question_end);
        out[10..12].copy_from_slice(&[0, 0]);
    }
    if let Some(rdata) = addr {
        out.extend_from_slice(&[0xC0, 12]);
        out.extend_from_slice(&q.qtype.to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&ttl.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
        out[6..8].copy_from_slice(&1u16.to_be_bytes());
    }
    if q.edns.is_some() {
        let text = format!("Blocked ({list})");
        wire::push_opt(out, ours, q.dnssec_ok(), Some((EDE_BLOCKED, &text)));
    }
}

/// Owner names and CNAME targets of a response's answer section, when it holds a CNAME
/// (for CNAME-cloaking checks). Empty for answers without CNAMEs: the common case is cheap.
pub fn cname_chain(resp: &[u8]) -> Vec<Vec<u8>> {
    let mut names = Vec::new();
    let (Ok(qd), Ok(an)) = (wire::read_u16(resp, 4), wire::read_u16(resp, 6)) else { return names };
    let mut pos = wire::HEADER_LEN;
    for _ in 0..qd {
        match wire::skip_name(resp, pos) {
            Ok(p) => pos = p + 4,
            Err(_) => return names,
        }
    }
    let mut scratch = Vec::new();
    for _ in 0..an {
        let Ok((rr, next)) = wire::skip_record(resp, pos) else { break };
        if rr.rtype == wire::TYPE_CNAME && wire::read_name(resp, rr.rdata_at, &mut scratch).is_ok() {
            names.push(scratch.clone());
        }
        pos = next;
    }
    names
}
