//! Site-config endpoints (DESIGN §6): custom block/allow entries, local records,
//! reservations, list sources and config export/import. Every change is validated, written
//! into the config file with `toml_edit` and replicated, the same path as a hand edit.

use axum::Router;

use super::Shared;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
}
