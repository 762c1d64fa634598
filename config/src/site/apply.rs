//! Writing site records back into a config file with `toml_edit`: only items whose record
//! differs are touched (key by key), so comments, formatting and the node-local sections
//! survive; deleted items go, new ones are appended after their kind's last table.

use std::collections::BTreeMap;

use toml::{Table, Value};
use toml_edit::{ArrayOfTables, DocumentMut, Item};

use super::{SiteError, SiteRecords, decode, name, record_id, records_of, reservation_id, tables};

/// Keys that live in a record but not in the table of the file (or are written separately).
const SKIP: [&str; 3] = ["_order", "entries", "reservation"];

/// `text` with its site config replaced by `desired`. Returns `text` unchanged (byte for
/// byte) when it already holds exactly `desired`.
pub fn apply(text: &str, desired: &SiteRecords) -> Result<String, SiteError> {
    let cur: Table = toml::from_str(text).map_err(|e| SiteError::Toml(e.message().to_string()))?;
    if &records_of(&cur)? == desired {
        return Ok(text.to_string());
    }
    let mut doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| SiteError::Toml(e.to_string()))?;
    let want = Desired::decode(desired)?;
    let root = doc.as_table_mut();
    match &want.dns {
        None => {
            root.remove("dns");
        }
        Some(d) => {
            let cur_dns = cur.get("dns").and_then(Value::as_table);
            if cur_dns.map(super::canon) != Some(super::canon(d)) {
                let item = root.entry("dns").or_insert_with(|| Item::Table(toml_edit::Table::new()));
                let t = item.as_table_mut().ok_or_else(|| SiteError::Shape("dns".into()))?;
                sync_table(t, cur_dns, d);
            }
        }
    }
    sync_aot(root, Some(&cur), "group", &want.groups, |t| name(t, "group"), true, |_, _| Ok(()))?;
    sync_aot(
        root,
        Some(&cur),
        "list",
        &want.lists,
        |t| name(t, "list"),
        false,
        |list, t| {
            sync_entries(t, want.inline.contains(list), want.entries.get(list).map_or(&[][..], Vec::as_slice));
            Ok(())
        },
    )?;
    sync_aot(root, Some(&cur), "record", &want.records, record_id, false, |_, _| Ok(()))?;
    let cur_subnets: BTreeMap<String, &Table> =
        tables(&cur, "subnet")?.into_iter().filter_map(|t| name(t, "subnet").ok().map(|n| (n, t))).collect();
    sync_aot(
        root,
        Some(&cur),
        "subnet",
        &want.subnets,
        |t| name(t, "subnet"),
        false,
        |subnet, t| {
            let res = want.reservations.get(subnet).map_or(&[][..], Vec::as_slice);
            let cur_sub = cur_subnets.get(subnet).copied();
            sync_aot(t, cur_sub, "reservation", res, reservation_id, false, |_, _| Ok(()))
        },
    )?;
    Ok(doc.to_string())
}

/// The site config alone, as a TOML file (`dnsctl config export`).
pub fn export(desired: &SiteRecords) -> Result<String, SiteError> {
    Ok(apply("", desired)?.trim_start().to_string())
}

/// The desired items per kind, each with its identity.
#[derive(Default)]
struct Desired {
    dns: Option<Table>,
    groups: Vec<(String, Table)>,
    lists: Vec<(String, Table)>,
    /// Lists that hold inline `entries`.
    inline: std::collections::BTreeSet<String>,
    entries: BTreeMap<String, Vec<String>>,
    records: Vec<(String, Table)>,
    subnets: Vec<(String, Table)>,
    reservations: BTreeMap<String, Vec<(String, Table)>>,
}

impl Desired {
    fn decode(records: &SiteRecords) -> Result<Self, SiteError> {
        let mut d = Desired::default();
        let mut groups = Vec::new();
        for (k, v) in records {
            let mut t = decode(k, v)?;
            let bad = |why: &str| SiteError::Record { key: k.clone(), why: why.into() };
            match k.split_once('/').map_or(k.as_str(), |(kind, _)| kind) {
                "dns" => d.dns = Some(t),
                "group" => {
                    let order = t.get("_order").and_then(Value::as_integer).unwrap_or(i64::MAX);
                    groups.push((order, name(&t, "group")?, t));
                }
                "list" => {
                    let n = name(&t, "list")?;
                    if t.contains_key("entries") {
                        d.inline.insert(n.clone());
                    }
                    d.lists.push((n, t));
                }
                "entry" => {
                    let list = t.get("list").and_then(Value::as_str).ok_or_else(|| bad("no list"))?;
                    let rule = t.get("rule").and_then(Value::as_str).ok_or_else(|| bad("no rule"))?;
                    d.entries.entry(list.to_string()).or_default().push(rule.to_string());
                }
                "record" => d.records.push((record_id(&t)?, t)),
                "subnet" => d.subnets.push((name(&t, "subnet")?, t)),
                "reservation" => {
                    let Some(Value::String(subnet)) = t.remove("subnet") else { return Err(bad("no subnet")) };
                    d.reservations.entry(subnet).or_default().push((reservation_id(&t)?, t));
                }
                // A kind from a newer ravens: kept in the replica, not written here.
                _ => {}
            }
        }
        // First match wins among groups, so their order is part of the config.
        groups.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        d.groups = groups.into_iter().map(|(_, n, t)| (n, t)).collect();
        Ok(d)
    }
}

