//! The web UI (issue 13), served on the admin listener at `/` beside `/api/v1`. Pages are
//! rendered here from the API's own answers: the local node's through the API router itself
//! (in process, with the node's token) and the peers' over HTTP as `dnsctl --all` asks them,
//! so the UI runs exactly the code paths of the API. Changes go through [`proxy`] to the
//! same API handlers. Security (login, session, CSRF, headers) is in [`auth`].

use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{any, get, post};

use crate::admin::reply::Shared;

mod assets;
mod auth;
mod cluster_page;
mod dashboard;
mod demo_password;
mod dhcp_page;
mod dns_options;
mod edit_form;
mod fetch;
mod groups_page;
mod html;
mod lists_pages;
mod proxy;
mod querylog;
mod settings;

/// What every UI handler is given.
pub(crate) struct Ui {
    pub d: Shared,
    /// The admin router without the UI: pages and changes call it in process.
    pub api: Router,
    pub auth: auth::Auth,
    /// The password of a node without a config file (`demo_password`), else None.
    pub demo: Option<demo_password::DemoPassword>,
}

pub(crate) type UiState = Arc<Ui>;

/// The UI's routes; `api` is the admin API router they call.
pub fn router(d: Shared, api: Router) -> Router {
    let demo = d.config_path.is_none().then(|| {
        let data_dir = d.dns.resolver().state().config.node.data_dir.clone();
        demo_password::ensure(&data_dir)
            .inspect(|p| tracing::info!(file = %p.path.display(), "web UI password of the embedded default config (no file to set one in)"))
            .inspect_err(|e| tracing::warn!(error = %e, "could not make the web UI password for the embedded default config"))
            .ok()
    });
    let ui = Arc::new(Ui { d, api, auth: auth::Auth::default(), demo: demo.flatten() });
    let pages = Router::new()
        .route("/", get(dashboard::page))
        .route("/log", get(querylog::page))
        .route("/log/events", get(querylog::events))
        .route("/records", get(lists_pages::records))
        .route("/domains", get(lists_pages::domains))
        .route("/lists", get(lists_pages::lists))
        .route("/groups", get(groups_page::page))
        .route("/dhcp", get(dhcp_page::page))
        .route("/cluster", get(cluster_page::page))
        .route("/settings", get(settings::page))
        .route("/settings/export", get(settings::export))
        .route("/why", get(settings::why))
        .route("/ui/api/{*path}", any(proxy::call))
        .route("/logout", post(auth::logout))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&ui), auth::require_session));
    Router::new()
        .merge(pages)
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/static/{file}", get(assets::file))
        .layer(middleware::from_fn(to_https))
        .layer(middleware::from_fn(security_headers))
        .with_state(ui)
}

/// Plain HTTP to the UI from another machine goes to HTTPS on the same port (the password
/// and the cookie must not cross the network in clear); loopback may stay on HTTP.
async fn to_https(req: Request, next: Next) -> Response {
    let conn = req.extensions().get::<crate::admin::listen::Conn>().copied();
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).map(str::to_string);
    match (conn, host) {
        (Some(c), Some(host)) if must_redirect(&c) => {
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            axum::response::Redirect::permanent(&format!("https://{host}{path}")).into_response()
        }
        _ => next.run(req).await,
    }
}

fn must_redirect(c: &crate::admin::listen::Conn) -> bool {
    c.tls_on_port && !c.tls && !c.peer.ip().to_canonical().is_loopback()
}

/// Headers on every UI answer: no inline script, no framing, nothing cached or leaked.
async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
               connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::listen::Conn;

    #[test]
    fn only_plain_http_from_elsewhere_is_sent_to_https() {
        let c = |peer: &str, tls, tls_on_port| Conn { peer: peer.parse().unwrap(), tls, tls_on_port };
        assert!(must_redirect(&c("192.168.1.5:4000", false, true)));
        assert!(!must_redirect(&c("192.168.1.5:4000", true, true)), "already HTTPS");
        assert!(!must_redirect(&c("192.168.1.5:4000", false, false)), "no certificate: nowhere to go");
        assert!(!must_redirect(&c("127.0.0.1:4000", false, true)), "loopback stays on HTTP");
        assert!(!must_redirect(&c("[::1]:4000", false, true)));
        assert!(!must_redirect(&c("[::ffff:127.0.0.1]:4000", false, true)));
    }
}
