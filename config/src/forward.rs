//! Forward zones (`[[forward]]`, conditional forwarding): the names of a zone are resolved by
//! its own upstreams instead of `dns.upstreams` (and of a group's `upstreams`).
//!
//! `domain` is a DNS name or a network in CIDR form. A network becomes the reverse zones
//! that cover it: `in-addr.arpa` zones are whole octets and `ip6.arpa` zones whole nibbles,
//! so a prefix between two boundaries is the set of zones one boundary further down
//! (`10.0.0.0/20` = the 16 zones `0.0.10.in-addr.arpa` .. `15.0.10.in-addr.arpa`).

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::error::{ConfigError, SourceMap};
use crate::policy::Policy;
use crate::upstream::Upstream;
use crate::validate;
use crate::wire::S;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardWire {
    /// The zone: a DNS name (`corp.example`), or a network (`192.168.0.0/16`,
    /// `fd00::/8`) whose reverse zones are meant. Required; unique.
    pub domain: S<String>,
    /// Upstreams of the zone, the same URL forms as `dns.upstreams`. Required, at least one.
    pub upstreams: Vec<S<String>>,
    /// Groups whose clients use this zone. Default: all groups.
    pub groups: Option<Vec<S<String>>>,
    /// Validate the zone's answers when `dns.dnssec = "validate"` (a public zone sent to
    /// other upstreams). Default: `false`: a forward zone is a negative trust anchor, as
    /// private zones are seldom signed under the public root.
    pub dnssec: Option<bool>,
}

/// A validated `[[forward]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Forward {
    /// As written, normalised: a lower-case name without the trailing dot, or the network.
    pub domain: String,
    /// The DNS zones forwarded (lower case, no trailing dot): the name itself, or the
    /// reverse zones of the network.
    pub zones: Vec<String>,
    pub upstreams: Vec<Upstream>,
    /// Indexes into [`Policy::groups`]; `None` = every group.
    pub groups: Option<Vec<usize>>,
    /// Validated like any other name (`dnssec = true`); else never validated.
    pub dnssec: bool,
}

/// The identity of a `[[forward]]` (its site-record key): the domain, normalised so that
/// `Corp.Example.` and `corp.example` are one zone.
pub fn domain_id(domain: &str) -> String {
    let d = domain.trim();
    d.strip_suffix('.').unwrap_or(d).to_ascii_lowercase()
}

/// Validates every `[[forward]]`: domains, upstreams, groups (by name in `policy`), and no
/// zone given twice.
pub fn validate(wires: &[ForwardWire], policy: &Policy, map: &SourceMap<'_>) -> Result<Vec<Forward>, ConfigError> {
    let mut out: Vec<Forward> = Vec::with_capacity(wires.len());
    for w in wires {
        let f = validate_one(w, policy, map)?;
        for z in &f.zones {
            if let Some(other) = out.iter().find(|o| o.zones.contains(z)) {
                return Err(map.err(
                    Some(w.domain.span()),
                    format!("forward.domain: zone {z} is already forwarded by the [[forward]] of '{}'", other.domain),
                ));
            }
        }
        out.push(f);
    }
    Ok(out)
}

fn validate_one(w: &ForwardWire, policy: &Policy, map: &SourceMap<'_>) -> Result<Forward, ConfigError> {
    let (domain, zones) = zones_of(w.domain.get_ref()).map_err(|e| map.err(Some(w.domain.span()), e))?;
    if w.upstreams.is_empty() {
        return Err(map.err(Some(w.domain.span()), "forward.upstreams: give at least one upstream"));
    }
    let upstreams = crate::dns::upstream_list(&w.upstreams, "forward.upstreams", map)?;
    let groups = match &w.groups {
        None => None,
        Some(names) => {
            let mut idx = Vec::with_capacity(names.len());
            for n in names {
                let Some(i) = policy.group_index(n.get_ref()) else {
                    return Err(map.err(Some(n.span()), format!("forward.groups: no group named '{}'", n.get_ref())));
                };
                if !idx.contains(&i) {
                    idx.push(i);
                }
            }
            Some(idx)
        }
    };
    Ok(Forward { domain, zones, upstreams, groups, dnssec: w.dnssec.unwrap_or(false) })
}

/// The normalised domain and its zones, or why `domain` is neither a name nor a network.
pub fn zones_of(domain: &str) -> Result<(String, Vec<String>), String> {
    let d = domain.trim();
    if d.contains('/') {
        let net: IpNet =
            d.parse().map_err(|_| format!("forward.domain: '{d}' is not a network (expected e.g. 192.168.0.0/16)"))?;
        if net.trunc() != net {
            return Err(format!("forward.domain: '{d}' has host bits set (did you mean {}?)", net.trunc()));
        }
        // At most 128 zones (an IPv4 /1 or /9), so no cap is needed.
        return Ok((net.to_string(), reverse_zones(net)));
    }
    if d.parse::<IpAddr>().is_ok() {
        return Err(format!("forward.domain: '{d}' is an address; give its network, e.g. {d}/24 or {d}/64"));
    }
    let name = validate::normalize_name(d).map_err(|e| format!("forward.domain: {e}"))?;
    if name.contains('*') {
        return Err(format!("forward.domain: '{d}' is a wildcard; a zone includes every name below it"));
    }
    Ok((name.clone(), vec![name]))
}

/// The `in-addr.arpa` / `ip6.arpa` zones covering `net`: its prefix rounded up to the next
/// octet (nibble) boundary, one zone per value of the bits in between.
pub fn reverse_zones(net: IpNet) -> Vec<String> {
    let (digits, bits_per, len, suffix): (Vec<u8>, u8, u8, &str) = match net {
        IpNet::V4(n) => (n.network().octets().to_vec(), 8, n.prefix_len(), "in-addr.arpa"),
        IpNet::V6(n) => {
            let nibbles = n.network().octets().iter().flat_map(|b| [b >> 4, b & 0xF]).collect();
            (nibbles, 4, n.prefix_len(), "ip6.arpa")
        }
    };
    let whole = usize::from(len.div_ceil(bits_per));
    let spare = u32::from(whole as u8 * bits_per - len);
    let mut zones = Vec::with_capacity(1 << spare);
    for v in 0..(1u32 << spare) {
        let mut labels: Vec<String> = Vec::with_capacity(whole + 1);
        for (i, &d) in digits[..whole].iter().enumerate() {
            // The free low bits of the last digit take every value.
            let d = if i + 1 == whole { u32::from(d) | v } else { u32::from(d) };
            labels.push(if bits_per == 8 { d.to_string() } else { format!("{d:x}") });
        }
        labels.reverse();
        labels.push(suffix.to_string());
        zones.push(labels.join("."));
    }
    zones
}

#[cfg(test)]
#[path = "forward_tests.rs"]
mod tests;
