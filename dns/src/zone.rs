//! The local zone: static `[[record]]`s, DHCP host names, and the zones that must never be
//! forwarded (the `local_domain` and the RFC 6303 private reverse zones). Answers are
//! authoritative (AA) and built straight into wire bytes.

use std::collections::{HashMap, HashSet};

use foldhash::fast::RandomState;
use std::net::IpAddr;

use ravens_config::{Config, LocalRecord, RecordData};

use crate::wire::{self, AA, CD, QR, Query, RA, RD};

const T_A: u16 = 1;
const T_CNAME: u16 = 5;
const T_SOA: u16 = 6;
const T_PTR: u16 = 12;
const T_MX: u16 = 15;
const T_TXT: u16 = 16;
const T_AAAA: u16 = 28;
const T_SRV: u16 = 33;
const T_ANY: u16 = 255;
/// TTL and MINIMUM of the synthesised SOA: short, so new DHCP names appear quickly.
const SOA_TTL: u32 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rr {
    rtype: u16,
    ttl: u32,
    rdata: Vec<u8>,
}

/// An immutable local zone; rebuilt and swapped when records or leases change.
#[derive(Debug, Default, PartialEq)]
pub struct LocalZone {
    /// Lower-case wire name → records (empty for empty non-terminals).
    names: HashMap<Vec<u8>, Vec<Rr>, RandomState>,
    /// Apexes of the zones answered authoritatively, wire form.
    apexes: HashSet<Vec<u8>, RandomState>,
}

/// A dynamic host name (from a DHCP lease) to publish as A/AAAA + PTR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostName {
    /// Fully qualified, lower-case, no trailing dot.
    pub fqdn: String,
    pub addr: IpAddr,
    pub ttl: u32,
}

/// RFC 6303 §4 (and RFC 7793 for 100.64/10): reverse zones never sent upstream.
pub(crate) fn private_reverse_zones() -> Vec<String> {
    let mut z: Vec<String> = ["10", "127", "0", "254.169", "168.192", "2.0.192", "100.51.198", "113.0.203"]
        .iter()
        .map(|s| format!("{s}.in-addr.arpa"))
        .collect();
    z.push("255.255.255.255.in-addr.arpa".into());
    z.extend((16..=31).map(|o| format!("{o}.172.in-addr.arpa")));
    z.extend((64..=127).map(|o| format!("{o}.100.in-addr.arpa")));
    z.extend(
        ["d.f.ip6.arpa", "8.e.f.ip6.arpa", "9.e.f.ip6.arpa", "a.e.f.ip6.arpa", "b.e.f.ip6.arpa"].map(String::from),
    );
    z.push("8.b.d.0.1.0.0.2.ip6.arpa".into());
    z.push(format!("1.{}ip6.arpa", "0.".repeat(31)));
    z.push(format!("{}ip6.arpa", "0.".repeat(32)));
    z
}

/// The PTR owner name of an address (`10.1.0.10.in-addr.arpa`, nibbles for IPv6).
pub fn reverse_name(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xF, b >> 4));
            }
            s + "ip6.arpa"
        }
    }
}

impl LocalZone {
    /// Builds the zone from static records and dynamic host names.
    pub fn build(local_domain: &str, records: &[LocalRecord], hosts: &[HostName]) -> Self {
        // Each record names its owner and, for A/AAAA, a PTR owner: sized up front, the map
        // never rehashes 200k names while it grows.
        let mut zone = LocalZone {
            names: HashMap::with_capacity_and_hasher(2 * (records.len() + hosts.len()), RandomState::default()),
            ..LocalZone::default()
        };
        let mut apex_texts = vec![local_domain.to_string()];
        apex_texts.extend(private_reverse_zones());
        zone.apexes = apex_texts.iter().filter_map(|a| wire::name_from_text(a)).collect();
        for r in records {
            zone.add_record(r);
        }
        for h in hosts {
            zone.add_host(h);
        }
        zone
    }

