//! The admin HTTP API (`/api/v1/...`, bearer token) and Prometheus `/metrics`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::{Lease, ListStatus, LogEntry, PauseRequest, QueryExplanation, Status};
use crate::state::Daemon;

mod edits;
pub mod listen;
mod openapi;
pub(crate) mod reply;
mod stats;
pub mod status;
pub mod tls;

use reply::{Fail, Shared, error, fail};

pub fn router(daemon: Shared) -> Router {
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/leases", get(leases))
        .route("/api/v1/leases/{ip}/release", post(release))
        .route("/api/v1/lists", get(lists))
        .route("/api/v1/lists/refresh", post(refresh_lists))
        .route("/api/v1/pause", post(pause))
        .route("/api/v1/resume", post(resume))
        .route("/api/v1/query", get(query))
        .route("/api/v1/log", get(log))
        .merge(edits::routes())
        .merge(stats::routes())
        .route_layer(middleware::from_fn_with_state(Arc::clone(&daemon), require_token));
    let app = Router::new()
        .merge(api)
        .merge(openapi::routes())
        .route("/metrics", get(metrics))
        .with_state(Arc::clone(&daemon));
    // The web UI calls the API router above in process (so it runs the same handlers).
    app.clone().merge(crate::ui::router(daemon, app)).fallback(not_found)
}

/// Serves until cancelled, with the caps and timeouts of [`listen`].
/// `tls`: the web UI's certificate ([`tls`]), served on the same port.
pub async fn serve(
    listener: TcpListener,
    daemon: Shared,
    limits: listen::Limits,
    cancel: CancellationToken,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    listen::serve(listener, router(daemon), limits, cancel, tls).await;
}

async fn require_token(State(d): State<Shared>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::token::bearer)
        .unwrap_or("");
    if !crate::token::equal(given.as_bytes(), d.token.as_bytes()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token (see admin.token in the node's data_dir)",
        );
    }
    next.run(req).await
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn status(State(d): State<Shared>) -> axum::Json<Status> {
    axum::Json(status::status(&d))
}

async fn metrics(State(d): State<Shared>) -> Response {
    let body = crate::metrics::render(&d, &status::status(&d));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct LeaseQuery {
    subnet: Option<String>,
    /// Only leases whose address, MAC or host name holds this (case-insensitive).
    #[serde(default)]
    q: String,
    /// At most this many, the first by subnet and address.
    limit: Option<usize>,
}

fn dhcp(d: &Daemon) -> Result<&ravens_dhcp::DhcpHandle, Fail> {
    d.dhcp.as_ref().ok_or_else(|| fail(StatusCode::NOT_FOUND, "DHCP is not configured on this node (no [[subnet]])"))
}

async fn leases(State(d): State<Shared>, Query(q): Query<LeaseQuery>) -> Result<axum::Json<Vec<Lease>>, Fail> {
    let h = dhcp(&d)?;
    if let Some(name) = &q.subnet
        && !d.dns.resolver().state().config.subnets.iter().any(|s| &s.name == name)
    {
        return Err(fail(StatusCode::NOT_FOUND, format!("no subnet named '{name}'")));
    }
    let all = h.leases(q.subnet.as_deref());
    let (found, _) = crate::leases::search(&all, &q.q.trim().to_ascii_lowercase(), q.limit.unwrap_or(usize::MAX));
    Ok(axum::Json(found))
}

async fn release(State(d): State<Shared>, Path(ip): Path<String>) -> Response {
    let h = match dhcp(&d) {
        Ok(h) => h,
        Err(r) => return r.into_response(),
    };
    let Ok(addr) = ip.parse::<std::net::Ipv4Addr>() else {
        return error(StatusCode::BAD_REQUEST, format!("'{ip}' is not an IPv4 address"));
    };
    if h.release(addr) {
        axum::Json(serde_json::json!({ "released": addr })).into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no active lease for {addr}"))
    }
}

async fn lists(State(d): State<Shared>) -> axum::Json<Vec<ListStatus>> {
    axum::Json(status::lists(&d))
}

async fn refresh_lists(State(d): State<Shared>) -> axum::Json<Vec<ListStatus>> {
    d.dns.refresh_lists().await;
    axum::Json(status::lists(&d))
}

fn group_arg(d: &Daemon, group: &Option<String>) -> Result<Option<ravens_dns::blocklist::GroupId>, Fail> {
    match group {
        None => Ok(None),
        Some(name) => crate::explain::group_by_name(d, name)
            .map(Some)
            .ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("no group named '{name}'"))),
    }
}

