//! DHCP: pool use per subnet and node, the leases of every node (merged as `dnsctl --all
//! leases` does) searched and paged on the server (the first [`PAGE_ROWS`] matches, "Show
//! more" for the next), with release and "make this a reservation", and the reservations.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use serde_json::json;

use super::UiState;
use super::auth::Csrf;
use super::fetch;
use super::html::{action, clock, esc, form, table};
use crate::api::edits::ReservationSpec;
use crate::api::{Lease, Status};

/// Lease rows on a page, and how many more "Show more" adds: the page stays small and
/// quick with thousands of leases, and the search still covers them all.
const PAGE_ROWS: usize = 200;
/// Rows shown at most however often "Show more" is clicked.
const MAX_ROWS: usize = 5000;

#[derive(Debug, Default, serde::Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
    /// Rows to show (default [`PAGE_ROWS`]).
    n: Option<usize>,
}

pub async fn page(
    State(ui): State<UiState>,
    Extension(csrf): Extension<Csrf>,
    Query(s): Query<Search>,
) -> Html<String> {
    let (nodes, local) = fetch::nodes(&ui).await;
    let statuses = fetch::all::<Status>(&ui, &nodes, "/api/v1/status").await;
    let mut m = String::from("<h1>DHCP</h1>");
    m.push_str(&super::dashboard::down_banner(&statuses, &fetch::silent_peers(&local, &nodes)));
    if local.dhcp.is_none() {
        m.push_str("<p class=\"note\">DHCP is not configured on this node (no <code>[[subnet]]</code>).</p>");
        return Html(super::html::page("/dhcp", &csrf.0, &m));
    }
    m.push_str("<h2>Pools</h2><div class=\"grid\">");
    for (name, st) in &statuses {
        let _ = write!(m, "<section class=\"card\"><h3>{}</h3>", esc(name));
        match st {
            Ok(st) => {
                for p in st.dhcp.iter().flat_map(|d| &d.pools) {
                    m.push_str(&super::html::pool_meter("dp", name, p, st.cluster.is_some()));
                }
            }
            Err(_) => m.push_str("<p class=\"down\">down</p>"),
        }
        m.push_str("</section>");
    }
    m.push_str("</div><h2>Leases</h2>");
    let _ = write!(
        m,
        "<form class=\"filters\" method=\"get\" action=\"/dhcp\"><div class=\"field\"><label for=\"lease-q\">Search address, MAC or name</label>\
         <input id=\"lease-q\" name=\"q\" value=\"{}\"></div><button type=\"submit\">Search</button></form>",
        esc(&s.q)
    );
    let shown = s.n.unwrap_or(PAGE_ROWS).clamp(1, MAX_ROWS);
    let q = s.q.trim().to_ascii_lowercase();
    // Only the first `shown` matches are mapped and merged: this node's table is searched in
    // place (leases replicate, so it holds the peers' grants too and its count is the total),
    // and each peer is asked for its own first `shown` matches, enough for the merged first
    // `shown` in the same order (subnet, address).
    let mut per_node: Vec<(String, Vec<Lease>)> = Vec::new();
    let mut total = 0;
    if let Some(h) = &ui.d.dhcp {
        let (found, n) = crate::leases::search(&h.leases(None), &q, shown);
        total = n;
        per_node.push((local.node.clone(), found));
    }
    let peers: Vec<fetch::Node> = nodes.iter().filter(|n| n.peer.is_some()).cloned().collect();
    let path = format!("/api/v1/leases?limit={shown}&q={}", crate::ctl::urlencode(&q));
    per_node.extend(
        fetch::all::<Vec<Lease>>(&ui, &peers, &path).await.into_iter().filter_map(|(n, r)| r.ok().map(|l| (n, l))),
    );
    let leases: Vec<Lease> = crate::ctl::all::merge_leases(per_node).into_iter().take(shown).collect();
    let total = total.max(leases.len());
    let noun = if total == 1 { "lease" } else { "leases" };
    let what = match (q.is_empty(), total == 1) {
        (true, _) => noun.to_string(),
        (false, one) => format!("{noun} {} \"{}\"", if one { "matches" } else { "match" }, esc(s.q.trim())),
    };
    let _ = write!(m, "<p class=\"note\" id=\"lease-count\">{total} {what}; {} shown.", leases.len());
    if total > leases.len() && shown < MAX_ROWS {
        let more = format!("/dhcp?q={}&n={}", crate::ctl::urlencode(s.q.trim()), shown + PAGE_ROWS);
        let _ = write!(m, " <a id=\"lease-more\" href=\"{}\">Show {PAGE_ROWS} more</a>", esc(&more));
    }
    m.push_str("</p>");
    m.push_str(&table(
        &["address", "MAC", "name", "subnet", "expires", "granted by", ""],
        leases.iter().map(|l| {
            let reserve = json!({ "subnet": l.subnet, "mac": l.mac, "ip": l.ip.to_string(), "hostname": l.hostname });
            vec![
                l.ip.to_string(),
                esc(&l.mac),
                esc(l.hostname.as_deref().unwrap_or("")),
                esc(&l.subnet),
                clock(l.expires),
                esc(&l.node),
                format!(
                    "{}{}",
                    action("Make reservation", "POST", "reservations", &reserve),
                    action("Release", "POST", &format!("leases/{}/release", l.ip), &serde_json::Value::Null)
                ),
            ]
        }),
    ));
    m.push_str("<h2>Reservations</h2>");
    let subnets: Vec<String> = ui.d.dns.resolver().state().config.subnets.iter().map(|s| s.name.clone()).collect();
    m.push_str(&form(
        "add-reservation",
        "POST",
        "reservations",
        "Reserve",
        &[
            ("subnet", "Subnet", &format!("select:{}", subnets.join(",")), true),
            ("mac", "MAC", "text", true),
            ("ip", "Address", "text", true),
            ("hostname", "Host name", "text", false),
        ],
    ));
    match fetch::get::<Vec<ReservationSpec>>(&ui, &nodes[0], "/api/v1/reservations").await {
        Ok(rs) => m.push_str(&table(
            &["subnet", "address", "MAC / client-id", "name", ""],
            rs.iter().map(|r| {
                let id = r.mac.clone().or(r.client_id.clone()).unwrap_or_default();
                let q = format!(
                    "reservations?subnet={}&id={}",
                    crate::ctl::urlencode(&r.subnet),
                    crate::ctl::urlencode(&id)
                );
                vec![
                    esc(&r.subnet),
                    esc(&r.ip),
                    esc(&id),
                    esc(r.hostname.as_deref().unwrap_or("")),
                    action("Remove", "DELETE", &q, &serde_json::Value::Null),
                ]
            }),
        )),
        Err(e) => {
            let _ = write!(m, "<p class=\"banner\">{}</p>", esc(&e));
        }
    }
    Html(super::html::page("/dhcp", &csrf.0, &m))
}
