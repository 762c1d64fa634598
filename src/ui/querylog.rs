//! The query log: the recent log of every node, merged by time and filtered (client, name,
//! verdict, node), each row with one click to block or allow its name; and the live tail,
//! server-sent events polling each node's `/api/v1/log` for what came since.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::UiState;
use super::auth::Csrf;
use super::fetch::{self, Node};
use super::html::{action, esc};
use crate::api::LogEntry;

/// How often the live tail asks the nodes.
const TAIL_EVERY: Duration = Duration::from_millis(500);

#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct Filter {
    #[serde(default)]
    client: String,
    #[serde(default)]
    name: String,
    /// `all`, `blocked` or `permitted`.
    #[serde(default)]
    verdict: String,
    /// A node name, or empty for every node.
    #[serde(default)]
    node: String,
}

impl Filter {
    /// The API query for one node's log since `since_ms`.
    fn api_path(&self, since_ms: u64, limit: usize) -> String {
        let mut p = format!("/api/v1/log?limit={limit}&since_ms={since_ms}");
        if !self.client.trim().is_empty() {
            let _ = write!(p, "&client={}", crate::ctl::urlencode(self.client.trim()));
        }
        if !self.name.trim().is_empty() {
            let _ = write!(p, "&name={}", crate::ctl::urlencode(self.name.trim()));
        }
        if self.verdict == "blocked" {
            p.push_str("&blocked=true");
        }
        p
    }

    fn keeps(&self, e: &LogEntry) -> bool {
        self.verdict != "permitted" || e.outcome != "blocked"
    }

    fn nodes(&self, all: &[Node]) -> Vec<Node> {
        all.iter().filter(|n| self.node.is_empty() || n.name == self.node).cloned().collect::<Vec<_>>()
    }
}

pub async fn page(
    State(ui): State<UiState>,
    Extension(csrf): Extension<Csrf>,
    Query(f): Query<Filter>,
) -> Html<String> {
    let (all, local) = fetch::nodes(&ui).await;
    let nodes = f.nodes(&all);
    let logs = fetch::all::<Vec<LogEntry>>(&ui, &nodes, &f.api_path(0, 200)).await;
    let names = lease_names(&ui);
    let mut rows: Vec<(String, LogEntry)> = Vec::new();
    for (node, r) in &logs {
        if let Ok(es) = r {
            rows.extend(es.iter().filter(|e| f.keeps(e)).map(|e| (node.clone(), e.clone())));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1.time_ms));
    let mut m = String::from("<h1>Query log</h1>");
    m.push_str(&super::dashboard::down_banner(&logs, &fetch::silent_peers(&local, &all)));
    m.push_str(&filters(&f, &all));
    m.push_str("<p class=\"note\">Newest first; new queries appear live.</p>");
    let head = ["time", "node", "client", "name", "type", "verdict", "list", "actions"];
    m.push_str(&super::html::table_open(&head, Some("tail")));
    for (node, e) in rows.iter().take(200) {
        let client = match names.get(&e.client.to_string()) {
            Some(h) => format!("{} ({})", e.client, h),
            None => e.client.to_string(),
        };
        let actions = action("Block", "POST", "block", &serde_json::json!({ "name": e.name }))
            + &action("Allow", "POST", "allow", &serde_json::json!({ "name": e.name }));
        let cells = [
            super::html::clock(e.time_ms / 1000),
            esc(node),
            esc(&client),
            esc(&e.name),
            qtype(e.qtype),
            esc(&e.outcome),
            esc(e.list.as_deref().unwrap_or("")),
            actions,
        ];
        m.push_str(&super::html::row(&head, &cells));
    }
    m.push_str("</tbody></table></div>");
    Html(super::html::page("/log", &csrf.0, &m))
}

fn filters(f: &Filter, nodes: &[Node]) -> String {
    let mut s = format!(
        "<form class=\"filters\" method=\"get\" action=\"/log\">\
         <div class=\"field\"><label for=\"f-client\">Client IP</label><input id=\"f-client\" name=\"client\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"f-name\">Name contains</label><input id=\"f-name\" name=\"name\" value=\"{}\"></div>\
         <div class=\"field\"><label for=\"f-verdict\">Verdict</label><select id=\"f-verdict\" name=\"verdict\">",
        esc(&f.client),
        esc(&f.name)
    );
    for v in ["all", "blocked", "permitted"] {
        let sel = if f.verdict == v { " selected" } else { "" };
        let _ = write!(s, "<option{sel}>{v}</option>");
    }
    s.push_str("</select></div><div class=\"field\"><label for=\"f-node\">Node</label><select id=\"f-node\" name=\"node\"><option value=\"\">all</option>");
    for n in nodes {
        let sel = if f.node == n.name { " selected" } else { "" };
        let _ = write!(s, "<option{sel}>{}</option>", esc(&n.name));
    }
    s.push_str("</select></div><button type=\"submit\">Filter</button></form>");
    s
}

/// Client address → DHCP host name. Leases replicate, so this node's table holds the
/// pair's; read from the lease table directly (the API would serialise every lease).
fn lease_names(ui: &super::Ui) -> HashMap<String, String> {
    let Some(h) = &ui.d.dhcp else { return HashMap::new() };
    h.leases(None).iter().filter_map(|l| Some((l.ip.to_string(), l.hostname.clone()?))).collect()
}

fn qtype(t: u16) -> String {
    match t {
        1 => "A".into(),
        28 => "AAAA".into(),
        5 => "CNAME".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        t => format!("TYPE{t}"),
    }
}

/// The live tail: every [`TAIL_EVERY`], what each node logged since the last look.
pub async fn events(
    State(ui): State<UiState>,
    Query(f): Query<Filter>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let now = ravens_config::clock::unix_ms();
    let state = (ui, f, HashMap::<String, u64>::new(), now, std::collections::VecDeque::<Event>::new());
    let stream = futures_util::stream::unfold(state, |(ui, f, mut since, start, mut queue)| async move {
        loop {
            if let Some(ev) = queue.pop_front() {
                return Some((Ok(ev), (ui, f, since, start, queue)));
            }
            tokio::time::sleep(TAIL_EVERY).await;
            let (all, _) = fetch::nodes(&ui).await;
            let nodes = f.nodes(&all);
            for n in &nodes {
                let from = *since.get(&n.name).unwrap_or(&start);
                let Ok(mut es) = fetch::get::<Vec<LogEntry>>(&ui, n, &f.api_path(from, 500)).await else { continue };
                es.sort_by_key(|e| e.time_ms);
                for e in es.into_iter().filter(|e| f.keeps(e)) {
                    since.insert(n.name.clone(), e.time_ms.max(from));
                    let row = serde_json::json!({
                        "time": super::html::clock(e.time_ms / 1000), "node": n.name, "client": e.client,
                        "name": e.name, "qtype": qtype(e.qtype), "outcome": e.outcome, "list": e.list,
                    });
                    queue.push_back(Event::default().data(row.to_string()));
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
