//! The cluster part of `dnsctl status`.

use std::time::Instant;

use ravens_dhcp::failover::PeerPhase;

use super::Cluster;
use crate::api::{ClusterPeer, ClusterStatus, PoolSlice, SealCounters, SiteReplication};

/// Node id → admin API address, from the `n/<node>` records (`{"admin": "IP:PORT"}`).
fn admin_addresses(records: &[ravens_sync::Record]) -> std::collections::BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| {
            let node = r.key.strip_prefix("n/")?;
            let v: serde_json::Value = serde_json::from_slice(&r.value).ok()?;
            Some((node.to_string(), v["admin"].as_str()?.to_string()))
        })
        .collect()
}

impl Cluster {
    /// Membership and replication state for `dnsctl status`: peers (id, gossip address, live,
    /// since, last heard, lag, caught up, failover phase), seal counters, record counts, this
    /// node's pool slice and the nodes currently owning buckets.
    pub fn status(&self) -> ClusterStatus {
        let i = &self.inner;
        let now = Instant::now();
        let pair = i.pair.lock();
        let peers = i
            .sync
            .peers()
            .iter()
            .map(|p| ClusterPeer {
                id: p.id.clone(),
                addr: p.addr.to_string(),
                live: p.live,
                since: ravens_config::clock::secs_of(p.since),
                last_heard: p.last_heard.map(ravens_config::clock::secs_of),
                silent_ms: p.silent_for().as_millis() as u64,
                lag_ms: p.lag.map(|l| l.as_millis() as u64),
                caught_up: p.caught_up,
                phase: match pair.phase(&p.id, now) {
                    Some(PeerPhase::Serving) => "serving",
                    Some(PeerPhase::Silent(_)) => "silent",
                    Some(PeerPhase::TakenOver) => "taken_over",
                    Some(PeerPhase::Returning) => "returning",
                    None => "unknown",
                }
                .to_string(),
            })
            .collect();
        let bucket_owners = pair.owners(now).into_iter().map(String::from).collect();
        let slice = pair.slice().map(|s| PoolSlice { index: s.index, count: s.count });
        let nodes = pair.known().map(String::from).collect();
        drop(pair);
        let st = i.sync.stats();
        let s = st.seal;
        let (records, lease_records, admin) = i.sync.with_replica(|r| {
            let snap = r.snapshot();
            (
                snap.len(),
                snap.iter().filter(|x| x.key.starts_with(ravens_dhcp::failover::value::KEY_PREFIX)).count(),
                admin_addresses(&snap),
            )
        });
        let (site_live, site_tombstones) = i.site.counts();
        ClusterStatus {
            node: i.me.clone(),
            cluster: i.cluster.clone(),
            gossip_listen: i.gossip_listen.to_string(),
            peers,
            nodes,
            bucket_owners,
            admin,
            slice,
            records,
            lease_records,
            published: st.published,
            applied: st.applied,
            bad_records: st.bad_records,
            newer_records: st.newer_records,
            newer_lease_values: ravens_dhcp::failover::newer_values(),
            site_config: SiteReplication {
                records: site_live,
                tombstones: site_tombstones,
                write_back_error: i.site.last_error.lock().clone(),
            },
            seal: SealCounters {
                sealed: s.sealed,
                opened: s.opened,
                truncated: s.truncated,
                malformed: s.malformed,
                wrong_key: s.wrong_key,
                bad_tag: s.bad_tag,
                too_old: s.too_old,
                too_new: s.too_new,
                replay: s.replay,
            },
            takeovers: i.history.list(),
        }
    }
}
