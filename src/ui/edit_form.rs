//! Helpers for the forms that edit an existing item: [`super::html::form`] with the item's
//! current values filled in, comma-separated list fields, hidden identity fields, and the
//! enable/disable button. Used by the Lists, Domains, Local DNS and Groups pages.

use super::html::{action, esc, form};

/// A form (as [`form`] takes them) with `values` already in its fields, the fields named in
/// [`LIST_FIELDS`] sent as arrays (split at commas by the script) and `hidden` fields sent as
/// they are. Fields left empty are not sent.
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
        let at = format!("name=\"{name}\" type=\"{kind}\"");
        let mut with = at.clone();
        if let Some((_, v)) = values.iter().find(|(n, _)| *n == name) {
            with.push_str(&format!(" value=\"{}\"", esc(v)));
        }
        if LIST_FIELDS.contains(&name) {
            with.push_str(" data-list");
        }
        f = f.replacen(&at, &with, 1);
    }
    let hidden: String = hidden
        .iter()
        .map(|(n, v)| format!("<input type=\"hidden\" name=\"{}\" value=\"{}\">", esc(n), esc(v)))
        .collect();
    f.replacen("<button type=\"submit\">", &format!("{hidden}<button type=\"submit\">"), 1)
}

/// Fields that hold comma-separated lists (sent as JSON arrays).
const LIST_FIELDS: [&str; 3] = ["clients", "lists", "groups"];

/// A button that turns an item on or off (`PATCH path {"enabled": ...}`).
pub fn toggle(enabled: bool, path: &str) -> String {
    let (label, to) = if enabled { ("Disable", false) } else { ("Enable", true) };
    action(label, "PATCH", path, &serde_json::json!({ "enabled": to }))
}

/// "yes" / "no" for an enabled flag.
pub fn yes_no(on: bool) -> String {
    if on { "yes".into() } else { "no".into() }
}
