//! Blocklist engine (issue 3): list formats, the compiled engine, client groups, list sources.
//!
//! Data flow: [`source::ListStore::refresh`] keeps a local copy of each URL list (async, off
//! the query path) → [`compile`] streams every list file through the line parser
//! ([`parse`]) into an [`EngineBuilder`] and returns one immutable [`Engine`] for all groups
//! plus a [`ListReport`] per list (the daemon runs it in `spawn_blocking` and swaps the engine
//! in with `arc-swap`) → per query, [`GroupMatcher::group_of`] picks the client's group and
//! [`Engine::lookup`] gives the verdict. Everything but `source` is free of I/O runtime.

mod build;
mod engine;
mod groups;
pub mod parse;
mod report;
pub mod source;
mod table;

use std::fs::File;
use std::io::BufReader;
use std::path::PathBuf;

use ravens_config::policy::{ListKind, ListSource, Policy};

pub use build::{EngineBuilder, ListId, MAX_LISTS, MAX_REGEXES};
pub use engine::{Engine, Explanation, How, ListInfo, Match, RuleMatch, Verdict};
pub use groups::{GroupId, GroupMatcher};
pub use report::{KEEP_REJECTED, ListReport, RejectedLine, Skip, SkipCounts};
pub use source::{FetchStatus, ListStore, SourceError};

/// Largest list size, in bytes, the engine is sized for before reading.
const PRESIZE_MAX: usize = 128 << 20;

/// Where a list's text is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListData {
    /// A list file, or the stored copy of a URL list; read streaming.
    File(PathBuf),
    /// Text in memory, e.g. the single entries of `dnsctl block add` (one per line).
    Text(String),
}

/// One list to compile: where its text is and which groups it applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileInput {
    pub name: String,
    pub data: ListData,
    /// Bit `g` set: the list applies to group `g`.
    pub groups: u64,
    pub allow_list: bool,
}

/// The lists of `policy` that apply to some group, with the files to read them from (URL
/// lists from `store`). Disabled lists and lists no blocking group uses are left out.
pub fn inputs_from_policy(policy: &Policy, store: &ListStore) -> Vec<CompileInput> {
    let mut inputs = Vec::new();
    for (i, list) in policy.lists.iter().enumerate() {
        let groups = policy.list_mask(i);
        if groups == 0 {
            continue;
        }
        let data = match &list.source {
            ListSource::Path(p) => ListData::File(p.clone()),
            ListSource::Url(_) => ListData::File(store.copy_path(&list.name)),
            ListSource::Inline(rules) => ListData::Text(rules.join("\n")),
        };
        let allow_list = list.kind == ListKind::Allow;
        inputs.push(CompileInput { name: list.name.clone(), data, groups, allow_list });
    }
    inputs
}

/// Reads every list (one at a time, streamed) and compiles the engine. A list that cannot be
/// read contributes nothing and says why in its report; it never fails the whole.
pub fn compile(inputs: &[CompileInput]) -> (Engine, Vec<ListReport>) {
    // Sizes the index up front from the largest input (about 28 bytes a line), so it rarely
    // has to grow; not from the sum, as stacked lists overlap a lot. Capped (about 4.8M
    // names): a huge file of garbage must not reserve an index it would scatter writes over.
    let bytes = inputs
        .iter()
        .map(|i| match &i.data {
            ListData::Text(t) => t.len(),
            ListData::File(p) => std::fs::metadata(p).map_or(0, |m| usize::try_from(m.len()).unwrap_or(usize::MAX)),
        })
        .max()
        .unwrap_or(0)
        .min(PRESIZE_MAX);
    let mut builder = EngineBuilder::with_capacity(bytes / 28, bytes);
    let mut reports = Vec::with_capacity(inputs.len());
    let mut regex_lists = Vec::new();
    for input in inputs {
        let mut report = ListReport::new(&input.name);
        let Some(id) = builder.add_list(&input.name, input.groups, input.allow_list) else {
            report.error = Some(format!("not loaded: more than {MAX_LISTS} lists"));
            reports.push(report);
            continue;
        };
        let mut has_regex = false;
        let mut emit = |item: parse::Item<'_>, line: u64| {
            has_regex |= matches!(item, parse::Item::Regex { .. });
            builder.add(id, item, line)
        };
        match &input.data {
            ListData::Text(text) => parse::read_list(text.as_bytes(), input.allow_list, &mut report, &mut emit),
            ListData::File(path) => match File::open(path) {
                Ok(file) => {
                    let reader = BufReader::with_capacity(64 << 10, file);
                    parse::read_list(reader, input.allow_list, &mut report, &mut emit);
                }
                Err(e) => report.error = Some(format!("cannot read {}: {e}", path.display())),
            },
        }
        if has_regex {
            regex_lists.push(reports.len());
        }
        reports.push(report);
    }
    let (engine, regex_error) = builder.finish();
    if let Some(e) = regex_error {
        for i in regex_lists {
            reports[i].error.get_or_insert_with(|| e.clone());
        }
    }
    (engine, reports)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
