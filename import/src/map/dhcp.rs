//! DHCP: the range → a `[[subnet]]` (unless an existing subnet holds it), static leases
//! (`dhcp-host` specs from 04-pihole-static-dhcp.conf or `dhcp.hosts`) → reservations in the
//! subnet holding each address, and the active leases of dnsmasq's lease file
//! (`<expiry> <MAC> <IP> <hostname|*> <client-id|*>`, then DHCPv6 lines after `duid`).

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use ravens_config::policy::parse_mac;
use ravens_config::site::{self, canon};
use serde::Serialize;
use toml::{Table, Value};

use super::Out;
use super::local::valid_name;
use crate::settings::{Dhcp, Settings};
use crate::source::Source;

/// An active lease of the Pi-hole's DHCP server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    pub ip: Ipv4Addr,
    /// Unix seconds; `None` = never expires.
    pub expires: Option<u64>,
    /// Option 61 as colon-separated hex.
    pub client_id: Option<String>,
    pub hostname: Option<String>,
    /// `dhcp.leases:LINE`.
    pub source: String,
}

pub fn map(s: &Settings, src: &Source, out: &mut Out<'_>, now: u64) -> Vec<Lease> {
    let mut subnets: Vec<(String, Ipv4Net)> = out
        .current
        .iter()
        .filter(|(k, _)| k.starts_with("subnet/"))
        .filter_map(|(k, v)| {
            let t = site::decode(k, v).ok()?;
            Some((t.get("name")?.as_str()?.to_string(), t.get("cidr")?.as_str()?.parse().ok()?))
        })
        .collect();
    if let Some(d) = &s.dhcp {
        subnet(d, &mut subnets, out);
    }
    for h in &s.dhcp_hosts {
        match reservation(&h.value, &subnets) {
            Ok(t) => match site::reservation(&t) {
                Ok((k, v)) => {
                    out.put("reservation", k, v);
                }
                Err(e) => out.report.skip("reservation", &h.source, &h.value, e.to_string()),
            },
            Err(why) => out.report.skip("reservation", &h.source, &h.value, why),
        }
    }
    leases(&src.text("dhcp.leases").unwrap_or_default(), out, now)
}

fn subnet(d: &Dhcp, subnets: &mut Vec<(String, Ipv4Net)>, out: &mut Out<'_>) {
    let item = format!("{}-{}", d.start, d.end);
    if !d.active {
        out.report.skip(
            "subnet",
            &d.source,
            &item,
            "the Pi-hole's DHCP server was off; ravens does not start serving DHCP by import",
        );
        return;
    }
    let (Ok(start), Ok(end)) = (d.start.parse::<Ipv4Addr>(), d.end.parse::<Ipv4Addr>()) else {
        out.report.skip("subnet", &d.source, &item, "the range is not two IPv4 addresses");
        return;
    };
    let router = d.router.parse::<Ipv4Addr>().ok().filter(|r| !r.is_unspecified());
    if let Some((name, _)) = subnets.iter().find(|(_, c)| c.contains(&start)) {
        out.report.unchanged("subnet");
        out.report.note(format!("the DHCP range {item} is inside the existing subnet '{name}', left as it is"));
        return;
    }
    let mask = d.netmask.parse::<Ipv4Addr>().ok().filter(|m| !m.is_unspecified());
    let prefix = match mask.and_then(|m| ipnet::ipv4_mask_to_prefix(m).ok()) {
        Some(p) => p,
        None => {
            // v5 has no netmask setting (dnsmasq takes the interface's); the smallest network
            // holding range and router, and no smaller than a /24, is the home-network guess.
            let mut p = 24u8;
            while p > 0
                && [end, router.unwrap_or(start)].iter().any(|a| !Ipv4Net::new(start, p).is_ok_and(|n| n.contains(a)))
            {
                p -= 1;
            }
            out.report.note(format!("no DHCP netmask in the Pi-hole settings: assumed /{p} for {item}"));
            p
        }
    };
    let Ok(cidr) = Ipv4Net::new(start, prefix).map(|n| n.trunc()) else { return };
    let name = ["lan", "pihole-lan", "pihole-dhcp"]
        .into_iter()
        .find(|n| !subnets.iter().any(|(x, _)| x == n))
        .unwrap_or("pihole-dhcp");
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.into()));
    t.insert("cidr".into(), Value::String(cidr.to_string()));
    t.insert("pools".into(), Value::Array(vec![Value::String(item.clone())]));
    if let Some(r) = router.filter(|r| cidr.contains(r)) {
        t.insert("router".into(), Value::String(r.to_string()));
    }
    match lease_secs(&d.lease_time) {
        Some(secs) => {
            t.insert("lease_time".into(), Value::String(format!("{secs}s")));
        }
        None => out.report.note(format!("lease time '{}' is infinite: ravens uses its default (12h)", d.lease_time)),
    }
    out.put("subnet", site::key("subnet", name), canon(&t));
    subnets.push((name.to_string(), cidr));
}

