//! Upstream resolver URLs: `udp://`, `tcp://`, `tls://` (DoT) and `https://` (DoH).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// Transport of an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Udp,
    Tcp,
    Tls,
    Https,
}

/// One validated upstream.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    /// As written in the file (shown in status and metrics).
    pub url: String,
    pub protocol: Protocol,
    /// Address connected to. For DoH with a host name and no `#IP`, port 0 until resolved.
    pub addr: SocketAddr,
    /// TLS server name (DoT: after `#`, else the IP; DoH: the URL's host).
    pub tls_name: Option<String>,
    /// DoH: the request URL without the `#IP` bootstrap part.
    pub https_url: Option<String>,
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

const EXPECTED: &str =
    "expected udp://IP[:PORT], tcp://IP[:PORT], tls://IP[:PORT]#NAME or https://HOST[:PORT]/PATH[#IP]";

impl Upstream {
    /// Parses an upstream URL. A bare IP (`192.0.2.1`) means `udp://192.0.2.1:53`.
    pub fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let (scheme, rest) = match url.split_once("://") {
            Some((s, r)) => (s.to_ascii_lowercase(), r),
            None => ("udp".to_string(), url),
        };
        let (protocol, default_port) = match scheme.as_str() {
            "udp" => (Protocol::Udp, 53),
            "tcp" => (Protocol::Tcp, 53),
            "tls" => (Protocol::Tls, 853),
            "https" => (Protocol::Https, 443),
            other => return Err(format!("'{url}': unknown scheme '{other}' ({EXPECTED})")),
        };
        let bad = |why: &str| format!("'{url}': {why} ({EXPECTED})");
        if protocol == Protocol::Https {
            let (main, bootstrap) = match rest.split_once('#') {
                Some((m, b)) => (m, Some(b)),
                None => (rest, None),
            };
            let (authority, path) = main.split_at(main.find('/').unwrap_or(main.len()));
            if authority.is_empty() {
                return Err(bad("no host"));
            }
            let path = if path.is_empty() { "/dns-query" } else { path };
            let (host, port) = split_host_port(authority, default_port).ok_or_else(|| bad("bad host or port"))?;
            let ip = match (host.parse::<IpAddr>(), bootstrap) {
                (Ok(ip), _) => Some(ip),
                (Err(_), Some(b)) => Some(b.parse::<IpAddr>().map_err(|_| bad("the part after '#' is not an IP"))?),
                (Err(_), None) => None,
            };
            let addr = SocketAddr::new(ip.unwrap_or(IpAddr::from([0, 0, 0, 0])), if ip.is_some() { port } else { 0 });
            return Ok(Upstream {
                url: url.to_string(),
                protocol,
                addr,
                tls_name: Some(host.to_string()),
                https_url: Some(format!("https://{authority}{path}")),
            });
        }
        let (main, name) = match rest.split_once('#') {
            Some((m, n)) if protocol == Protocol::Tls => (m, Some(n.to_string())),
            Some(_) => return Err(bad("'#NAME' is only for tls://")),
            None => (rest, None),
        };
        let main = main.trim_end_matches('/');
        let (host, port) = split_host_port(main, default_port).ok_or_else(|| bad("bad address or port"))?;
        let ip: IpAddr = host.parse().map_err(|_| bad("the host must be an IP address"))?;
        let tls_name = match protocol {
            Protocol::Tls => Some(name.unwrap_or_else(|| ip.to_string())),
            _ => None,
        };
        Ok(Upstream { url: url.to_string(), protocol, addr: SocketAddr::new(ip, port), tls_name, https_url: None })
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`, or a bare v6 address.
fn split_host_port(s: &str, default_port: u16) -> Option<(&str, u16)> {
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().ok()?,
            None if after.is_empty() => default_port,
            None => return None,
        };
        return Some((host, port));
    }
    if s.matches(':').count() > 1 {
        return Some((s, default_port)); // bare IPv6
    }
    match s.split_once(':') {
        Some((h, p)) => Some((h, p.parse().ok()?)),
        None => Some((s, default_port)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_scheme() {
        let u = Upstream::parse("udp://192.0.2.1").unwrap();
        assert_eq!((u.protocol, u.addr), (Protocol::Udp, "192.0.2.1:53".parse().unwrap()));
        let u = Upstream::parse("tcp://[2001:db8::1]:5353").unwrap();
        assert_eq!(u.addr, "[2001:db8::1]:5353".parse().unwrap());
        let u = Upstream::parse("tls://192.0.2.1#dns.example").unwrap();
        assert_eq!((u.addr.port(), u.tls_name.as_deref()), (853, Some("dns.example")));
        let u = Upstream::parse("https://dns.example/dns-query#192.0.2.9").unwrap();
        assert_eq!(u.addr, "192.0.2.9:443".parse().unwrap());
        assert_eq!(u.https_url.as_deref(), Some("https://dns.example/dns-query"));
        let u = Upstream::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(u.https_url.as_deref(), Some("https://127.0.0.1:8443/dns-query"));
        assert_eq!(Upstream::parse("9.9.9.9").unwrap().addr, "9.9.9.9:53".parse().unwrap());
    }

    #[test]
    fn rejects_nonsense() {
        assert!(Upstream::parse("ftp://1.2.3.4").is_err());
        assert!(Upstream::parse("udp://dns.example").is_err());
        assert!(Upstream::parse("udp://1.2.3.4:99999").is_err());
        assert!(Upstream::parse("udp://1.2.3.4#name").is_err());
        assert!(Upstream::parse("https://").is_err());
    }
}