/// Makes the `[[section]]` tables of `parent` hold exactly `want` (by identity): existing
/// tables are edited in place and keep their position and comments, removed ones go, new
/// ones follow the last existing one. `ordered`: the order of `want` is enforced too.
/// `child` then edits each table's nested items.
fn sync_aot(
    parent: &mut toml_edit::Table,
    cur_parent: Option<&Table>,
    section: &'static str,
    want: &[(String, Table)],
    id: impl Fn(&Table) -> Result<String, SiteError>,
    ordered: bool,
    mut child: impl FnMut(&str, &mut toml_edit::Table) -> Result<(), SiteError>,
) -> Result<(), SiteError> {
    let cur = match cur_parent {
        Some(p) => tables(p, section)?,
        None => Vec::new(),
    };
    let existing: Vec<toml_edit::Table> = match parent.remove(section) {
        None => Vec::new(),
        Some(Item::ArrayOfTables(a)) => a.into_iter().collect(),
        Some(_) => return Err(SiteError::Shape(section.into())),
    };
    let wanted: BTreeMap<&str, &Table> = want.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut out: Vec<(String, toml_edit::Table)> = Vec::new();
    for (mut t, c) in existing.into_iter().zip(cur) {
        let k = id(c)?;
        let Some(w) = wanted.get(k.as_str()) else { continue };
        if out.iter().any(|(o, _)| *o == k) {
            continue;
        }
        sync_table(&mut t, Some(c), w);
        out.push((k, t));
    }
    for (k, w) in want {
        if !out.iter().any(|(o, _)| o == k) {
            let mut t = toml_edit::Table::new();
            t.decor_mut().set_prefix("\n");
            sync_table(&mut t, None, w);
            out.push((k.clone(), t));
        }
    }
    if ordered {
        reorder(&mut out, want);
    }
    for (k, t) in &mut out {
        child(k, t)?;
    }
    if !out.is_empty() {
        let mut aot = ArrayOfTables::new();
        for (_, t) in out {
            aot.push(t);
        }
        parent.insert(section, Item::ArrayOfTables(aot));
    }
    Ok(())
}

/// Puts `out` in `want`'s order. toml_edit renders tables by their document position, so the
/// positions the tables had are handed out again in the new order.
fn reorder(out: &mut [(String, toml_edit::Table)], want: &[(String, Table)]) {
    let rank = |k: &str| want.iter().position(|(w, _)| w == k).unwrap_or(usize::MAX);
    if out.windows(2).all(|w| rank(&w[0].0) <= rank(&w[1].0)) {
        return;
    }
    let mut positions: Vec<Option<isize>> = out.iter().map(|(_, t)| t.position()).collect();
    positions.sort_by_key(|p| p.unwrap_or(isize::MAX));
    out.sort_by_key(|(k, _)| rank(k));
    for ((_, t), p) in out.iter_mut().zip(positions) {
        if let Some(p) = p {
            t.set_position(p);
        }
    }
}

/// Sets the keys of `t` that differ from `cur` to `want`'s values and removes keys `want`
/// lacks; keys in [`SKIP`] are left to their own writers.
fn sync_table(t: &mut toml_edit::Table, cur: Option<&Table>, want: &Table) {
    // A new table reads better with its name first.
    let named_first = want.get_key_value("name").into_iter().chain(want.iter().filter(|(k, _)| *k != "name"));
    for (k, v) in named_first {
        if SKIP.contains(&k.as_str()) {
            continue;
        }
        if cur.and_then(|c| c.get(k)) != Some(v) || !t.contains_key(k) {
            t.insert(k, to_item(v));
        }
    }
    let gone: Vec<String> =
        t.iter().map(|(k, _)| k.to_string()).filter(|k| !SKIP.contains(&k.as_str()) && !want.contains_key(k)).collect();
    for k in gone {
        t.remove(&k);
    }
}

/// Writes a list's inline `entries`: existing ones keep their order, new ones are appended.
fn sync_entries(t: &mut toml_edit::Table, inline: bool, rules: &[String]) {
    if !inline {
        t.remove("entries");
        return;
    }
    let existing: Vec<String> = t
        .get("entries")
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let mut next: Vec<String> = Vec::with_capacity(rules.len());
    for e in existing.iter().chain(rules) {
        if rules.contains(e) && !next.contains(e) {
            next.push(e.clone());
        }
    }
    if next == existing && t.contains_key("entries") {
        return;
    }
    let mut arr: toml_edit::Array = next.iter().map(String::as_str).collect();
    if arr.len() > 2 {
        // One rule per line reads (and diffs) better than a long line.
        for v in arr.iter_mut() {
            v.decor_mut().set_prefix("\n    ");
        }
        arr.set_trailing("\n");
        arr.set_trailing_comma(true);
    }
    t.insert("entries", Item::Value(toml_edit::Value::Array(arr)));
}

fn to_item(v: &Value) -> Item {
    match v {
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_table) => {
            let mut aot = ArrayOfTables::new();
            for t in a.iter().filter_map(Value::as_table) {
                let mut e = toml_edit::Table::new();
                for (k, v) in t {
                    e.insert(k, to_item(v));
                }
                aot.push(e);
            }
            Item::ArrayOfTables(aot)
        }
        other => Item::Value(to_value(other)),
    }
}

fn to_value(v: &Value) -> toml_edit::Value {
    match v {
        Value::String(s) => s.as_str().into(),
        Value::Integer(i) => (*i).into(),
        Value::Float(f) => (*f).into(),
        Value::Boolean(b) => (*b).into(),
        Value::Datetime(d) => d.to_string().parse().unwrap_or_else(|_| d.to_string().into()),
        Value::Array(a) => toml_edit::Value::Array(a.iter().map(to_value).collect()),
        Value::Table(t) => toml_edit::Value::InlineTable(t.iter().map(|(k, v)| (k.clone(), to_value(v))).collect()),
    }
}