    /// This zone, built from some records and `hosts`, with `added` records after those:
    /// what [`LocalZone::build`] gives for all of them, or `None` when a new record shares a
    /// host's name or address (the build adds records before hosts, so the order of those
    /// answers and which PTR wins would differ).
    fn with_added(&self, added: &[LocalRecord], hosts: &[HostName]) -> Option<LocalZone> {
        let names: HashSet<&str> = hosts.iter().map(|h| h.fqdn.as_str()).collect();
        let addrs: HashSet<IpAddr> = hosts.iter().map(|h| h.addr).collect();
        let clash = |r: &LocalRecord| match r.data {
            RecordData::A(ip) => addrs.contains(&IpAddr::V4(ip)),
            RecordData::Aaaa(ip) => addrs.contains(&IpAddr::V6(ip)),
            _ => false,
        };
        if added.iter().any(|r| names.contains(r.name.as_str()) || clash(r)) {
            return None;
        }
        let mut zone = LocalZone { names: self.names.clone(), apexes: self.apexes.clone() };
        zone.names.reserve(2 * added.len());
        for r in added {
            zone.add_record(r);
        }
        Some(zone)
    }

    fn add(&mut self, name: &str, rr: Rr) {
        let Some(wire_name) = wire::name_from_text(name) else { return };
        // Empty non-terminals between the name and its apex exist (NODATA, not NXDOMAIN).
        let mut at = 0;
        while wire_name[at] != 0 {
            at += 1 + wire_name[at] as usize;
            let parent = &wire_name[at..];
            if parent.len() <= 1 || self.apexes.contains(parent) {
                break;
            }
            self.names.entry(parent.to_vec()).or_default();
        }
        let rrs = self.names.entry(wire_name).or_default();
        if !rrs.contains(&rr) {
            rrs.push(rr);
        }
    }

    fn add_record(&mut self, r: &LocalRecord) {
        let (rtype, rdata) = encode_rdata(&r.data);
        self.add(&r.name, Rr { rtype, ttl: r.ttl, rdata });
        match r.data {
            RecordData::A(ip) => self.add_ptr(IpAddr::V4(ip), &r.name, r.ttl),
            RecordData::Aaaa(ip) => self.add_ptr(IpAddr::V6(ip), &r.name, r.ttl),
            _ => {}
        }
    }

    fn add_host(&mut self, h: &HostName) {
        let data = match h.addr {
            IpAddr::V4(ip) => RecordData::A(ip),
            IpAddr::V6(ip) => RecordData::Aaaa(ip),
        };
        self.add_record(&LocalRecord { name: h.fqdn.clone(), ttl: h.ttl, data });
    }

    /// Automatic PTR; the first name given for an address wins.
    fn add_ptr(&mut self, addr: IpAddr, target: &str, ttl: u32) {
        let owner = reverse_name(addr);
        let exists = wire::name_from_text(&owner)
            .and_then(|w| self.names.get(&w))
            .is_some_and(|rrs| rrs.iter().any(|r| r.rtype == T_PTR));
        if !exists && let Some(rdata) = wire::name_from_text(target) {
            self.add(&owner, Rr { rtype: T_PTR, ttl, rdata });
        }
    }

