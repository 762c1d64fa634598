//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of the admin API (`openapi.json`
//! beside this file). It is served without a token, like `/metrics`: it holds no secret.
//!
//! Drift is caught both ways: the test below reads the route registrations of the admin
//! sources and checks each is documented, and `tests/admin_api.rs` calls every documented
//! path and method on a real daemon and checks it exists.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::reply::Shared;

/// The document, as served.
pub const DOCUMENT: &str = include_str!("openapi.json");

pub(super) fn routes() -> Router<Shared> {
    Router::new().route("/api/v1/openapi.json", get(document))
}

async fn document() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::DOCUMENT;

    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

    /// (path, method) of every `.route("PATH", get(..).post(..))` in `src`.
    fn registered(src: &str) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (at, _) in src.match_indices(".route(") {
            let rest = &src[at + ".route(".len()..];
            // The call's text: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let call = &rest[..end];
            let Some(path) = call.split('"').nth(1).filter(|p| p.starts_with('/')) else { continue };
            for m in METHODS {
                let pattern = format!("{m}(");
                // A whole word: `get(` but not `forget(`.
                let word = |i: usize| {
                    i == 0 || !(call.as_bytes()[i - 1].is_ascii_alphanumeric() || call.as_bytes()[i - 1] == b'_')
                };
                if call.match_indices(&pattern).any(|(i, _)| word(i)) {
                    out.insert((path.to_string(), m.to_string()));
                }
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in item.as_object().unwrap().keys() {
                out.insert((path.clone(), m.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_of_the_admin_sources_is_documented() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = vec![dir.join("admin.rs")];
        for e in std::fs::read_dir(dir.join("admin")).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
        let mut routes = BTreeSet::new();
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap();
            // Routes live above the tests (this file's tests hold sample routes).
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            routes.extend(registered(code));
        }
        assert!(routes.contains(&("/api/v1/status".into(), "get".into())), "the scan finds routes: {routes:?}");
        assert!(routes.contains(&("/api/v1/stats".into(), "get".into())), "{routes:?}");
        let documented = documented();
        let missing: Vec<_> = routes.difference(&documented).collect();
        assert!(missing.is_empty(), "routes missing from openapi.json: {missing:?}");
    }

    #[test]
    fn the_scan_reads_method_chains() {
        let src = r#"Router::new().route("/a/{x}", get(a).post(b)).route("/b", axum::routing::delete(forget_it))"#;
        let want: BTreeSet<(String, String)> =
            [("/a/{x}", "get"), ("/a/{x}", "post"), ("/b", "delete")].map(|(p, m)| (p.into(), m.into())).into();
        assert_eq!(registered(src), want);
    }

    #[test]
    fn the_document_is_openapi_3_with_every_reference_defined() {
        let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in DOCUMENT.split("\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap();
            assert!(schemas.contains_key(name), "undefined schema {name}");
        }
    }
}
