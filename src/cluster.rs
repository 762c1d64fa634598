//! The pair: gossip of leases and site config with the other nodes (ravens-sync), and the
//! DHCP failover rules. Not wired yet: `start` runs nothing and returns `None`.

use std::sync::Arc;

use ravens_config::Config;
use ravens_dns::Resolver;
use tokio_util::sync::CancellationToken;

/// A running cluster membership.
#[derive(Debug)]
pub struct Cluster {}

/// Starts gossip when `[cluster]` is configured.
pub async fn start(
    cfg: &Arc<Config>,
    _resolver: &Arc<Resolver>,
    _dhcp: Option<&ravens_dhcp::DhcpHandle>,
    _cancel: &CancellationToken,
) -> anyhow::Result<Option<Cluster>> {
    if cfg.cluster.is_some() {
        tracing::warn!("[cluster] is configured but gossip is not wired into ravensd yet: running as a single node");
    }
    Ok(None)
}
