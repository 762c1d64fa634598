//! `GET/PUT /api/v1/config`: the site config exported as TOML and imported back. An
//! import replaces the whole site config, so one that holds no site item at all (an empty
//! file, such as a failed `dnsctl config export > f` leaves) is refused unless the caller
//! says `replace_all`; the refusal lists what would be removed.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use ravens_config::site::{self, SiteRecords};

use super::common::{Body, EditError, Json, body, edit, invalid};
use crate::admin::reply::{Fail, Shared, fail};
use crate::api::edits::{Change, SiteToml};

/// The largest import body: an exported config of 200k records is about 13 MB (16 MB as
/// JSON), so this leaves room for real configs while bounding one request's memory.
const MAX_IMPORT: usize = 128 << 20;

pub(super) fn body_limit() -> DefaultBodyLimit {
    DefaultBodyLimit::max(MAX_IMPORT)
}

pub(super) async fn export(State(d): State<Shared>) -> Result<Json<SiteToml>, Fail> {
    // Rendering a large site config takes a while: off the async threads.
    tokio::task::spawn_blocking(move || site::export(&d.site.desired()))
        .await
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, format!("export task failed: {e}")))?
        .map(|toml| axum::Json(SiteToml { toml }))
        .map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

#[derive(Debug, Default, serde::Deserialize)]
pub(super) struct ImportArgs {
    /// An import without site items empties the site config only when this is set.
    #[serde(default)]
    replace_all: bool,
}

pub(super) async fn import(
    State(d): State<Shared>,
    Query(a): Query<ImportArgs>,
    b: Body<SiteToml>,
) -> Result<Json<Change>, Fail> {
    let text = body(b)?.toml;
    edit(d, move |recs| {
        // Checked alone first, so a mistake is reported at its line in the imported text.
        ravens_config::parse(&text, "import").map_err(|e| invalid(format!("the imported config is invalid: {e}")))?;
        let imported = site::records(&text).map_err(|e| invalid(e.to_string()))?;
        let diff = Diff::of(recs, &imported);
        if imported.is_empty() && !recs.is_empty() && !a.replace_all {
            return Err(EditError::Conflict(format!(
                "the imported config holds no site config ([dns], [[record]], [[list]], [[subnet]]...): \
                 importing it would remove {}. Nothing was changed; to empty the site config on purpose, \
                 import it with --replace-all",
                diff.removed()
            )));
        }
        let message = format!("imported {} site records ({diff})", imported.len());
        *recs = imported;
        Ok(message)
    })
    .await
}

/// What an import changes: counts, and the removed items by kind.
struct Diff<'a> {
    added: usize,
    changed: usize,
    removed: BTreeMap<&'a str, Vec<&'a str>>,
}

impl<'a> Diff<'a> {
    fn of(cur: &'a SiteRecords, new: &SiteRecords) -> Self {
        let added = new.keys().filter(|k| !cur.contains_key(*k)).count();
        let changed = new.iter().filter(|(k, v)| cur.get(*k).is_some_and(|c| c != *v)).count();
        let mut removed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for k in cur.keys().filter(|k| !new.contains_key(*k)) {
            let (kind, id) = k.split_once('/').unwrap_or((k.as_str(), ""));
            removed.entry(kind).or_default().push(id);
        }
        Diff { added, changed, removed }
    }

    /// "5016 site items: the [dns] settings, 5000 records (a.lan A 10.0.0.1, ... and 4997
    /// more), 1 subnet (home), ...".
    fn removed(&self) -> String {
        let total: usize = self.removed.values().map(Vec::len).sum();
        let parts: Vec<String> = self
            .removed
            .iter()
            .map(|(kind, ids)| {
                if *kind == "dns" {
                    return "the [dns] settings".to_string();
                }
                let shown: Vec<&str> = ids.iter().take(3).copied().collect();
                let more = ids.len() - shown.len();
                let more = if more > 0 { format!(" and {more} more") } else { String::new() };
                format!("{} {} ({}{more})", ids.len(), noun(kind, ids.len()), shown.join(", "))
            })
            .collect();
        format!("{total} site item{}: {}", if total == 1 { "" } else { "s" }, parts.join(", "))
    }
}

impl std::fmt::Display for Diff<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} added, {} changed, ", self.added, self.changed)?;
        if self.removed.is_empty() { write!(f, "0 removed") } else { write!(f, "removed {}", self.removed()) }
    }
}

fn noun(kind: &str, n: usize) -> String {
    let one = match kind {
        "entry" => "block/allow entry",
        "group" | "list" | "record" | "subnet" | "reservation" => kind,
        other => return format!("{other} item{}", if n == 1 { "" } else { "s" }),
    };
    match (one, n) {
        (_, 1) => one.to_string(),
        ("block/allow entry", _) => "block/allow entries".to_string(),
        _ => format!("{one}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_report_counts_and_names_what_goes() {
        let cur: SiteRecords = [
            ("dns", "x"),
            ("record/a.lan A 10.0.0.1", "x"),
            ("record/b.lan A 10.0.0.2", "x"),
            ("record/c.lan A 10.0.0.3", "x"),
            ("record/d.lan A 10.0.0.4", "x"),
            ("entry/custom-block/ads.example", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let d = Diff::of(&cur, &SiteRecords::new());
        assert_eq!(
            d.removed(),
            "6 site items: the [dns] settings, 1 block/allow entry (custom-block/ads.example), \
             4 records (a.lan A 10.0.0.1, b.lan A 10.0.0.2, c.lan A 10.0.0.3 and 1 more)"
        );
        let mut new = cur.clone();
        new.remove("dns");
        new.insert("record/a.lan A 10.0.0.1".into(), "y".into());
        new.insert("record/e.lan A 10.0.0.5".into(), "x".into());
        assert_eq!(Diff::of(&cur, &new).to_string(), "1 added, 1 changed, removed 1 site item: the [dns] settings");
    }
}
