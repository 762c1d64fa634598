//! Client groups and block/allow lists (`[[group]]`, `[[list]]`): schema and validation.
//!
//! A client belongs to the first group whose `clients` match it (CIDR, single IP or MAC) and
//! to the implicit `default` group otherwise. A list applies to a group when the group names
//! it in `lists`, or, for a group without `lists`, when the list names the group in `groups`.
//! The blocklist engine turns that relation into one group bitmask per list ([`Policy::list_mask`]).

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::dns::BlockResponse;
use crate::error::{ConfigError, SourceMap};
pub use crate::text::parse_mac;
use crate::validate;
use crate::wire::S;

/// The group every client not matched by another group belongs to.
pub const DEFAULT_GROUP: &str = "default";

/// At most this many groups (the engine keeps a 64-bit group mask per list).
pub const MAX_GROUPS: usize = 64;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupWire {
    /// Group name, unique. `default` configures the group of unmatched clients. Required.
    pub name: S<String>,
    /// Clients: CIDRs (`10.0.20.0/24`), single IPs or MAC addresses (`aa:bb:cc:dd:ee:ff`);
    /// the first group that matches a client wins. Default: `[]`.
    #[serde(default)]
    pub clients: Vec<S<String>>,
    /// Names of the lists that apply to this group; `[]` = none. Default: absent = every list
    /// whose `groups` names this group.
    pub lists: Option<Vec<S<String>>>,
    /// Whether names are blocked for this group at all. Default: `true`.
    pub blocking: Option<bool>,
    /// Blocked-name answer for this group: `null`, `nxdomain`, `refused` or an IP.
    /// Default: `dns.block_response`.
    pub block_response: Option<S<String>>,
    /// Upstreams this group's queries go to instead of `dns.upstreams` (same URL forms);
    /// `[[forward]]` zones still win. Default: none (`dns.upstreams`).
    pub upstreams: Option<Vec<S<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListWire {
    /// List name, unique. Required.
    pub name: S<String>,
    /// Local file holding the list. Exactly one of `path` and `url` is required.
    pub path: Option<S<String>>,
    /// `http://` or `https://` URL the list is downloaded from. Exactly one of `path`, `url`
    /// and `entries`.
    pub url: Option<S<String>>,
    /// Rules written in the config itself, one per element (what `dnsctl block add` and
    /// `dnsctl allow add` edit): a string, or `{ rule = "...", enabled = false }` for a rule
    /// kept but not used. Exactly one of `path`, `url` and `entries`.
    pub entries: Option<Vec<S<toml::Value>>>,
    /// `block` or `allow`. Default: `block`.
    pub kind: Option<S<String>>,
    /// Groups this list applies to (unless a group lists its lists itself). Default: `["default"]`.
    pub groups: Option<Vec<S<String>>>,
    /// How often the list is reloaded (downloaded with ETag / If-Modified-Since). Default: `24h`.
    pub refresh: Option<S<String>>,
    /// A disabled list is kept in the config but not loaded. Default: `true`.
    pub enabled: Option<bool>,
}

/// Who a group matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMatch {
    /// A network; a single IP is a /32 or /128.
    Net(IpNet),
    /// A hardware address, looked up through the DHCP lease table.
    Mac([u8; 6]),
}

/// A validated `[[group]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub clients: Vec<ClientMatch>,
    /// Indexes into [`Policy::lists`] of the lists that apply (enabled or not).
    pub lists: Vec<usize>,
    pub blocking: bool,
    /// `None` = use `dns.block_response`.
    pub block_response: Option<BlockResponse>,
    /// Empty = `dns.upstreams`.
    pub upstreams: Vec<crate::Upstream>,
}

/// Where a list comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSource {
    Path(PathBuf),
    Url(String),
    /// Rules in the config (`entries = [...]`).
    Inline(Vec<String>),
}

/// Whether a list's plain entries block or allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Block,
    Allow,
}

/// A validated `[[list]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct List {
    pub name: String,
    pub source: ListSource,
    pub kind: ListKind,
    pub refresh: Duration,
    pub enabled: bool,
}

/// Validated groups and lists. `groups[0]` is always `default`.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Group names in index order (`default` first).
    pub group_names: Vec<String>,
    /// List names in config order.
    pub list_names: Vec<String>,
    /// Groups in index order; matching order is config order ([`Policy::match_order`]).
    pub groups: Vec<Group>,
    pub lists: Vec<List>,
}

impl Default for Policy {
    fn default() -> Self {
        let default = Group {
            name: DEFAULT_GROUP.to_string(),
            clients: Vec::new(),
            lists: Vec::new(),
            blocking: true,
            block_response: None,
            upstreams: Vec::new(),
        };
        Policy {
            group_names: vec![default.name.clone()],
            list_names: Vec::new(),
            groups: vec![default],
            lists: Vec::new(),
        }
    }
}

