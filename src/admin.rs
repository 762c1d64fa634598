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

use crate::api::{ApiError, Lease, Status};
use crate::daemon::Daemon;

type Shared = Arc<Daemon>;

pub fn router(daemon: Shared) -> Router {
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/leases", get(leases))
        .route("/api/v1/leases/{ip}/release", post(release))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&daemon), require_token));
    Router::new().merge(api).route("/metrics", get(metrics)).fallback(not_found).with_state(daemon)
}

/// Serves until cancelled.
pub async fn serve(listener: TcpListener, daemon: Shared, cancel: CancellationToken) {
    let app = router(daemon);
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(cancel.cancelled_owned()).await {
        tracing::error!("admin API stopped: {e}");
    }
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, axum::Json(ApiError { error: msg.into() })).into_response()
}

async fn require_token(State(d): State<Shared>, req: Request, next: Next) -> Response {
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !crate::token::equal(given.trim().as_bytes(), d.token.as_bytes()) {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong bearer token (see admin.token in the node's data_dir)");
    }
    next.run(req).await
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn status(State(d): State<Shared>) -> axum::Json<Status> {
    axum::Json(d.status())
}

async fn metrics(State(d): State<Shared>) -> Response {
    let body = crate::metrics::render(&d.status());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

#[derive(Debug, serde::Deserialize)]
struct LeaseQuery {
    subnet: Option<String>,
}

fn dhcp(d: &Daemon) -> Result<&ravens_dhcp::DhcpHandle, Response> {
    d.dhcp.as_ref().ok_or_else(|| error(StatusCode::NOT_FOUND, "DHCP is not configured on this node (no [[subnet]])"))
}

async fn leases(State(d): State<Shared>, Query(q): Query<LeaseQuery>) -> Result<axum::Json<Vec<Lease>>, Response> {
    let h = dhcp(&d)?;
    if let Some(name) = &q.subnet
        && !d.resolver.state().config.subnets.iter().any(|s| &s.name == name)
    {
        return Err(error(StatusCode::NOT_FOUND, format!("no subnet named '{name}'")));
    }
    Ok(axum::Json(h.leases(q.subnet.as_deref()).iter().map(crate::leases::to_api).collect()))
}

async fn release(State(d): State<Shared>, Path(ip): Path<String>) -> Response {
    let h = match dhcp(&d) {
        Ok(h) => h,
        Err(r) => return r,
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