    /// Number of names held (for status).
    pub fn len(&self) -> usize {
        self.names.values().filter(|r| !r.is_empty()).count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The longest apex that `name` is in: walk its suffixes from the longest, a few
    /// hash probes instead of a scan of every zone.
    fn apex_of<'n>(&self, name: &'n [u8]) -> Option<&'n [u8]> {
        let mut at = 0;
        while at < name.len() && name[at] != 0 {
            let suffix = &name[at..];
            if self.apexes.contains(suffix) {
                return Some(suffix);
            }
            at += 1 + name[at] as usize;
        }
        None
    }

    /// Answers `q` if the name is local: writes the full response to `out` and returns true.
    /// Returns false when the name must be resolved elsewhere. `forwarded`: the name is in
    /// a `[[forward]]` zone, which takes it from the built-in local zones (`local_domain`,
    /// the private reverse zones): only a name with records of its own (a `[[record]]`, a
    /// DHCP name) is still answered here; its NXDOMAIN or NODATA is the forward zone's to give.
    pub fn answer(&self, msg: &[u8], q: &Query, out: &mut Vec<u8>, forwarded: bool) -> bool {
        let name = q.name_wire();
        let entry = self.names.get(name);
        if forwarded && entry.is_none_or(Vec::is_empty) {
            return false;
        }
        let apex = self.apex_of(name);
        if entry.is_none() && apex.is_none() {
            return false;
        }
        let mut w = Writer::start(msg, q, out);
        let mut owner: Option<Vec<u8>> = None; // None = the question name (pointer 0xC00C)
        let mut current = entry;
        for _ in 0..8 {
            let Some(rrs) = current else { break };
            let owner_ref = owner.as_deref();
            let mut matched = false;
            for rr in rrs.iter().filter(|r| r.rtype == q.qtype || q.qtype == T_ANY) {
                w.record(owner_ref, rr);
                matched = true;
            }
            let cname = rrs.iter().find(|r| r.rtype == T_CNAME);
            match cname {
                Some(c) if !matched && q.qtype != T_CNAME => {
                    w.record(owner_ref, c);
                    current = self.names.get(&c.rdata);
                    owner = Some(c.rdata.clone());
                }
                _ => break,
            }
        }
        if w.answers == 0 {
            let is_apex = apex.is_some_and(|a| a == name);
            if is_apex && (q.qtype == T_SOA || q.qtype == T_ANY) {
                w.soa(name, true);
            } else if let Some(a) = apex {
                if entry.is_none() && !is_apex {
                    w.rcode(wire::rcode::NXDOMAIN);
                }
                w.soa(a, false);
            }
        }
        w.finish();
        true
    }
}

/// Writes an authoritative response: header, question copied, records appended.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    q: &'a Query,
    answers: u16,
    authority: u16,
}

impl<'a> Writer<'a> {
    fn start(msg: &[u8], q: &'a Query, out: &'a mut Vec<u8>) -> Self {
        out.clear();
        out.extend_from_slice(&q.id.to_be_bytes());
        let flags = QR | AA | RA | (q.flags & (RD | CD));
        out.extend_from_slice(&flags.to_be_bytes());
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&msg[wire::HEADER_LEN..q.question_end]);
        Writer { out, q, answers: 0, authority: 0 }
    }

    fn owner(&mut self, owner: Option<&[u8]>) {
        match owner {
            Some(n) => self.out.extend_from_slice(n),
            None => self.out.extend_from_slice(&[0xC0, 12]),
        }
    }

    fn rr_fixed(&mut self, rtype: u16, ttl: u32, rdata: &[u8]) {
        self.out.extend_from_slice(&rtype.to_be_bytes());
        self.out.extend_from_slice(&1u16.to_be_bytes());
        self.out.extend_from_slice(&ttl.to_be_bytes());
        self.out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        self.out.extend_from_slice(rdata);
    }

    fn record(&mut self, owner: Option<&[u8]>, rr: &Rr) {
        self.owner(owner);
        self.rr_fixed(rr.rtype, rr.ttl, &rr.rdata);
        self.answers += 1;
    }

    fn soa(&mut self, apex: &[u8], in_answer: bool) {
        // The apex is a suffix of the question name: point into the question.
        let offset = wire::HEADER_LEN + self.q.name_wire().len() - apex.len();
        self.out.extend_from_slice(&(0xC000u16 | offset as u16).to_be_bytes());
        let mut rdata = Vec::with_capacity(64);
        rdata.extend_from_slice(b"\x09localhost\x00\x06nobody\x07invalid\x00");
        for v in [1u32, 3600, 1200, 604_800, SOA_TTL] {
            rdata.extend_from_slice(&v.to_be_bytes());
        }
        self.rr_fixed(T_SOA, SOA_TTL, &rdata);
        if in_answer {
            self.answers += 1;
        } else {
            self.authority += 1;
        }
    }

    fn rcode(&mut self, rc: u8) {
        wire::set_rcode(self.out, rc);
    }

    fn finish(self) {
        self.out[6..8].copy_from_slice(&self.answers.to_be_bytes());
        self.out[8..10].copy_from_slice(&self.authority.to_be_bytes());
    }
}

