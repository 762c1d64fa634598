//! Site-config edit endpoints (docs/ARCHITECTURE.md §6): custom block/allow entries, local records,
//! reservations, list sources and config export/import. Every change is validated, written
//! into the config file with `toml_edit` and replicated, the same path as a hand edit
//! ([`crate::config_file::edit`]).

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use ravens_config::site::{self, SiteRecords};
use toml::{Table, Value};

use super::{Fail, Shared, fail};
use crate::api::edits::Change;
use crate::config_file::EditError;

mod config;
mod entries;
mod records;

type Json<T> = axum::Json<T>;
type Body<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .merge(entries::routes())
        .merge(records::routes())
        .route("/api/v1/config", get(config::export).put(config::import).layer(config::body_limit()))
}

fn edit_fail(e: EditError) -> Fail {
    let status = match e {
        EditError::NoFile | EditError::Conflict(_) => StatusCode::CONFLICT,
        EditError::Invalid(_) => StatusCode::BAD_REQUEST,
        EditError::NotFound(_) => StatusCode::NOT_FOUND,
        EditError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    fail(status, e.to_string())
}

fn body<T>(b: Body<T>) -> Result<T, Fail> {
    b.map(|j| j.0).map_err(|e| fail(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

/// Runs a site edit off the async threads (it reads, validates, fsyncs and renames the
/// file, which takes a while for a large one).
async fn edit(
    d: Shared,
    f: impl FnOnce(&mut SiteRecords) -> Result<String, EditError> + Send + 'static,
) -> Result<Json<Change>, Fail> {
    tokio::task::spawn_blocking(move || crate::config_file::edit(&d, f))
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("edit task failed: {e}")))?
        .map(axum::Json)
        .map_err(edit_fail)
}

/// The decoded records whose key starts with `prefix`.
fn items(d: &Shared, prefix: &str) -> Vec<(String, Table)> {
    d.site
        .desired()
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| site::decode(&k, &v).ok().map(|t| (k, t)))
        .collect()
}

fn s(t: &Table, k: &str) -> Option<String> {
    t.get(k).and_then(Value::as_str).map(str::to_string)
}

fn invalid(msg: impl Into<String>) -> EditError {
    EditError::Invalid(msg.into())
}
