//! The running daemon's shared state, read by the admin API, the config watcher and the
//! reload path. `daemon.rs` builds it; every other file takes it from here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use ravens_dns::DnsHandle;
use tokio_util::sync::CancellationToken;

use crate::api::ConfigState;
use crate::cluster::Cluster;
use crate::site::Site;

/// Shared daemon state.
pub struct Daemon {
    /// The DNS service: resolver, lists, statistics window.
    pub dns: Arc<DnsHandle>,
    pub config_path: Option<PathBuf>,
    pub config_state: Mutex<ConfigState>,
    pub started: Instant,
    pub listeners: Vec<String>,
    pub token: String,
    pub cancel: CancellationToken,
    /// The DHCP service, when subnets are configured.
    pub dhcp: Option<ravens_dhcp::DhcpHandle>,
    pub cluster: Option<Cluster>,
    /// Site-config versions and their replication.
    pub site: Arc<Site>,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("config_path", &self.config_path).finish()
    }
}
