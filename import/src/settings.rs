//! Pi-hole's settings: `pihole.toml` (v6, FTL's config reference in src/config/config.c),
//! or `setupVars.conf` + `pihole-FTL.conf` (v5, keys as FTL's setupVars.c migrates them), and
//! the dnsmasq-format files (`custom.list`, `/etc/hosts`, `dnsmasq.d/*`). Each value keeps
//! its source (file and key or line) for the report.

use toml::{Table, Value};

use crate::ImportError;
use crate::source::Source;

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced {
    pub source: String,
    pub value: String,
}

fn sourced(source: impl Into<String>, value: impl Into<String>) -> Sourced {
    Sourced { source: source.into(), value: value.into() }
}

/// The DHCP server settings.
#[derive(Debug, Clone, Default)]
pub struct Dhcp {
    pub source: String,
    pub active: bool,
    pub start: String,
    pub end: String,
    pub router: String,
    /// Empty = not set (v5 never sets it).
    pub netmask: String,
    /// As Pi-hole writes it: `24h`, `45m`, `2d`, `1w`, seconds, or `infinite`.
    pub lease_time: String,
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub upstreams: Vec<Sourced>,
    pub domain: Option<Sourced>,
    pub blocking_mode: Option<Sourced>,
    pub blocking_active: Option<Sourced>,
    /// `dns.reply.blocking.IPv4` (v6), the answer in IP blocking mode when forced.
    pub blocking_ip4: Option<String>,
    /// `<enabled>,<cidr>,<server>[,<domain>]`.
    pub rev_servers: Vec<Sourced>,
    pub dhcp: Option<Dhcp>,
    /// `IP NAME [NAME...]` lines: custom.list, dns.hosts, /etc/hosts.
    pub hosts: Vec<Sourced>,
    /// `<cname>[,<cname>...],<target>[,<ttl>]`.
    pub cnames: Vec<Sourced>,
    /// dnsmasq `dhcp-host` specs.
    pub dhcp_hosts: Vec<Sourced>,
    /// dnsmasq options found in user files that an import does not carry.
    pub other: Vec<Sourced>,
}

/// dnsmasq.d files Pi-hole generates from its own settings (read from those instead).
const GENERATED: [&str; 4] = ["01-pihole.conf", "02-pihole-dhcp.conf", "06-rfc6761.conf", "pihole.conf"];

pub fn read(src: &Source) -> Result<Settings, ImportError> {
    let mut s = Settings::default();
    if let Some(text) = src.text("pihole.toml") {
        from_toml(&text, &mut s)?;
    } else {
        from_setup_vars(&src.text("setupVars.conf").unwrap_or_default(), &mut s);
        for (n, line) in src.text("pihole-FTL.conf").unwrap_or_default().lines().enumerate() {
            if let Some(v) = line.trim().strip_prefix("BLOCKINGMODE=") {
                s.blocking_mode = Some(sourced(format!("pihole-FTL.conf:{}", n + 1), v.trim()));
            }
        }
    }
    hosts_lines(src, "custom.list", &mut s.hosts);
    hosts_lines(src, "hosts", &mut s.hosts);
    for (name, bytes) in src.files.range("dnsmasq.d/".to_string()..) {
        let Some(file) = name.strip_prefix("dnsmasq.d/") else { break };
        if GENERATED.contains(&file) {
            continue;
        }
        for (n, line) in String::from_utf8_lossy(bytes).lines().enumerate() {
            let line = line.trim();
            let at = format!("{name}:{}", n + 1);
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(v) = line.strip_prefix("dhcp-host=") {
                s.dhcp_hosts.push(sourced(at, v));
            } else if let Some(v) = line.strip_prefix("cname=") {
                s.cnames.push(sourced(at, v));
            } else {
                s.other.push(sourced(at, line));
            }
        }
    }
    Ok(s)
}

fn hosts_lines(src: &Source, file: &str, out: &mut Vec<Sourced>) {
    for (n, line) in src.text(file).unwrap_or_default().lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if !line.is_empty() {
            out.push(sourced(format!("{file}:{}", n + 1), line));
        }
    }
}

