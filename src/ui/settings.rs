//! Settings (pause blocking with the time left, the DNS options of [`super::dns_options`],
//! config export and import, the Pi-hole import with its dry-run report) and "Why?" (the
//! `explain` engine through `/api/v1/query`). The forms are wired by `assets/settings.js`;
//! every change is an `/api/v1` call through [`super::proxy`], as dnsctl makes it.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse as _, Response};
use serde_json::json;

use super::UiState;
use super::auth::Csrf;
use super::fetch;
use super::html::{action, esc, table};
use crate::api::edits::{DnsSettings, SiteToml};
use crate::api::{QueryExplanation, Status};

/// Export, import, and the Pi-hole import: file inputs read by `settings.js`, which sends
/// the config as `PUT /api/v1/config` and the archive unchanged (binary) to
/// `POST /api/v1/import/pihole`, first with `dry_run=true` to show the report.
const TRANSFER: &str = "<section class=\"card\" id=\"config-transfer\"><h3>Export and import</h3>\
    <p><a id=\"config-export\" href=\"/settings/export\" download>Download the site config</a> \
    (everything but <code>[node]</code> and <code>[cluster]</code>, as <code>dnsctl config export</code>).</p>\
    <form id=\"config-import\" class=\"transfer\"><div class=\"field\"><label for=\"config-file\">Config file to import (replaces the site config)</label>\
    <input id=\"config-file\" name=\"file\" type=\"file\" accept=\".toml,text/plain\" required></div>\
    <div class=\"field\"><label for=\"config-replace-all\"><input id=\"config-replace-all\" type=\"checkbox\"> \
    also when it holds no site item (empties the site config)</label></div>\
    <button type=\"submit\">Import</button><output class=\"error\" role=\"alert\"></output><output class=\"ok\" role=\"status\"></output></form></section>\
    <section class=\"card\" id=\"pihole\"><h3>Import a Pi-hole</h3>\
    <p class=\"note\">A Teleporter archive (Pi-hole v6 <code>.zip</code> or v5 <code>.tar.gz</code>): \
    groups, clients, lists, domains, local records, DHCP reservations and leases. Check it first: nothing is written until you apply.</p>\
    <form id=\"pihole-import\" class=\"transfer\"><div class=\"field\"><label for=\"pihole-file\">Teleporter archive</label>\
    <input id=\"pihole-file\" name=\"file\" type=\"file\" accept=\".zip,.gz,.tgz,application/zip,application/gzip\" required></div>\
    <button type=\"submit\">Check (dry run)</button><button type=\"button\" id=\"pihole-apply\" hidden>Apply the import</button>\
    <output class=\"error\" role=\"alert\"></output></form><div id=\"pihole-report\" aria-live=\"polite\"></div></section>";

/// `GET /settings/export`: the site config as a file download (`/api/v1/config`'s TOML).
pub async fn export(State(ui): State<UiState>) -> Response {
    let this = fetch::Node { name: String::new(), peer: None };
    match fetch::get::<SiteToml>(&ui, &this, "/api/v1/config").await {
        Ok(t) => (
            [
                (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"ravens-site.toml\""),
            ],
            t.toml,
        )
            .into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("export failed: {e}")).into_response(),
    }
}

