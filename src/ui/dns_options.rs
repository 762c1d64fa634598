//! The DNS options form of the Settings page: the `[dns]` keys a Pi-hole user looks for,
//! shown with their value in the site config (empty = the default, given as the
//! placeholder) and sent by `assets/settings.js` as one `PATCH /api/v1/dns` of the changed
//! keys. The API validates the whole config, so a refused value changes nothing and its
//! reason (`dns.KEY: ...`) is shown next to that field.

use std::fmt::Write as _;

use crate::api::edits::DnsSettings;

use super::html::esc;

/// How a key is edited.
enum Input {
    Text,
    /// An array of strings, written comma-separated.
    List,
    Number,
    /// `true` / `false`, or empty for the default.
    Bool,
    Choice(&'static [&'static str]),
}

use Input::{Bool, Choice, List, Number, Text};

/// (key, label, input, default): the default is what an absent key runs.
type Opt = (&'static str, &'static str, Input, &'static str);

/// The form's groups of options.
const OPTIONS: &[(&str, &[Opt])] = &[
    (
        "Upstreams",
        &[
            ("upstreams", "Upstream resolvers (comma-separated)", List, "the system's resolv.conf"),
            ("upstream_strategy", "Strategy", Choice(&["parallel_best", "strict"]), "parallel_best"),
            ("upstream_timeout", "Timeout", Text, "2s"),
        ],
    ),
    (
        "Blocking",
        &[
            ("block_response", "Blocked answer (null, nxdomain, refused or an IP)", Text, "null"),
            ("block_ttl", "TTL of blocked answers", Text, "60s"),
            ("builtin_blocklist", "Built-in ad/tracker list", Bool, "false"),
        ],
    ),
    (
        "Cache",
        &[
            ("cache_size", "Cache size", Text, "32MiB"),
            ("min_ttl", "Lowest TTL", Text, "0s"),
            ("max_ttl", "Highest TTL", Text, "1d"),
            ("max_negative_ttl", "Highest negative TTL", Text, "1h"),
            ("serve_stale", "Serve stale answers when upstreams fail", Bool, "true"),
            ("prefetch", "Prefetch popular names", Bool, "true"),
        ],
    ),
    (
        "Rate limit",
        &[
            ("rate_limit", "Queries per client (e.g. 50/s, or off)", Text, "100/s"),
            ("rate_limit_burst", "Burst", Number, "10 s of the rate"),
            ("rate_limit_action", "Over the limit", Choice(&["drop", "refused"]), "drop"),
            ("rate_limit_exempt", "Never limited (networks, comma-separated)", List, "127.0.0.0/8, ::1/128"),
        ],
    ),
    (
        "Network and log",
        &[
            ("local_domain", "Local domain", Text, "lan"),
            ("serve_networks", "Client networks served (comma-separated)", List, "127.0.0.0/8, ::1, the DHCP subnets"),
            ("chaos", "CHAOS queries (version.bind...)", Choice(&["refuse", "identity"]), "refuse"),
            ("query_log_size", "Query log entries kept", Number, "10000"),
            ("query_log_anonymize", "Mask client addresses in the log", Bool, "false"),
        ],
    ),
];

/// A value of the site config as the form shows it.
fn shown(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(a)) => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join(", ")
        }
        Some(other) => other.to_string(),
    }
}

/// The form, filled from `current` (the site config's `[dns]` table).
pub fn form(current: &DnsSettings) -> String {
    let mut s = String::from(
        "<form id=\"dns-options\" class=\"options\" novalidate><p class=\"note\">Empty = the default (shown greyed). \
         Saved into the config file (comments kept) and applied on every node.</p>",
    );
    for (group, keys) in OPTIONS {
        let _ = write!(s, "<fieldset><legend>{group}</legend>");
        for (key, label, input, default) in *keys {
            let id = format!("dns-{key}");
            let value = esc(&shown(current.get(*key)));
            let common = format!("id=\"{id}\" name=\"{key}\" data-initial=\"{value}\" aria-describedby=\"{id}-error\"");
            let _ = write!(s, "<div class=\"field\"><label for=\"{id}\">{label}</label>");
            match input {
                Text | List | Number => {
                    let kind = if matches!(input, Number) { "number" } else { "text" };
                    let list = if matches!(input, List) { " data-list" } else { "" };
                    let _ = write!(
                        s,
                        "<input {common} type=\"{kind}\"{list} value=\"{value}\" placeholder=\"{}\">",
                        esc(default)
                    );
                }
                Bool | Choice(_) => {
                    let opts: &[&str] = match input {
                        Choice(o) => o,
                        _ => &["true", "false"],
                    };
                    let b = if matches!(input, Bool) { " data-bool" } else { "" };
                    let _ = write!(s, "<select {common}{b}><option value=\"\">default ({})</option>", esc(default));
                    for o in opts {
                        let sel = if value == *o { " selected" } else { "" };
                        let _ = write!(s, "<option{sel}>{o}</option>");
                    }
                    s.push_str("</select>");
                }
            }
            let _ = write!(s, "<output class=\"error\" id=\"{id}-error\" role=\"alert\"></output></div>");
        }
        s.push_str("</fieldset>");
    }
    let others: Vec<String> = current
        .iter()
        .filter(|(k, _)| !OPTIONS.iter().any(|(_, keys)| keys.iter().any(|o| o.0 == k.as_str())))
        .map(|(k, v)| format!("<code>{} = {}</code>", esc(k), esc(&v.to_string())))
        .collect();
    if !others.is_empty() {
        let _ = write!(
            s,
            "<p class=\"note\">Also set in <code>[dns]</code> (edit with the file): {}</p>",
            others.join(" ")
        );
    }
    s.push_str(
        "<button type=\"submit\">Save DNS options</button><output class=\"error\" id=\"dns-options-error\" role=\"alert\"></output>\
         <output class=\"ok\" id=\"dns-options-done\" role=\"status\"></output></form>",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_defaults_are_shown_and_escaped() {
        let mut cur = DnsSettings::new();
        cur.insert("upstreams".into(), serde_json::json!(["udp://10.0.0.1", "tls://1.1.1.1#one\"x"]));
        cur.insert("serve_stale".into(), serde_json::json!(false));
        cur.insert("rate_limit_burst".into(), serde_json::json!(500));
        cur.insert("dnssec".into(), serde_json::json!(true));
        let f = form(&cur);
        assert!(f.contains("value=\"udp://10.0.0.1, tls://1.1.1.1#one&quot;x\""), "{f}");
        assert!(f.contains("<option selected>false</option>"), "{f}");
        assert!(f.contains("value=\"500\""), "{f}");
        assert!(f.contains("placeholder=\"32MiB\""), "an unset key shows its default: {f}");
        assert!(f.contains("<code>dnssec = true</code>"), "a key the form lacks is still shown: {f}");
    }
}
