//! DNS settings (upstreams, local domain, blocking mode) and local records (A/AAAA from
//! custom.list, `dns.hosts` and /etc/hosts; CNAMEs from `cname=` lines and
//! `dns.cnameRecords`). Other dnsmasq options are reported as not imported; conditional
//! forwarding is `forward.rs`.

use std::net::IpAddr;

use ravens_config::Upstream;
use ravens_config::site::{self, canon};
use toml::{Table, Value};

use super::Out;
use crate::settings::{Settings, Sourced};

pub fn map(s: &Settings, out: &mut Out<'_>) {
    dns(s, out);
    for h in &s.hosts {
        host_line(h, out);
    }
    for c in &s.cnames {
        cname(c, out);
    }
    for o in &s.other {
        out.report.skip("dnsmasq", &o.source, &o.value, "dnsmasq option not imported");
    }
}

/// Adds `key` to the `[dns]` table unless it is set already.
fn field(dns: &mut Table, key: &str, value: Value, out: &mut Out<'_>) -> bool {
    match dns.get(key) {
        Some(cur) => {
            if *cur != value {
                out.report.note(format!("dns.{key} is already set to {cur}; Pi-hole's {value} was not imported"));
            }
            out.report.unchanged("dns");
            false
        }
        None => {
            dns.insert(key.into(), value);
            out.report.added("dns");
            true
        }
    }
}

fn dns(s: &Settings, out: &mut Out<'_>) {
    let mut dns = out.current.get("dns").and_then(|v| site::decode("dns", v).ok()).unwrap_or_default();
    let mut changed = false;
    let mut ups = Vec::new();
    for u in &s.upstreams {
        match upstream(&u.value) {
            Ok(url) => ups.push(Value::String(url)),
            Err(why) => out.report.skip("dns", &u.source, &u.value, why),
        }
    }
    if !ups.is_empty() {
        changed |= field(&mut dns, "upstreams", Value::Array(ups), out);
    }
    if let Some(d) = &s.domain {
        let name = d.value.trim().trim_end_matches('.').to_ascii_lowercase();
        if valid_name(&name) {
            changed |= field(&mut dns, "local_domain", Value::String(name), out);
        } else {
            out.report.skip("dns", &d.source, &d.value, "not a domain name");
        }
    }
    if let Some(m) = &s.blocking_mode {
        let resp = match m.value.to_ascii_uppercase().as_str() {
            "NULL" => Ok("null".to_string()),
            "NXDOMAIN" => Ok("nxdomain".to_string()),
            "IP" | "IP-NODATA-AAAA" => s.blocking_ip4.clone().ok_or(
                "IP mode answers with the Pi-hole's own address; set dns.block_response to the node's address by hand",
            ),
            "NODATA" => Err("ravens has no NODATA block response (null, nxdomain, refused or an IP)"),
            _ => Err("unknown blocking mode"),
        };
        match resp {
            Ok(r) => changed |= field(&mut dns, "block_response", Value::String(r), out),
            Err(why) => out.report.skip("dns", &m.source, &m.value, why),
        }
    }
    if let Some(a) = s.blocking_active.as_ref().filter(|a| a.value == "false") {
        out.report.skip(
            "dns",
            &a.source,
            "blocking disabled",
            "blocking was switched off on the Pi-hole; ravens blocks with the imported lists",
        );
    }
    if changed {
        out.records.insert("dns".into(), canon(&dns));
    }
}

/// `IP`, `IP#PORT`, `[v6]`, `v6#PORT` → `udp://IP[:PORT]`.
pub(super) fn upstream(raw: &str) -> Result<String, String> {
    let (host, port) = match raw.trim().rsplit_once('#') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("bad port '{p}'"))?),
        None => (raw.trim(), 53),
    };
    let ip: IpAddr = host
        .trim_matches(['[', ']'])
        .parse()
        .map_err(|_| "a host-name upstream (ravens needs an address)".to_string())?;
    if ip.is_loopback() {
        return Err(
            "a resolver on the Pi-hole host itself (e.g. unbound); run it on the ravens node and add it by hand".into(),
        );
    }
    let url = match ip {
        IpAddr::V4(v4) if port == 53 => format!("udp://{v4}"),
        IpAddr::V4(v4) => format!("udp://{v4}:{port}"),
        IpAddr::V6(v6) => format!("udp://[{v6}]:{port}"),
    };
    Upstream::parse(&url).map(|_| url).map_err(|e| format!("not an upstream ravens accepts: {e}"))
}

/// Labels of letters, digits, `-` and `_`, at most 63 bytes each, 253 in all.
pub fn valid_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 253
        && n.split('.').all(|l| {
            !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn record(out: &mut Out<'_>, src: &Sourced, name: &str, rtype: &str, value: String, ttl: Option<u32>) {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if !valid_name(&name) {
        out.report.skip("record", &src.source, &src.value, format!("'{name}' is not a DNS name"));
        return;
    }
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name));
    t.insert("type".into(), Value::String(rtype.into()));
    t.insert("value".into(), Value::String(value));
    if let Some(ttl) = ttl {
        t.insert("ttl".into(), Value::String(format!("{ttl}s")));
    }
    match site::record(&t) {
        Ok((k, v)) => {
            out.put("record", k, v);
        }
        Err(e) => out.report.skip("record", &src.source, &src.value, e.to_string()),
    }
}

/// `IP NAME [NAME...]`.
fn host_line(h: &Sourced, out: &mut Out<'_>) {
    let mut tokens = h.value.split_whitespace();
    let ip: Option<IpAddr> = tokens.next().and_then(|t| t.parse().ok());
    let Some(ip) = ip else {
        out.report.skip("record", &h.source, &h.value, "not an 'IP NAME' line");
        return;
    };
    let special = match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    if special {
        out.report.skip(
            "record",
            &h.source,
            &h.value,
            "a loopback, link-local or multicast entry of the Pi-hole host itself",
        );
        return;
    }
    let rtype = if ip.is_ipv4() { "A" } else { "AAAA" };
    let names: Vec<&str> = tokens.collect();
    if names.is_empty() {
        out.report.skip("record", &h.source, &h.value, "no name");
    }
    for n in names {
        record(out, h, n, rtype, ip.to_string(), None);
    }
}

/// `<cname>[,<cname>...],<target>[,<ttl>]`.
fn cname(c: &Sourced, out: &mut Out<'_>) {
    let mut parts: Vec<&str> = c.value.split(',').map(str::trim).collect();
    let ttl = match parts.last().map(|p| p.parse::<u32>()) {
        Some(Ok(ttl)) if parts.len() > 2 => {
            parts.pop();
            Some(ttl)
        }
        _ => None,
    };
    let Some((target, aliases)) = parts.split_last().filter(|(_, a)| !a.is_empty()) else {
        out.report.skip("record", &c.source, &c.value, "not '<cname>,<target>[,<ttl>]'");
        return;
    };
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    if !valid_name(&target) {
        out.report.skip("record", &c.source, &c.value, format!("target '{target}' is not a DNS name"));
        return;
    }
    for a in aliases {
        record(out, c, a, "CNAME", target.clone(), ttl);
    }
}
