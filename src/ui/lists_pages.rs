//! The site-config pages: local DNS records (add, edit in place, remove), custom allow/deny
//! entries (domains) and lists (add, enable/disable, remove); groups are in
//! [`super::groups_page`]. Site config is the same on every node, so these read this node's
//! API; every change goes through [`super::proxy`] to the API's edit handlers.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::State;
use axum::response::Html;

use super::UiState;
use super::auth::Csrf;
use super::edit_form::{edit_form, toggle, yes_no};
use super::fetch::{self, Node};
use super::html::{action, esc, form, page, table};
use crate::api::ListStatus;
use crate::api::edits::{CustomEntry, RecordSpec};

fn this() -> Node {
    Node { name: String::new(), peer: None }
}

fn failed(what: &str, e: &str) -> String {
    format!("<p class=\"banner\" role=\"alert\">Cannot read {what}: {}</p>", esc(e))
}

pub async fn records(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    let mut m = String::from("<h1>Local DNS records</h1>");
    m.push_str(&form(
        "add-record",
        "POST",
        "records",
        "Add record",
        &[
            ("name", "Name", "text", true),
            ("type", "Type", "select:A,AAAA,CNAME,PTR,TXT,MX,SRV", true),
            ("value", "Value", "text", true),
            ("ttl", "TTL (e.g. 300s)", "text", false),
        ],
    ));
    match fetch::get::<Vec<RecordSpec>>(&ui, &this(), "/api/v1/records").await {
        Ok(rs) => m.push_str(&table(
            &["name", "type", "value", "TTL", ""],
            rs.iter().enumerate().map(|(i, r)| {
                let q = format!(
                    "records?name={}&type={}&value={}",
                    crate::ctl::urlencode(&r.name),
                    crate::ctl::urlencode(&r.rtype),
                    crate::ctl::urlencode(&r.value)
                );
                vec![
                    esc(&r.name),
                    esc(&r.rtype),
                    esc(&r.value),
                    esc(r.ttl.as_deref().unwrap_or("300s")),
                    format!("{}{}", edit_record(i, r, &q), action("Remove", "DELETE", &q, &serde_json::Value::Null)),
                ]
            }),
        )),
        Err(e) => m.push_str(&failed("the records", &e)),
    }
    Html(page("/records", &csrf.0, &m))
}

/// The record's value and TTL, changed in place (`PUT records?name=&type=&value=`), behind
/// a disclosure so the table stays narrow.
fn edit_record(i: usize, r: &RecordSpec, path: &str) -> String {
    let ttl = r.ttl.as_deref().unwrap_or("");
    let f = edit_form(
        &format!("edit-record-{i}"),
        "PUT",
        path,
        "Save",
        &[("value", "Value", "text", true), ("ttl", "TTL", "text", false)],
        &[("value", &r.value), ("ttl", ttl)],
        &[("name", &r.name), ("type", &r.rtype)],
    );
    format!("<details><summary>Edit</summary>{f}</details>")
}

pub async fn domains(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    let mut m = String::from(
        "<h1>Domains</h1><p class=\"note\">Custom entries: a domain, <code>*.domain</code> or an adblock rule such as <code>||domain^</code>. Allow beats block.</p>",
    );
    for kind in ["block", "allow"] {
        let _ = write!(m, "<h2>{}</h2>", if kind == "block" { "Blocked" } else { "Allowed" });
        m.push_str(&form(
            &format!("add-{kind}"),
            "POST",
            kind,
            &format!("Add to {kind}"),
            &[("name", "Domain or rule", "text", true), ("list", "Inline list (optional)", "text", false)],
        ));
        match fetch::get::<Vec<CustomEntry>>(&ui, &this(), &format!("/api/v1/{kind}")).await {
            Ok(es) => m.push_str(&table(
                &["name", "list", "groups", "enabled", ""],
                es.iter().map(|e| {
                    let list = e.list.clone().unwrap_or_default();
                    let groups = list_groups(&ui, &list);
                    let q =
                        format!("{kind}?name={}&list={}", crate::ctl::urlencode(&e.name), crate::ctl::urlencode(&list));
                    vec![
                        esc(&e.name),
                        esc(&list),
                        esc(&groups),
                        yes_no(e.enabled),
                        format!(
                            "{}{}",
                            toggle(e.enabled, &q),
                            action("Remove", "DELETE", &q, &serde_json::Value::Null)
                        ),
                    ]
                }),
            )),
            Err(e) => m.push_str(&failed("the entries", &e)),
        }
    }
    Html(page("/domains", &csrf.0, &m))
}

pub async fn lists(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    let mut m = String::from("<h1>Lists</h1>");
    m.push_str(&action("Refresh all now", "POST", "lists/refresh", &serde_json::Value::Null));
    m.push_str("<h2>Add a list</h2>");
    let mut f = form(
        "add-list",
        "POST",
        "lists",
        "Add list",
        &[
            ("name", "Name", "text", true),
            ("url", "URL (http/https)", "url", false),
            ("path", "or path on the nodes", "text", false),
            ("kind", "Kind", "select:block,allow", true),
            ("groups", "Groups (comma separated)", "text", false),
        ],
    );
    f = f.replace("name=\"groups\" type=\"text\"", "name=\"groups\" type=\"text\" data-list");
    m.push_str(&f);
    match fetch::get::<Vec<ListStatus>>(&ui, &this(), "/api/v1/lists").await {
        Ok(ls) => m.push_str(&table(
            &["name", "kind", "source", "enabled", "entries", "rejected", "last refresh", "error", ""],
            ls.iter().map(|l| {
                let rejected = l
                    .first_rejected
                    .iter()
                    .map(|r| format!("line {}: {} ({})", r.line, esc(&r.text), esc(&r.reason)))
                    .collect::<Vec<_>>()
                    .join("<br>");
                vec![
                    esc(&l.name),
                    esc(&l.kind),
                    esc(&l.source),
                    yes_no(l.enabled),
                    l.entries.to_string(),
                    format!("{}<br>{rejected}", l.rejected),
                    l.last_refresh.map_or("-".into(), super::html::clock),
                    esc(l.last_error.as_deref().unwrap_or("")),
                    {
                        let path = format!("lists/{}", crate::ctl::urlencode(&l.name));
                        format!(
                            "{}{}",
                            toggle(l.enabled, &path),
                            action("Remove", "DELETE", &path, &serde_json::Value::Null)
                        )
                    },
                ]
            }),
        )),
        Err(e) => m.push_str(&failed("the lists", &e)),
    }
    Html(page("/lists", &csrf.0, &m))
}

/// The groups a list applies to, from the site config (`default` when it names none).
fn list_groups(ui: &super::Ui, list: &str) -> String {
    let key = ravens_config::site::key("list", list);
    let desired = ui.d.site.desired();
    let groups = desired.get(&key).and_then(|v| ravens_config::site::decode(&key, v).ok()).and_then(|t| {
        t.get("groups")
            .and_then(|g| g.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>().join(", "))
            .map(|g| if g.is_empty() { "none (unless a group names it)".into() } else { g })
    });
    groups.unwrap_or_else(|| "default".into())
}
