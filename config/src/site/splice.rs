//! The fast path of an edit: with the file's [`Layout`], only the items whose records
//! changed are parsed and rewritten (each as a small `toml_edit` document, so its comments
//! stay); every other byte of the file is copied. Linear in the file size with a small
//! constant, where a whole-document `toml_edit` round trip costs seconds at 200k records.
//!
//! It handles changes to `[[record]]`, `[[list]]` (with inline entries) and `[[subnet]]`
//! (with reservations) items that already have a table of their kind in the file. Anything
//! else (the `[dns]` table, groups and their order, a first item of its kind, a record that
//! would not be written back exactly) returns `None`, and the caller rewrites the whole
//! document with [`super::apply`]: the result of a splice always reads back as exactly the
//! desired records.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use toml::{Table, Value};
use toml_edit::DocumentMut;

use super::layout::{Kind, Layout, Segment};
use super::table::{sync_aot, sync_entries};
use super::{SiteError, SiteRecords, canon, decode, key, list, name, record, record_id, reservation, reservation_id};

/// `text` (laid out as `layout`, holding `cur`) with its site config replaced by
/// `desired`, and the new text's layout; `None` when this path cannot do it.
pub(crate) fn splice(
    text: &str,
    layout: &Layout,
    cur: &SiteRecords,
    desired: &SiteRecords,
) -> Option<(String, Layout)> {
    let mut units: BTreeMap<String, Kind> = BTreeMap::new();
    for k in changed_keys(cur, desired) {
        if let Some(v) = desired.get(k)
            && !writable(k, v)
        {
            return None;
        }
        let (kind, item) = unit_of(k, cur.get(k).or(desired.get(k))?)?;
        units.insert(item, kind);
    }
    let children = Children::gather(&units, desired)?;
    // The last segment of each kind: new items follow it.
    let mut last: HashMap<Kind, usize> = HashMap::new();
    let mut present: HashSet<&str> = HashSet::new();
    for (i, s) in layout.segments.iter().enumerate() {
        if let Some((kind, k)) = &s.item {
            last.insert(*kind, i);
            present.insert(k.as_str());
        }
    }
    let mut added: HashMap<usize, Vec<(&str, Kind)>> = HashMap::new();
    for (k, kind) in &units {
        if !present.contains(k.as_str()) {
            // A first item of its kind, or one that is not there to remove: the whole-file path.
            desired.get(k)?;
            added.entry(*last.get(kind)?).or_default().push((k.as_str(), *kind));
        }
    }
    let mut out = String::with_capacity(text.len() + 256);
    let mut segments = Vec::with_capacity(layout.segments.len() + added.len());
    for (i, (range, seg)) in layout.spans().enumerate() {
        let old = &text[range];
        match &seg.item {
            Some((kind, k)) if units.contains_key(k) => match desired.get(k) {
                Some(v) => {
                    out.push_str(&render(*kind, k, old, &decode(k, v).ok()?, &children)?);
                    segments.push(Segment { end: out.len(), item: seg.item.clone() });
                }
                // Its entries or reservations would stay in the records but not in the file.
                None if children.of(k) => return None,
                None => {}
            },
            _ => {
                out.push_str(old);
                segments.push(Segment { end: out.len(), item: seg.item.clone() });
            }
        }
        for (k, kind) in added.get(&i).into_iter().flatten() {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
                if let Some(s) = segments.last_mut() {
                    s.end = out.len();
                }
            }
            out.push_str(&render(*kind, k, "", &decode(k, desired.get(*k)?).ok()?, &children)?);
            segments.push(Segment { end: out.len(), item: Some((*kind, (*k).to_string())) });
        }
    }
    Some((out, Layout { segments }))
}

/// Keys whose value differs between `a` and `b` (present in one only, or different), in
/// one merge of the two sorted maps.
fn changed_keys<'a>(a: &'a SiteRecords, b: &'a SiteRecords) -> Vec<&'a str> {
    let (mut x, mut y) = (a.iter().peekable(), b.iter().peekable());
    let mut out = Vec::new();
    loop {
        match (x.peek(), y.peek()) {
            (None, None) => return out,
            (Some((k, _)), None) => {
                out.push(k.as_str());
                x.next();
            }
            (None, Some((k, _))) => {
                out.push(k.as_str());
                y.next();
            }
            (Some((ka, va)), Some((kb, vb))) => match ka.cmp(kb) {
                std::cmp::Ordering::Less => {
                    out.push(ka.as_str());
                    x.next();
                }
                std::cmp::Ordering::Greater => {
                    out.push(kb.as_str());
                    y.next();
                }
                std::cmp::Ordering::Equal => {
                    if va != vb {
                        out.push(ka.as_str());
                    }
                    x.next();
                    y.next();
                }
            },
        }
    }
}

