//! Helpers for the forms that edit an existing item: [`super::html::form`] with the item's
//! current values filled in (a select's option chosen), comma-separated list fields, fields
//! sent even when empty, true/false selects, hidden identity fields, and the enable/disable
//! button. Used by the Lists, Domains, Local DNS and Groups pages.

use super::html::{action, esc, form};

/// A form (as [`form`] takes them) with `values` already in its fields, the fields named in
/// [`LIST_FIELDS`] sent as arrays (split at commas by the script), those in [`EMPTY_FIELDS`]
/// sent even when empty (`""`, or `[]` for a list field: "none"), those in [`BOOL_FIELDS`]
/// (selects of `true,false`) sent as booleans, and `hidden` fields sent as they are. Other
/// fields left empty are not sent.
pub fn edit_form(
    id: &str,
    method: &str,
    path: &str,
    submit: &str,
    fields: &[(&str, &str, &str, bool)],
    values: &[(&str, &str)],
    hidden: &[(&str, &str)],
) -> String {
    let mut f = form(id, method, path, submit, fields);
    for (name, kind) in fields.iter().map(|(n, _, k, _)| (*n, *k)) {
        let value = values.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
        let mut marks = String::new();
        for (set, mark) in
            [(&LIST_FIELDS[..], " data-list"), (&EMPTY_FIELDS, " data-empty"), (&BOOL_FIELDS, " data-bool")]
        {
            if set.contains(&name) {
                marks.push_str(mark);
            }
        }
        if kind.starts_with("select:") {
            // The options of this select only: another select may offer the same values.
            let at = format!("id=\"{id}-{name}\" name=\"{name}\"");
            let Some(start) = f.find(&at) else { continue };
            let (head, mut tail) = (f[..start].to_string(), f[start..].replacen(&at, &format!("{at}{marks}"), 1));
            if let Some(v) = value {
                let opt = format!("<option value=\"{}\">", esc(v));
                let end = tail.find("</select>").unwrap_or(tail.len());
                if let Some(o) = tail[..end].find(&opt) {
                    tail.replace_range(o..o + opt.len(), &format!("<option value=\"{}\" selected>", esc(v)));
                }
            }
            f = head + &tail;
            continue;
        }
        let at = format!("name=\"{name}\" type=\"{kind}\"");
        let mut with = at.clone();
        if let Some(v) = value {
            with.push_str(&format!(" value=\"{}\"", esc(v)));
        }
        with.push_str(&marks);
        f = f.replacen(&at, &with, 1);
    }
    let hidden: String = hidden
        .iter()
        .map(|(n, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(n), esc(v)))
        .collect();
    f.replacen("<button type=\"submit\">", &format!("{hidden}<button type=\"submit\">"), 1)
}

/// Fields that hold comma-separated lists (sent as JSON arrays).
const LIST_FIELDS: [&str; 4] = ["clients", "lists", "groups", "upstreams"];

/// Fields whose empty value means "none" rather than "unchanged" (a group's block answer
/// and upstreams: empty = the `dns` setting applies).
const EMPTY_FIELDS: [&str; 2] = ["block_response", "upstreams"];

/// Selects of `true,false` sent as JSON booleans.
const BOOL_FIELDS: [&str; 1] = ["blocking"];

/// A button that turns an item on or off (`PATCH path {"enabled": ...}`).
pub fn toggle(enabled: bool, path: &str) -> String {
    let (label, to) = if enabled { ("Disable", false) } else { ("Enable", true) };
    action(label, "PATCH", path, &serde_json::json!({ "enabled": to }))
}

/// "yes" / "no" for an enabled flag.
pub fn yes_no(on: bool) -> String {
    if on { "yes".into() } else { "no".into() }
}
