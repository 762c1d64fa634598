//! Small validators shared by the sections: each turns a spanned string into a typed value
//! or an error naming the key, at the value's line and column.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::{IpNet, Ipv4Net};

use crate::error::{ConfigError, SourceMap};
use crate::units;
use crate::wire::S;

pub fn duration(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<Duration, ConfigError> {
    units::parse_duration(v.get_ref()).map_err(|e| map.err(Some(v.span()), format!("{key}: {e}")))
}

pub fn opt_duration(
    v: &Option<S<String>>,
    default: Duration,
    key: &str,
    map: &SourceMap<'_>,
) -> Result<Duration, ConfigError> {
    v.as_ref().map_or(Ok(default), |v| duration(v, key, map))
}

/// A duration in whole seconds, saturating at u32::MAX (DNS TTLs).
pub fn opt_ttl(v: &Option<S<String>>, default: u32, key: &str, map: &SourceMap<'_>) -> Result<u32, ConfigError> {
    let d = opt_duration(v, Duration::from_secs(default.into()), key, map)?;
    Ok(u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
}

pub fn socket_addr(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<SocketAddr, ConfigError> {
    v.get_ref().trim().parse().map_err(|_| {
        map.err(
            Some(v.span()),
            format!("{key}: '{}' is not an address with port (expected e.g. 127.0.0.1:53 or [::1]:53)", v.get_ref()),
        )
    })
}

/// A network in CIDR form; a bare IP is a /32 (/128). Host bits must be zero.
pub fn network(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<IpNet, ConfigError> {
    let s = v.get_ref().trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = s.parse().map_err(|_| {
        map.err(Some(v.span()), format!("{key}: '{s}' is not a network (expected CIDR such as 10.0.0.0/16)"))
    })?;
    if net.trunc() != net {
        return Err(map.err(
            Some(v.span()),
            format!("{key}: '{s}' is not a network: host bits are set (did you mean {}?)", net.trunc()),
        ));
    }
    Ok(net)
}

pub fn network_v4(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<Ipv4Net, ConfigError> {
    match network(v, key, map)? {
        IpNet::V4(n) => Ok(n),
        IpNet::V6(_) => Err(map.err(Some(v.span()), format!("{key}: '{}' is not an IPv4 network", v.get_ref()))),
    }
}

/// A DNS name: lower-cased, without the trailing dot, labels 1..=63 bytes, total ≤ 253.
pub fn dns_name(v: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<String, ConfigError> {
    normalize_name(v.get_ref()).map_err(|e| map.err(Some(v.span()), format!("{key}: {e}")))
}

pub fn normalize_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
    if name.is_empty() {
        return Err(format!("'{s}' is not a domain name"));
    }
    if name.len() > 253 {
        return Err(format!("'{s}' is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("'{s}' has an empty or over-long label"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'*') {
            return Err(format!(
                "'{s}' has a character that is not a letter, digit, '-' or '_' (write internationalised names in punycode)"
            ));
        }
    }
    Ok(name)
}