/// Host names given a fixed address by a static lease, so a Pi-hole client written as a host
/// name can be matched by that address.
pub fn reserved_names(s: &Settings) -> BTreeMap<String, Ipv4Addr> {
    let any = [(String::new(), Ipv4Net::default())];
    let mut out = BTreeMap::new();
    for h in &s.dhcp_hosts {
        let Ok(t) = reservation(&h.value, &any) else { continue };
        let ip = t.get("ip").and_then(Value::as_str).and_then(|i| i.parse().ok());
        if let (Some(name), Some(ip)) = (t.get("hostname").and_then(Value::as_str), ip) {
            out.insert(name.to_ascii_lowercase(), ip);
        }
    }
    out
}

/// dnsmasq lease time: seconds, or with `m`, `h`, `d`, `w`; empty = dnsmasq's 1h default;
/// `None` for infinite.
fn lease_secs(s: &str) -> Option<u64> {
    let s = s.trim();
    if s.is_empty() {
        return Some(3600);
    }
    let (num, mult) = match s.char_indices().last() {
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        Some((i, 'w')) => (&s[..i], 604_800),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mult).filter(|n| *n > 0)
}

/// A dnsmasq `dhcp-host` spec as a reservation table naming its subnet.
fn reservation(spec: &str, subnets: &[(String, Ipv4Net)]) -> Result<Table, String> {
    let (mut mac, mut id, mut ip, mut host) = (None, None, None, None);
    for tok in spec.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if let Some(m) = parse_mac(tok) {
            mac = Some(m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
        } else if let Some(cid) = tok.strip_prefix("id:") {
            if cid != "*" {
                id = Some(client_id(cid));
            }
        } else if tok.starts_with("set:") || tok.starts_with("tag:") {
            return Err("dnsmasq tags have no ravens equivalent".into());
        } else if tok == "ignore" {
            return Err("an 'ignore' host (no DHCP for it) has no ravens equivalent".into());
        } else if let Ok(a) = tok.parse::<Ipv4Addr>() {
            ip = Some(a);
        } else if tok.starts_with('[') {
            continue; // an IPv6 address: ravens serves DHCPv4 only
        } else if tok == "infinite" || lease_secs(tok).is_some() {
            continue; // a per-host lease time: ravens reservations use the subnet's
        } else if tok.contains([':', '*']) {
            return Err(format!(
                "'{tok}' is not a MAC address ravens can match (wildcards and other hardware types are not)"
            ));
        } else if valid_name(tok) {
            host = Some(tok.to_string());
        } else {
            return Err(format!("'{tok}' is not a MAC, client-id, address, lease time or host name"));
        }
    }
    let ip = ip.ok_or("no IPv4 address: nothing to reserve")?;
    if mac.is_none() && id.is_none() {
        return Err("neither a MAC address nor a client-id".into());
    }
    let (subnet, _) = subnets.iter().find(|(_, c)| c.contains(&ip)).ok_or(format!("no subnet holds {ip}"))?;
    let mut t = Table::new();
    t.insert("subnet".into(), Value::String(subnet.clone()));
    if let Some(m) = mac {
        t.insert("mac".into(), Value::String(m));
    }
    if let Some(c) = id {
        t.insert("client_id".into(), Value::String(c));
    }
    t.insert("ip".into(), Value::String(ip.to_string()));
    if let Some(h) = host {
        t.insert("hostname".into(), Value::String(h));
    }
    Ok(t)
}

/// dnsmasq takes `id:` as hex bytes when it is `xx:xx...`, else as the text's bytes.
fn client_id(s: &str) -> String {
    let hex = s.split(':').all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    if hex { s.to_ascii_lowercase() } else { s.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":") }
}

fn leases(text: &str, out: &mut Out<'_>, now: u64) -> Vec<Lease> {
    let mut leases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let source = format!("dhcp.leases:{}", n + 1);
        if line.is_empty() || line.starts_with("duid ") {
            continue;
        }
        match lease(line, now) {
            Ok(mut l) => {
                l.source = source;
                out.report.added("lease");
                leases.push(l);
            }
            Err(why) => out.report.skip("lease", source, line, why),
        }
    }
    leases
}

fn lease(line: &str, now: u64) -> Result<Lease, String> {
    let t: Vec<&str> = line.split_whitespace().collect();
    let [exp, mac, ip, host, cid] = t[..] else {
        return Err("not '<expiry> <MAC> <IP> <hostname> <client-id>'".into());
    };
    let exp: u64 = exp.parse().map_err(|_| format!("expiry '{exp}' is not a number"))?;
    if ip.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err("a DHCPv6 lease: ravens serves DHCPv4 only".into());
    }
    let ip: Ipv4Addr = ip.parse().map_err(|_| format!("'{ip}' is not an IPv4 address"))?;
    if exp != 0 && exp <= now {
        return Err("expired".into());
    }
    let mac = parse_mac(mac)
        .filter(|_| !mac.contains('-'))
        .ok_or_else(|| format!("'{mac}' is not an Ethernet MAC address"))?;
    let valid_hex = |s: &str| s.split(':').all(|b| b.len() == 2 && b.bytes().all(|c| c.is_ascii_hexdigit()));
    if cid != "*" && !valid_hex(cid) {
        return Err(format!("client-id '{cid}' is not hex bytes"));
    }
    Ok(Lease {
        mac: mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"),
        ip,
        expires: (exp != 0).then_some(exp),
        client_id: (cid != "*").then(|| cid.to_ascii_lowercase()),
        hostname: (host != "*").then(|| host.to_string()),
        source: String::new(),
    })
}
