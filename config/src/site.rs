//! The site config as records (docs/ARCHITECTURE.md §6).
//!
//! Everything but `[node]` and `[cluster]` is site config, identical on every node. It is cut
//! into records with stable keys (kind + name), so two nodes editing different things never
//! overwrite each other, and each record is small enough to gossip (≤ 4 KB):
//!
//! | key                         | holds                                   |
//! |-----------------------------|-----------------------------------------|
//! | `dns`                       | the `[dns]` table                       |
//! | `ui`                        | the `[ui]` table (the web UI's password hash) |
//! | `group/NAME`                | a `[[group]]` (with `_order`: first match wins, so order is data) |
//! | `list/NAME`                 | a `[[list]]` without its inline `entries` |
//! | `entry/LIST/RULE`           | one inline entry of a list (`dnsctl block add`; `enabled = false` when off) |
//! | `record/NAME TYPE VALUE`    | a `[[record]]`                          |
//! | `forward/DOMAIN`            | a `[[forward]]` (DOMAIN lower case, no trailing dot) |
//! | `subnet/NAME`               | a `[[subnet]]` without its reservations |
//! | `reservation/SUBNET/ID`     | a `[[subnet.reservation]]` (ID = MAC, client-id or IP) |
//!
//! Values are canonical TOML text of the item (keys sorted), so a record changes only when
//! its content does, whatever the file's formatting or comments. [`records`] cuts a file into
//! records; [`apply`] writes a set of records back into a file with `toml_edit`, touching only
//! what differs and keeping comments and the node-local sections. [`SiteFile`] does the same
//! for an edit of a file already cut (the daemon's loaded file): it rewrites only the items
//! that changed and copies the rest of the text, so an edit is linear in the file size.

mod apply;
mod file;
mod layout;
mod revalidate;
mod splice;
mod table;

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use toml::{Table, Value};

pub use apply::{apply, export};
pub use file::SiteFile;
pub use layout::Layout;
pub use revalidate::revalidate;

/// Top-level sections that are node-local: never records, never touched by [`apply`].
pub const NODE_LOCAL: [&str; 2] = ["node", "cluster"];

/// Site records: key → canonical TOML text of the item.
pub type SiteRecords = BTreeMap<String, String>;

/// Keys longer than this are replaced by a hash of the item's identity (record keys are at
/// most 256 bytes, with room kept for the `c/` prefix).
const MAX_KEY: usize = 200;

/// Why text could not be cut into records or written back.
#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    /// The text is not TOML.
    #[error("not valid TOML: {0}")]
    Toml(String),
    /// An item lacks what identifies it (e.g. a `[[list]]` without `name`).
    #[error("{section}: {why}")]
    Item { section: &'static str, why: String },
    /// A record value that is not a TOML table (a corrupt replica).
    #[error("site record {key}: {why}")]
    Record { key: String, why: String },
    /// A section has a shape the writer cannot edit (e.g. `group = [...]` inline).
    #[error("cannot edit '{0}': write it as [[{0}]] tables")]
    Shape(String),
}

/// Cuts config text into site records. Node-local sections are ignored.
pub fn records(text: &str) -> Result<SiteRecords, SiteError> {
    let t: Table = toml::from_str(text).map_err(|e| SiteError::Toml(e.message().to_string()))?;
    records_of(&t)
}

