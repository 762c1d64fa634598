//! Site-config edit endpoints (docs/ARCHITECTURE.md §6): custom block/allow entries, groups, local records,
//! reservations, list sources, the `[dns]` options, config export/import and the import of a Pi-hole. Every change is validated, written
//! into the config file with `toml_edit` and replicated, the same path as a hand edit
//! ([`crate::config_file::edit`]).

use axum::Router;
use axum::routing::get;

use super::reply::Shared;

mod common;
mod config;
mod dns;
mod entries;
mod forward;
mod groups;
pub(crate) mod password;
mod pihole;
mod records;

pub(super) fn routes() -> Router<Shared> {
    Router::new()
        .merge(entries::routes())
        .merge(dns::routes())
        .merge(records::routes())
        .merge(forward::routes())
        .merge(groups::routes())
        .merge(pihole::routes())
        .merge(password::routes())
        .route("/api/v1/config", get(config::export).put(config::import).layer(config::body_limit()))
}
