//! Login, sessions and CSRF. One password for the cluster (the argon2id hash in the site
//! config's `[ui]`); sessions live in this node's memory and end after [`IDLE`] without a
//! request; every state-changing request carries the session's CSRF token in the
//! `X-CSRF-Token` header (or the `csrf` form field). Failed logins are counted per client
//! address: after [`MAX_FAILURES`] within [`FAILURE_WINDOW`] that address is refused until
//! the window passes, right password or not.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use argon2::PasswordVerifier as _;
use axum::extract::{Form, FromRequest as _, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use parking_lot::Mutex;
use rand::RngCore as _;

use super::UiState;
use super::html::esc;
use crate::admin::listen::Conn;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// Failed logins allowed per client address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: u32 = 5;
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Sessions kept at most (oldest dropped): memory stays bounded.
const MAX_SESSIONS: usize = 1024;
const COOKIE: &str = "ravens_session";

#[derive(Debug)]
struct Session {
    csrf: String,
    last_seen: Instant,
}

#[derive(Debug)]
struct Failures {
    count: u32,
    first: Instant,
}

#[derive(Debug, Default)]
pub struct Auth {
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<HashMap<IpAddr, Failures>>,
}

/// The session of a request, given to handlers: its CSRF token goes into pages.
#[derive(Debug, Clone)]
pub struct Csrf(pub String);

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    ravens_config::text::hex(&b, "")
}

fn client_ip(req_ext: &axum::http::Extensions) -> IpAddr {
    req_ext.get::<Conn>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.peer.ip().to_canonical())
}

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.to_string())
    })
}

impl Auth {
    /// The CSRF token of a live session, its idle clock restarted.
    fn touch(&self, id: &str) -> Option<String> {
        let mut s = self.sessions.lock();
        let now = Instant::now();
        match s.get_mut(id) {
            Some(sess) if now.duration_since(sess.last_seen) < IDLE => {
                sess.last_seen = now;
                Some(sess.csrf.clone())
            }
            Some(_) => {
                s.remove(id);
                None
            }
            None => None,
        }
    }

    fn create(&self) -> String {
        let mut s = self.sessions.lock();
        let now = Instant::now();
        s.retain(|_, v| now.duration_since(v.last_seen) < IDLE);
        if s.len() >= MAX_SESSIONS
            && let Some(oldest) = s.iter().min_by_key(|(_, v)| v.last_seen).map(|(k, _)| k.clone())
        {
            s.remove(&oldest);
        }
        let id = random_token();
        s.insert(id.clone(), Session { csrf: random_token(), last_seen: now });
        id
    }

    /// Seconds this address must still wait, when it is locked out.
    fn locked_for(&self, ip: IpAddr) -> Option<u64> {
        let mut f = self.failures.lock();
        let e = f.get(&ip)?;
        let age = e.first.elapsed();
        if age >= FAILURE_WINDOW {
            f.remove(&ip);
            return None;
        }
        (e.count >= MAX_FAILURES).then(|| (FAILURE_WINDOW - age).as_secs().max(1))
    }

    fn failed(&self, ip: IpAddr) -> u32 {
        let mut f = self.failures.lock();
        if f.len() > 10_000 {
            f.retain(|_, e| e.first.elapsed() < FAILURE_WINDOW);
        }
        let e = f.entry(ip).or_insert(Failures { count: 0, first: Instant::now() });
        e.count += 1;
        e.count
    }
}

/// Pages need a session (else the login page); changes also need its CSRF token.
pub async fn require_session(State(ui): State<UiState>, mut req: Request, next: Next) -> Response {
    let Some(csrf) = cookie_value(req.headers()).and_then(|id| ui.auth.touch(&id)) else {
        if req.method() == Method::GET && !req.uri().path().starts_with("/ui/api/") {
            return Redirect::to("/login").into_response();
        }
        return (StatusCode::UNAUTHORIZED, "not logged in").into_response();
    };
    let safe = matches!(*req.method(), Method::GET | Method::HEAD);
    if !safe {
        let given = req.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).unwrap_or("");
        if !crate::token::equal(given.as_bytes(), csrf.as_bytes()) {
            tracing::warn!(client = %client_ip(req.extensions()), path = req.uri().path(), "UI request without a valid CSRF token refused");
            return (StatusCode::FORBIDDEN, "missing or wrong CSRF token").into_response();
        }
    }
    req.extensions_mut().insert(Csrf(csrf));
    next.run(req).await
}

pub async fn login_page(State(ui): State<UiState>) -> Html<String> {
    Html(login_html(&ui, None))
}

fn login_html(ui: &super::Ui, error: Option<&str>) -> String {
    let note = match (&ui.d.dns.resolver().state().config.ui_password_hash, &ui.demo) {
        (Some(_), _) => String::new(),
        (None, Some(demo)) => format!(
            "<p class=\"note\">This node runs the embedded default config: the password is in <code>{}</code>. \
             To choose one, start ravensd with <code>--config FILE</code> and run <code>dnsctl password set</code>.</p>",
            esc(&demo.path.display().to_string())
        ),
        (None, None) => {
            "<p class=\"note\">No password is set yet: run <code>dnsctl password set</code> on a node.</p>".to_string()
        }
    };
    let err = error.map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e))).unwrap_or_default();
    super::html::bare(
        "Log in",
        &format!(
            "<form class=\"login\" method=\"post\" action=\"/login\"><h1>ravens</h1>{note}{err}\
             <label for=\"password\">Password</label>\
             <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required autofocus>\
             <button type=\"submit\">Log in</button></form>"
        ),
    )
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    password: String,
}

pub async fn login(State(ui): State<UiState>, req: Request) -> Response {
    let ip = client_ip(req.extensions());
    let secure = req.extensions().get::<Conn>().is_some_and(|c| c.tls);
    let Ok(Form(form)) = Form::<LoginForm>::from_request(req, &()).await else {
        return (StatusCode::BAD_REQUEST, Html(login_html(&ui, Some("bad login form")))).into_response();
    };
    if let Some(wait) = ui.auth.locked_for(ip) {
        tracing::warn!(client = %ip, "UI login refused: too many failed logins");
        let msg = format!("Too many failed logins from {ip}: try again in {wait} s.");
        return (StatusCode::TOO_MANY_REQUESTS, Html(login_html(&ui, Some(&msg)))).into_response();
    }
    let configured = ui.d.dns.resolver().state().config.ui_password_hash.clone();
    let hash = configured.or_else(|| ui.demo.as_ref().map(|d| d.hash.clone()));
    let ok = match hash {
        None => false,
        // Verifying costs tens of milliseconds of CPU on purpose: off the async threads.
        Some(h) => tokio::task::spawn_blocking(move || {
            argon2::PasswordHash::new(&h)
                .is_ok_and(|p| argon2::Argon2::default().verify_password(form.password.as_bytes(), &p).is_ok())
        })
        .await
        .unwrap_or(false),
    };
    if !ok {
        let n = ui.auth.failed(ip);
        tracing::warn!(client = %ip, failures = n, "UI login failed: wrong password");
        return (StatusCode::UNAUTHORIZED, Html(login_html(&ui, Some("Wrong password.")))).into_response();
    }
    tracing::info!(client = %ip, "UI login");
    let id = ui.auth.create();
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict{secure}");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

pub async fn logout(State(ui): State<UiState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_value(&headers) {
        ui.auth.sessions.lock().remove(&id);
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}
