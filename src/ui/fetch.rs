//! The API's answers for the pages: this node's from the API router in process (with the
//! node's own token, so the same handlers run), the peers' over HTTP with the cluster's
//! shared token, their addresses from the gossip as `dnsctl --all` finds them. A peer that
//! does not answer within [`PEER_TIMEOUT`] is shown as down; the page still renders.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde::de::DeserializeOwned;
use tower::ServiceExt as _;

use super::Ui;
use crate::api::{ApiError, Status};
use crate::ctl::Target;

/// How long a page waits for a peer: a dead peer must not stall the UI of the live one.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(2);

/// One node: its name, and how to reach it (`None` = this node, in process).
#[derive(Debug, Clone)]
pub struct Node {
    pub name: String,
    pub peer: Option<Target>,
}

/// Calls this node's API in process: `method path` with an optional JSON body; the answer's
/// status and body.
pub async fn local_raw(ui: &Ui, method: Method, path: &str, body: Body) -> (StatusCode, axum::body::Bytes) {
    local_typed(ui, method, path, body, "application/json").await
}

/// [`local_raw`] with a body of another type (a Pi-hole archive is binary).
pub async fn local_typed(
    ui: &Ui,
    method: Method,
    path: &str,
    body: Body,
    content_type: &str,
) -> (StatusCode, axum::body::Bytes) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {}", ui.d.token))
        .header(header::CONTENT_TYPE, content_type)
        .body(body);
    let Ok(req) = req else { return (StatusCode::BAD_REQUEST, axum::body::Bytes::from_static(b"bad path")) };
    let res = match ui.api.clone().oneshot(req).await {
        Ok(r) => r,
        Err(e) => match e {},
    };
    let status = res.status();
    let body = axum::body::to_bytes(res.into_body(), 256 << 20).await.unwrap_or_default();
    (status, body)
}

/// The API's error text of an answer, or the body as text.
pub fn error_text(body: &[u8]) -> String {
    serde_json::from_slice::<ApiError>(body)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(body).into_owned())
}

/// GET `path` of one node, decoded.
pub async fn get<T: DeserializeOwned + Send + 'static>(ui: &Ui, node: &Node, path: &str) -> Result<T, String> {
    match &node.peer {
        None => {
            let (status, body) = local_raw(ui, Method::GET, path, Body::empty()).await;
            if !status.is_success() {
                return Err(error_text(&body));
            }
            serde_json::from_slice(&body).map_err(|e| format!("bad answer: {e}"))
        }
        Some(t) => crate::ctl::get(t, path).await.map_err(|e| format!("{e:#}")),
    }
}

/// This node, then every peer that published an admin address, with the local status.
pub async fn nodes(ui: &Ui) -> (Vec<Node>, Status) {
    let status = crate::admin::status::status(&ui.d);
    let mut out = vec![Node { name: status.node.clone(), peer: None }];
    if let Some(c) = &status.cluster {
        for (name, addr) in &c.admin {
            if *name == status.node {
                continue;
            }
            let target = Target {
                addr: addr.clone(),
                token: ui.d.token.clone(),
                source: format!("node {name}"),
                timeout: PEER_TIMEOUT,
            };
            out.push(Node { name: name.clone(), peer: Some(target) });
        }
    }
    (out, status)
}

/// GET `path` from every node at once; answers in node order.
pub async fn all<T: DeserializeOwned + Send + 'static>(
    ui: &Ui,
    nodes: &[Node],
    path: &str,
) -> Vec<(String, Result<T, String>)> {
    let futs = nodes.iter().map(|n| async move { (n.name.clone(), get::<T>(ui, n, path).await) });
    futures_join_all(futs).await
}

/// Runs the futures concurrently, keeping their order (a pair is two; no crate for this).
async fn futures_join_all<F: Future>(futs: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    out.into_iter().flatten().collect()
}

/// The peer named in the cluster config that has published no admin address yet.
pub fn silent_peers(status: &Status, nodes: &[Node]) -> Vec<String> {
    let Some(c) = &status.cluster else { return Vec::new() };
    c.peers.iter().filter(|p| !nodes.iter().any(|n| n.name == p.id)).map(|p| p.id.clone()).collect()
}