/// True when record `k` = `v` reads back from the file as exactly this key and value once
/// written (canonical, and keyed by its own identity).
fn writable(k: &str, v: &str) -> bool {
    let Ok(t) = decode(k, v) else { return false };
    if canon(&t) != v {
        return false;
    }
    let own = match k.split_once('/').map_or(k, |(kind, _)| kind) {
        "record" => record(&t).map(|r| r.0),
        "list" => list(&t).map(|r| r.0),
        "subnet" => name(&t, "subnet").map(|n| key("subnet", &n)),
        "reservation" => reservation(&t).map(|r| r.0),
        // The whole record: an explicit `enabled = true` would not read back as written.
        "entry" => match (t.get("list").and_then(Value::as_str), super::entry_rule(&t)) {
            (Some(l), Some((r, on))) => return super::entry_state(l, &r, on) == (k.to_string(), v.to_string()),
            _ => return false,
        },
        _ => return false,
    };
    own.is_ok_and(|own| own == k)
}

/// The item of the file that holds record `k` (value `v`): its kind and record key.
fn unit_of(k: &str, v: &str) -> Option<(Kind, String)> {
    let field = |f: &str| decode(k, v).ok()?.get(f).and_then(Value::as_str).map(str::to_string);
    match k.split_once('/').map_or(k, |(kind, _)| kind) {
        "record" => Some((Kind::Record, k.to_string())),
        "list" => Some((Kind::List, k.to_string())),
        "subnet" => Some((Kind::Subnet, k.to_string())),
        "entry" => Some((Kind::List, key("list", &field("list")?))),
        "reservation" => Some((Kind::Subnet, key("subnet", &field("subnet")?))),
        _ => None,
    }
}

/// The keys of one kind: from `kind/` up to `kind0` (`0` sorts right after `/`).
fn kind_range<'a>(from: &'a str, to: &'a str) -> (Bound<&'a str>, Bound<&'a str>) {
    (Bound::Included(from), Bound::Excluded(to))
}

/// The desired inline entries of the lists and reservations of the subnets being rewritten.
#[derive(Default)]
struct Children {
    entries: HashMap<String, Vec<(String, bool)>>,
    reservations: HashMap<String, Vec<(String, Table)>>,
}

impl Children {
    fn gather(units: &BTreeMap<String, Kind>, desired: &SiteRecords) -> Option<Children> {
        let mut c = Children::default();
        let wants = |kind: Kind| units.values().any(|k| *k == kind);
        if wants(Kind::List) {
            for (k, v) in desired.range::<str, _>(kind_range("entry/", "entry0")) {
                let t = decode(k, v).ok()?;
                let (Some(l), Some(rule)) = (t.get("list").and_then(Value::as_str), super::entry_rule(&t)) else {
                    return None;
                };
                let lk = key("list", l);
                if units.contains_key(&lk) {
                    c.entries.entry(lk).or_default().push(rule);
                }
            }
        }
        if wants(Kind::Subnet) {
            for (k, v) in desired.range::<str, _>(kind_range("reservation/", "reservation0")) {
                let mut t = decode(k, v).ok()?;
                let Some(Value::String(subnet)) = t.remove("subnet") else { return None };
                let sk = key("subnet", &subnet);
                if units.contains_key(&sk) {
                    let id = reservation_id(&t).ok()?;
                    c.reservations.entry(sk).or_default().push((id, t));
                }
            }
        }
        Some(c)
    }

    /// True when item `k` has desired entries or reservations.
    fn of(&self, k: &str) -> bool {
        self.entries.contains_key(k) || self.reservations.contains_key(k)
    }
}

/// The text of item `k` of `kind` as `want` (with its desired children), edited from its
/// `old` text (empty for a new item) so its comments and formatting stay.
fn render(kind: Kind, k: &str, old: &str, want: &Table, children: &Children) -> Option<String> {
    let section = kind.section();
    let cur: Table = toml::from_str(old).ok()?;
    let mut doc: DocumentMut = old.parse().ok()?;
    let id = |t: &Table| -> Result<String, SiteError> {
        let id = match kind {
            Kind::Record => record_id(t)?,
            Kind::List | Kind::Subnet => name(t, section)?,
        };
        Ok(key(section, &id))
    };
    let cur_item = super::tables(&cur, section).ok()?.first().copied();
    // Entries of a list that is not inline, or reservations without their subnet, would
    // not be written: the whole-file path decides what happens to them.
    let inline = want.contains_key("entries");
    let entries = children.entries.get(k).map_or(&[][..], Vec::as_slice);
    if !inline && !entries.is_empty() {
        return None;
    }
    let reservations = children.reservations.get(k).map_or(&[][..], Vec::as_slice);
    let want = [(k.to_string(), want.clone())];
    sync_aot(doc.as_table_mut(), Some(&cur), section, &want, id, false, |_, t| match kind {
        Kind::Record => Ok(()),
        Kind::List => {
            sync_entries(t, inline, entries);
            Ok(())
        }
        Kind::Subnet => sync_aot(t, cur_item, "reservation", reservations, reservation_id, false, |_, _| Ok(())),
    })
    .ok()?;
    Some(doc.to_string())
}
