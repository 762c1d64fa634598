//! The Groups and clients page: each group with its clients (CIDR, IP, MAC), lists,
//! blocking, block answer and upstreams, in matching order, editable in place; a form to add
//! one. Read from `/api/v1/groups` and
//! changed through [`super::proxy`] like every site edit.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;

use super::UiState;
use super::auth::Csrf;
use super::edit_form::edit_form;
use super::fetch::{self, Node};
use super::html::{action, esc};
use crate::api::edits::GroupSpec;

const FIELDS: [(&str, &str, &str, bool); 6] = [
    ("clients", "Clients: CIDRs, IPs or MACs (comma separated)", "text", false),
    ("lists_from", "Lists that apply", "select:group,lists", true),
    ("lists", "Lists named here (comma separated)", "text", false),
    ("blocking", "Blocking", "select:true,false", true),
    ("block_response", "Block answer: null, nxdomain, refused or an IP (empty = the DNS setting)", "text", false),
    ("upstreams", "Upstreams: URLs as in the DNS settings (comma separated; empty = those)", "text", false),
];

/// A group's form with its choices spelled out for people.
fn worded(form: String) -> String {
    [
        (">group</option>", ">the lists named here</option>"),
        (">lists</option>", ">the lists whose groups name it</option>"),
        (">true</option>", ">on</option>"),
        (">false</option>", ">off: nothing blocked</option>"),
    ]
    .iter()
    .fold(form, |f, (from, to)| f.replacen(from, to, 1))
}

pub async fn page(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    let mut m = String::from(
        "<h1>Groups and clients</h1><p class=\"note\">A client is in the first group whose clients match it \
         (in the order below), else in <code>default</code>.</p><h2>Add a group</h2>",
    );
    let mut add = vec![("name", "Name", "text", true)];
    add.extend(FIELDS);
    m.push_str(&worded(edit_form("add-group", "POST", "groups", "Add group", &add, &[], &[])));
    let node = Node { name: String::new(), peer: None };
    match fetch::get::<Vec<GroupSpec>>(&ui, &node, "/api/v1/groups").await {
        Ok(gs) if gs.is_empty() => m.push_str("<p class=\"note\">No groups yet: every client is in default.</p>"),
        Ok(gs) => {
            m.push_str("<div class=\"grid\">");
            for (i, g) in gs.iter().enumerate() {
                m.push_str(&card(i, g));
            }
            m.push_str("</div>");
        }
        Err(e) => {
            let _ = write!(m, "<p class=\"banner\" role=\"alert\">Cannot read the groups: {}</p>", esc(&e));
        }
    }
    Html(super::html::page("/groups", &csrf.0, &m))
}

/// One group: what it is now, a form to change all of it, and Remove.
fn card(i: usize, g: &GroupSpec) -> String {
    let path = format!("groups/{}", crate::ctl::urlencode(&g.name));
    let e = &g.settings;
    let clients = e.clients.join(", ");
    let lists = e.lists.as_ref().map(|l| l.join(", "));
    let shown = lists
        .as_ref()
        .map_or("the lists that name it".to_string(), |l| if l.is_empty() { "none".to_string() } else { esc(l) });
    let blocking = e.blocking.unwrap_or(true);
    let response = e.block_response.clone().unwrap_or_default();
    let upstreams = e.upstreams.as_ref().map(|u| u.join(", ")).unwrap_or_default();
    let mut extra = String::new();
    if !blocking {
        extra.push_str("<dt>blocking</dt><dd>off</dd>");
    }
    if !response.is_empty() {
        let _ = write!(extra, "<dt>block answer</dt><dd>{}</dd>", esc(&response));
    }
    if !upstreams.is_empty() {
        let _ = write!(extra, "<dt>upstreams</dt><dd>{}</dd>", esc(&upstreams));
    }
    let values = [
        ("clients", clients.as_str()),
        ("lists_from", if lists.is_none() { "lists" } else { "group" }),
        ("lists", lists.as_deref().unwrap_or("")),
        ("blocking", if blocking { "true" } else { "false" }),
        ("block_response", &response),
        ("upstreams", &upstreams),
    ];
    format!(
        "<section class=\"card group\"><h2>{name}</h2><dl><dt>clients</dt><dd>{c}</dd><dt>lists</dt><dd>{shown}</dd>{extra}</dl>\
         {edit}{remove}</section>",
        name = esc(&g.name),
        c = if clients.is_empty() { "none".into() } else { esc(&clients) },
        edit = worded(edit_form(&format!("edit-group-{i}"), "PUT", &path, "Save", &FIELDS, &values, &[])),
        remove = action("Remove group", "DELETE", &path, &serde_json::Value::Null),
    )
}
