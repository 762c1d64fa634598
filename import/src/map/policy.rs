//! Groups, clients, adlists and domainlist entries.
//!
//! Pi-hole links clients, adlists and domains to any number of groups; a client gets the
//! union of its groups' lists. ravens puts a client in exactly one group and applies lists
//! to groups. So every distinct set of (enabled) Pi-hole groups its clients are in becomes one
//! ravens group (`kids`, `default+kids`); a host-name client with a static lease is matched
//! by the reserved address, and a list applies to every ravens group whose set
//! meets the list's groups. Clients only in Pi-hole's `Default` need no group: ravens's
//! `default` takes every client not in another group. Adlists become URL lists; domainlist
//! entries become inline lists per Pi-hole group and kind (`pihole-kids-deny`); an entry
//! disabled in Pi-hole is kept disabled in its list (`{ rule = "...", enabled = false }`), so
//! `dnsctl block enable` or the Domains page turns it on where it belongs.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use ipnet::IpNet;
use ravens_config::policy::{MAX_GROUPS, parse_mac};
use ravens_config::site::{self, canon};
use ravens_dns::blocklist::MAX_REGEXES;
use ravens_dns::blocklist::parse::{Item, LineParser, Outcome, Scope};
use toml::{Table, Value};

use super::Out;
use crate::ere;
use crate::gravity::{EXACT_ALLOW, EXACT_DENY, Gravity, REGEX_ALLOW};

/// Compiled size limit of one regex, as the blocklist engine sets it (build.rs).
const REGEX_SIZE_LIMIT: usize = 256 * 1024;