/// [`records`] of already parsed TOML.
pub fn records_of(t: &Table) -> Result<SiteRecords, SiteError> {
    let mut out = SiteRecords::new();
    if let Some(Value::Table(d)) = t.get("dns") {
        out.insert("dns".into(), canon(d));
    }
    if let Some(Value::Table(u)) = t.get("ui") {
        out.insert("ui".into(), canon(u));
    }
    for (i, g) in tables(t, "group")?.into_iter().enumerate() {
        let mut g = g.clone();
        g.insert("_order".into(), Value::Integer(i as i64));
        out.insert(key("group", &name(&g, "group")?), canon(&g));
    }
    for l in tables(t, "list")? {
        let list = name(l, "list")?;
        let mut l = l.clone();
        if let Some(entries) = l.remove("entries") {
            // An inline list keeps the marker; its entries are records of their own.
            l.insert("entries".into(), Value::Array(Vec::new()));
            let Value::Array(entries) = entries else {
                return Err(item_err("list", format!("list '{list}': entries must be an array of strings")));
            };
            for e in entries {
                let Some((rule, enabled)) = crate::policy::inline_entry(&e) else {
                    return Err(item_err(
                        "list",
                        format!("list '{list}': entries must be rules or {{ rule, enabled }} tables"),
                    ));
                };
                let (k, v) = entry_state(&list, rule, enabled);
                out.insert(k, v);
            }
        }
        out.insert(key("list", &list), canon(&l));
    }
    for r in tables(t, "record")? {
        out.insert(key("record", &record_id(r)?), canon(r));
    }
    for f in tables(t, "forward")? {
        out.insert(key("forward", &forward_id(f)?), canon(f));
    }
    for s in tables(t, "subnet")? {
        let subnet = name(s, "subnet")?;
        let mut s = s.clone();
        if let Some(res) = s.remove("reservation") {
            let Value::Array(res) = res else {
                return Err(item_err(
                    "subnet",
                    format!("subnet '{subnet}': reservation must be [[subnet.reservation]]"),
                ));
            };
            for r in res {
                let Value::Table(mut r) = r else {
                    return Err(item_err("subnet", format!("subnet '{subnet}': reservation must be tables")));
                };
                r.insert("subnet".into(), Value::String(subnet.clone()));
                out.insert(key("reservation", &format!("{subnet}/{}", reservation_id(&r)?)), canon(&r));
            }
        }
        out.insert(key("subnet", &subnet), canon(&s));
    }
    Ok(out)
}

/// The record of one inline list entry (enabled).
pub fn entry(list: &str, rule: &str) -> (String, String) {
    entry_state(list, rule, true)
}

/// The record of one inline list entry, enabled or not. An enabled entry's record has no
/// `enabled` key, so records written before entries could be disabled stay the same.
pub fn entry_state(list: &str, rule: &str, enabled: bool) -> (String, String) {
    let mut t = Table::new();
    t.insert("list".into(), Value::String(list.into()));
    t.insert("rule".into(), Value::String(rule.into()));
    if !enabled {
        t.insert("enabled".into(), Value::Boolean(false));
    }
    (key("entry", &format!("{list}/{rule}")), canon(&t))
}

/// An entry record's rule and whether it is enabled.
pub fn entry_rule(t: &Table) -> Option<(String, bool)> {
    let rule = str_field(t, "rule")?.to_string();
    Some((rule, t.get("enabled").and_then(Value::as_bool).unwrap_or(true)))
}

/// The record of a `[[record]]` table.
pub fn record(t: &Table) -> Result<(String, String), SiteError> {
    Ok((key("record", &record_id(t)?), canon(t)))
}

/// The record of a `[[forward]]` table.
pub fn forward(t: &Table) -> Result<(String, String), SiteError> {
    Ok((key("forward", &forward_id(t)?), canon(t)))
}

/// The record of a reservation table (which names its `subnet`).
pub fn reservation(t: &Table) -> Result<(String, String), SiteError> {
    let subnet = str_field(t, "subnet").ok_or_else(|| item_err("reservation", "needs a subnet".into()))?;
    Ok((key("reservation", &format!("{subnet}/{}", reservation_id(t)?)), canon(t)))
}

/// The record of a `[[list]]` table (without entries; `inline` keeps the marker).
pub fn list(t: &Table) -> Result<(String, String), SiteError> {
    Ok((key("list", &name(t, "list")?), canon(t)))
}

/// Decodes a record value.
pub fn decode(key: &str, value: &str) -> Result<Table, SiteError> {
    toml::from_str(value).map_err(|e| SiteError::Record { key: key.into(), why: e.message().to_string() })
}

