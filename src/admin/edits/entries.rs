//! Custom block and allow entries (`/api/v1/block`, `/api/v1/allow`): rules of inline lists.

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use ravens_config::site;
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid, items, s};
use crate::admin::reply::{Fail, Shared};
use crate::api::edits::{Change, CustomEntry, Enabled};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/block", get(block_list).post(block_add).delete(block_remove).patch(block_enable))
        .route("/api/v1/allow", get(allow_list).post(allow_add).delete(allow_remove).patch(allow_enable))
}

#[derive(Debug, serde::Deserialize)]
struct EntryArgs {
    name: String,
    list: Option<String>,
}

fn entries(d: &Shared, allow: bool) -> Vec<CustomEntry> {
    let kind_of: std::collections::BTreeMap<String, bool> = items(d, "list/")
        .into_iter()
        .filter_map(|(_, t)| Some((s(&t, "name")?, s(&t, "kind").as_deref() == Some("allow"))))
        .collect();
    items(d, "entry/")
        .into_iter()
        .filter_map(|(_, t)| Some((s(&t, "list")?, site::entry_rule(&t)?)))
        .filter(|(l, _)| kind_of.get(l) == Some(&allow))
        .map(|(list, (name, enabled))| CustomEntry { name, list: Some(list), enabled })
        .collect()
}

/// A rule as `dnsctl block add` takes it: one line that the list parser keeps.
fn check_rule(rule: &str, allow: bool) -> Result<String, EditError> {
    let rule = rule.trim();
    if rule.is_empty() || rule.len() > 1024 || rule.contains(['\n', '\r']) {
        return Err(invalid("name must be one rule of 1 to 1024 characters"));
    }
    let input = ravens_dns::blocklist::CompileInput {
        name: "check".into(),
        data: ravens_dns::blocklist::ListData::Text(rule.to_string()),
        groups: 1,
        allow_list: allow,
    };
    let (_, reports) = ravens_dns::blocklist::compile(&[input]);
    match reports.first() {
        Some(r) if r.entries == 1 => Ok(rule.trim_end_matches('.').to_string()),
        Some(r) => {
            let why = r.first_rejected.first().map_or("not a rule ravens uses", |l| l.reason);
            Err(invalid(format!("'{rule}' is not a usable rule: {why}")))
        }
        None => Err(invalid(format!("'{rule}' is not a usable rule"))),
    }
}

fn entry_add(d: Shared, req: CustomEntry, allow: bool) -> impl Future<Output = Result<Json<Change>, Fail>> {
    let kind = if allow { "allow" } else { "block" };
    let list = req.list.clone().unwrap_or_else(|| format!("custom-{kind}"));
    edit(d, move |recs| {
        let rule = check_rule(&req.name, allow)?;
        let list_key = site::key("list", &list);
        match recs.get(&list_key).map(|v| site::decode(&list_key, v)) {
            None => {
                let mut t = Table::new();
                t.insert("name".into(), Value::String(list.clone()));
                t.insert("kind".into(), Value::String(kind.into()));
                t.insert("entries".into(), Value::Array(Vec::new()));
                let (k, v) = site::list(&t).map_err(|e| invalid(e.to_string()))?;
                recs.insert(k, v);
            }
            Some(Ok(t)) => {
                if !t.contains_key("entries") {
                    return Err(invalid(format!(
                        "list '{list}' reads a file or URL; custom entries go to inline lists"
                    )));
                }
                if (s(&t, "kind").as_deref() == Some("allow")) != allow {
                    return Err(invalid(format!("list '{list}' is not an {kind} list")));
                }
            }
            Some(Err(e)) => return Err(EditError::Conflict(e.to_string())),
        }
        let (k, v) = site::entry_state(&list, &rule, req.enabled);
        let msg = match recs.get(&k) {
            Some(old) if *old == v => format!("{rule} is already in {list}"),
            // Added again while disabled (or the other way round): the state is what changes.
            Some(_) => format!("{} {rule} in {list}", if req.enabled { "enabled" } else { "disabled" }),
            None => format!("{kind}ed {rule} (list {list})"),
        };
        recs.insert(k, v);
        Ok(msg)
    })
}

/// The (list, rule) of the custom entries `a` names.
fn matching(d: &Shared, a: &EntryArgs, allow: bool) -> (String, Vec<(String, String)>) {
    let name = a.name.trim().trim_end_matches('.').to_string();
    let found = entries(d, allow)
        .into_iter()
        .filter(|e| e.name.trim_end_matches('.').eq_ignore_ascii_case(&name))
        .filter_map(|e| Some((e.list?, e.name)))
        .filter(|(l, _)| a.list.as_ref().is_none_or(|want| want == l))
        .collect();
    (name, found)
}

/// Removes the entries `a` names (`on` = `None`), or turns them on or off: a disabled
/// entry stays in its list, unused.
fn entry_change(
    d: Shared,
    a: EntryArgs,
    on: Option<bool>,
    allow: bool,
) -> impl Future<Output = Result<Json<Change>, Fail>> {
    let kind = if allow { "allow" } else { "block" };
    let (name, found) = matching(&d, &a, allow);
    edit(d, move |recs| {
        if found.is_empty() {
            return Err(EditError::NotFound(format!("'{name}' is not a custom {kind} entry")));
        }
        for (list, rule) in &found {
            match on {
                None => recs.remove(&site::entry(list, rule).0),
                Some(on) => {
                    let (k, v) = site::entry_state(list, rule, on);
                    recs.insert(k, v)
                }
            };
        }
        let lists: Vec<&str> = found.iter().map(|(l, _)| l.as_str()).collect();
        let done = match on {
            None => "removed",
            Some(true) => "enabled",
            Some(false) => "disabled",
        };
        let prep = if on.is_none() { "from" } else { "in" };
        Ok(format!("{done} {kind} entry {name} {prep} {}", lists.join(", ")))
    })
}

async fn block_list(State(d): State<Shared>) -> Json<Vec<CustomEntry>> {
    axum::Json(entries(&d, false))
}

async fn allow_list(State(d): State<Shared>) -> Json<Vec<CustomEntry>> {
    axum::Json(entries(&d, true))
}

async fn block_add(State(d): State<Shared>, b: Body<CustomEntry>) -> Result<Json<Change>, Fail> {
    entry_add(d, body(b)?, false).await
}

async fn allow_add(State(d): State<Shared>, b: Body<CustomEntry>) -> Result<Json<Change>, Fail> {
    entry_add(d, body(b)?, true).await
}

async fn block_remove(State(d): State<Shared>, Query(a): Query<EntryArgs>) -> Result<Json<Change>, Fail> {
    entry_change(d, a, None, false).await
}

async fn allow_remove(State(d): State<Shared>, Query(a): Query<EntryArgs>) -> Result<Json<Change>, Fail> {
    entry_change(d, a, None, true).await
}

async fn block_enable(
    State(d): State<Shared>,
    Query(a): Query<EntryArgs>,
    b: Body<Enabled>,
) -> Result<Json<Change>, Fail> {
    entry_change(d, a, Some(body(b)?.enabled), false).await
}

async fn allow_enable(
    State(d): State<Shared>,
    Query(a): Query<EntryArgs>,
    b: Body<Enabled>,
) -> Result<Json<Change>, Fail> {
    entry_change(d, a, Some(body(b)?.enabled), true).await
}
