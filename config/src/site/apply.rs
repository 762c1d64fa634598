//! Writing site records back into a config file with `toml_edit`: only items whose record
//! differs are touched (key by key), so comments, formatting and the node-local sections
//! survive; deleted items go, new ones are appended after their kind's last table.

use std::collections::BTreeMap;

use toml::{Table, Value};
use toml_edit::{DocumentMut, Item};

use super::table::{sync_aot, sync_entries, sync_table};
use super::{SiteError, SiteRecords, decode, forward_id, name, record_id, records_of, reservation_id, tables};

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
    // The single-table sections: `[dns]` and `[ui]`.
    for (section, want_t) in [("dns", &want.dns), ("ui", &want.ui)] {
        match want_t {
            None => {
                root.remove(section);
            }
            Some(d) => {
                let cur_t = cur.get(section).and_then(Value::as_table);
                if cur_t.map(super::canon) != Some(super::canon(d)) {
                    let item = root.entry(section).or_insert_with(|| Item::Table(toml_edit::Table::new()));
                    let t = item.as_table_mut().ok_or_else(|| SiteError::Shape(section.into()))?;
                    sync_table(t, cur_t, d);
                }
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
    sync_aot(root, Some(&cur), "forward", &want.forwards, forward_id, false, |_, _| Ok(()))?;
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
    ui: Option<Table>,
    groups: Vec<(String, Table)>,
    lists: Vec<(String, Table)>,
    /// Lists that hold inline `entries`.
    inline: std::collections::BTreeSet<String>,
    entries: BTreeMap<String, Vec<(String, bool)>>,
    records: Vec<(String, Table)>,
    forwards: Vec<(String, Table)>,
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
                "ui" => d.ui = Some(t),
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
                    let rule = super::entry_rule(&t).ok_or_else(|| bad("no rule"))?;
                    d.entries.entry(list.to_string()).or_default().push(rule);
                }
                "record" => d.records.push((record_id(&t)?, t)),
                "forward" => d.forwards.push((forward_id(&t)?, t)),
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
