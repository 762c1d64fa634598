//! The site-config state file, `data_dir/site-config.json`: the applied versions of every
//! site record, read at start and rewritten (temp file, then rename) when they change.
//!
//! ```json
//! {"format":1,"records":{"dns":{"wall_ms":1700000000000,"logical":0,"origin":"node-a","value":"..."}}}
//! ```
//!
//! Versioning (rolling upgrades: a node reads what the previous release wrote): `format` is
//! [`FORMAT`]; a file written before the field existed lacks it and reads as format 1.
//! Readers ignore fields they do not know, so a field added later with a serde default needs
//! no new format; bump the format only when an older reader would misread the file. A file in
//! a newer format (a downgrade) is not misread: it is moved aside to
//! `site-config.json.format-<N>` and the node starts as with no state (its config file and its
//! peers supply everything again). Golden files: `tests/golden/site-config-*.json`; keep the
//! old ones when adding a format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Applied, Version};

/// The file's name in `data_dir`.
pub const FILE_NAME: &str = "site-config.json";
/// The format this release writes and the newest it reads.
pub const FORMAT: u32 = 1;

/// What is written: [`Applied`] with the format in front.
#[derive(Serialize)]
struct Saved<'a> {
    format: u32,
    records: &'a BTreeMap<String, Version>,
}

/// Read first, so a newer format is recognised even when it no longer parses as this one.
#[derive(Deserialize)]
struct Header {
    #[serde(default = "unmarked")]
    format: u32,
}

/// The format of a file written before formats were marked.
fn unmarked() -> u32 {
    1
}

/// Why the state file was not used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {source}", path.display())]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("{}: format {format} is newer than this release reads ({FORMAT}); moved to {}", path.display(), aside.display())]
    Newer { path: PathBuf, format: u32, aside: PathBuf },
}

/// Reads the state at `path`: a missing file is an empty state; so is an unreadable one or
/// one in a newer format, returned with the error for the caller to log.
pub fn load(path: &Path) -> (Applied, Option<StateError>) {
    let Ok(bytes) = std::fs::read(path) else { return (Applied::default(), None) };
    match decode(&bytes) {
        Ok(applied) => (applied, None),
        Err(Decode::Corrupt(source)) => (Applied::default(), Some(StateError::Corrupt { path: path.into(), source })),
        Err(Decode::Newer(format)) => {
            let aside = path.with_file_name(format!("{FILE_NAME}.format-{format}"));
            if let Err(e) = std::fs::rename(path, &aside) {
                tracing::warn!(file = %path.display(), "cannot move the newer site-config state aside: {e}");
            }
            (Applied::default(), Some(StateError::Newer { path: path.into(), format, aside }))
        }
    }
}

enum Decode {
    Corrupt(serde_json::Error),
    Newer(u32),
}

fn decode(bytes: &[u8]) -> Result<Applied, Decode> {
    let Header { format } = serde_json::from_slice(bytes).map_err(Decode::Corrupt)?;
    if format > FORMAT {
        return Err(Decode::Newer(format));
    }
    serde_json::from_slice(bytes).map_err(Decode::Corrupt)
}

/// The bytes written for `applied`.
pub fn encode(applied: &Applied) -> serde_json::Result<Vec<u8>> {
    serde_json::to_vec(&Saved { format: FORMAT, records: &applied.records })
}

/// Writes `applied` to `path` atomically (temp file beside it, then rename).
pub fn save(path: &Path, applied: &Applied) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, encode(applied)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
