//! `dnsctl --all` and `--node NAME`: the nodes of a cluster, found through the node dnsctl
//! was pointed at (its status lists every node's admin address from gossip), asked in
//! parallel and their answers merged.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

use super::{Target, get};
use crate::api::{Lease, Status};

/// One node of the cluster: its id and how to reach it.
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub target: Target,
}

/// Every node the node of `base` knows (itself first), all with `base`'s token (a cluster
/// shares one admin token). A single node answers with itself alone.
pub async fn nodes(base: &Target) -> anyhow::Result<Vec<Node>> {
    let status: Status = get(base, "/api/v1/status").await?;
    let mut out = vec![Node { name: status.node.clone(), target: base.clone() }];
    let admin = status.cluster.as_ref().map(|c| c.admin.clone()).unwrap_or_default();
    for (name, addr) in admin {
        if name == status.node {
            continue; // reached already, by the address we were given
        }
        let source = format!("node {name}, admin address from the gossip of {}", base.addr);
        let target = Target { addr, token: base.token.clone(), source, timeout: base.timeout };
        out.push(Node { name, target });
    }
    let configured = status.cluster.as_ref().map_or(0, |c| c.peers.len());
    if out.len() < configured + 1 {
        eprintln!(
            "dnsctl: {} of {} node(s) have published an admin address yet (is admin_listen reachable, are they up?)",
            out.len(),
            configured + 1
        );
    }
    Ok(out)
}

/// The node named `name` (its node id), or an error listing the names known.
pub async fn by_name(base: &Target, name: &str) -> anyhow::Result<Target> {
    let all = nodes(base).await.with_context(|| format!("looking up node '{name}' through {}", base.addr))?;
    match all.iter().find(|n| n.name == name) {
        Some(n) => Ok(n.target.clone()),
        None => {
            let known: Vec<&str> = all.iter().map(|n| n.name.as_str()).collect();
            bail!("no node named '{name}' in the cluster of {} (known: {})", base.addr, known.join(", "))
        }
    }
}

/// GETs `path` from every node at once; answers in node order, each a result.
pub async fn get_all<T: DeserializeOwned + Send + 'static>(
    nodes: &[Node],
    path: &str,
) -> Vec<(String, anyhow::Result<T>)> {
    let mut tasks = Vec::new();
    for n in nodes {
        let (t, p) = (n.target.clone(), path.to_string());
        tasks.push((n.name.clone(), tokio::spawn(async move { get::<T>(&t, &p).await })));
    }
    let mut out = Vec::new();
    for (name, task) in tasks {
        let r = task.await.unwrap_or_else(|e| Err(anyhow::anyhow!("task failed: {e}")));
        out.push((name, r));
    }
    out
}

/// Splits answers into the good ones and the failures (printed to stderr); fails when every
/// node failed. The caller exits 1 when `failed` is set, after printing what it has.
pub fn split<T>(answers: Vec<(String, anyhow::Result<T>)>, failed: &mut bool) -> anyhow::Result<Vec<(String, T)>> {
    let mut good = Vec::new();
    let mut errors = Vec::new();
    for (name, r) in answers {
        match r {
            Ok(v) => good.push((name, v)),
            Err(e) => errors.push(format!("node {name}: {e:#}")),
        }
    }
    if good.is_empty() {
        bail!("no node answered:\n  {}", errors.join("\n  "));
    }
    for e in &errors {
        eprintln!("dnsctl: {e}");
    }
    *failed |= !errors.is_empty();
    Ok(good)
}

/// Leases of every node as one list: each lease once (both nodes list the pair's leases),
/// the version with the latest expiry.
pub fn merge_leases(per_node: Vec<(String, Vec<Lease>)>) -> Vec<Lease> {
    let mut by_addr: BTreeMap<(String, std::net::Ipv4Addr), Lease> = BTreeMap::new();
    for l in per_node.into_iter().flat_map(|(_, ls)| ls) {
        let key = (l.subnet.clone(), l.ip);
        if by_addr.get(&key).is_none_or(|old| old.expires < l.expires) {
            by_addr.insert(key, l);
        }
    }
    by_addr.into_values().collect()
}

/// The human form of `dnsctl --all status`: the main figures of each node side by side.
pub fn print_status_side_by_side(all: &[(String, Status)]) {
    let col = |f: &dyn Fn(&Status) -> String| -> Vec<String> { all.iter().map(|(_, s)| f(s)).collect() };
    let rows: Vec<(&str, Vec<String>)> = vec![
        ("node", col(&|s| s.node.clone())),
        ("version", col(&|s| s.version.clone())),
        ("uptime", col(&|s| super::print::duration(s.uptime_secs))),
        ("config", col(&|s| if s.config.last_error.is_some() { "LAST RELOAD FAILED".into() } else { "ok".into() })),
        ("queries", col(&|s| s.queries.queries.to_string())),
        ("blocked", col(&|s| s.queries.blocked.to_string())),
        ("cache hits", col(&|s| s.cache.hits.to_string())),
        ("cache entries", col(&|s| s.cache.entries.to_string())),
        (
            "upstreams up",
            col(&|s| format!("{}/{}", s.upstreams.iter().filter(|u| u.healthy).count(), s.upstreams.len())),
        ),
        ("blocklist rules", col(&|s| s.blocklist_entries.to_string())),
        ("paused", col(&|s| s.paused_secs.map_or_else(|| "no".into(), |p| format!("{p}s")))),
        ("dhcp acks", col(&|s| s.dhcp.as_ref().map_or_else(|| "-".into(), |d| d.counters.ack.to_string()))),
        (
            "pool used",
            col(&|s| {
                s.dhcp.as_ref().map_or_else(
                    || "-".into(),
                    |d| {
                        format!(
                            "{}/{}",
                            d.pools.iter().map(|p| p.used).sum::<u64>(),
                            d.pools.iter().map(|p| p.total).sum::<u64>()
                        )
                    },
                )
            }),
        ),
        (
            "peers live",
            col(&|s| {
                s.cluster.as_ref().map_or_else(
                    || "-".into(),
                    |c| format!("{}/{}", c.peers.iter().filter(|p| p.live).count(), c.peers.len()),
                )
            }),
        ),
    ];
    let width =
        all.iter().map(|(_, s)| s.node.len()).chain(rows.iter().flat_map(|r| r.1.iter().map(String::len))).max();
    let width = width.unwrap_or(8).max(8) + 2;
    for (label, cells) in rows {
        let cells: String = cells.iter().map(|c| format!("{:<width$}", super::shown(c))).collect();
        println!("{label:<16} {}", cells.trim_end());
    }
}
