//! DHCP subnets (`[[subnet]]`, `[[subnet.reservation]]`, `[[subnet.option]]`, `[[subnet.route]]`):
//! the serde wire schema and its validation into [`Subnet`]. Every error names the key and points
//! at the offending value's line and column.

use std::net::Ipv4Addr;
use std::time::Duration;

use ipnet::Ipv4Net;
use serde::Deserialize;

use crate::error::{ConfigError, SourceMap};
use crate::validate;
use crate::wire::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubnetWire {
    /// Subnet name, unique. Required.
    pub name: S<String>,
    /// The network, e.g. `10.0.20.0/24`. Required.
    pub cidr: S<String>,
    /// Dynamic pools: ranges `"10.0.20.100-10.0.20.199"` or CIDRs. Default: `[]` (reservations only).
    #[serde(default)]
    pub pools: Vec<S<String>>,
    /// Default gateway (option 3). Default: none.
    pub router: Option<S<String>>,
    /// DNS servers (option 6). Default: the answering node's own address.
    pub dns: Option<Vec<S<String>>>,
    /// Domain name (option 15). Default: `[dns].local_domain`.
    pub domain: Option<S<String>>,
    /// Lease time (option 51). Default: `12h`.
    pub lease_time: Option<S<String>>,
    /// Renewal time T1 (option 58). Default: 50% of `lease_time`.
    pub t1: Option<S<String>>,
    /// Rebinding time T2 (option 59). Default: 87.5% of `lease_time`.
    pub t2: Option<S<String>>,
    /// NTP servers (option 42). Default: none.
    #[serde(default)]
    pub ntp: Vec<S<String>>,
    /// Interface MTU (option 26), 68..=65535. Default: none.
    pub mtu: Option<S<i64>>,
    /// Domain search list (option 119). Default: none.
    #[serde(default)]
    pub domain_search: Vec<S<String>>,
    /// How long a DECLINEd address is kept out of the pool. Default: `24h`.
    pub decline_quarantine: Option<S<String>>,
    /// How long an OFFERed address is held for the client's REQUEST. Default: `30s`.
    pub offer_hold: Option<S<String>>,
    /// Classless static routes (option 121). Default: none.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteWire>,
    /// Raw custom options. Default: none.
    #[serde(default, rename = "option")]
    pub options: Vec<OptionWire>,
    /// Fixed addresses by MAC or client-id. Default: none.
    #[serde(default, rename = "reservation")]
    pub reservations: Vec<ReservationWire>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteWire {
    /// Destination network, e.g. `10.9.0.0/16` (`0.0.0.0/0` for the default route). Required.
    pub network: S<String>,
    /// Next hop. Required.
    pub gateway: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionWire {
    /// Option code, 1..=254 except the ones the server manages itself. Required.
    pub code: S<i64>,
    /// Value as hex bytes (`"01ab"`, `"01:ab"`). Exactly one of hex/text/ip is required.
    pub hex: Option<S<String>>,
    /// Value as text (UTF-8 bytes, no terminating NUL).
    pub text: Option<S<String>>,
    /// Value as one or more IPv4 addresses.
    pub ip: Option<S<IpList>>,
}

/// One address or a list of them.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum IpList {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReservationWire {
    /// Client MAC, `aa:bb:cc:dd:ee:ff`. One of mac/client_id is required.
    pub mac: Option<S<String>>,
    /// Client identifier (option 61) as hex bytes, `01:aa:bb:cc:dd:ee:ff`.
    pub client_id: Option<S<String>>,
    /// The fixed address, inside the subnet. Required.
    pub ip: S<String>,
    /// Host name handed out (option 12) and published in DNS. Default: the client's own.
    pub hostname: Option<S<String>>,
    /// Per-host raw options, overriding the subnet's. Default: none.
    #[serde(default, rename = "option")]
    pub options: Vec<OptionWire>,
}

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
    let mac = r.mac.as_ref().map(|m| parse_mac(m, map)).transpose()?;
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

/// Hex bytes, optionally separated by `:`, `-` or spaces.
fn hex_bytes(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<Vec<u8>, ConfigError> {
    let digits: String = v.get_ref().chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
    let bad = || map.err(Some(v.span()), format!("{key}: '{}' is not hex bytes (expected e.g. 01:ab:cd)", v.get_ref()));
    if !digits.len().is_multiple_of(2) || !digits.is_ascii() {
        return Err(bad());
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad())).collect()
}

fn parse_mac(v: &S<String>, map: &SourceMap<'_>) -> Result<[u8; 6], ConfigError> {
    let bytes = hex_bytes(v, "subnet.reservation.mac", map)?;
    bytes.try_into().map_err(|_| {
        map.err(Some(v.span()), format!("subnet.reservation.mac: '{}' is not a MAC (6 bytes)", v.get_ref()))
    })
}

#[cfg(test)]
mod tests {
    use crate::tests::{err, parse_t};

    const BASE: &str = "[[subnet]]\nname = \"iot\"\ncidr = \"10.0.20.0/24\"\n";

    #[test]
    fn full_subnet_parses_with_defaults() {
        let text = format!(
            "{BASE}pools = [\"10.0.20.100-10.0.20.199\", \"10.0.20.224/28\"]\nrouter = \"10.0.20.1\"\n\
             dns = [\"10.0.1.2\", \"10.0.1.3\"]\nntp = [\"10.0.1.2\"]\nmtu = 1400\ndomain_search = [\"lan\"]\n\
             [[subnet.route]]\nnetwork = \"10.9.0.0/16\"\ngateway = \"10.0.20.1\"\n\
             [[subnet.option]]\ncode = 66\ntext = \"tftp.lan\"\n[[subnet.option]]\ncode = 150\nip = [\"10.0.1.9\"]\n\
             [[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:ff\"\nip = \"10.0.20.10\"\nhostname = \"thermostat\"\n\
             [[subnet.reservation.option]]\ncode = 252\nhex = \"00ff\"\n"
        );
        let c = parse_t(&text).unwrap();
        let s = &c.subnets[0];
        assert_eq!(s.pools.len(), 2);
        assert_eq!(s.pools[1].start, "10.0.20.224".parse::<std::net::Ipv4Addr>().unwrap());
        assert_eq!(s.lease_time.as_secs(), 43_200);
        assert_eq!(s.t1.as_secs(), 21_600);
        assert_eq!(s.t2.as_secs(), 37_800);
        assert_eq!(s.decline_quarantine.as_secs(), 86_400);
        assert_eq!(s.options[1].data, vec![10, 0, 1, 9]);
        assert_eq!(s.reservations[0].mac, Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
        assert_eq!(s.reservations[0].options[0].data, vec![0, 255]);
        assert_eq!(s.mtu, Some(1400));
    }

    #[test]
    fn whole_subnet_cidr_pool_skips_network_and_broadcast() {
        let c = parse_t(&format!("{BASE}pools = [\"10.0.20.0/24\"]\n")).unwrap();
        assert_eq!(c.subnets[0].pools[0].len(), 254);
    }

    #[test]
    fn pool_outside_subnet_is_rejected() {
        let e = err(&format!("{BASE}pools = [\"10.0.21.1-10.0.21.9\"]\n"));
        assert!(e.starts_with("t.toml:4:10: subnet.pools:") && e.contains("outside"), "{e}");
    }

    #[test]
    fn overlapping_pools_are_rejected() {
        let e = err(&format!("{BASE}pools = [\"10.0.20.10-10.0.20.20\", \"10.0.20.16/28\"]\n"));
        assert!(e.contains("subnet.pools:") && e.contains("overlaps"), "{e}");
    }

    #[test]
    fn reservation_checks() {
        let res = |extra: &str| format!("{BASE}[[subnet.reservation]]\n{extra}");
        assert!(err(&res("mac = \"aa:bb:cc:dd:ee:ff\"\nip = \"10.0.30.1\"\n")).contains("outside the subnet"));
        assert!(err(&res("ip = \"10.0.20.5\"\n")).contains("needs `mac` or `client_id`"));
        assert!(err(&res("mac = \"aa:bb\"\nip = \"10.0.20.5\"\n")).contains("not a MAC"));
        let twice = format!(
            "{}[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:00\"\nip = \"10.0.20.5\"\n",
            res("client_id = \"01:aa\"\nip = \"10.0.20.5\"\n")
        );
        let e = err(&twice);
        assert!(e.starts_with("t.toml:9:6: subnet.reservation.ip:") && e.contains("twice"), "{e}");
    }

    #[test]
    fn duplicate_subnet_name_and_bad_times() {
        let e = err(&format!("{BASE}[[subnet]]\nname = \"iot\"\ncidr = \"10.0.21.0/24\"\n"));
        assert!(e.contains("subnet.name: duplicate"), "{e}");
        assert!(err(&format!("{BASE}lease_time = \"1h\"\nt1 = \"50m\"\nt2 = \"40m\"\n")).contains("t1 < t2"));
    }

    #[test]
    fn raw_option_checks() {
        let e = err(&format!("{BASE}[[subnet.option]]\ncode = 54\nhex = \"00\"\n"));
        assert!(e.starts_with("t.toml:5:8: subnet.option.code:"), "{e}");
        assert!(err(&format!("{BASE}[[subnet.option]]\ncode = 66\n")).contains("exactly one"));
        assert!(err(&format!("{BASE}[[subnet.option]]\ncode = 66\nhex = \"0g\"\n")).contains("not hex"));
        let one_ip = parse_t(&format!("{BASE}[[subnet.option]]\ncode = 150\nip = \"10.0.1.9\"\n")).unwrap();
        assert_eq!(one_ip.subnets[0].options[0].data, vec![10, 0, 1, 9]);
    }
}