async fn pause(
    State(d): State<Shared>,
    body: Result<axum::Json<PauseRequest>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(req) = match body {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("bad request body: {e}")),
    };
    let group = match group_arg(&d, &req.group) {
        Ok(g) => g,
        Err(r) => return r.into_response(),
    };
    let secs = req.seconds.unwrap_or(300);
    if secs == 0 || secs > 7 * 86_400 {
        return error(StatusCode::BAD_REQUEST, "seconds must be between 1 and 604800");
    }
    d.dns.resolver().blocking.pause(group, std::time::Duration::from_secs(secs), std::time::Instant::now());
    tracing::info!(group = req.group.as_deref().unwrap_or("all"), secs, "blocking paused");
    axum::Json(serde_json::json!({ "paused": req.group.as_deref().unwrap_or("all"), "seconds": secs })).into_response()
}

async fn resume(State(d): State<Shared>, body: Option<axum::Json<PauseRequest>>) -> Response {
    let req = body.map(|b| b.0).unwrap_or_default();
    let group = match group_arg(&d, &req.group) {
        Ok(g) => g,
        Err(r) => return r.into_response(),
    };
    d.dns.resolver().blocking.resume(group);
    tracing::info!(group = req.group.as_deref().unwrap_or("all"), "blocking resumed");
    axum::Json(serde_json::json!({ "resumed": req.group.as_deref().unwrap_or("all") })).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct QueryArgs {
    name: String,
    client: Option<String>,
}

async fn query(State(d): State<Shared>, Query(q): Query<QueryArgs>) -> Result<axum::Json<QueryExplanation>, Fail> {
    let client = match q.client.as_deref() {
        None => std::net::IpAddr::from([127, 0, 0, 1]),
        Some(c) => c.parse().map_err(|_| fail(StatusCode::BAD_REQUEST, format!("'{c}' is not an IP address")))?,
    };
    if q.name.trim().is_empty() || q.name.len() > 253 {
        return Err(fail(StatusCode::BAD_REQUEST, "name must be 1 to 253 characters"));
    }
    Ok(axum::Json(crate::explain::explain(&d, q.name.trim(), client)))
}

#[derive(Debug, serde::Deserialize)]
struct LogArgs {
    client: Option<String>,
    #[serde(default)]
    blocked: bool,
    name: Option<String>,
    limit: Option<usize>,
    #[serde(default)]
    since_ms: u64,
}

async fn log(State(d): State<Shared>, Query(a): Query<LogArgs>) -> Result<axum::Json<Vec<LogEntry>>, Fail> {
    let client = match a.client.as_deref() {
        None => None,
        Some(c) => Some(c.parse().map_err(|_| fail(StatusCode::BAD_REQUEST, format!("'{c}' is not an IP address")))?),
    };
    let filter = ravens_dns::querylog::LogFilter {
        client,
        blocked_only: a.blocked,
        name_contains: a.name.map(|n| n.to_ascii_lowercase()),
        limit: a.limit.unwrap_or(100).min(10_000),
        since_ms: a.since_ms,
    };
    let engine = d.dns.resolver().blocking.engine.load();
    let entries = d.dns.resolver().querylog.query(&filter, |id| engine.list_name(id).to_string());
    Ok(axum::Json(entries.into_iter().map(status::log_entry).collect()))
}
