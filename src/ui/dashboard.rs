//! The dashboard: both nodes side by side, the last 24 hours as a chart per node and
//! together, top lists, cache, upstreams, DHCP pools, list totals. Refreshes itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;

use super::UiState;
use super::auth::Csrf;
use super::fetch::{self, Node};
use super::html::{duration, esc, table};
use crate::api::{Status, Top, WindowStats};

/// The chart's bars: 12 of 2 hours.
const BARS: u64 = 12;
const BAR_HOURS: u64 = 2;

#[derive(Debug, serde::Deserialize)]
pub struct Partial {
    #[serde(default)]
    pub partial: Option<String>,
}

/// The whole page, or only its content for the script's refresh.
pub fn respond(path: &str, csrf: &str, p: &Partial, main: String) -> Html<String> {
    if p.partial.is_some() { Html(main) } else { Html(super::html::page(path, csrf, &main)) }
}

pub async fn page(
    State(ui): State<UiState>,
    Extension(csrf): Extension<Csrf>,
    Query(p): Query<Partial>,
) -> Html<String> {
    let (nodes, local) = fetch::nodes(&ui).await;
    let statuses: Vec<(String, Result<Status, String>)> = fetch::all(&ui, &nodes, "/api/v1/status").await;
    let mut m = String::from("<div data-refresh=\"5\"><h1>Dashboard</h1>");
    m.push_str(&down_banner(&statuses, &fetch::silent_peers(&local, &nodes)));
    m.push_str("<div class=\"grid\">");
    for (name, s) in &statuses {
        m.push_str(&node_card(name, s.as_ref(), &local));
    }
    m.push_str("</div>");
    let series = charts(&ui, &nodes).await;
    m.push_str(&series);
    m.push_str("</div>");
    respond("/", &csrf.0, &p, m)
}

/// "Node B is down" in plain words, for each node that did not answer.
pub fn down_banner<T>(answers: &[(String, Result<T, String>)], silent: &[String]) -> String {
    let mut s = String::new();
    for (name, r) in answers {
        if let Err(e) = r {
            let _ = write!(
                s,
                "<div class=\"banner\" role=\"status\"><p>Node <b>{}</b> is down or unreachable. The figures below are from the \
                 nodes that answered; everything else keeps working.</p><details><summary>Why</summary><p>{}</p></details></div>",
                esc(name),
                esc(e)
            );
        }
    }
    for name in silent {
        let _ = write!(
            s,
            "<p class=\"banner\" role=\"status\">Node <b>{}</b> has not published its admin address (down, or not started yet).</p>",
            esc(name)
        );
    }
    s
}

/// A peer's failover phase (as this node's gossip sees it) in plain words.
fn phase_text(phase: &str) -> &str {
    match phase {
        "serving" => "serving its clients",
        "silent" => "silent: its clients are about to be taken over",
        "taken_over" => "its clients taken over by its peer",
        "returning" => "returning: catching up before serving again",
        other => other,
    }
}

fn node_card(name: &str, s: Result<&Status, &String>, local: &Status) -> String {
    // What this node's gossip knows of a peer that does not answer.
    let peer = local.cluster.as_ref().and_then(|c| c.peers.iter().find(|p| p.id == name));
    let Ok(s) = s else {
        let now = ravens_config::clock::unix_secs();
        let heard = peer.and_then(|p| p.last_heard).map_or("never".to_string(), |t| {
            format!("{} ({} ago)", super::html::clock(t), duration(now.saturating_sub(t)))
        });
        let phase = peer.map_or("-", |p| p.phase.as_str());
        return format!(
            "<section class=\"card\" data-node=\"{0}\"><h2>{0} <span class=\"down\">down</span></h2><dl>\
             <dt>last heard by {1}</dt><dd>{2}</dd><dt>failover</dt><dd>{3}</dd></dl></section>",
            esc(name),
            esc(&local.node),
            esc(&heard),
            esc(phase_text(phase))
        );
    };
    let phase = peer.map(|p| phase_text(&p.phase));
    let q = &s.queries;
    let lookups = s.cache.hits + s.cache.misses;
    let hit = if lookups == 0 { 0.0 } else { 100.0 * s.cache.hits as f64 / lookups as f64 };
    let mut c = format!(
        "<section class=\"card\" data-node=\"{0}\"><h2>{0} <span class=\"up\">up</span></h2><dl>\
         <dt>version</dt><dd>{1}</dd><dt>uptime</dt><dd>{2}</dd><dt>failover</dt><dd>{3}</dd>\
         <dt>queries</dt><dd>{4} ({5} blocked)</dd><dt>cache hit rate</dt><dd>{hit:.1} % of {lookups}</dd>\
         <dt>blocking</dt><dd>{6}</dd><dt>lists</dt><dd>{7} lists, {8} rules</dd></dl>",
        esc(&s.node),
        esc(&s.version),
        duration(s.uptime_secs),
        esc(phase.unwrap_or(if s.node == local.node { "this node" } else { "-" })),
        q.queries,
        q.blocked,
        s.paused_secs.map_or("on".to_string(), |p| format!("paused, {p} s left")),
        s.lists.len(),
        s.blocklist_entries,
    );
    c.push_str("<h3>Upstreams</h3>");
    c.push_str(&upstreams(&s.upstreams));
    if let Some(d) = &s.dhcp {
        c.push_str("<h3>DHCP pools</h3>");
        for p in &d.pools {
            c.push_str(&super::html::pool_meter("pool", &s.node, p, s.cluster.is_some()));
        }
    }
    c.push_str("</section>");
    c
}

