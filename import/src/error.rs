//! Why an import produced nothing. Per-item problems are not errors: they are skipped items
//! in the [`crate::Report`]; an error means the input as a whole cannot be trusted.

use std::path::PathBuf;

/// The input is not a Pi-hole export this crate can read, or is hostile.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("not a Pi-hole Teleporter archive (.tar.gz or .zip) or directory: {0}")]
    NotArchive(String),
    #[error("broken archive: {0}")]
    Archive(String),
    #[error("archive entry '{0}' escapes the archive (absolute path or '..')")]
    UnsafePath(String),
    #[error("archive too large unpacked: {0} (a decompression bomb?)")]
    TooLarge(String),
    #[error("{file}: not an SQLite database")]
    NotSqlite { file: String },
    #[error("{file}: not a Pi-hole gravity database: {why}")]
    UnknownSchema { file: String, why: String },
    #[error("{file}: {why}")]
    Sqlite { file: String, why: String },
    #[error("{file}: JSON does not match Pi-hole's Teleporter format: {why}")]
    Json { file: String, why: String },
    #[error("{file}: not valid TOML: {why}")]
    Toml { file: String, why: String },
    #[error("nothing to import: {0}")]
    Empty(String),
    #[error("the merged config is invalid: {0}")]
    Invalid(String),
}
