//! What every admin handler shares: the state it is given and the error answer.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api::ApiError;
use crate::state::Daemon;

/// The state every handler is given.
pub(crate) type Shared = Arc<Daemon>;

/// A failed request: small enough to travel in a `Result` (a `Response` is not).
pub(crate) type Fail = (StatusCode, axum::Json<ApiError>);

pub(crate) fn fail(status: StatusCode, msg: impl Into<String>) -> Fail {
    (status, axum::Json(ApiError { error: msg.into() }))
}

pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    fail(status, msg).into_response()
}
