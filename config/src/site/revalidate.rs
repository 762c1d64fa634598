//! Validating an edit of local records without parsing the whole file again.
//!
//! A `[[record]]` is validated on its own (no record depends on another, or on the rest of
//! the file), so when an edit changes only records, the new config is the running one with
//! the old records taken out and the new ones, validated from their record text, put in.
//! At 200k records this skips the full TOML parse that made a single `dnsctl records add`
//! take over a second (issue 10, defect 4). Any other change, or anything unexpected, falls
//! back to the full parse ([`revalidate`] returns `None`).

use std::collections::HashMap;

use super::SiteRecords;
use crate::Config;
use crate::error::{ConfigError, SourceMap};
use crate::record::{self, LocalRecord};
use crate::wire::RecordWire;

/// Key prefix of `[[record]]` items.
const RECORD: &str = "record/";

/// `base` (validated from a file whose site records are `before`) with the site records
/// changed to `after`, when the change touches only local records; `None` when the caller
/// must parse the whole new text instead.
pub fn revalidate(base: &Config, before: &SiteRecords, after: &SiteRecords) -> Option<Result<Config, ConfigError>> {
    let changes = record_changes(before, after)?;
    let added = changes.iter().filter(|c| c.1.is_none()).count();
    // One item per record, so one key removed is one record removed; a file that repeats
    // a record (same name, type and value twice) is left to the full parse.
    if before
        .range::<str, _>((std::ops::Bound::Included(RECORD), std::ops::Bound::Unbounded))
        .take_while(|(k, _)| k.starts_with(RECORD))
        .count()
        != base.records.len()
    {
        return None;
    }
    // What each record taken out becomes: a replaced item keeps its place in the file, so it
    // keeps its place in the config; a removed one becomes nothing.
    let mut taken: HashMap<LocalRecord, Option<LocalRecord>> = HashMap::new();
    let mut new = Vec::with_capacity(added);
    for (key, old, value) in changes {
        let now = match value.map(|v| one(key, v)).transpose() {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        match old {
            // The running config holds this record validated; failing here means the
            // records and the config disagree: let the full parse decide.
            Some(old) => {
                taken.insert(one(key, old).ok()?, now);
            }
            None => new.extend(now),
        }
    }
    let mut records = Vec::with_capacity(base.records.len() + new.len());
    let mut found = 0;
    for r in &base.records {
        match taken.get(r) {
            Some(now) => {
                found += 1;
                records.extend(now.clone());
            }
            None => records.push(r.clone()),
        }
    }
    if found != taken.len() {
        return None;
    }
    // New items go at the end of the `[[record]]` section, as the file writer puts them.
    records.extend(new);
    Some(Ok(Config {
        origin: base.origin.clone(),
        node: base.node.clone(),
        cluster: base.cluster.clone(),
        dns: base.dns.clone(),
        records,
        forwards: base.forwards.clone(),
        ui_password_hash: base.ui_password_hash.clone(),
        policy: base.policy.clone(),
        subnets: base.subnets.clone(),
    }))
}

/// The record items that differ: key, old text (removed or replaced), new text (added or
/// replacing); `None` when a non-record item changed too.
type Change<'a> = (&'a str, Option<&'a str>, Option<&'a str>);
fn record_changes<'a>(before: &'a SiteRecords, after: &'a SiteRecords) -> Option<Vec<Change<'a>>> {
    let mut out = Vec::new();
    let (mut b, mut a) = (before.iter().peekable(), after.iter().peekable());
    loop {
        let step = match (b.peek(), a.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((kb, _)), Some((ka, _))) => kb.cmp(ka),
        };
        let (old, new) = match step {
            std::cmp::Ordering::Less => (b.next(), None),
            std::cmp::Ordering::Greater => (None, a.next()),
            std::cmp::Ordering::Equal => (b.next(), a.next()),
        };
        let key = old.or(new).map(|(k, _)| k.as_str())?;
        let (old, new) = (old.map(|(_, v)| v.as_str()), new.map(|(_, v)| v.as_str()));
        if old == new {
            continue;
        }
        if !key.starts_with(RECORD) {
            return None;
        }
        out.push((key, old, new));
    }
    Some(out)
}

/// One record item validated; an error names the record (its text is not in any file yet).
fn one(key: &str, value: &str) -> Result<LocalRecord, ConfigError> {
    let what = format!("[[record]] {}", key.trim_start_matches(RECORD));
    let whole = |message: String| ConfigError::Whole { origin: what.clone(), message };
    let wire: RecordWire = toml::from_str(value).map_err(|e| whole(e.message().to_string()))?;
    record::validate_one(&wire, &SourceMap::new(&what, value)).map_err(|e| match e {
        ConfigError::At { message, .. } => whole(message),
        other => other,
    })
}

#[cfg(test)]
#[path = "revalidate_tests.rs"]
mod tests;
