//! `[node]` and `[cluster]`: node-local settings, never replicated.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::error::{ConfigError, SourceMap};
use crate::validate;
use crate::wire::{ClusterWire, NodeWire};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub data_dir: PathBuf,
    pub dns_listen: Vec<SocketAddr>,
    pub admin_listen: SocketAddr,
    pub dhcp_listen: SocketAddr,
    pub dhcp_relay_port: u16,
    pub dhcp_interfaces: Vec<String>,
    /// User to switch to after binding (see `NodeWire::user`).
    pub user: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub gossip_listen: SocketAddr,
    pub peers: Vec<SocketAddr>,
    pub secret_file: PathBuf,
}

pub fn validate_node(w: &NodeWire, map: &SourceMap<'_>) -> Result<Node, ConfigError> {
    let name = match &w.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            return Err(map.err(Some(n.span()), "node.name: must not be empty"));
        }
        Some(n) => n.get_ref().trim().to_string(),
        None => hostname(),
    };
    let dns_listen = match &w.dns_listen {
        Some(list) => {
            list.iter().map(|a| validate::socket_addr(a, "node.dns_listen", map)).collect::<Result<Vec<_>, _>>()?
        }
        None => vec!["0.0.0.0:53".parse().unwrap()],
    };
    let opt_addr = |v: &Option<crate::wire::S<String>>, key: &str, default: &str| match v {
        Some(v) => validate::socket_addr(v, key, map),
        None => Ok(default.parse().unwrap()),
    };
    let user = match &w.user {
        Some(u) if u.get_ref().trim().is_empty() => return Err(map.err(Some(u.span()), "node.user: must not be empty")),
        u => u.as_ref().map(|u| u.get_ref().trim().to_string()),
    };
    Ok(Node {
        name,
        user,
        data_dir: PathBuf::from(w.data_dir.as_deref().unwrap_or("/var/lib/ravens")),
        dns_listen,
        admin_listen: opt_addr(&w.admin_listen, "node.admin_listen", "127.0.0.1:8053")?,
        dhcp_listen: opt_addr(&w.dhcp_listen, "node.dhcp_listen", "0.0.0.0:67")?,
        dhcp_relay_port: w.dhcp_relay_port.unwrap_or(67),
        dhcp_interfaces: w.dhcp_interfaces.clone().unwrap_or_default(),
    })
}

pub fn validate_cluster(w: &ClusterWire, map: &SourceMap<'_>) -> Result<Cluster, ConfigError> {
    Ok(Cluster {
        name: w.name.get_ref().clone(),
        gossip_listen: validate::socket_addr(&w.gossip_listen, "cluster.gossip_listen", map)?,
        peers: w.peers.iter().map(|p| validate::socket_addr(p, "cluster.peers", map)).collect::<Result<_, _>>()?,
        secret_file: PathBuf::from(&w.secret_file),
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ravens".to_string())
}