/// `names`: host names with a fixed address (static leases), for host-name clients.
pub fn map(g: &Gravity, names: &BTreeMap<String, Ipv4Addr>, out: &mut Out<'_>) {
    let enabled: BTreeMap<i64, &str> = g.groups.iter().filter(|x| x.enabled).map(|x| (x.id, x.name.as_str())).collect();
    for x in g.groups.iter().filter(|x| !x.enabled) {
        out.report.skip("group", format!("group id {}", x.id), &x.name, "disabled in Pi-hole: applies to no client");
    }
    let slugs = slugs(g);
    let member = |ids: Option<&Vec<i64>>| -> Vec<i64> {
        let s: BTreeSet<i64> = ids.into_iter().flatten().copied().filter(|i| enabled.contains_key(i)).collect();
        s.into_iter().collect()
    };
    // Clients by the set of groups they are in.
    let mut sets: BTreeMap<Vec<i64>, Vec<(u32, String)>> = BTreeMap::new();
    for c in &g.clients {
        match client(&c.ip, names) {
            Ok(m) => {
                let set = member(g.client_groups.get(&c.id));
                if set == [0] {
                    out.report.unchanged("client");
                } else {
                    sets.entry(set).or_default().push(m);
                }
            }
            Err(why) => out.report.skip("client", &c.source, &c.ip, why),
        }
    }
    let mut groups: Vec<(u32, String, Vec<i64>, Vec<String>)> = sets
        .into_iter()
        .map(|(set, clients)| {
            let name = if set.is_empty() {
                "pihole-no-group".to_string()
            } else {
                set.iter().map(|i| slugs[i].as_str()).collect::<Vec<_>>().join("+")
            };
            let rank = clients.iter().map(|c| c.0).min().unwrap_or(0);
            (rank, name, set, clients.into_iter().map(|c| c.1).collect())
        })
        .collect();
    // First match wins in ravens; Pi-hole prefers the most specific client entry.
    groups.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let existing = out.current.keys().filter(|k| k.starts_with("group/")).count();
    let mut order = existing;
    let mut ravens: Vec<(String, Vec<i64>)> = Vec::new();
    for (_, name, set, clients) in groups {
        let key = site::key("group", &name);
        if out.has(&key) {
            out.report.unchanged("group");
            for _ in &clients {
                out.report.unchanged("client");
            }
            ravens.push((name, set));
            continue;
        }
        if order + 1 >= MAX_GROUPS {
            let why = format!("ravens holds at most {MAX_GROUPS} groups");
            out.report.skip("group", "client_by_group", format!("{name} ({})", clients.join(", ")), why);
            continue;
        }
        let mut t = Table::new();
        t.insert("name".into(), Value::String(name.clone()));
        t.insert("clients".into(), Value::Array(clients.iter().map(|c| Value::String(c.clone())).collect()));
        t.insert("_order".into(), Value::Integer(order as i64));
        order += 1;
        for _ in &clients {
            out.report.added("client");
        }
        out.put("group", key, canon(&t));
        ravens.push((name, set));
    }
    // The ravens groups a list linked to `ids` applies to.
    let targets = |ids: &[i64]| -> Vec<String> {
        let mut t: Vec<String> = Vec::new();
        if ids.contains(&0) {
            t.push("default".into());
        }
        t.extend(ravens.iter().filter(|(_, set)| set.iter().any(|i| ids.contains(i))).map(|(n, _)| n.clone()));
        t
    };
    let urls = current_urls(out);
    for a in &g.adlists {
        let url = a.address.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            out.report.skip(
                "list",
                &a.source,
                url,
                "only http:// and https:// lists can be imported (a file:// list is local to the Pi-hole)",
            );
            continue;
        }
        if urls.contains(url) {
            out.report.unchanged("list");
            continue;
        }
        let name =
            if a.id >= 0 { format!("pihole-adlist-{}", a.id) } else { format!("pihole-adlist-legacy-{}", -a.id) };
        let mut t = Table::new();
        t.insert("name".into(), Value::String(name.clone()));
        t.insert("url".into(), Value::String(url.into()));
        if a.allow {
            t.insert("kind".into(), Value::String("allow".into()));
        }
        if !a.enabled {
            t.insert("enabled".into(), Value::Boolean(false));
        }
        t.insert("groups".into(), strings(targets(&member(g.adlist_groups.get(&a.id)))));
        out.put("list", site::key("list", &name), canon(&t));
    }
    let mut regexes = current_regexes(out);
    let mut parser = LineParser::default();
    let mut lists_seen = BTreeSet::new();
    let mut domains: Vec<_> = g.domains.iter().collect();
    domains.sort_by_key(|d| (!d.enabled, d.id));
    let mut disabled = 0;
    for d in domains {
        let ids = member(g.domain_groups.get(&d.id));
        if ids.is_empty() {
            out.report.skip("entry", &d.source, &d.domain, "in no enabled group: Pi-hole applies it to no client");
            continue;
        }
        let allow = d.kind == EXACT_ALLOW || d.kind == REGEX_ALLOW;
        let list_of = |id: i64| {
            let kind = if allow { "allow" } else { "deny" };
            format!("pihole-{}-{kind}", slugs[&id])
        };
        let rule = if d.kind == EXACT_ALLOW || d.kind == EXACT_DENY {
            exact(&mut parser, &d.domain)
        } else {
            regex(&mut parser, &d.domain)
        };
        let rule = match rule {
            Ok(r) => r,
            Err(why) => {
                out.report.skip("entry", &d.source, &d.domain, why);
                continue;
            }
        };
        if rule.starts_with('/') && d.enabled {
            // Only the entries not in the config yet count against the cap, so a regex an
            // earlier import brought is reported unchanged, not over the cap.
            let new = ids.iter().filter(|id| !out.has(&site::entry(&list_of(**id), &rule).0)).count();
            if regexes + new > MAX_REGEXES {
                let why = format!("ravens holds at most {MAX_REGEXES} regex rules; this one is over");
                out.report.skip("entry", &d.source, &d.domain, why);
                continue;
            }
            regexes += new;
        }
        for id in ids {
            let list = list_of(id);
            let key = site::key("list", &list);
            if lists_seen.insert(key.clone()) {
                let mut t = Table::new();
                t.insert("name".into(), Value::String(list.clone()));
                t.insert("entries".into(), Value::Array(Vec::new()));
                t.insert("kind".into(), Value::String(if allow { "allow" } else { "block" }.into()));
                t.insert("groups".into(), strings(targets(&[id])));
                out.put("list", key, canon(&t));
            }
            // Enabled rows come first, so a rule both enabled and disabled in Pi-hole (two
            // regexes that translate alike) stays enabled.
            let (k, v) = site::entry_state(&list, &rule, d.enabled);
            if out.put("entry", k, v) && !d.enabled {
                disabled += 1;
            }
        }
    }
    if disabled > 0 {
        out.report.note(format!(
            "entries disabled in Pi-hole, imported disabled in their lists: {disabled} (they neither block nor \
             allow until `dnsctl block enable NAME --list LIST`, `dnsctl allow enable ...` or the Domains page \
             turns one on)"
        ));
    }
}

