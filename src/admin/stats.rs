//! Query statistics endpoints (`/api/v1/stats`): totals, blocked share and top lists over
//! the last hour or day, from the aggregate window the query log feeds.

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};

use super::reply::{Fail, Shared, fail};
use crate::api::WindowStats;

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/stats", get(stats))
}

#[derive(Debug, serde::Deserialize)]
struct StatsArgs {
    /// `1h`, `24h`, `30m`, ... (1 minute to 24 hours); default 24h.
    since: Option<String>,
    /// Entries per top list; default 10, at most 100; 0 = the counts alone (cheaper).
    top: Option<usize>,
}

/// Parses `since`: a duration from one minute to a day.
pub(crate) fn parse_since(text: Option<&str>) -> Result<Duration, String> {
    let Some(text) = text else { return Ok(Duration::from_secs(24 * 3600)) };
    let d = ravens_config::units::parse_duration(text).map_err(|e| format!("since: {e}"))?;
    if d < Duration::from_secs(60) || d > ravens_dns::stats::window::MAX_WINDOW {
        return Err(format!("since: '{text}' is outside 1m..24h (the statistics keep one day)"));
    }
    Ok(d)
}

async fn stats(
    State(d): State<Shared>,
    args: Result<Query<StatsArgs>, QueryRejection>,
) -> Result<Json<WindowStats>, Fail> {
    let Query(a) = args.map_err(|e| fail(StatusCode::BAD_REQUEST, format!("bad query string: {e}")))?;
    let since = parse_since(a.since.as_deref()).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let top = a.top.unwrap_or(10);
    if top > 100 {
        return Err(fail(StatusCode::BAD_REQUEST, "top must be between 0 and 100"));
    }
    let mut s = super::status::window_stats(d.dns.window().stats(ravens_config::clock::unix_ms(), since, top));
    s.nodes = vec![d.dns.resolver().state().config.node.name.clone()];
    Ok(Json(s))
}
