//! `[node]` and `[cluster]`: node-local settings, never replicated.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::error::{ConfigError, SourceMap};
use crate::policy::ListWire;
use crate::wire::{ClusterWire, NodeWire};
use crate::{paths, validate};

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub name: String,
    pub data_dir: PathBuf,
    pub dns_listen: Vec<SocketAddr>,
    pub admin_listen: SocketAddr,
    pub dhcp_listen: SocketAddr,
    pub dhcp_relay_port: u16,
    pub dhcp_interfaces: Vec<String>,
    /// Directories list files may be read from (`node.list_dirs`, as written; resolved when
    /// compared, see [`Node::allows_list_file`]).
    pub list_dirs: Vec<PathBuf>,
    /// User to switch to after binding (see `NodeWire::user`).
    pub user: Option<String>,
    /// DNS over TLS and over HTTPS for clients.
    pub encrypted: EncryptedDns,
}

/// `node.dot_listen`, `node.doh_listen` and what they serve with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EncryptedDns {
    pub dot_listen: Vec<SocketAddr>,
    pub doh_listen: Vec<SocketAddr>,
    /// Starts with `/`.
    pub doh_path: String,
    /// Certificate chain and key (PEM); set whenever a listener is.
    pub tls: Option<TlsFiles>,
}

/// A PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Node {
    /// Whether the list file `path` lies in `list_dirs` (symlinks and `..` resolved now).
    /// The daemon asks again each time it reads a list, as a link may change after the
    /// config was checked.
    pub fn allows_list_file(&self, path: &Path) -> bool {
        paths::within(&self.list_dirs, path)
    }

    fn list_dirs_text(&self) -> String {
        self.list_dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// The `[cluster]` section: the node's membership in a pair (or more).
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterConfig {
    pub name: String,
    pub gossip_listen: SocketAddr,
    pub peers: Vec<SocketAddr>,
    pub secret_file: PathBuf,
}

/// `config_dir` is the directory of the config file (`None` for text that is not a file:
/// an import checked alone, a test), the first default of `list_dirs`.
pub fn validate_node(w: &NodeWire, config_dir: Option<&Path>, map: &SourceMap<'_>) -> Result<Node, ConfigError> {
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
    let data_dir = PathBuf::from(w.data_dir.as_deref().unwrap_or("/var/lib/ravens"));
    let list_dirs = match &w.list_dirs {
        Some(dirs) => dirs
            .iter()
            .map(|d| match d.get_ref().trim() {
                "" => Err(map.err(Some(d.span()), "node.list_dirs: an entry is empty")),
                dir => Ok(PathBuf::from(dir)),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None => config_dir.map(Path::to_path_buf).into_iter().chain([data_dir.join("lists")]).collect(),
    };
    let user = match &w.user {
        Some(u) if u.get_ref().trim().is_empty() => return Err(map.err(Some(u.span()), "node.user: must not be empty")),
        u => u.as_ref().map(|u| u.get_ref().trim().to_string()),
    };
    let encrypted = validate_encrypted(w, map)?;
    Ok(Node {
        name,
        user,
        encrypted,
        data_dir,
        list_dirs,
        dns_listen,
        admin_listen: opt_addr(&w.admin_listen, "node.admin_listen", "127.0.0.1:8053")?,
        dhcp_listen: opt_addr(&w.dhcp_listen, "node.dhcp_listen", "0.0.0.0:67")?,
        dhcp_relay_port: w.dhcp_relay_port.unwrap_or(67),
        dhcp_interfaces: w.dhcp_interfaces.clone().unwrap_or_default(),
    })
}

fn validate_encrypted(w: &NodeWire, map: &SourceMap<'_>) -> Result<EncryptedDns, ConfigError> {
    let addrs = |list: &Option<Vec<crate::wire::S<String>>>, key: &str| {
        list.iter().flatten().map(|a| validate::socket_addr(a, key, map)).collect::<Result<Vec<_>, _>>()
    };
    let (dot_listen, doh_listen) = (addrs(&w.dot_listen, "node.dot_listen")?, addrs(&w.doh_listen, "node.doh_listen")?);
    let doh_path = match &w.doh_path {
        Some(p) if !p.get_ref().starts_with('/') || p.get_ref().contains(['?', '#', ' ']) => {
            return Err(map.err(Some(p.span()), "node.doh_path: must be a path starting with '/', without '?' or '#'"));
        }
        Some(p) => p.get_ref().clone(),
        None => "/dns-query".into(),
    };
    let file = |v: &Option<crate::wire::S<String>>, key: &str| match v {
        Some(f) if f.get_ref().trim().is_empty() => Err(map.err(Some(f.span()), format!("{key}: must not be empty"))),
        f => Ok(f.as_ref().map(|f| PathBuf::from(f.get_ref().trim()))),
    };
    let tls = match (file(&w.tls_cert_file, "node.tls_cert_file")?, file(&w.tls_key_file, "node.tls_key_file")?) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        _ => return Err(map.err(None, "node.tls_cert_file and node.tls_key_file: set both or neither")),
    };
    if tls.is_none() && !(dot_listen.is_empty() && doh_listen.is_empty()) {
        return Err(map.err(
            None,
            "node.dot_listen / node.doh_listen: need node.tls_cert_file and node.tls_key_file (PEM certificate and key)",
        ));
    }
    Ok(EncryptedDns { dot_listen, doh_listen, doh_path, tls })
}

/// Refuses a list `path` outside `node.list_dirs`. Text that is not a config file and sets no
/// `list_dirs` has no directory to hold paths to and is not checked here: it is checked
/// when it is written into a node's file (a `dnsctl config import`) or read as one.
pub fn check_list_paths(
    node: &Node,
    lists: &[ListWire],
    checked: bool,
    map: &SourceMap<'_>,
) -> Result<(), ConfigError> {
    if !checked {
        return Ok(());
    }
    for p in lists.iter().filter_map(|l| l.path.as_ref()) {
        if !node.allows_list_file(Path::new(p.get_ref())) {
            return Err(map.err(
                Some(p.span()),
                format!(
                    "list.path: '{}' is outside the directories list files may be read from \
                     (node.list_dirs: {}); put the file there or add its directory to node.list_dirs",
                    p.get_ref(),
                    node.list_dirs_text()
                ),
            ));
        }
    }
    Ok(())
}

pub fn validate_cluster(w: &ClusterWire, map: &SourceMap<'_>) -> Result<ClusterConfig, ConfigError> {
    Ok(ClusterConfig {
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
