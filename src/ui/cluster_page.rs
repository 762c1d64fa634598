//! The cluster: every node's view of its peers (liveness, last heard, replication lag,
//! failover phase), which node owns which pool slice and how many of the 256 DHCP buckets,
//! the takeovers and hand-backs each node made (`ClusterStatus::takeovers`), seal counters.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;

use super::UiState;
use super::auth::Csrf;
use super::fetch;
use super::html::{clock, esc, table};
use crate::api::Status;
use crate::api::cluster::FailoverEvent;
use ravens_dhcp::failover::buckets::{BUCKETS, bucket_owner};

pub async fn page(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    let (nodes, local) = fetch::nodes(&ui).await;
    let statuses = fetch::all::<Status>(&ui, &nodes, "/api/v1/status").await;
    let mut m = String::from("<h1>Cluster</h1>");
    if local.cluster.is_none() {
        m.push_str("<p class=\"note\">This node runs alone (no <code>[cluster]</code> in its config).</p>");
        return Html(super::html::page("/cluster", &csrf.0, &m));
    }
    m.push_str(&super::dashboard::down_banner(&statuses, &fetch::silent_peers(&local, &nodes)));
    m.push_str("<div class=\"grid\">");
    for (name, st) in &statuses {
        let _ = write!(m, "<section class=\"card\"><h2>{}</h2>", esc(name));
        let Ok(st) = st else {
            m.push_str("<p class=\"down\">down: not answering</p></section>");
            continue;
        };
        let Some(c) = &st.cluster else { continue };
        let buckets = |n: &str| buckets_of(n, &c.bucket_owners);
        let _ = write!(
            m,
            "<dl><dt>cluster</dt><dd>{}</dd><dt>gossip</dt><dd>{}</dd><dt>pool slice</dt><dd>{}</dd>\
             <dt>buckets owned</dt><dd>{} of {}</dd><dt>records</dt><dd>{} ({} lease{})</dd>\
             <dt>published / applied</dt><dd>{} / {}</dd><dt>site config</dt><dd>{} records{}</dd>\
             <dt>sealed / opened</dt><dd>{} / {}</dd><dt>dropped datagrams</dt><dd>{} bad tag, {} wrong key, {} replay, {} too old, {} malformed</dd></dl>",
            esc(&c.cluster),
            esc(&c.gossip_listen),
            c.slice.as_ref().map_or("none".into(), |s| format!("{} of {}", s.index + 1, s.count)),
            buckets(&st.node),
            BUCKETS,
            c.records,
            c.lease_records,
            if c.lease_records == 1 { "" } else { "s" },
            c.published,
            c.applied,
            c.site_config.records,
            c.site_config
                .write_back_error
                .as_deref()
                .map(|e| format!(", write-back error: {}", esc(e)))
                .unwrap_or_default(),
            c.seal.sealed,
            c.seal.opened,
            c.seal.bad_tag,
            c.seal.wrong_key,
            c.seal.replay,
            c.seal.too_old,
            c.seal.malformed,
        );
        m.push_str("<h3>Peers</h3>");
        m.push_str(&table(
            &["peer", "address", "live", "last heard", "lag", "phase", "since"],
            c.peers.iter().map(|p| {
                vec![
                    esc(&p.id),
                    esc(&p.addr),
                    if p.live {
                        "<span class=\"up\">live</span>".into()
                    } else {
                        "<span class=\"down\">down</span>".into()
                    },
                    p.last_heard.map_or("never".into(), |t| format!("{} ({} ms ago)", clock(t), p.silent_ms)),
                    p.lag_ms.map_or("-".into(), |l| format!("{l} ms")),
                    esc(&p.phase),
                    clock(p.since),
                ]
            }),
        ));
        m.push_str(&history(&c.takeovers));
        m.push_str("</section>");
    }
    m.push_str("</div>");
    Html(super::html::page("/cluster", &csrf.0, &m))
}

/// How many of the 256 buckets `node` answers for among the serving `owners`.
fn buckets_of(node: &str, owners: &[String]) -> usize {
    let owners: Vec<&str> = owners.iter().map(String::as_str).collect();
    (0..BUCKETS).filter(|b| bucket_owner(*b as u8, &owners) == Some(node)).count()
}

/// The node's takeovers and hand-backs, newest first.
fn history(events: &[FailoverEvent]) -> String {
    let mut s = String::from("<h3>Takeover history</h3>");
    if events.is_empty() {
        s.push_str("<p class=\"note\">No takeover since this node started.</p>");
        return s;
    }
    s.push_str(&table(
        &["when", "what", "buckets"],
        events.iter().map(|e| {
            let what = match e.kind.as_str() {
                "take_over" => format!("took over <b>{}</b>'s DHCP clients (peer silent)", esc(&e.peer)),
                "hand_back" => format!("gave <b>{}</b>'s DHCP clients back (peer live and caught up)", esc(&e.peer)),
                other => format!("{} {}", esc(other), esc(&e.peer)),
            };
            vec![clock(e.time_ms / 1000), what, e.buckets.to_string()]
        }),
    ));
    s
}
