//! `/ui/api/PATH`: the UI's changes, run by the API handler of `/api/v1/PATH` on this node
//! (session and CSRF already checked by [`super::auth`]), so a change from the UI takes the
//! dnsctl path: validate → file edit → reload → replicate. Pausing and refreshing lists are
//! per node, so those go to every node; a peer that does not answer is reported, not fatal.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::UiState;
use super::fetch::{self, local_raw};

/// Bodies of the per-node calls (pause, resume, refresh) are read whole to be sent to every
/// node; they are tiny, so this is generous.
const MAX_BODY: usize = 1 << 20;

/// API paths whose effect is per node: the UI applies them on every node.
fn per_node(path: &str) -> bool {
    matches!(path, "pause" | "resume" | "lists/refresh")
}

pub async fn call(State(ui): State<UiState>, Path(path): Path<String>, req: Request) -> Response {
    let method = req.method().clone();
    let query = req.uri().query().map(|q| format!("?{q}")).unwrap_or_default();
    let api_path = format!("/api/v1/{path}{query}");
    let ctype = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let ctype = ctype.to_string();
    if !per_node(&path) {
        // Passed to the API as it came, streamed and with its type (a config import or a
        // Pi-hole archive is large, the archive binary): the API's own body limits apply.
        let (status, out) = fetch::local_typed(&ui, method.clone(), &api_path, req.into_body(), &ctype).await;
        log_change(&method, &api_path, status);
        return (status, [(header::CONTENT_TYPE, "application/json")], out).into_response();
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(e) => return (StatusCode::PAYLOAD_TOO_LARGE, format!("request body: {e}")).into_response(),
    };
    let (status, out) = local_raw(&ui, method.clone(), &api_path, Body::from(body.clone())).await;
    log_change(&method, &api_path, status);
    if !status.is_success() {
        return (status, [(header::CONTENT_TYPE, "application/json")], out).into_response();
    }
    let (nodes, _) = fetch::nodes(&ui).await;
    let mut warnings = Vec::new();
    for n in nodes.iter().filter_map(|n| n.peer.as_ref().map(|t| (n, t))) {
        let m = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap_or(reqwest::Method::POST);
        let b = (!body.is_empty()).then(|| (body.to_vec(), "application/json"));
        if let Err(e) = crate::ctl::call::<serde_json::Value>(n.1, m, &api_path, b).await {
            warnings.push(format!("node {}: {e:#}", n.0.name));
        }
    }
    let mut v: serde_json::Value = serde_json::from_slice(&out).unwrap_or_default();
    if !warnings.is_empty()
        && let Some(o) = v.as_object_mut()
    {
        o.insert("warning".into(), format!("not applied on {}", warnings.join("; ")).into());
    }
    axum::Json(v).into_response()
}

fn log_change(method: &Method, api_path: &str, status: StatusCode) {
    if *method != Method::GET && status.is_success() {
        tracing::info!(path = %api_path, %method, "change from the web UI");
    }
}