pub async fn page_settings(ui: &super::Ui, csrf: &str) -> String {
    let (nodes, local) = fetch::nodes(ui).await;
    let statuses = fetch::all::<Status>(ui, &nodes, "/api/v1/status").await;
    let mut m = String::from("<h1>Settings</h1>");
    m.push_str(&super::dashboard::down_banner(&statuses, &fetch::silent_peers(&local, &nodes)));
    m.push_str("<h2>Blocking</h2><div class=\"grid\">");
    for (name, st) in &statuses {
        let state = match st {
            Ok(s) => match s.paused_secs {
                Some(p) => format!("paused: <span class=\"countdown\" data-seconds=\"{p}\">{p} s left</span>"),
                None => "on".into(),
            },
            Err(_) => "<span class=\"down\">down</span>".into(),
        };
        let _ = write!(
            m,
            "<section class=\"card\" data-node=\"{0}\"><h3>{0}</h3><p>Blocking {state}</p></section>",
            esc(name)
        );
    }
    m.push_str("</div><p>Pause blocking on every node: ");
    for (label, secs) in [("30 s", 30), ("5 min", 300), ("1 h", 3600)] {
        m.push_str(&action(&format!("Pause {label}"), "POST", "pause", &json!({ "seconds": secs })));
        m.push(' ');
    }
    m.push_str(&action("Resume now", "POST", "resume", &json!({})));
    m.push_str("</p>");
    let groups: Vec<String> = local_groups(ui);
    m.push_str(&super::html::form(
        "pause-custom",
        "POST",
        "pause",
        "Pause",
        &[
            ("seconds", "Custom pause (seconds)", "number", true),
            ("group", "Group (empty = all)", &format!("select:,{}", groups.join(",")), false),
        ],
    ));
    m.push_str("<h2>DNS options</h2>");
    let this = fetch::Node { name: String::new(), peer: None };
    match fetch::get::<DnsSettings>(ui, &this, "/api/v1/dns").await {
        Ok(cur) => m.push_str(&super::dns_options::form(&cur)),
        Err(e) => {
            let _ = write!(m, "<p class=\"banner\">{}</p>", esc(&e));
        }
    }
    m.push_str("<h3>Upstream health (this node)</h3>");
    m.push_str(&super::dashboard::upstreams(&local.upstreams));
    if local.upstreams_from_system {
        m.push_str("<p class=\"note\">From the system's resolv.conf (no <code>dns.upstreams</code>).</p>");
    }
    let _ = write!(
        m,
        "<h2>Config</h2><p>Running {} (loaded at {}, {} reloads){}</p>",
        esc(&local.config.origin),
        super::html::clock(local.config.loaded_at),
        local.config.reloads,
        local
            .config
            .last_error
            .as_deref()
            .map(|e| format!(": <span class=\"down\">last reload failed: {}</span>", esc(e)))
            .unwrap_or_default()
    );
    m.push_str(TRANSFER);
    m.push_str("<script src=\"/static/settings.js\" defer></script>");
    super::html::page("/settings", csrf, &m)
}

fn local_groups(ui: &super::Ui) -> Vec<String> {
    ui.d.site.desired().keys().filter_map(|k| k.strip_prefix("group/")).map(str::to_string).collect()
}

pub async fn page(State(ui): State<UiState>, Extension(csrf): Extension<Csrf>) -> Html<String> {
    Html(page_settings(&ui, &csrf.0).await)
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct WhyArgs {
    #[serde(default)]
    name: String,
    #[serde(default)]
    client: String,
}

pub async fn why(
    State(ui): State<UiState>,
    Extension(csrf): Extension<Csrf>,
    Query(a): Query<WhyArgs>,
) -> Html<String> {
    let mut m = format!(
        "<h1>Why?</h1><form class=\"filters\" method=\"get\" action=\"/why\">\
         <div class=\"field\"><label for=\"why-name\">Name</label><input id=\"why-name\" name=\"name\" required value=\"{}\"></div>\
         <div class=\"field\"><label for=\"why-client\">Client IP (default 127.0.0.1)</label><input id=\"why-client\" name=\"client\" value=\"{}\"></div>\
         <button type=\"submit\">Explain</button></form>",
        esc(&a.name),
        esc(&a.client)
    );
    if !a.name.trim().is_empty() {
        let mut path = format!("/api/v1/query?name={}", crate::ctl::urlencode(a.name.trim()));
        if !a.client.trim().is_empty() {
            let _ = write!(path, "&client={}", crate::ctl::urlencode(a.client.trim()));
        }
        let this = fetch::Node { name: String::new(), peer: None };
        match fetch::get::<QueryExplanation>(&ui, &this, &path).await {
            Ok(x) => {
                let _ = write!(
                    m,
                    "<section class=\"card\" id=\"verdict\"><p><b>{}</b> for client {} (group <b>{}</b>): <span class=\"verdict-{}\">{}</span>{}</p>",
                    esc(&x.name),
                    esc(&x.client),
                    esc(&x.group),
                    esc(&x.verdict),
                    esc(&x.verdict),
                    if x.blocking_active { "" } else { " (blocking is paused)" }
                );
                m.push_str(&table(
                    &["list", "line", "rule", "text", "kind", "decided"],
                    x.matches.iter().map(|r| {
                        let decided = x.decided_by.as_ref().is_some_and(|d| d.list == r.list && d.line == r.line);
                        vec![
                            esc(&r.list),
                            r.line.to_string(),
                            esc(&r.rule),
                            esc(r.line_text.as_deref().unwrap_or("")),
                            if r.allow { "allow".into() } else { "block".into() },
                            if decided { "this one".into() } else { String::new() },
                        ]
                    }),
                ));
                m.push_str("</section>");
            }
            Err(e) => {
                let _ = write!(m, "<p class=\"error\" role=\"alert\">{}</p>", esc(&e));
            }
        }
    }
    Html(super::html::page("/why", &csrf.0, &m))
}