/// Canonical text of a table: keys sorted at every level, so equal content is equal text.
pub fn canon(t: &Table) -> String {
    toml::to_string(&sorted(t)).unwrap_or_default()
}

fn sorted(t: &Table) -> Table {
    let mut keys: Vec<&String> = t.keys().collect();
    keys.sort();
    keys.into_iter().map(|k| (k.clone(), sorted_value(&t[k]))).collect()
}

fn sorted_value(v: &Value) -> Value {
    match v {
        Value::Table(t) => Value::Table(sorted(t)),
        Value::Array(a) => Value::Array(a.iter().map(sorted_value).collect()),
        other => other.clone(),
    }
}

/// `prefix/ID`, with `%`, `|` and control characters escaped (record keys forbid `|`), or
/// `prefix/#HASH` when too long.
pub fn key(prefix: &str, id: &str) -> String {
    let mut k = format!("{prefix}/");
    for c in id.chars() {
        match c {
            '%' | '|' => k.push_str(&format!("%{:02X}", c as u32)),
            c if c.is_control() => k.push_str(&format!("%{:02X}", c as u32 & 0xff)),
            c => k.push(c),
        }
    }
    if k.len() > MAX_KEY {
        let digest = Sha256::digest(id.as_bytes());
        k = format!("{prefix}/#");
        for b in &digest[..16] {
            k.push_str(&format!("{b:02x}"));
        }
    }
    k
}

/// The items of an array-of-tables section (`[[group]]`...), or none.
pub(crate) fn tables<'a>(t: &'a Table, section: &'static str) -> Result<Vec<&'a Table>, SiteError> {
    match t.get(section) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_table().ok_or_else(|| item_err(section, format!("write it as [[{section}]] tables"))))
            .collect(),
        Some(_) => Err(item_err(section, format!("write it as [[{section}]] tables"))),
    }
}

fn item_err(section: &'static str, why: String) -> SiteError {
    SiteError::Item { section, why }
}

fn str_field<'a>(t: &'a Table, k: &str) -> Option<&'a str> {
    t.get(k).and_then(Value::as_str)
}

pub(crate) fn name(t: &Table, section: &'static str) -> Result<String, SiteError> {
    str_field(t, "name").map(str::to_string).ok_or_else(|| item_err(section, "every item needs a name".into()))
}

/// `name TYPE value`, case-folded like the DNS compares them.
pub(crate) fn record_id(t: &Table) -> Result<String, SiteError> {
    let (Some(n), Some(ty), Some(v)) = (str_field(t, "name"), str_field(t, "type"), str_field(t, "value")) else {
        return Err(item_err("record", "every record needs name, type and value".into()));
    };
    let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
    Ok(format!("{n} {} {}", ty.trim().to_ascii_uppercase(), v.trim()))
}

/// A forward zone's domain, normalised ([`crate::forward::domain_id`]).
pub(crate) fn forward_id(t: &Table) -> Result<String, SiteError> {
    str_field(t, "domain")
        .map(crate::forward::domain_id)
        .ok_or_else(|| item_err("forward", "every forward zone needs a domain".into()))
}

/// What identifies a reservation in its subnet: the MAC (lower case), else the client-id,
/// else the address.
pub(crate) fn reservation_id(t: &Table) -> Result<String, SiteError> {
    if let Some(mac) = str_field(t, "mac") {
        return Ok(mac.trim().to_ascii_lowercase().replace('-', ":"));
    }
    if let Some(id) = str_field(t, "client_id") {
        return Ok(format!("id:{}", id.trim().to_ascii_lowercase()));
    }
    str_field(t, "ip")
        .map(|ip| format!("ip:{}", ip.trim()))
        .ok_or_else(|| item_err("reservation", "a reservation needs mac, client_id or ip".into()))
}

#[cfg(test)]
#[path = "site_tests.rs"]
mod tests;