impl Policy {
    /// Index of the group named `name`.
    pub fn group_index(&self, name: &str) -> Option<usize> {
        self.group_names.iter().position(|g| g == name)
    }

    /// The groups a client is matched against, in config order (`default` has no clients).
    pub fn match_order(&self) -> impl Iterator<Item = (usize, &Group)> {
        self.groups.iter().enumerate().filter(|(_, g)| !g.clients.is_empty())
    }

    /// Bit `g` is set when list `list` blocks or allows for group `g`: the list is enabled,
    /// the group uses it and blocks at all.
    pub fn list_mask(&self, list: usize) -> u64 {
        if !self.lists.get(list).is_some_and(|l| l.enabled) {
            return 0;
        }
        self.groups
            .iter()
            .enumerate()
            .filter(|(_, g)| g.blocking && g.lists.contains(&list))
            .fold(0, |mask, (i, _)| mask | (1u64 << i))
    }
}

/// Validates `[[group]]` and `[[list]]`.
pub fn validate(groups: &[GroupWire], lists: &[ListWire], map: &SourceMap<'_>) -> Result<Policy, ConfigError> {
    let mut policy = Policy::default();
    let mut seen_default = false;
    for l in lists {
        if policy.list_names.contains(l.name.get_ref()) {
            return Err(map.err(Some(l.name.span()), format!("list.name: duplicate list '{}'", l.name.get_ref())));
        }
        policy.lists.push(validate_list(l, map)?);
        policy.list_names.push(l.name.get_ref().clone());
    }
    for g in groups {
        let name = g.name.get_ref();
        let group = validate_group(g, &policy.list_names, map)?;
        if name == DEFAULT_GROUP {
            if seen_default {
                return Err(map.err(Some(g.name.span()), "group.name: duplicate group 'default'"));
            }
            seen_default = true;
            policy.groups[0] = group;
            continue;
        }
        if policy.group_names.contains(name) {
            return Err(map.err(Some(g.name.span()), format!("group.name: duplicate group '{name}'")));
        }
        if policy.groups.len() == MAX_GROUPS {
            return Err(map.err(Some(g.name.span()), format!("group.name: more than {MAX_GROUPS} groups")));
        }
        policy.group_names.push(name.clone());
        policy.groups.push(group);
    }
    resolve_list_groups(groups, lists, &mut policy, map)?;
    Ok(policy)
}

/// Fills the `lists` of groups without an explicit `lists` from each list's `groups`.
fn resolve_list_groups(
    groups: &[GroupWire],
    lists: &[ListWire],
    policy: &mut Policy,
    map: &SourceMap<'_>,
) -> Result<(), ConfigError> {
    let explicit: Vec<bool> = policy
        .group_names
        .iter()
        .map(|name| groups.iter().any(|g| g.name.get_ref() == name && g.lists.is_some()))
        .collect();
    for (li, l) in lists.iter().enumerate() {
        let names: Vec<(String, Option<std::ops::Range<usize>>)> = match &l.groups {
            None => vec![(DEFAULT_GROUP.to_string(), None)],
            Some(v) => v.iter().map(|s| (s.get_ref().clone(), Some(s.span()))).collect(),
        };
        for (name, span) in names {
            let Some(gi) = policy.group_index(&name) else {
                let span = span.or(Some(l.name.span()));
                return Err(map.err(span, format!("list.groups: no group named '{name}'")));
            };
            if !explicit[gi] && !policy.groups[gi].lists.contains(&li) {
                policy.groups[gi].lists.push(li);
            }
        }
    }
    Ok(())
}

fn validate_group(g: &GroupWire, list_names: &[String], map: &SourceMap<'_>) -> Result<Group, ConfigError> {
    let name = g.name.get_ref();
    if name.is_empty() {
        return Err(map.err(Some(g.name.span()), "group.name: must not be empty"));
    }
    if name == DEFAULT_GROUP && !g.clients.is_empty() {
        return Err(map.err(
            Some(g.clients[0].span()),
            "group.clients: the default group matches every client not in another group; it takes no clients",
        ));
    }
    let clients = g.clients.iter().map(|c| client(c, map)).collect::<Result<Vec<_>, _>>()?;
    let mut lists = Vec::new();
    for l in g.lists.iter().flatten() {
        let Some(i) = list_names.iter().position(|n| n == l.get_ref()) else {
            return Err(map.err(Some(l.span()), format!("group.lists: no list named '{}'", l.get_ref())));
        };
        if !lists.contains(&i) {
            lists.push(i);
        }
    }
    let block_response =
        g.block_response.as_ref().map(|s| block_response(s, "group.block_response", map)).transpose()?;
    let upstreams = match &g.upstreams {
        Some(list) if list.is_empty() => {
            return Err(map.err(Some(g.name.span()), "group.upstreams: give at least one upstream, or leave it out"));
        }
        Some(list) => crate::dns::upstream_list(list, "group.upstreams", map)?,
        None => Vec::new(),
    };
    Ok(Group { name: name.clone(), clients, lists, blocking: g.blocking.unwrap_or(true), block_response, upstreams })
}