fn strings(v: Vec<String>) -> Value {
    Value::Array(v.into_iter().map(Value::String).collect())
}

/// A name for each Pi-hole group usable in list and group names: `default` for group 0.
fn slugs(g: &Gravity) -> BTreeMap<i64, String> {
    let mut out: BTreeMap<i64, String> = BTreeMap::new();
    for x in &g.groups {
        let mut s = String::new();
        for c in x.name.to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c);
            } else if !s.ends_with('-') && !s.is_empty() {
                s.push('-');
            }
        }
        let s = s.trim_end_matches('-').to_string();
        let s = match (x.id, s.is_empty()) {
            (0, _) => "default".to_string(),
            (id, true) => format!("group{id}"),
            (id, false) if s == "default" || out.values().any(|v| *v == s) => format!("{s}-{id}"),
            (_, false) => s,
        };
        out.insert(x.id, s);
    }
    out
}

/// A client as ravens writes it, with its rank (lower = more specific, matched first).
fn client(raw: &str, names: &BTreeMap<String, Ipv4Addr>) -> Result<(u32, String), String> {
    let s = raw.trim();
    if let Some(mac) = parse_mac(s) {
        let m = mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
        return Ok((0, m));
    }
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok((0, ip.to_string()));
    }
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok((200 - u32::from(net.prefix_len()), net.trunc().to_string()));
    }
    if s.starts_with(':') {
        return Err("an interface client has no ravens equivalent (ravens matches clients by address or MAC)".into());
    }
    if let Some(ip) = names.get(&s.to_ascii_lowercase()) {
        return Ok((0, ip.to_string()));
    }
    Err("a host-name client without a static lease has no ravens equivalent (ravens matches clients by address or MAC)"
        .into())
}

/// An exact domain as a ravens rule (normalized), checked with the daemon's own parser.
fn exact(parser: &mut LineParser, domain: &str) -> Result<String, String> {
    let mut name = None;
    let outcome = parser.parse(domain.trim().as_bytes(), false, &mut |item| {
        if let Item::Name { name: n, scope: Scope::Exact, allow: false, .. } = item {
            name = Some(String::from_utf8_lossy(n).into_owned());
        }
        Ok(())
    });
    match (outcome, name) {
        (Outcome::Kept(1), Some(n)) => Ok(n),
        (Outcome::Rejected(why), _) => Err(format!("not a domain ravens accepts: {why}")),
        (Outcome::Skipped(s), _) => Err(format!("ravens skips such a rule ({s:?})")),
        _ => Err("not a single exact domain".into()),
    }
}

/// A Pi-hole regex as a ravens `/.../` rule: translated, parsed and compiled as the engine does.
fn regex(parser: &mut LineParser, entry: &str) -> Result<String, String> {
    let pattern = ere::translate(entry)?;
    let rule = format!("/{pattern}/");
    let mut seen = None;
    let outcome = parser.parse(rule.as_bytes(), false, &mut |item| {
        if let Item::Regex { pattern: p, .. } = item {
            seen = Some(p.to_string());
        }
        Ok(())
    });
    if !matches!(outcome, Outcome::Kept(1)) || seen.as_deref() != Some(pattern.as_str()) {
        return Err(format!("ravens does not read '{rule}' as this regex ({outcome:?})"));
    }
    regex::RegexBuilder::new(&pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("not a regex ravens can compile: {}", e.to_string().lines().last().unwrap_or("")))?;
    Ok(rule)
}

fn current_urls(out: &Out<'_>) -> BTreeSet<String> {
    out.current
        .iter()
        .filter(|(k, _)| k.starts_with("list/"))
        .filter_map(|(k, v)| site::decode(k, v).ok()?.get("url")?.as_str().map(str::to_string))
        .collect()
}

fn current_regexes(out: &Out<'_>) -> usize {
    out.current
        .iter()
        .filter(|(k, _)| k.starts_with("entry/"))
        .filter_map(|(k, v)| site::decode(k, v).ok()?.get("rule")?.as_str().map(str::to_string))
        .filter(|r| r.starts_with('/') || r.starts_with("@@/"))
        .count()
}