/// Queries and blocked per 2 hours over a day, per node and together (inline SVG), and the
/// top lists of the day summed over the nodes.
async fn charts(ui: &super::Ui, nodes: &[Node]) -> String {
    let mut per_node: Vec<(String, Vec<(u64, u64)>)> = Vec::new();
    let mut day: Vec<WindowStats> = Vec::new();
    for n in nodes {
        // Widest window first: a query landing between two calls then only adds to the
        // newest bar, instead of showing up in an older one.
        let mut cum = Vec::new();
        for k in (1..=BARS).rev() {
            // Only the day's window needs top lists; the others give their counts alone.
            let top = if k == BARS { 10 } else { 0 };
            match fetch::get::<WindowStats>(ui, n, &format!("/api/v1/stats?since={}h&top={top}", k * BAR_HOURS)).await {
                Ok(w) => {
                    cum.push((w.queries, w.blocked));
                    if k == BARS {
                        day.push(w);
                    }
                }
                Err(_) => break,
            }
        }
        cum.reverse();
        if cum.len() == BARS as usize {
            // Cumulative windows → per-bar counts, oldest first.
            let mut bars: Vec<(u64, u64)> = (0..cum.len())
                .map(|i| {
                    if i == 0 {
                        cum[0]
                    } else {
                        (cum[i].0.saturating_sub(cum[i - 1].0), cum[i].1.saturating_sub(cum[i - 1].1))
                    }
                })
                .collect();
            bars.reverse();
            per_node.push((n.name.clone(), bars));
        }
    }
    let mut s = String::from("<h2>Last 24 hours</h2><div class=\"grid\">");
    let together: Vec<(u64, u64)> = (0..BARS as usize)
        .map(|i| per_node.iter().fold((0, 0), |acc, (_, b)| (acc.0 + b[i].0, acc.1 + b[i].1)))
        .collect();
    if per_node.len() > 1 {
        s.push_str(&chart("all nodes", &together));
    }
    for (name, bars) in &per_node {
        s.push_str(&chart(name, bars));
    }
    s.push_str("</div><div class=\"grid\">");
    for (title, pick) in [
        ("Top permitted domains", (|w: &WindowStats| &w.top_domains) as fn(&WindowStats) -> &Vec<Top>),
        ("Top blocked domains", |w| &w.top_blocked),
        ("Top clients", |w| &w.top_clients),
    ] {
        let mut sum: BTreeMap<&str, u64> = BTreeMap::new();
        for w in &day {
            for t in pick(w) {
                *sum.entry(&t.name).or_default() += t.count;
            }
        }
        let mut rows: Vec<(&str, u64)> = sum.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let _ = write!(s, "<section class=\"card\"><h2>{title}</h2>");
        s.push_str(&table(&["name", "queries"], rows.iter().take(10).map(|(n, c)| vec![esc(n), c.to_string()])));
        s.push_str("</section>");
    }
    s.push_str("</div>");
    s
}

/// One bar chart: queries (blue) with the blocked part (red), oldest bar left.
fn chart(title: &str, bars: &[(u64, u64)]) -> String {
    let max = bars.iter().map(|b| b.0).max().unwrap_or(0).max(1);
    let (total, blocked) = bars.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let share = if total == 0 { 0.0 } else { 100.0 * blocked as f64 / total as f64 };
    let mut svg = format!(
        "<section class=\"card\"><h2>{}: {total} queries, {share:.1} % blocked</h2>\
         <svg class=\"chart\" viewBox=\"0 0 240 100\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"queries per 2 hours\">",
        esc(title)
    );
    for (i, (q, b)) in bars.iter().enumerate() {
        let x = i * 20 + 2;
        let hq = q * 100 / max;
        let hb = b * 100 / max;
        let _ = write!(
            svg,
            "<rect class=\"q\" x=\"{x}\" y=\"{}\" width=\"16\" height=\"{hq}\"><title>{q} queries</title></rect>",
            100 - hq
        );
        let _ = write!(
            svg,
            "<rect class=\"b\" x=\"{x}\" y=\"{}\" width=\"16\" height=\"{hb}\"><title>{b} blocked</title></rect>",
            100 - hb
        );
    }
    svg.push_str("</svg></section>");
    svg
}

/// The upstreams of a node: health, latency, queries and errors.
pub fn upstreams(ups: &[crate::api::UpstreamStatus]) -> String {
    table(
        &["upstream", "health", "latency", "queries", "errors"],
        ups.iter().map(|u| {
            let health = if u.healthy { "<span class=\"up\">up</span>" } else { "<span class=\"down\">down</span>" };
            vec![
                esc(&u.url),
                health.into(),
                format!("{:.1} ms", u.srtt_ms),
                u.queries.to_string(),
                u.errors.to_string(),
            ]
        }),
    )
}
