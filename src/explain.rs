//! `dnsctl query`: which group a client is in, and which list and line decide a name.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::time::Instant;

use ravens_config::policy::ListSource;
use ravens_dns::blocklist::{GroupId, RuleMatch, Verdict};

use crate::api::{QueryExplanation, RuleInfo};
use crate::state::Daemon;

/// Explains the verdict for `name` asked by `client`.
pub fn explain(d: &Daemon, name: &str, client: IpAddr) -> QueryExplanation {
    let state = d.dns.resolver().state();
    let policy = &state.policy;
    let group = d.dns.resolver().blocking.group_of(policy, client);
    let engine = d.dns.resolver().blocking.engine.load();
    let e = engine.explain(name, group);
    let group_names = |mask: u64| -> Vec<String> {
        policy.groups.iter().enumerate().filter(|(i, _)| mask & (1u64 << i) != 0).map(|(_, g)| g.name.clone()).collect()
    };
    let info = |r: &RuleMatch| RuleInfo {
        list: r.list.clone(),
        line: r.line,
        rule: r.rule.clone(),
        line_text: line_text(d, &r.list, r.line),
        allow: r.allow,
        groups: group_names(r.groups),
    };
    let gp = policy.groups.get(group.index());
    let paused = d.dns.resolver().blocking.paused_for(Some(group), Instant::now()).is_some()
        || d.dns.resolver().blocking.paused_for(None, Instant::now()).is_some();
    QueryExplanation {
        name: name.to_string(),
        client: client.to_string(),
        group: gp.map_or_else(|| format!("#{}", group.0), |g| g.name.clone()),
        verdict: match e.verdict {
            Verdict::Blocked(_) => "blocked",
            Verdict::Allowed(_) => "allowed",
            Verdict::NotListed => "not listed",
        }
        .into(),
        blocking_active: gp.is_some_and(|g| g.blocking) && !paused,
        decided_by: e.decided_by.as_ref().map(info),
        matches: e.all.iter().map(info).collect(),
        dnssec: state.dnssec.as_ref().and_then(|v| {
            let wire = ravens_dns::wire::name_from_text(name)?;
            Some(v.treatment(&wire).to_string())
        }),
        dnssec_bogus: state.dnssec.as_ref().map_or_else(Vec::new, |v| {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            v.bogus_for(&name)
                .iter()
                .map(|b| format!("type {}: EDE {} at {} (unix): {}", b.qtype, b.ede, b.at, b.why))
                .collect()
        }),
    }
}

/// The text of line `n` (1-based) of a list, read from its file or stored copy.
fn line_text(d: &Daemon, list: &str, n: u32) -> Option<String> {
    if list == "builtin" {
        return ravens_dns::lists::BUILTIN.lines().nth(n.checked_sub(1)? as usize).map(String::from);
    }
    let cfg = &d.dns.resolver().state().config;
    let l = cfg.policy.lists.iter().find(|l| l.name == list)?;
    let path = match &l.source {
        // Never a line of a file outside node.list_dirs (a symlink may point elsewhere now).
        ListSource::Path(p) if !cfg.node.allows_list_file(p) => return None,
        ListSource::Path(p) => p.clone(),
        ListSource::Url(_) => d.dns.lists().copy_path(list),
        ListSource::Inline(rules) => return rules.get(n.checked_sub(1)? as usize).cloned(),
    };
    let f = std::fs::File::open(path).ok()?;
    let mut buf = Vec::new();
    let mut r = BufReader::new(f);
    for _ in 0..n {
        buf.clear();
        if r.read_until(b'\n', &mut buf).ok()? == 0 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).trim_end().chars().take(200).collect())
}

/// A group id by name.
pub fn group_by_name(d: &Daemon, name: &str) -> Option<GroupId> {
    let state = d.dns.resolver().state();
    state.policy.groups.iter().position(|g| g.name == name).map(|i| GroupId(u8::try_from(i).unwrap_or(u8::MAX)))
}
