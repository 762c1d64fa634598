//! The UI's stylesheet and scripts, compiled into the binary: no CDN, no build step.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("assets/app.css");
const JS: &str = include_str!("assets/app.js");
/// The Settings page's forms (DNS options, config import, Pi-hole import); only that page
/// loads it.
const SETTINGS_JS: &str = include_str!("assets/settings.js");

pub async fn file(Path(name): Path<String>) -> Response {
    let (body, kind) = match name.as_str() {
        "app.css" => (CSS, "text/css; charset=utf-8"),
        "app.js" => (JS, "text/javascript; charset=utf-8"),
        "settings.js" => (SETTINGS_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such file").into_response(),
    };
    let mut res = ([(header::CONTENT_TYPE, kind)], body).into_response();
    // Small and versioned with the binary: an hour of caching saves a request per page.
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
    res
}
