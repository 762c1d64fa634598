//! Local records, DHCP reservations and list sources (`/api/v1/records`,
//! `/api/v1/reservations`, `/api/v1/lists`).

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use ravens_config::site::{self, SiteRecords};
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid, items, s};
use crate::admin::reply::{Fail, Shared, fail};
use crate::api::edits::{Change, Enabled, ListSpec, RecordSpec, ReservationSpec};

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/records", get(records_list).post(records_add).put(records_change).delete(records_remove))
        .route("/api/v1/reservations", get(res_list).post(res_add).delete(res_remove))
        .route("/api/v1/lists", post(lists_add))
        .route("/api/v1/lists/{name}", delete(lists_remove).patch(lists_enable))
}

// ---- local records ----

fn record_spec(t: &Table) -> Option<RecordSpec> {
    Some(RecordSpec { name: s(t, "name")?, rtype: s(t, "type")?, value: s(t, "value")?, ttl: s(t, "ttl") })
}

async fn records_list(State(d): State<Shared>) -> Json<Vec<RecordSpec>> {
    axum::Json(items(&d, "record/").iter().filter_map(|(_, t)| record_spec(t)).collect())
}

/// The record of `r` (the file's form: name and value trimmed, the type upper case).
fn record_of(r: &RecordSpec) -> Result<(String, String), EditError> {
    let mut t = Table::new();
    t.insert("name".into(), Value::String(r.name.trim().to_string()));
    t.insert("type".into(), Value::String(r.rtype.trim().to_ascii_uppercase()));
    t.insert("value".into(), Value::String(r.value.trim().to_string()));
    if let Some(ttl) = r.ttl.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        t.insert("ttl".into(), Value::String(ttl.to_string()));
    }
    site::record(&t).map_err(|e| invalid(e.to_string()))
}

