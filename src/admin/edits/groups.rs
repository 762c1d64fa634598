//! Client groups (`/api/v1/groups`, `/api/v1/groups/{name}`): list, add, edit and remove
//! `[[group]]` items. Their order is data (the first group matching a client wins), kept in
//! the records' `_order`: a new group goes last, and a removal renumbers the rest.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, put};
use ravens_config::site::{self, SiteRecords};
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid, items, s};
use crate::admin::reply::{Fail, Shared};
use crate::api::edits::{Change, GroupEdit, GroupSpec};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/groups", get(list).post(add))
        .route("/api/v1/groups/{name}", put(change).delete(remove))
}

fn strings(t: &Table, k: &str) -> Option<Vec<String>> {
    t.get(k).and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

fn order(t: &Table) -> i64 {
    t.get("_order").and_then(Value::as_integer).unwrap_or(i64::MAX)
}

fn spec(t: &Table) -> Option<GroupSpec> {
    Some(GroupSpec {
        name: s(t, "name")?,
        settings: GroupEdit {
            clients: strings(t, "clients").unwrap_or_default(),
            lists: strings(t, "lists"),
            blocking: t.get("blocking").and_then(Value::as_bool),
            block_response: s(t, "block_response"),
            upstreams: strings(t, "upstreams"),
            lists_from: None,
        },
    })
}

async fn list(State(d): State<Shared>) -> Json<Vec<GroupSpec>> {
    let mut gs = items(&d, "group/");
    gs.sort_by_key(|(_, t)| order(t));
    axum::Json(gs.iter().filter_map(|(_, t)| spec(t)).collect())
}

fn str_array(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.trim().to_string())).filter(|v| v.as_str() != Some("")).collect())
}

/// `t` with the settings of `e`: clients and lists replaced, the rest only when given; an
/// empty `block_response` or `upstreams` removes the key (the `dns` setting applies), and so
/// does `blocking = true` (the default).
fn set(t: &mut Table, e: &GroupEdit) -> Result<(), EditError> {
    if e.clients.is_empty() {
        t.remove("clients");
    } else {
        t.insert("clients".into(), str_array(&e.clients));
    }
    let lists = match (e.lists_from.as_deref(), &e.lists) {
        (None, l) => l.clone(),
        (Some("group"), l) => Some(l.clone().unwrap_or_default()),
        (Some("lists"), None) => None,
        (Some("lists"), Some(_)) => {
            return Err(invalid("lists: leave it empty when the lists that name the group apply"));
        }
        (Some(other), _) => return Err(invalid(format!("lists_from: '{other}' is not group or lists"))),
    };
    match &lists {
        Some(l) => t.insert("lists".into(), str_array(l)),
        None => t.remove("lists"),
    };
    // On is the default: the key is only written for off (the form always sends it).
    match e.blocking {
        None => {}
        Some(true) => {
            t.remove("blocking");
        }
        Some(false) => {
            t.insert("blocking".into(), Value::Boolean(false));
        }
    }
    match e.block_response.as_deref().map(str::trim) {
        None => {}
        Some("") => {
            t.remove("block_response");
        }
        Some(r) => {
            t.insert("block_response".into(), Value::String(r.to_string()));
        }
    }
    match e.upstreams.as_deref().map(str_array) {
        None => {}
        Some(Value::Array(a)) if a.is_empty() => {
            t.remove("upstreams");
        }
        Some(a) => {
            t.insert("upstreams".into(), a);
        }
    }
    Ok(())
}

/// The groups' records in matching order.
fn groups(recs: &SiteRecords) -> Result<Vec<(String, Table)>, EditError> {
    let mut gs = recs
        .range::<str, _>((std::ops::Bound::Included("group/"), std::ops::Bound::Excluded("group0")))
        .map(|(k, v)| site::decode(k, v).map(|t| (k.clone(), t)).map_err(|e| EditError::Conflict(e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    gs.sort_by_key(|(_, t)| order(t));
    Ok(gs)
}

fn group_key(name: &str) -> String {
    site::key("group", name)
}

async fn add(State(d): State<Shared>, b: Body<GroupSpec>) -> Result<Json<Change>, Fail> {
    let g = body(b)?;
    edit(d, move |recs| {
        let name = g.name.trim().to_string();
        if name.is_empty() || name.len() > 64 || name.contains(['\n', '\r', '/']) {
            return Err(invalid("a group name is 1 to 64 characters, without '/'"));
        }
        if recs.contains_key(&group_key(&name)) {
            return Err(EditError::Conflict(format!("a group named '{name}' already exists")));
        }
        let mut t = Table::new();
        t.insert("name".into(), Value::String(name.clone()));
        set(&mut t, &g.settings)?;
        // Last in matching order: the groups already there keep matching first.
        t.insert("_order".into(), Value::Integer(groups(recs)?.len() as i64));
        recs.insert(group_key(&name), site::canon(&t));
        Ok(format!("added group {name}"))
    })
    .await
}

async fn change(State(d): State<Shared>, Path(name): Path<String>, b: Body<GroupEdit>) -> Result<Json<Change>, Fail> {
    let e = body(b)?;
    edit(d, move |recs| {
        let k = group_key(&name);
        let Some(v) = recs.get(&k) else { return Err(EditError::NotFound(format!("no group named '{name}'"))) };
        let mut t = site::decode(&k, v).map_err(|e| EditError::Conflict(e.to_string()))?;
        set(&mut t, &e)?;
        recs.insert(k, site::canon(&t));
        Ok(format!("changed group {name}"))
    })
    .await
}

async fn remove(State(d): State<Shared>, Path(name): Path<String>) -> Result<Json<Change>, Fail> {
    // Lists that name the group would not validate without it: say which, change nothing.
    let users: Vec<String> = items(&d, "list/")
        .into_iter()
        .filter(|(_, t)| strings(t, "groups").is_some_and(|g| g.contains(&name)))
        .filter_map(|(_, t)| s(&t, "name"))
        .collect();
    edit(d, move |recs| {
        if recs.remove(&group_key(&name)).is_none() {
            return Err(EditError::NotFound(format!("no group named '{name}'")));
        }
        if !users.is_empty() {
            return Err(invalid(format!(
                "group '{name}' is named by list(s) {}: take it out of their groups first",
                users.join(", ")
            )));
        }
        // Keep `_order` what a fresh read of the file gives: 0, 1, 2...
        for (i, (k, mut t)) in groups(recs)?.into_iter().enumerate() {
            if order(&t) != i as i64 {
                t.insert("_order".into(), Value::Integer(i as i64));
                recs.insert(k, site::canon(&t));
            }
        }
        Ok(format!("removed group {name}"))
    })
    .await
}
