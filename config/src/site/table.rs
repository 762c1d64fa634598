//! Editing one TOML table (or one array of tables) with `toml_edit` so it holds what a
//! record says: only keys that differ are written, so comments and formatting survive.
//! Shared by the whole-file writer ([`super::apply`]) and the item splicer
//! ([`super::splice`]). Everything here is linear in the size of what it edits.

use std::collections::{HashMap, HashSet};

use toml::{Table, Value};
use toml_edit::{ArrayOfTables, Item};

use super::{SiteError, tables};

/// Keys that live in a record but not in the table of the file (or are written separately).
const SKIP: [&str; 3] = ["_order", "entries", "reservation"];

/// Makes the `[[section]]` tables of `parent` hold exactly `want` (by identity): existing
/// tables are edited in place and keep their position and comments, removed ones go, new
/// ones follow the last existing one. `ordered`: the order of `want` is enforced too.
/// `child` then edits each table's nested items.
pub(super) fn sync_aot(
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
    let wanted: HashMap<&str, &Table> = want.iter().map(|(k, t)| (k.as_str(), t)).collect();
    let mut seen: HashSet<String> = HashSet::with_capacity(want.len());
    let mut out: Vec<(String, toml_edit::Table)> = Vec::with_capacity(want.len());
    for (mut t, c) in existing.into_iter().zip(cur) {
        let k = id(c)?;
        let Some(w) = wanted.get(k.as_str()) else { continue };
        // A duplicate of an item already kept goes (the records hold one of each).
        if !seen.insert(k.clone()) {
            continue;
        }
        sync_table(&mut t, Some(c), w);
        out.push((k, t));
    }
    for (k, w) in want {
        if !seen.contains(k) {
            out.push((k.clone(), new_table(w)));
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

/// A table for a new item: set apart by a blank line, name first.
pub(super) fn new_table(want: &Table) -> toml_edit::Table {
    let mut t = toml_edit::Table::new();
    t.decor_mut().set_prefix("\n");
    sync_table(&mut t, None, want);
    t
}

/// Puts `out` in `want`'s order. toml_edit renders tables by their document position, so the
/// positions the tables had are handed out again in the new order.
fn reorder(out: &mut [(String, toml_edit::Table)], want: &[(String, Table)]) {
    let ranks: HashMap<&str, usize> = want.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    let rank = |k: &str| ranks.get(k).copied().unwrap_or(usize::MAX);
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
pub(super) fn sync_table(t: &mut toml_edit::Table, cur: Option<&Table>, want: &Table) {
    // A new table reads better with its name first.
    let named_first = want.get_key_value("name").into_iter().chain(want.iter().filter(|(k, _)| *k != "name"));
    for (k, v) in named_first {
        if SKIP.contains(&k.as_str()) {
            continue;
        }
        if cur.and_then(|c| c.get(k)) != Some(v) || !t.contains_key(k) {
            set_keeping_decor(t, k, to_item(v));
        }
    }
    let gone: Vec<String> =
        t.iter().map(|(k, _)| k.to_string()).filter(|k| !SKIP.contains(&k.as_str()) && !want.contains_key(k)).collect();
    for k in gone {
        t.remove(&k);
    }
}

/// Sets `t[k]` to `item`. An existing key keeps its decor, so the comment above it and the
/// one after its value stay (`Table::insert` would write the key afresh and drop both).
fn set_keeping_decor(t: &mut toml_edit::Table, k: &str, mut item: Item) {
    let Some(old) = t.get_mut(k) else {
        t.insert(k, item);
        return;
    };
    if let (Some(was), Some(now)) = (old.as_value(), item.as_value_mut()) {
        *now.decor_mut() = was.decor().clone();
    }
    *old = item;
}

/// Writes a list's inline `entries` (rule, enabled): existing ones keep their order, new
/// ones are appended; a disabled rule is written `{ rule = "...", enabled = false }`.
pub(super) fn sync_entries(t: &mut toml_edit::Table, inline: bool, rules: &[(String, bool)]) {
    if !inline {
        t.remove("entries");
        return;
    }
    let existing: Vec<(String, bool)> = t
        .get("entries")
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(edit_entry).collect())
        .unwrap_or_default();
    let wanted: HashMap<&str, bool> = rules.iter().map(|(r, on)| (r.as_str(), *on)).collect();
    let mut taken: HashSet<&str> = HashSet::with_capacity(rules.len());
    let mut next: Vec<(&str, bool)> = Vec::with_capacity(rules.len());
    for e in existing.iter().map(|(r, _)| r.as_str()).chain(rules.iter().map(|(r, _)| r.as_str())) {
        if let Some(on) = wanted.get(e)
            && taken.insert(e)
        {
            next.push((e, *on));
        }
    }
    if next.iter().copied().eq(existing.iter().map(|(r, on)| (r.as_str(), *on))) && t.contains_key("entries") {
        return;
    }
    let mut arr: toml_edit::Array = next
        .into_iter()
        .map(|(rule, on)| {
            if on {
                toml_edit::Value::from(rule)
            } else {
                let mut it = toml_edit::InlineTable::new();
                it.insert("rule", rule.into());
                it.insert("enabled", false.into());
                toml_edit::Value::InlineTable(it)
            }
        })
        .collect();
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

/// A written entry: a rule string, or an inline table with `rule` (and `enabled`).
fn edit_entry(v: &toml_edit::Value) -> Option<(String, bool)> {
    match v {
        toml_edit::Value::String(s) => Some((s.value().clone(), true)),
        toml_edit::Value::InlineTable(t) => Some((
            t.get("rule")?.as_str()?.to_string(),
            t.get("enabled").and_then(toml_edit::Value::as_bool).unwrap_or(true),
        )),
        _ => None,
    }
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
