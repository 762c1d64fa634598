//! `PUT /api/v1/password`: the web UI's password hash, stored in the site config's `[ui]`
//! table so every node of the pair checks the same one.

use axum::Router;
use axum::extract::State;
use axum::routing::put;
use ravens_config::site;
use toml::{Table, Value};

use super::common::{Body, EditError, Json, body, edit, invalid};
use crate::admin::reply::{Fail, Shared};
use crate::api::edits::{Change, PasswordSpec};

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/password", put(set))
}

/// Whether `hash` is an argon2id PHC string the UI can verify against.
pub(crate) fn check_hash(hash: &str) -> Result<(), String> {
    let parsed = argon2::PasswordHash::new(hash).map_err(|e| format!("not a password hash: {e}"))?;
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() {
        return Err(format!("the hash is {}, not argon2id", parsed.algorithm));
    }
    Ok(())
}

async fn set(State(d): State<Shared>, b: Body<PasswordSpec>) -> Result<Json<Change>, Fail> {
    let spec = body(b)?;
    edit(d, move |recs| {
        check_hash(&spec.hash).map_err(invalid)?;
        // Other `[ui]` keys (none yet) are kept.
        let mut t = match recs.get("ui") {
            Some(v) => site::decode("ui", v).map_err(|e| EditError::Conflict(e.to_string()))?,
            None => Table::new(),
        };
        t.insert("password_hash".into(), Value::String(spec.hash.clone()));
        recs.insert("ui".into(), site::canon(&t));
        Ok("web UI password set (on every node of the cluster)".to_string())
    })
    .await
}
