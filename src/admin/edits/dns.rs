//! `GET/PATCH /api/v1/dns`: the `[dns]` options of the site config (upstreams, cache size,
//! rate limit, block answer...), edited key by key like every other site item: the whole new
//! config is validated (so a refused value changes nothing and its reason names the key,
//! `dns.cache_size: ...`), written with comments kept, reloaded and replicated. The keys are
//! not listed here: the config parser (`DnsWire`, unknown keys refused) is the one judge.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use ravens_config::site;
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid};
use crate::admin::reply::{Fail, Shared};
use crate::api::edits::{Change, DnsSettings};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/dns", get(show).patch(change))
}

/// The `[dns]` table of the site config, decoded.
fn table(recs: &site::SiteRecords) -> Result<Table, EditError> {
    match recs.get("dns") {
        Some(v) => site::decode("dns", v).map_err(|e| EditError::Conflict(e.to_string())),
        None => Ok(Table::new()),
    }
}

async fn show(State(d): State<Shared>) -> Result<Json<DnsSettings>, Fail> {
    let t = table(&d.site.desired()).map_err(super::common::edit_fail)?;
    Ok(axum::Json(t.into_iter().filter_map(|(k, v)| Some((k, serde_json::to_value(v).ok()?))).collect()))
}

/// A JSON value as TOML; JSON `null` has no TOML form (the caller drops the key instead).
fn to_toml(key: &str, v: serde_json::Value) -> Result<Value, EditError> {
    serde_json::from_value::<Value>(v).map_err(|e| invalid(format!("dns.{key}: not a TOML value: {e}")))
}

async fn change(State(d): State<Shared>, b: Body<DnsSettings>) -> Result<Json<Change>, Fail> {
    let patch = body(b)?;
    if patch.is_empty() {
        return Err(super::common::edit_fail(invalid("no [dns] key given")));
    }
    edit(d, move |recs| {
        let mut t = table(recs)?;
        let (mut set, mut reset) = (Vec::new(), Vec::new());
        for (k, v) in patch {
            if k.is_empty() || !k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
                return Err(invalid(format!("'{k}' is not a [dns] key")));
            }
            if v.is_null() {
                t.remove(&k);
                reset.push(k);
            } else {
                let v = to_toml(&k, v)?;
                set.push(format!("{k} = {v}"));
                t.insert(k, v);
            }
        }
        if t.is_empty() {
            recs.remove("dns");
        } else {
            recs.insert("dns".into(), site::canon(&t));
        }
        let mut what = Vec::new();
        if !set.is_empty() {
            what.push(format!("set {}", set.join(", ")));
        }
        if !reset.is_empty() {
            what.push(format!("back to the default: {}", reset.join(", ")));
        }
        Ok(format!("[dns] {}", what.join("; ")))
    })
    .await
}
