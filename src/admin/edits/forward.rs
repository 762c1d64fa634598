//! Forward zones (`/api/v1/forwards`): `[[forward]]` items of the site config, edited like
//! local records (validated with the whole config, written with comments kept, replicated).

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use ravens_config::forward::{domain_id, zones_of};
use ravens_config::site;
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid, items, s};
use crate::admin::reply::{Fail, Shared};
use crate::api::edits::{Change, ForwardSpec};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/forwards", get(list).post(add).delete(remove))
}

fn strings(t: &Table, k: &str) -> Option<Vec<String>> {
    t.get(k)?.as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
}

fn spec(t: &Table) -> Option<ForwardSpec> {
    Some(ForwardSpec { domain: s(t, "domain")?, upstreams: strings(t, "upstreams")?, groups: strings(t, "groups") })
}

async fn list(State(d): State<Shared>) -> Json<Vec<ForwardSpec>> {
    axum::Json(items(&d, "forward/").iter().filter_map(|(_, t)| spec(t)).collect())
}

fn array(v: &[String]) -> Value {
    Value::Array(v.iter().map(|s| Value::String(s.trim().to_string())).collect())
}

async fn add(State(d): State<Shared>, b: Body<ForwardSpec>) -> Result<Json<Change>, Fail> {
    let f = body(b)?;
    edit(d, move |recs| {
        // The domain's own check first, so a bad network is refused with its reason even
        // before the whole config is validated.
        let (zone, _) = zones_of(&f.domain).map_err(invalid)?;
        if let Some((_, other)) = same_zone(recs, &zone) {
            return Err(EditError::Conflict(format!("{other} is already forwarded")));
        }
        let mut t = Table::new();
        t.insert("domain".into(), Value::String(f.domain.trim().to_string()));
        t.insert("upstreams".into(), array(&f.upstreams));
        if let Some(g) = &f.groups {
            t.insert("groups".into(), array(g));
        }
        let (k, v) = site::forward(&t).map_err(|e| invalid(e.to_string()))?;
        recs.insert(k, v);
        Ok(format!("forwarding {} to {}", f.domain.trim(), f.upstreams.join(", ")))
    })
    .await
}

/// The key and domain of the `[[forward]]` whose normalised domain is `zone` (so
/// `FD00::/8`, `fd00:0::/8` and `fd00::/8` are one).
fn same_zone(recs: &site::SiteRecords, zone: &str) -> Option<(String, String)> {
    let prefix = "forward/";
    recs.range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| Some((k.clone(), s(&site::decode(k, v).ok()?, "domain")?)))
        .find(|(_, domain)| zones_of(domain).is_ok_and(|(z, _)| z == zone) || domain_id(domain) == zone)
}

#[derive(Debug, serde::Deserialize)]
struct DomainArg {
    domain: String,
}

async fn remove(State(d): State<Shared>, Query(a): Query<DomainArg>) -> Result<Json<Change>, Fail> {
    edit(d, move |recs| {
        let zone = zones_of(&a.domain).map_or_else(|_| domain_id(&a.domain), |(z, _)| z);
        let Some((k, domain)) = same_zone(recs, &zone) else {
            return Err(EditError::NotFound(format!("no forward zone {}", a.domain.trim())));
        };
        recs.remove(&k);
        Ok(format!("removed forward zone {domain}"))
    })
    .await
}
