//! DHCP subnets (`[[subnet]]`, `[[subnet.reservation]]`, `[[subnet.option]]`, `[[subnet.route]]`):
//! the serde wire schema and its validation into [`Subnet`]. Every error names the key and points
//! at the offending value's line and column.

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;

use crate::error::{ConfigError, SourceMap};
use crate::validate;
use crate::wire::S;

pub use crate::subnet_wire::{IpList, OptionWire, ReservationWire, RouteWire, SubnetWire};

/// An inclusive range of pool addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolRange {
    pub start: Ipv4Addr,
    pub end: Ipv4Addr,
}

impl PoolRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.start <= ip && ip <= self.end
    }
    /// Number of addresses in the range.
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.end)) - u64::from(u32::from(self.start)) + 1
    }
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// A raw option: code and value bytes (the server adds code and length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOption {
    pub code: u8,
    pub data: Vec<u8>,
}

/// A fixed address for one client.
#[derive(Debug, Clone, PartialEq)]
pub struct Reservation {
    pub mac: Option<[u8; 6]>,
    pub client_id: Option<Vec<u8>>,
    pub ip: Ipv4Addr,
    pub hostname: Option<String>,
    pub options: Vec<RawOption>,
}

/// A validated DHCP subnet.
#[derive(Debug, Clone, PartialEq)]
pub struct Subnet {
    pub name: String,
    pub cidr: Ipv4Net,
    pub pools: Vec<PoolRange>,
    pub router: Option<Ipv4Addr>,
    /// `None` = the answering node's own address.
    pub dns: Option<Vec<Ipv4Addr>>,
    /// `None` = `[dns].local_domain`.
    pub domain: Option<String>,
    pub lease_time: Duration,
    pub t1: Duration,
    pub t2: Duration,
    pub ntp: Vec<Ipv4Addr>,
    pub mtu: Option<u16>,
    pub domain_search: Vec<String>,
    pub routes: Vec<(Ipv4Net, Ipv4Addr)>,
    pub options: Vec<RawOption>,
    pub reservations: Vec<Reservation>,
    pub decline_quarantine: Duration,
    pub offer_hold: Duration,
}

/// Option codes the server fills itself; a raw option may not set them.
const MANAGED_CODES: &[u8] = &[0, 50, 51, 52, 53, 54, 55, 57, 58, 59, 61, 82, 255];

/// Validates every `[[subnet]]`.
pub fn validate(subnets: &[SubnetWire], map: &SourceMap<'_>) -> Result<Vec<Subnet>, ConfigError> {
    let mut out: Vec<Subnet> = Vec::new();
    for s in subnets {
        if let Some(other) = out.iter().find(|o| &o.name == s.name.get_ref()) {
            return Err(map.err(Some(s.name.span()), format!("subnet.name: duplicate subnet '{}'", other.name)));
        }
        let cidr: Ipv4Net = validate::network_v4(&s.cidr, "subnet.cidr", map)?;
        if let Some(other) = out.iter().find(|o| o.cidr.contains(&cidr) || cidr.contains(&o.cidr)) {
            return Err(map.err(
                Some(s.cidr.span()),
                format!("subnet.cidr: {cidr} overlaps subnet '{}' ({})", other.name, other.cidr),
            ));
        }
        out.push(validate_one(s, cidr, map)?);
    }
    Ok(out)
}

