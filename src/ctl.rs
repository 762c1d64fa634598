//! dnsctl's client side: finding a node and its token, calling the API, printing tables.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::de::DeserializeOwned;

pub mod all;
pub mod args;
mod dns_options;
pub mod edits;
mod groups;
pub mod import;
pub(crate) mod password;
mod print;

pub use print::{
    print_explanation, print_leases, print_lists, print_log, print_log_line, print_stats, print_status, shown,
};

use crate::api::ApiError;

/// Where dnsctl looks when told nothing.
pub const DEFAULT_CONFIG: &str = "/etc/ravens/ravens.toml";

/// How long dnsctl waits for a node's answer unless told otherwise (`--timeout`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A node to talk to.
#[derive(Debug, Clone)]
pub struct Target {
    /// `host:port` of the admin API.
    pub addr: String,
    pub token: String,
    /// Where the address and token came from, for error messages.
    pub source: String,
    /// How long to wait for each answer.
    pub timeout: Duration,
}

/// Resolves the node: `--node` (+ `--token-file`/`RAVENS_TOKEN`), else `--config`, else
/// /etc/ravens/ravens.toml, else the embedded default (as `ravensd` with no file runs).
pub fn target(node: Option<&str>, token_file: Option<&Path>, config: Option<&Path>) -> anyhow::Result<Target> {
    if let Some(addr) = node {
        let token = match (token_file, std::env::var("RAVENS_TOKEN")) {
            (Some(f), _) => read_token(f)?,
            (None, Ok(t)) => t.trim().to_string(),
            (None, Err(_)) => bail!("--node {addr} needs --token-file FILE or RAVENS_TOKEN"),
        };
        let source = format!("--node {addr}");
        return Ok(Target { addr: addr.to_string(), token, source, timeout: DEFAULT_TIMEOUT });
    }
    let (cfg, source) = match config {
        Some(p) => (ravens_config::load_file(p)?, p.display().to_string()),
        None if Path::new(DEFAULT_CONFIG).exists() => {
            (ravens_config::load_file(Path::new(DEFAULT_CONFIG))?, DEFAULT_CONFIG.to_string())
        }
        None => (ravens_config::embedded_default(), "the embedded default config".to_string()),
    };
    let token_path = token_file.map_or_else(|| cfg.node.data_dir.join("admin.token"), PathBuf::from);
    let token = read_token(&token_path)?;
    Ok(Target { addr: cfg.node.admin_listen.to_string(), token, source, timeout: DEFAULT_TIMEOUT })
}

fn read_token(path: &Path) -> anyhow::Result<String> {
    let t = std::fs::read_to_string(path).with_context(|| {
        format!("reading the admin token {} (is ravensd running there, and may you read it?)", path.display())
    })?;
    Ok(t.trim().to_string())
}

/// GETs `path` from the node's API and decodes the JSON answer.
pub async fn get<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::GET, path, None).await
}

/// POSTs to `path` (no body) and decodes the JSON answer.
pub async fn post<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::POST, path, None).await
}

/// POSTs a JSON body to `path` and decodes the JSON answer.
pub async fn post_json<T: DeserializeOwned>(t: &Target, path: &str, body: &impl serde::Serialize) -> anyhow::Result<T> {
    call(t, reqwest::Method::POST, path, Some((serde_json::to_vec(body)?, JSON))).await
}

/// POSTs raw bytes (an archive) to `path` and decodes the JSON answer.
pub async fn post_bytes<T: DeserializeOwned>(t: &Target, path: &str, body: Vec<u8>) -> anyhow::Result<T> {
    call(t, reqwest::Method::POST, path, Some((body, "application/octet-stream"))).await
}

/// PUTs a JSON body to `path` and decodes the JSON answer.
pub async fn put_json<T: DeserializeOwned>(t: &Target, path: &str, body: &impl serde::Serialize) -> anyhow::Result<T> {
    call(t, reqwest::Method::PUT, path, Some((serde_json::to_vec(body)?, JSON))).await
}

/// PATCHes `path` with a JSON body (an item turned on or off) and decodes the JSON answer.
pub async fn patch_json<T: DeserializeOwned>(
    t: &Target,
    path: &str,
    body: &impl serde::Serialize,
) -> anyhow::Result<T> {
    call(t, reqwest::Method::PATCH, path, Some((serde_json::to_vec(body)?, JSON))).await
}

const JSON: &str = "application/json";

/// DELETEs `path` and decodes the JSON answer.
pub async fn delete<T: DeserializeOwned>(t: &Target, path: &str) -> anyhow::Result<T> {
    call(t, reqwest::Method::DELETE, path, None).await
}

pub(crate) async fn call<T: DeserializeOwned>(
    t: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<(Vec<u8>, &str)>,
) -> anyhow::Result<T> {
    let url = format!("http://{}{path}", t.addr);
    let client = reqwest::Client::builder().timeout(t.timeout).build()?;
    // Anything but a GET changes something: once the request may have reached the node, a
    // lost answer does not mean nothing happened.
    let change = method != reqwest::Method::GET;
    let mut req = client.request(method.clone(), &url).bearer_auth(&t.token);
    if let Some((b, kind)) = body {
        req = req.header("content-type", kind).body(b);
    }
    let resp = match req.send().await {
        Ok(resp) => resp,
        Err(e) if change && !e.is_connect() && !e.is_builder() => return Err(no_answer(t, &method, path, &e)),
        Err(e) => {
            return Err(e)
                .with_context(|| format!("cannot reach ravensd at {} (from {}): is it running?", t.addr, t.source));
        }
    };
    let status = resp.status();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) if change => return Err(no_answer(t, &method, path, &e)),
        Err(e) => return Err(e).with_context(|| format!("node {}: reading the answer to {path}", t.addr)),
    };
    if !status.is_success() {
        let msg = serde_json::from_slice::<ApiError>(&body)
            .map_or_else(|_| String::from_utf8_lossy(&body).into_owned(), |e| e.error);
        bail!("node {}: {status}: {msg}", t.addr);
    }
    serde_json::from_slice(&body).with_context(|| format!("node {}: unexpected answer to {path}", t.addr))
}

/// The error of a change whose answer never came (a timeout, or the connection closed after
/// the request went out): the node may well have applied it, so say so and how to look.
fn no_answer(t: &Target, method: &reqwest::Method, path: &str, e: &reqwest::Error) -> anyhow::Error {
    let why = if e.is_timeout() { format!("no answer within {}s", t.timeout.as_secs_f64()) } else { format!("{e}") };
    anyhow::anyhow!(
        "node {}: {method} {path}: {why}; the change may have been applied: check with `{}`",
        t.addr,
        check_command(path)
    )
}

/// The dnsctl command that shows what a change to `path` did.
fn check_command(path: &str) -> &'static str {
    let resource = path.trim_start_matches("/api/v1/").split(['/', '?']).next().unwrap_or_default();
    match resource {
        "lists" => "dnsctl lists",
        "block" => "dnsctl block list",
        "allow" => "dnsctl allow list",
        "records" => "dnsctl records",
        "reservations" => "dnsctl reservations",
        "config" | "import" => "dnsctl config export",
        "leases" => "dnsctl leases",
        _ => "dnsctl status",
    }
}

/// Percent-encodes a query value (subnet names are simple, but be safe).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
