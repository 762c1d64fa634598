//! Helpers of the edit handlers: the request body, the edit itself (off the async threads),
//! the records a handler lists, and the error answers.

use axum::http::StatusCode;
use ravens_config::site::{self, SiteRecords};
use toml::{Table, Value};

use crate::admin::reply::{Fail, Shared, fail};
use crate::api::edits::Change;
pub(super) use crate::config_file::EditError;

pub(super) type Json<T> = axum::Json<T>;
pub(super) type Body<T> = Result<axum::Json<T>, axum::extract::rejection::JsonRejection>;

pub(super) fn edit_fail(e: EditError) -> Fail {
    let status = match e {
        EditError::NoFile | EditError::Conflict(_) => StatusCode::CONFLICT,
        EditError::Invalid(_) => StatusCode::BAD_REQUEST,
        EditError::NotFound(_) => StatusCode::NOT_FOUND,
        EditError::Io(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    fail(status, e.to_string())
}

pub(super) fn body<T>(b: Body<T>) -> Result<T, Fail> {
    b.map(|j| j.0).map_err(|e| fail(StatusCode::BAD_REQUEST, format!("bad request body: {e}")))
}

/// Runs a site edit off the async threads (it reads, validates, fsyncs and renames the
/// file, which takes a while for a large one).
pub(super) async fn edit(
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
pub(super) fn items(d: &Shared, prefix: &str) -> Vec<(String, Table)> {
    d.site
        .desired()
        .into_iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .filter_map(|(k, v)| site::decode(&k, &v).ok().map(|t| (k, t)))
        .collect()
}

pub(super) fn s(t: &Table, k: &str) -> Option<String> {
    t.get(k).and_then(Value::as_str).map(str::to_string)
}

pub(super) fn invalid(msg: impl Into<String>) -> EditError {
    EditError::Invalid(msg.into())
}