/// `KEY=value` lines; FTL's reader cuts the value at the first blank.
fn from_setup_vars(text: &str, s: &mut Settings) {
    let mut dhcp = Dhcp { source: "setupVars.conf".into(), ..Dhcp::default() };
    let mut rev = [None, None, None, None];
    let mut upstreams = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some((key, value)) = line.split_once('=') else { continue };
        if line.starts_with('#') {
            continue;
        }
        let value = value.split(' ').next().unwrap_or_default().trim_matches('"').to_string();
        let at = format!("setupVars.conf:{}", n + 1);
        match key {
            k if k.starts_with("PIHOLE_DNS_") => {
                let i: u32 = k["PIHOLE_DNS_".len()..].parse().unwrap_or(u32::MAX);
                upstreams.push((i, sourced(at, value)));
            }
            "PIHOLE_DOMAIN" => s.domain = Some(sourced(at, value)),
            "BLOCKING_ENABLED" => s.blocking_active = Some(sourced(at, value)),
            "DHCP_ACTIVE" => dhcp.active = value == "true",
            "DHCP_START" => dhcp.start = value,
            "DHCP_END" => dhcp.end = value,
            "DHCP_ROUTER" => dhcp.router = value,
            // Hours when it has no unit (FTL's migration does the same).
            "DHCP_LEASETIME" if value.chars().all(|c| c.is_ascii_digit()) && !value.is_empty() => {
                dhcp.lease_time = if value == "0" { "infinite".into() } else { format!("{value}h") }
            }
            "DHCP_LEASETIME" => dhcp.lease_time = value,
            "REV_SERVER" => rev[0] = Some(value),
            "REV_SERVER_CIDR" => rev[1] = Some(value),
            "REV_SERVER_TARGET" => rev[2] = Some(value),
            "REV_SERVER_DOMAIN" => rev[3] = Some(value),
            _ => {}
        }
    }
    upstreams.sort_by_key(|(i, _)| *i);
    s.upstreams = upstreams.into_iter().map(|(_, u)| u).filter(|u| !u.value.is_empty()).collect();
    if let [Some(on), Some(cidr), Some(target), domain] = &rev {
        let value = format!("{on},{cidr},{target},{}", domain.as_deref().unwrap_or(""));
        s.rev_servers.push(sourced("setupVars.conf:REV_SERVER", value.trim_end_matches(',')));
    }
    if dhcp.active || !dhcp.start.is_empty() {
        s.dhcp = Some(dhcp);
    }
}

fn from_toml(text: &str, s: &mut Settings) -> Result<(), ImportError> {
    let t: Table =
        toml::from_str(text).map_err(|e| ImportError::Toml { file: "pihole.toml".into(), why: e.to_string() })?;
    let get = |path: &str| -> Option<&Value> {
        let mut cur = t.get(path.split('.').next()?)?;
        for part in path.split('.').skip(1) {
            cur = cur.as_table()?.get(part)?;
        }
        Some(cur)
    };
    let string = |path: &str| get(path).and_then(Value::as_str).map(str::to_string);
    let at = |path: &str| format!("pihole.toml:{path}");
    let strings = |path: &str| -> Result<Vec<Sourced>, ImportError> {
        let Some(v) = get(path) else { return Ok(Vec::new()) };
        let arr = v
            .as_array()
            .ok_or_else(|| ImportError::Toml { file: "pihole.toml".into(), why: format!("{path} is not an array") })?;
        arr.iter()
            .enumerate()
            .map(|(i, x)| {
                let v = x.as_str().ok_or_else(|| ImportError::Toml {
                    file: "pihole.toml".into(),
                    why: format!("{path}[{i}] is not a string"),
                })?;
                Ok(sourced(format!("pihole.toml:{path}[{i}]"), v))
            })
            .collect()
    };
    s.upstreams = strings("dns.upstreams")?;
    s.hosts = strings("dns.hosts")?;
    s.cnames = strings("dns.cnameRecords")?;
    s.rev_servers = strings("dns.revServers")?;
    s.dhcp_hosts = strings("dhcp.hosts")?;
    // dns.domain is a string in early v6 and a table with `name` later.
    s.domain = string("dns.domain").or_else(|| string("dns.domain.name")).map(|d| sourced(at("dns.domain"), d));
    s.blocking_mode = string("dns.blocking.mode").map(|m| sourced(at("dns.blocking.mode"), m));
    s.blocking_active =
        get("dns.blocking.active").and_then(Value::as_bool).map(|b| sourced(at("dns.blocking.active"), b.to_string()));
    if get("dns.reply.blocking.force4").and_then(Value::as_bool) == Some(true) {
        s.blocking_ip4 = string("dns.reply.blocking.IPv4").filter(|ip| !ip.is_empty());
    }
    if get("dhcp").is_some() {
        s.dhcp = Some(Dhcp {
            source: "pihole.toml:dhcp".into(),
            active: get("dhcp.active").and_then(Value::as_bool).unwrap_or(false),
            start: string("dhcp.start").unwrap_or_default(),
            end: string("dhcp.end").unwrap_or_default(),
            router: string("dhcp.router").unwrap_or_default(),
            netmask: string("dhcp.netmask").unwrap_or_default(),
            lease_time: string("dhcp.leaseTime").unwrap_or_default(),
        });
    }
    Ok(())
}
