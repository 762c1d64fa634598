//! Leases between the DHCP service and the gossip (docs/ARCHITECTURE.md §5): this node's lease
//! events out as `l/` records, remote `l/` records in as imports, and the resync after a
//! restart. Only moves data: the wire form and the lease rule are
//! [`ravens_dhcp::failover::value`] and [`ravens_dhcp::failover::merge`].

use ravens_config::Config;
use ravens_dhcp::failover::value::KEY_PREFIX;
use ravens_dhcp::failover::{Entry, LeaseValue, lease_expiry_ms, remote_lease};
use ravens_dhcp::lease::unix_now_ms;
use ravens_dhcp::{DhcpHandle, Lease, LeaseEvent};
use ravens_sync::{Hlc, Record, SyncHandle};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long a node's request for its own leases (`r/<node>`) stays up after a start with an
/// empty journal: peers that are up answer within a gossip round or two.
const RESEED_ASK_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// After a restart: this node's journal leases go back into the cluster, stamped at grant time.
pub async fn republish(sync: &SyncHandle, dhcp: &DhcpHandle, cfg: &Config, me: &str) {
    let lease_secs = |subnet: &str| cfg.subnets.iter().find(|s| s.name == subnet).map_or(0, |s| s.lease_time.as_secs());
    let records: Vec<Record> = dhcp
        .leases(None)
        .iter()
        .filter(|l| *l.node == *me)
        .filter_map(|l| {
            let (key, value, granted_ms) = LeaseValue::of_own_lease(l, lease_secs(&l.subnet), me);
            Record::new(&key, value, Hlc::new(granted_ms, 0), me).ok()
        })
        .collect();
    let n = records.len();
    match sync.republish(records).await {
        Ok(()) if n > 0 => tracing::info!(leases = n, "republished this node's leases"),
        Ok(()) => {}
        Err(e) => tracing::warn!("republishing leases failed: {e:#}"),
    }
}

/// This node's lease events ([`DhcpHandle::subscribe_own`]: never imported ones) → records.
pub async fn publish_loop(sync: SyncHandle, mut rx: mpsc::Receiver<LeaseEvent>, cancel: CancellationToken) {
    loop {
        let ev = tokio::select! {
            _ = cancel.cancelled() => return,
            ev = rx.recv() => match ev { Some(ev) => ev, None => return },
        };
        let Some((key, value)) = LeaseValue::of_event(&ev, unix_now_ms()) else { continue };
        if let Err(e) = sync.publish(&key, value.encode()).await {
            tracing::warn!(key, "publishing a lease failed: {e:#}");
        }
    }
}

/// Publishes `r/<me>` (peers answer with [`adopt_for`]) and withdraws it after a while, so a
/// peer's later restart does not read it as a new request and send every lease again.
pub async fn ask_for_own_leases(sync: &SyncHandle, me: &str, cancel: &CancellationToken) {
    let key = format!("r/{me}");
    if let Err(e) = sync.publish(&key, unix_now_ms().to_string().into_bytes()).await {
        tracing::warn!("asking the peers for this node's leases failed: {e:#}");
        return;
    }
    let (sync, cancel) = (sync.clone(), cancel.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(RESEED_ASK_FOR) => {
                if let Err(e) = sync.delete(&key).await {
                    tracing::warn!("withdrawing the lease request failed: {e:#}");
                }
            }
        }
    });
}

/// A peer restarted with an empty disk asked for its leases: re-publish, under our keys and
/// with their original stamps, the unexpired lease records it wrote that we hold. Costs
/// nothing in steady state (leases are not carried twice), one resync per such restart.
pub async fn adopt_for(sync: &SyncHandle, origin: &str) {
    let now = unix_now_ms();
    let records: Vec<Record> = sync.with_replica(|r| {
        r.winners()
            .filter(|w| w.key.starts_with(KEY_PREFIX) && w.origin == origin && !w.deleted)
            .filter(|w| lease_expiry_ms(&w.value).is_some_and(|e| e > now))
            .cloned()
            .collect()
    });
    let n = records.len();
    match sync.republish(records).await {
        Ok(()) => tracing::info!(peer = origin, leases = n, "peer restarted without its leases; sent them back"),
        Err(e) => tracing::warn!(peer = origin, "re-publishing a peer's leases failed: {e:#}"),
    }
}

/// The leases to import after `records` changed: the lease rule over every node's entry.
/// `own`: also import winners this node granted (its journal was empty at start).
pub fn remote_leases(sync: &SyncHandle, records: &[Record], me: &str, own: bool) -> Vec<Lease> {
    let now = unix_now_ms();
    records
        .iter()
        .filter(|r| r.key.starts_with(KEY_PREFIX))
        .filter_map(|changed| {
            let all = sync.entries(&changed.key);
            let entries: Vec<Entry<'_>> = all.iter().map(view).collect();
            remote_lease(&changed.key, &view(changed), &entries, me, own, now)
        })
        .collect()
}

/// The lease rule's view of one record.
fn view(r: &Record) -> Entry<'_> {
    Entry { stamp: (r.hlc.wall_ms, r.hlc.logical), origin: &r.origin, deleted: r.deleted, value: &r.value }
}
