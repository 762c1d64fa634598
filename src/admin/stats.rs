//! Query statistics endpoints (`/api/v1/stats`).

use axum::Router;

use super::Shared;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
}
