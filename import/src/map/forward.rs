//! Conditional forwarding: Pi-hole's `dns.revServers` (pihole.toml) and `REV_SERVER*`
//! (setupVars.conf), both read as `enabled,CIDR,target[#port][,domain]`. As dnsmasq does for
//! Pi-hole (`rev-server=` plus `server=/domain/target`), the CIDR's reverse zones and the
//! domain are forwarded to the target: one `[[forward]]` each.

use ipnet::IpNet;
use ravens_config::site;
use toml::{Table, Value};

use super::Out;
use crate::settings::{Settings, Sourced};

pub fn map(s: &Settings, out: &mut Out<'_>) {
    for r in &s.rev_servers {
        let parts: Vec<&str> = r.value.split(',').map(str::trim).collect();
        match parts.as_slice() {
            ["true", cidr, target, rest @ ..] => {
                let url = match super::local::upstream(target) {
                    Ok(u) => u,
                    Err(why) => {
                        out.report.skip("forward", &r.source, &r.value, why);
                        continue;
                    }
                };
                let Ok(net) = cidr.parse::<IpNet>() else {
                    out.report.skip("forward", &r.source, &r.value, format!("'{cidr}' is not a network in CIDR form"));
                    continue;
                };
                // Pi-hole accepts a host address with its prefix (192.168.1.1/24); ravens wants
                // the network, which is what dnsmasq makes of it too.
                zone(out, r, &net.trunc().to_string(), &url);
                if let Some(domain) = rest.first().filter(|d| !d.is_empty()) {
                    zone(out, r, &domain.trim_end_matches('.').to_ascii_lowercase(), &url);
                }
            }
            ["false", ..] => out.report.skip("forward", &r.source, &r.value, "disabled in Pi-hole"),
            _ => out.report.skip("forward", &r.source, &r.value, "not 'enabled,CIDR,target[,domain]'"),
        }
    }
}

fn zone(out: &mut Out<'_>, r: &Sourced, domain: &str, url: &str) {
    let mut t = Table::new();
    t.insert("domain".into(), Value::String(domain.into()));
    t.insert("upstreams".into(), Value::Array(vec![Value::String(url.into())]));
    match site::forward(&t) {
        Ok((k, v)) => {
            out.put("forward", k, v);
        }
        Err(e) => out.report.skip("forward", &r.source, &r.value, e.to_string()),
    }
}