async fn records_add(State(d): State<Shared>, b: Body<RecordSpec>) -> Result<Json<Change>, Fail> {
    let r = body(b)?;
    edit(d, move |recs| {
        let (k, v) = record_of(&r)?;
        if recs.contains_key(&k) {
            return Err(EditError::Conflict(format!("{} {} {} already exists", r.name, r.rtype, r.value)));
        }
        recs.insert(k, v);
        Ok(format!("added {} {} {}", r.name, r.rtype.to_ascii_uppercase(), r.value))
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
struct RecordArgs {
    name: String,
    #[serde(rename = "type")]
    rtype: Option<String>,
    value: Option<String>,
}

/// The keys of the records `a` names.
fn matching_records(recs: &SiteRecords, a: &RecordArgs) -> Vec<String> {
    let want = a.name.trim().trim_end_matches('.').to_ascii_lowercase();
    // Record keys start with the name (`record/NAME TYPE VALUE`): only those are read,
    // plus the few keys hashed for length.
    with_prefix(recs, &site::key("record", &format!("{want} ")), "record/#")
        .filter(|(_, t)| {
            let Some(r) = record_spec(t) else { return false };
            r.name.trim().trim_end_matches('.').eq_ignore_ascii_case(&want)
                && a.rtype.as_ref().is_none_or(|ty| ty.eq_ignore_ascii_case(&r.rtype))
                && a.value.as_ref().is_none_or(|v| v.trim() == r.value.trim())
        })
        .map(|(k, _)| k)
        .collect()
}

/// `PUT /api/v1/records?name=&type=&value=`: the one record named becomes the body's
/// (a new value or TTL, or another name or type).
async fn records_change(
    State(d): State<Shared>,
    Query(a): Query<RecordArgs>,
    b: Body<RecordSpec>,
) -> Result<Json<Change>, Fail> {
    let r = body(b)?;
    edit(d, move |recs| {
        let old = match matching_records(recs, &a).as_slice() {
            [] => return Err(EditError::NotFound(format!("no local record matches {}", a.name.trim()))),
            [one] => one.clone(),
            _ => return Err(invalid(format!("more than one record matches {}: give its type and value", a.name))),
        };
        let (k, v) = record_of(&r)?;
        if k != old && recs.contains_key(&k) {
            return Err(EditError::Conflict(format!("{} {} {} already exists", r.name, r.rtype, r.value)));
        }
        recs.remove(&old);
        recs.insert(k, v);
        Ok(format!(
            "changed {} to {} {} {}",
            a.name.trim(),
            r.name.trim(),
            r.rtype.to_ascii_uppercase(),
            r.value.trim()
        ))
    })
    .await
}

async fn records_remove(State(d): State<Shared>, Query(a): Query<RecordArgs>) -> Result<Json<Change>, Fail> {
    let want = a.name.trim().trim_end_matches('.').to_ascii_lowercase();
    edit(d, move |recs| {
        let keys = matching_records(recs, &a);
        if keys.is_empty() {
            return Err(EditError::NotFound(format!("no local record matches {want}")));
        }
        for k in &keys {
            recs.remove(k);
        }
        Ok(format!("removed {} record(s) of {want}", keys.len()))
    })
    .await
}

/// The decoded records whose key starts with `prefix` or `hashed` (the kind's keys that
/// were too long and are named by a hash), found by range: no scan of the other records.
fn with_prefix<'a>(
    recs: &'a SiteRecords,
    prefix: &'a str,
    hashed: &'a str,
) -> impl Iterator<Item = (String, Table)> + 'a {
    [prefix, hashed].into_iter().flat_map(move |p| {
        recs.range::<str, _>((std::ops::Bound::Included(p), std::ops::Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(p))
            .filter_map(|(k, v)| site::decode(k, v).ok().map(|t| (k.clone(), t)))
    })
}

// ---- reservations ----

fn reservation_spec(t: &Table) -> Option<ReservationSpec> {
    Some(ReservationSpec {
        subnet: s(t, "subnet")?,
        mac: s(t, "mac"),
        client_id: s(t, "client_id"),
        ip: s(t, "ip")?,
        hostname: s(t, "hostname"),
    })
}

#[derive(Debug, serde::Deserialize)]
struct SubnetArg {
    subnet: Option<String>,
}

async fn res_list(State(d): State<Shared>, Query(q): Query<SubnetArg>) -> Result<Json<Vec<ReservationSpec>>, Fail> {
    if let Some(sn) = &q.subnet
        && !d.site.desired().contains_key(&site::key("subnet", sn))
    {
        return Err(fail(StatusCode::NOT_FOUND, format!("no subnet named '{sn}'")));
    }
    Ok(axum::Json(
        items(&d, "reservation/")
            .iter()
            .filter_map(|(_, t)| reservation_spec(t))
            .filter(|r| q.subnet.as_ref().is_none_or(|sn| *sn == r.subnet))
            .collect(),
    ))
}

async fn res_add(State(d): State<Shared>, b: Body<ReservationSpec>) -> Result<Json<Change>, Fail> {
    let r = body(b)?;
    edit(d, move |recs| {
        if !recs.contains_key(&site::key("subnet", &r.subnet)) {
            return Err(EditError::NotFound(format!("no subnet named '{}'", r.subnet)));
        }
        let mut t = Table::new();
        t.insert("subnet".into(), Value::String(r.subnet.clone()));
        for (k, v) in [("mac", &r.mac), ("client_id", &r.client_id), ("hostname", &r.hostname)] {
            if let Some(v) = v {
                t.insert(k.into(), Value::String(v.trim().to_string()));
            }
        }
        if r.mac.is_none() && r.client_id.is_none() {
            return Err(invalid("a reservation needs mac or client_id"));
        }
        t.insert("ip".into(), Value::String(r.ip.trim().to_string()));
        let (k, v) = site::reservation(&t).map_err(|e| invalid(e.to_string()))?;
        if recs.contains_key(&k) {
            let who = r.mac.as_deref().or(r.client_id.as_deref()).unwrap_or_default();
            return Err(EditError::Conflict(format!("{who} already has a reservation in {}", r.subnet)));
        }
        recs.insert(k, v);
        Ok(format!("reserved {} in {}", r.ip, r.subnet))
    })
    .await
}

#[derive(Debug, serde::Deserialize)]
struct ResArgs {
    subnet: String,
    /// MAC, client-id or IP.
    id: String,
}

async fn res_remove(State(d): State<Shared>, Query(a): Query<ResArgs>) -> Result<Json<Change>, Fail> {
    let id = a.id.trim().to_ascii_lowercase().replace('-', ":");
    edit(d, move |recs| {
        let keys: Vec<String> =
            with_prefix(recs, &site::key("reservation", &format!("{}/", a.subnet)), "reservation/#")
                .filter(|(_, t)| {
                    reservation_spec(t).is_some_and(|r| {
                        r.subnet == a.subnet
                            && (r.ip == id
                                || r.mac.is_some_and(|m| m.to_ascii_lowercase().replace('-', ":") == id)
                                || r.client_id.is_some_and(|c| c.eq_ignore_ascii_case(&id)))
                    })
                })
                .map(|(k, _)| k)
                .collect();
        if keys.is_empty() {
            return Err(EditError::NotFound(format!("no reservation for {id} in subnet '{}'", a.subnet)));
        }
        for k in &keys {
            recs.remove(k);
        }
        Ok(format!("removed the reservation of {id} in {}", a.subnet))
    })
    .await
}

// ---- list sources ----

async fn lists_add(State(d): State<Shared>, b: Body<ListSpec>) -> Result<Json<Change>, Fail> {
    let l = body(b)?;
    edit(d, move |recs| {
        let mut t = Table::new();
        t.insert("name".into(), Value::String(l.name.trim().to_string()));
        for (k, v) in [("url", &l.url), ("path", &l.path), ("kind", &l.kind), ("refresh", &l.refresh)] {
            if let Some(v) = v {
                t.insert(k.into(), Value::String(v.trim().to_string()));
            }
        }
        if let Some(g) = &l.groups {
            t.insert("groups".into(), Value::Array(g.iter().map(|g| Value::String(g.clone())).collect()));
        }
        let (k, v) = site::list(&t).map_err(|e| invalid(e.to_string()))?;
        if recs.contains_key(&k) {
            return Err(EditError::Conflict(format!("a list named '{}' already exists", l.name)));
        }
        recs.insert(k, v);
        Ok(format!("added list {}", l.name))
    })
    .await
}

/// `PATCH /api/v1/lists/{name}`: a disabled list stays in the config, not loaded.
async fn lists_enable(
    State(d): State<Shared>,
    Path(name): Path<String>,
    b: Body<Enabled>,
) -> Result<Json<Change>, Fail> {
    let on = body(b)?.enabled;
    edit(d, move |recs| {
        let k = site::key("list", &name);
        let Some(v) = recs.get(&k) else { return Err(EditError::NotFound(format!("no list named '{name}'"))) };
        let mut t = site::decode(&k, v).map_err(|e| EditError::Conflict(e.to_string()))?;
        // Enabled is the default: written only when off.
        if on {
            t.remove("enabled");
        } else {
            t.insert("enabled".into(), Value::Boolean(false));
        }
        recs.insert(k, site::canon(&t));
        Ok(format!("{} list {name}", if on { "enabled" } else { "disabled" }))
    })
    .await
}

async fn lists_remove(State(d): State<Shared>, Path(name): Path<String>) -> Result<Json<Change>, Fail> {
    edit(d, move |recs| {
        if recs.remove(&site::key("list", &name)).is_none() {
            return Err(EditError::NotFound(format!("no list named '{name}'")));
        }
        let prefix = site::key("entry", &format!("{name}/"));
        recs.retain(|k, _| !k.starts_with(&prefix));
        Ok(format!("removed list {name}"))
    })
    .await
}