fn name_or_root(text: &str) -> Vec<u8> {
    wire::name_from_text(text).unwrap_or_else(|| vec![0])
}

fn encode_rdata(d: &RecordData) -> (u16, Vec<u8>) {
    match d {
        RecordData::A(ip) => (T_A, ip.octets().to_vec()),
        RecordData::Aaaa(ip) => (T_AAAA, ip.octets().to_vec()),
        RecordData::Cname(n) => (T_CNAME, name_or_root(n)),
        RecordData::Ptr(n) => (T_PTR, name_or_root(n)),
        RecordData::Txt(t) => {
            let mut out = Vec::with_capacity(t.len() + t.len() / 255 + 1);
            for chunk in t.as_bytes().chunks(255) {
                out.push(chunk.len() as u8);
                out.extend_from_slice(chunk);
            }
            if t.is_empty() {
                out.push(0);
            }
            (T_TXT, out)
        }
        RecordData::Mx { preference, exchange } => {
            let mut out = preference.to_be_bytes().to_vec();
            out.extend(name_or_root(exchange));
            (T_MX, out)
        }
        RecordData::Srv { priority, weight, port, target } => {
            let mut out = Vec::with_capacity(8 + target.len());
            for v in [priority, weight, port] {
                out.extend_from_slice(&v.to_be_bytes());
            }
            out.extend(name_or_root(target));
            (T_SRV, out)
        }
    }
}

/// The zone to serve after a reload from `old` to `new`: `None` keeps `current` (most reloads,
/// a list entry or an upstream, leave the records alone); an edit that only added records
/// (they go at the end) copies `current` and adds them, which costs a fraction of building
/// 200k names again; anything else builds the zone afresh.
pub fn updated(current: &LocalZone, old: &Config, new: &Config, hosts: &[HostName]) -> Option<LocalZone> {
    if new.dns.local_domain != old.dns.local_domain {
        return Some(LocalZone::build(&new.dns.local_domain, &new.records, hosts));
    }
    if new.records == old.records {
        return None;
    }
    let added = new.records.strip_prefix(old.records.as_slice());
    Some(match added.and_then(|added| current.with_added(added, hosts)) {
        Some(zone) => zone,
        None => LocalZone::build(&new.dns.local_domain, &new.records, hosts),
    })
}

/// Zones with more names than this are freed on a thread of their own.
const BIG_ZONE: usize = 10_000;

/// Drops `old`, on a thread of its own when it is big: freeing a zone of 200k names takes
/// about as long as building the one that replaced it (a tenth of a second), time that an
/// admin edit or a lease event should not wait for.
pub fn free_in_background(old: std::sync::Arc<LocalZone>) {
    if old.names.len() > BIG_ZONE {
        // If no thread can be made, `old` is dropped here instead.
        let _ = std::thread::Builder::new().name("zone-free".into()).spawn(move || drop(old));
    }
}

#[cfg(test)]
#[path = "zone_tests.rs"]
mod tests;

/// Adds our OPT to a local answer and truncates it to the client's UDP size.
pub fn finish_local(out: &mut Vec<u8>, q: &Query, ours: u16, transport: crate::pipeline::Transport, msg: &[u8]) {
    if q.edns.is_some() {
        wire::push_opt(out, ours, q.dnssec_ok(), None);
    }
    if transport == crate::pipeline::Transport::Udp && out.len() > q.max_udp_size(ours) {
        wire::reply_skeleton(msg, q, wire::rcode::NOERROR, wire::TC | wire::AA, ours, out);
    }
}
