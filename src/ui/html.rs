//! The page shell (head, navigation, the CSRF token for the script) and small HTML helpers.
//! Every text from the nodes goes through [`esc`].

use std::fmt::Write as _;

/// The pages in the navigation: path, title.
pub const PAGES: [(&str, &str); 10] = [
    ("/", "Dashboard"),
    ("/log", "Query log"),
    ("/lists", "Lists"),
    ("/domains", "Domains"),
    ("/groups", "Groups"),
    ("/records", "Local DNS"),
    ("/dhcp", "DHCP"),
    ("/cluster", "Cluster"),
    ("/settings", "Settings"),
    ("/why", "Why?"),
];

/// HTML-escapes text for element content and quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page without navigation (the login page).
pub fn bare(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · ravens</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>\
         <body class=\"bare\">{body}</body></html>",
        esc(title)
    )
}

/// A whole page: `path` marks the current navigation entry; `main` is the page's content,
/// which the script may re-fetch alone (`?partial=1`) to refresh it.
pub fn page(path: &str, csrf: &str, main: &str) -> String {
    let title = PAGES.iter().find(|(p, _)| *p == path).map_or("ravens", |(_, t)| t);
    let mut nav = String::new();
    for (p, t) in PAGES {
        let cur = if p == path { " aria-current=\"page\"" } else { "" };
        let _ = write!(nav, "<a href=\"{p}\"{cur}>{t}</a>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"csrf\" content=\"{csrf}\"><title>{title} · ravens</title>\
         <link rel=\"stylesheet\" href=\"/static/app.css\"><script src=\"/static/app.js\" defer></script></head>\
         <body><header><span class=\"brand\">ravens</span><nav>{nav}</nav>\
         <button type=\"button\" data-logout>Log out</button></header>\
         <main id=\"main\">{main}</main></body></html>",
        csrf = esc(csrf)
    )
}

/// A table: headers and rows of already escaped cells. Each cell carries its column's header
/// as `data-label`, which a phone-width screen shows beside the value when the rows become
/// cards (app.css), since a table of eight columns cannot fit 390 px.
pub fn table(head: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    let mut s = table_open(head, None);
    let mut any = false;
    for r in rows {
        any = true;
        s.push_str(&row(head, &r));
    }
    if !any {
        let _ = write!(s, "<tr><td colspan=\"{}\" class=\"empty\">none</td></tr>", head.len());
    }
    s.push_str("</tbody></table></div>");
    s
}

/// A table's start up to its open `<tbody>` (with `id` when given, for rows added live);
/// the caller adds [`row`]s and `</tbody></table></div>`.
pub fn table_open(head: &[&str], tbody_id: Option<&str>) -> String {
    let mut s = String::from("<div class=\"scroll\"><table><thead><tr>");
    for h in head {
        let _ = write!(s, "<th>{h}</th>");
    }
    let id = tbody_id.map(|i| format!(" id=\"{i}\"")).unwrap_or_default();
    let _ = write!(s, "</tr></thead><tbody{id}>");
    s
}

/// One row of already escaped cells, each labelled with its column's header.
pub fn row(head: &[&str], cells: &[String]) -> String {
    let mut s = String::from("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let _ = write!(s, "<td data-label=\"{}\">{c}</td>", head.get(i).copied().unwrap_or_default());
    }
    s.push_str("</tr>");
    s
}

/// A button that calls the API through the UI (`/ui/api/PATH`) with a JSON body; the page
/// reloads on success, the error shows beside it otherwise.
pub fn action(label: &str, method: &str, path: &str, body: &serde_json::Value) -> String {
    let body = if body.is_null() { String::new() } else { format!(" data-body=\"{}\"", esc(&body.to_string())) };
    format!(
        "<button type=\"button\" class=\"act\" data-method=\"{method}\" data-api=\"{}\"{body}>{}</button>",
        esc(path),
        esc(label)
    )
}

/// A form whose fields become a JSON body for `method /ui/api/PATH`; `fields` are
/// (name, label, input type or `select:a,b`, required).
pub fn form(id: &str, method: &str, path: &str, submit: &str, fields: &[(&str, &str, &str, bool)]) -> String {
    let mut s = format!("<form class=\"api\" id=\"{id}\" data-method=\"{method}\" data-api=\"{}\">", esc(path));
    for (name, label, kind, required) in fields {
        let fid = format!("{id}-{name}");
        let req = if *required { " required" } else { "" };
        let _ = write!(s, "<div class=\"field\"><label for=\"{fid}\">{label}</label>");
        if let Some(opts) = kind.strip_prefix("select:") {
            let _ = write!(s, "<select id=\"{fid}\" name=\"{name}\">");
            for o in opts.split(',') {
                let _ = write!(s, "<option value=\"{0}\">{0}</option>", esc(o));
            }
            s.push_str("</select>");
        } else {
            let _ = write!(s, "<input id=\"{fid}\" name=\"{name}\" type=\"{kind}\"{req}>");
        }
        s.push_str("</div>");
    }
    let _ =
        write!(s, "<button type=\"submit\">{submit}</button><output class=\"error\" role=\"alert\"></output></form>");
    s
}

/// A duration for people: `3d 4h`, `5m 2s`.
pub fn duration(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A Unix-seconds time as `HH:MM:SS` UTC (and the date when not today).
pub fn clock(unix_secs: u64) -> String {
    let now_day = ravens_config::clock::unix_secs() / 86_400;
    let t = unix_secs % 86_400;
    let hms = format!("{:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60);
    let days = now_day.saturating_sub(unix_secs / 86_400);
    if days == 0 { hms } else { format!("{hms} ({days}d ago)") }
}

/// A subnet's use as a labelled meter: the whole subnet (the same on every node), then, in a
/// cluster (which splits the pool), this node's own slice.
pub fn pool_meter(id: &str, node: &str, p: &crate::api::PoolUsage, clustered: bool) -> String {
    let own =
        if clustered { format!(" · this node's slice: {} of {} free", p.slice_free, p.slice) } else { String::new() };
    format!(
        "<label for=\"{id}-{0}-{1}\">{1}: {2} of {3} used{own}</label>\
         <meter id=\"{id}-{0}-{1}\" min=\"0\" max=\"{3}\" value=\"{2}\"></meter>",
        esc(node),
        esc(&p.subnet),
        p.used,
        p.total
    )
}