fn validate_list(l: &ListWire, map: &SourceMap<'_>) -> Result<List, ConfigError> {
    if l.name.get_ref().is_empty() {
        return Err(map.err(Some(l.name.span()), "list.name: must not be empty"));
    }
    let given = [l.path.is_some(), l.url.is_some(), l.entries.is_some()].iter().filter(|g| **g).count();
    if given != 1 {
        let span = l.url.as_ref().or(l.path.as_ref()).map_or(l.name.span(), |s| s.span());
        let why = if given == 0 { "needs a path, a url or entries" } else { "give only one of path, url and entries" };
        let key = if given == 0 { "list" } else { "list.url" };
        return Err(map.err(Some(span), format!("{key}: {why}")));
    }
    let source = if let Some(p) = &l.path {
        if p.get_ref().is_empty() {
            return Err(map.err(Some(p.span()), "list.path: must not be empty"));
        }
        ListSource::Path(PathBuf::from(p.get_ref()))
    } else if let Some(u) = &l.url {
        let url = u.get_ref().trim();
        let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.starts_with('/')) {
            return Err(map.err(Some(u.span()), format!("list.url: '{url}' is not an http:// or https:// URL")));
        }
        ListSource::Url(url.to_string())
    } else {
        let mut rules = Vec::new();
        for e in l.entries.iter().flatten() {
            let Some((rule, enabled)) = inline_entry(e.get_ref()) else {
                return Err(map.err(
                    Some(e.span()),
                    "list.entries: each entry is a rule, or { rule = \"...\", enabled = false }",
                ));
            };
            let rule = rule.trim();
            if rule.is_empty() || rule.contains(['\n', '\r']) {
                return Err(map.err(Some(e.span()), "list.entries: each entry is one non-empty rule"));
            }
            // A disabled entry stays in the file (and the UI) but is not compiled.
            if enabled {
                rules.push(rule.to_string());
            }
        }
        ListSource::Inline(rules)
    };
    let kind = match l.kind.as_ref().map(|k| (k, k.get_ref().as_str())) {
        None | Some((_, "block")) => ListKind::Block,
        Some((_, "allow")) => ListKind::Allow,
        Some((k, other)) => {
            return Err(
                map.err(Some(k.span()), format!("list.kind: '{other}' is not a kind (expected block or allow)"))
            );
        }
    };
    let refresh = validate::opt_duration(&l.refresh, Duration::from_secs(86_400), "list.refresh", map)?;
    if refresh < Duration::from_secs(60) {
        let span = l.refresh.as_ref().map(|s| s.span());
        return Err(map.err(span, "list.refresh: must be at least 1m"));
    }
    Ok(List { name: l.name.get_ref().clone(), source, kind, refresh, enabled: l.enabled.unwrap_or(true) })
}

/// One element of a list's `entries`: a rule string (enabled), or a table with `rule` and
/// an optional `enabled`, nothing else. `None` for any other shape.
pub fn inline_entry(v: &toml::Value) -> Option<(&str, bool)> {
    match v {
        toml::Value::String(rule) => Some((rule, true)),
        toml::Value::Table(t) => {
            let rule = t.get("rule")?.as_str()?;
            let enabled = match t.get("enabled") {
                None => true,
                Some(e) => e.as_bool()?,
            };
            t.keys().all(|k| k == "rule" || k == "enabled").then_some((rule, enabled))
        }
        _ => None,
    }
}

fn client(v: &S<String>, map: &SourceMap<'_>) -> Result<ClientMatch, ConfigError> {
    if let Some(mac) = parse_mac(v.get_ref()) {
        return Ok(ClientMatch::Mac(mac));
    }
    let s = v.get_ref().trim();
    if s.parse::<IpAddr>().is_err() && !s.contains('/') {
        return Err(map.err(
            Some(v.span()),
            format!("group.clients: '{s}' is not a CIDR, an IP address or a MAC address (aa:bb:cc:dd:ee:ff)"),
        ));
    }
    validate::network(v, "group.clients", map).map(ClientMatch::Net)
}

fn block_response(s: &S<String>, key: &str, map: &SourceMap<'_>) -> Result<BlockResponse, ConfigError> {
    Ok(match s.get_ref().as_str() {
        "null" => BlockResponse::Null,
        "nxdomain" => BlockResponse::Nxdomain,
        "refused" => BlockResponse::Refused,
        other => BlockResponse::Ip(other.parse().map_err(|_| {
            map.err(Some(s.span()), format!("{key}: '{other}' is not null, nxdomain, refused or an IP address"))
        })?),
    })
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