fn validate_one(s: &SubnetWire, cidr: Ipv4Net, map: &SourceMap<'_>) -> Result<Subnet, ConfigError> {
    let pools = validate_pools(&s.pools, cidr, map)?;
    let in_subnet = |v: &S<String>, key: &str| -> Result<Ipv4Addr, ConfigError> {
        let ip = ipv4(v, key, map)?;
        if !cidr.contains(&ip) {
            return Err(map.err(Some(v.span()), format!("{key}: {ip} is outside the subnet {cidr}")));
        }
        Ok(ip)
    };
    let router = s.router.as_ref().map(|r| in_subnet(r, "subnet.router")).transpose()?;
    let dns = s.dns.as_ref().map(|l| ipv4_list(l, "subnet.dns", map)).transpose()?;
    let domain = s.domain.as_ref().map(|d| validate::dns_name(d, "subnet.domain", map)).transpose()?;
    let (lease_time, t1, t2) = validate_times(s, map)?;
    let mtu = match &s.mtu {
        Some(m) if !(68..=65535).contains(m.get_ref()) => {
            return Err(map.err(Some(m.span()), "subnet.mtu: must be between 68 and 65535"));
        }
        Some(m) => Some(*m.get_ref() as u16),
        None => None,
    };
    let domain_search = s
        .domain_search
        .iter()
        .map(|d| validate::dns_name(d, "subnet.domain_search", map))
        .collect::<Result<Vec<_>, _>>()?;
    let routes = s
        .routes
        .iter()
        .map(|r| {
            let net = validate::network_v4(&r.network, "subnet.route.network", map)?;
            Ok((net, ipv4(&r.gateway, "subnet.route.gateway", map)?))
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let options = validate_options(&s.options, "subnet.option", map)?;
    let mut reservations: Vec<Reservation> = Vec::new();
    for r in &s.reservations {
        let ip = in_subnet(&r.ip, "subnet.reservation.ip")?;
        let res = validate_reservation(r, ip, map)?;
        check_reservation_unique(&reservations, &res, r, map)?;
        reservations.push(res);
    }
    let dur = |v: &Option<S<String>>, d: u64, k: &str| validate::opt_duration(v, Duration::from_secs(d), k, map);
    Ok(Subnet {
        name: s.name.get_ref().clone(),
        cidr,
        pools,
        router,
        dns,
        domain,
        lease_time,
        t1,
        t2,
        ntp: ipv4_list(&s.ntp, "subnet.ntp", map)?,
        mtu,
        domain_search,
        routes,
        options,
        reservations,
        decline_quarantine: dur(&s.decline_quarantine, 86_400, "subnet.decline_quarantine")?,
        offer_hold: dur(&s.offer_hold, 30, "subnet.offer_hold")?,
    })
}

fn validate_times(s: &SubnetWire, map: &SourceMap<'_>) -> Result<(Duration, Duration, Duration), ConfigError> {
    let lease = validate::opt_duration(&s.lease_time, Duration::from_secs(12 * 3600), "subnet.lease_time", map)?;
    if lease < Duration::from_secs(60) || lease.as_secs() > u64::from(u32::MAX - 1) {
        let span = s.lease_time.as_ref().map(|v| v.span());
        return Err(map.err(span, "subnet.lease_time: must be between 60s and about 136 years"));
    }
    let t1 = validate::opt_duration(&s.t1, lease / 2, "subnet.t1", map)?;
    let t2 = validate::opt_duration(&s.t2, lease * 7 / 8, "subnet.t2", map)?;
    if !(t1 < t2 && t2 < lease) {
        let span = s.t2.as_ref().or(s.t1.as_ref()).map(|v| v.span());
        return Err(map.err(span, "subnet.t2: need t1 < t2 < lease_time"));
    }
    Ok((lease, t1, t2))
}

fn validate_pools(pools: &[S<String>], cidr: Ipv4Net, map: &SourceMap<'_>) -> Result<Vec<PoolRange>, ConfigError> {
    let mut out: Vec<PoolRange> = Vec::new();
    for p in pools {
        let range = pool_range(p, cidr, map)?;
        if !(cidr.contains(&range.start) && cidr.contains(&range.end)) {
            return Err(
                map.err(Some(p.span()), format!("subnet.pools: '{}' is outside the subnet {cidr}", p.get_ref()))
            );
        }
        if cidr.prefix_len() < 31 && (range.contains(cidr.network()) || range.contains(cidr.broadcast())) {
            return Err(map.err(
                Some(p.span()),
                format!("subnet.pools: '{}' includes the network or broadcast address", p.get_ref()),
            ));
        }
        if let Some(o) = out.iter().find(|o| o.start <= range.end && range.start <= o.end) {
            return Err(map.err(
                Some(p.span()),
                format!("subnet.pools: '{}' overlaps the pool {}-{}", p.get_ref(), o.start, o.end),
            ));
        }
        out.push(range);
    }
    Ok(out)
}

/// `a-b`, or a CIDR (whose network and broadcast addresses are left out when it is the whole subnet).
fn pool_range(p: &S<String>, cidr: Ipv4Net, map: &SourceMap<'_>) -> Result<PoolRange, ConfigError> {
    let text = p.get_ref().trim();
    let bad = |why: &str| map.err(Some(p.span()), format!("subnet.pools: '{text}' {why}"));
    if let Some((a, b)) = text.split_once('-') {
        let start: Ipv4Addr = a.trim().parse().map_err(|_| bad("is not a range (expected a.b.c.d-e.f.g.h)"))?;
        let end: Ipv4Addr = b.trim().parse().map_err(|_| bad("is not a range (expected a.b.c.d-e.f.g.h)"))?;
        if start > end {
            return Err(bad("ends before it starts"));
        }
        return Ok(PoolRange { start, end });
    }
    let net = validate::network_v4(p, "subnet.pools", map)?;
    let (mut start, mut end) = (u32::from(net.network()), u32::from(net.broadcast()));
    if net.prefix_len() < 31 && (net == cidr || net.prefix_len() <= cidr.prefix_len()) {
        start += 1;
        end -= 1;
    }
    Ok(PoolRange { start: start.into(), end: end.into() })
}

fn validate_reservation(r: &ReservationWire, ip: Ipv4Addr, map: &SourceMap<'_>) -> Result<Reservation, ConfigError> {
    let mac = r.mac.as_ref().map(|m| mac_bytes(m, map)).transpose()?;
    let client_id = r.client_id.as_ref().map(|c| hex_bytes(c, "subnet.reservation.client_id", map)).transpose()?;
    if mac.is_none() && client_id.is_none() {
        return Err(map.err(Some(r.ip.span()), "subnet.reservation: needs `mac` or `client_id`"));
    }
    if client_id.as_ref().is_some_and(|c| c.is_empty()) {
        let span = r.client_id.as_ref().map(|c| c.span());
        return Err(map.err(span, "subnet.reservation.client_id: must not be empty"));
    }
    let hostname = r
        .hostname
        .as_ref()
        .map(|h| {
            let name = validate::dns_name(h, "subnet.reservation.hostname", map)?;
            if name.contains('.') || name.contains('*') {
                return Err(map.err(Some(h.span()), "subnet.reservation.hostname: must be a single label"));
            }
            Ok(name)
        })
        .transpose()?;
    let options = validate_options(&r.options, "subnet.reservation.option", map)?;
    Ok(Reservation { mac, client_id, ip, hostname, options })
}

fn check_reservation_unique(
    done: &[Reservation],
    res: &Reservation,
    r: &ReservationWire,
    map: &SourceMap<'_>,
) -> Result<(), ConfigError> {
    if done.iter().any(|o| o.ip == res.ip) {
        return Err(map.err(Some(r.ip.span()), format!("subnet.reservation.ip: {} is reserved twice", res.ip)));
    }
    if let (Some(m), Some(span)) = (res.mac, r.mac.as_ref())
        && done.iter().any(|o| o.mac == Some(m))
    {
        return Err(map.err(Some(span.span()), "subnet.reservation.mac: this MAC has two reservations"));
    }
    if let (Some(c), Some(span)) = (&res.client_id, r.client_id.as_ref())
        && done.iter().any(|o| o.client_id.as_ref() == Some(c))
    {
        return Err(map.err(Some(span.span()), "subnet.reservation.client_id: this client-id has two reservations"));
    }
    Ok(())
}

fn validate_options(opts: &[OptionWire], key: &str, map: &SourceMap<'_>) -> Result<Vec<RawOption>, ConfigError> {
    let mut out: Vec<RawOption> = Vec::new();
    for o in opts {
        let code = *o.code.get_ref();
        let at = Some(o.code.span());
        if !(1..=254).contains(&code) || MANAGED_CODES.contains(&(code as u8)) {
            return Err(map.err(at, format!("{key}.code: {code} is not a code a raw option may set")));
        }
        if out.iter().any(|x| i64::from(x.code) == code) {
            return Err(map.err(at, format!("{key}.code: option {code} is set twice")));
        }
        let data = match (&o.hex, &o.text, &o.ip) {
            (Some(h), None, None) => hex_bytes(h, &format!("{key}.hex"), map)?,
            (None, Some(t), None) => t.get_ref().as_bytes().to_vec(),
            (None, None, Some(ip)) => ip_list_bytes(ip, &format!("{key}.ip"), map)?,
            _ => return Err(map.err(at, format!("{key}: needs exactly one of `hex`, `text` or `ip`"))),
        };
        out.push(RawOption { code: code as u8, data });
    }
    Ok(out)
}

fn ip_list_bytes(v: &S<IpList>, key: &str, map: &SourceMap<'_>) -> Result<Vec<u8>, ConfigError> {
    let list: Vec<&String> = match v.get_ref() {
        IpList::One(s) => vec![s],
        IpList::Many(l) => l.iter().collect(),
    };
    let mut out = Vec::new();
    for s in list {
        let ip: Ipv4Addr =
            s.trim().parse().map_err(|_| map.err(Some(v.span()), format!("{key}: '{s}' is not an IPv4 address")))?;
        out.extend_from_slice(&ip.octets());
    }
    Ok(out)
}

fn ipv4(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<Ipv4Addr, ConfigError> {
    v.get_ref()
        .trim()
        .parse()
        .map_err(|_| map.err(Some(v.span()), format!("{key}: '{}' is not an IPv4 address", v.get_ref())))
}

fn ipv4_list(v: &[S<String>], key: &str, map: &SourceMap<'_>) -> Result<Vec<Ipv4Addr>, ConfigError> {
    v.iter().map(|x| ipv4(x, key, map)).collect()
}

/// Hex bytes, optionally separated by `:`, `-` or spaces ([`crate::text::unhex`]).
fn hex_bytes(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<Vec<u8>, ConfigError> {
    crate::text::unhex(v.get_ref()).ok_or_else(|| {
        map.err(Some(v.span()), format!("{key}: '{}' is not hex bytes (expected e.g. 01:ab:cd)", v.get_ref()))
    })
}

/// A reservation's MAC: six hex bytes, with or without separators.
fn mac_bytes(v: &S<String>, map: &SourceMap<'_>) -> Result<[u8; 6], ConfigError> {
    let bytes = hex_bytes(v, "subnet.reservation.mac", map)?;
    bytes.try_into().map_err(|_| {
        map.err(Some(v.span()), format!("subnet.reservation.mac: '{}' is not a MAC (6 bytes)", v.get_ref()))
    })
}

#[cfg(test)]
#[path = "subnet_tests.rs"]
mod tests;
