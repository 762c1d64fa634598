//! Whole-file edits of the node's config: remote site changes written back, and dnsctl
//! changes, both validated as a complete config before the file is replaced, then loaded.
//! A symlinked config is edited through its link: the target is written, the link kept.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ravens_config::Config;
use ravens_config::site::{SiteFile, SiteRecords};

use crate::api::edits::Change;
use crate::state::Daemon;

/// Why a change was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// No config file to write (the embedded default is running).
    #[error("this node runs the embedded default config (no file): start ravensd with --config FILE to make changes")]
    NoFile,
    /// The file on disk cannot be edited now (it does not parse).
    #[error("{0}")]
    Conflict(String),
    /// The change is invalid.
    #[error("{0}")]
    Invalid(String),
    /// What was to be removed does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(String),
}

/// Applies `f` to the site records of the node's file: validated as a whole config, written
/// with `toml_edit` (comments kept), loaded and so replicated, the path of a hand edit.
/// `f` returns the message for the operator.
///
/// It starts from the file the daemon last loaded (its records and layout kept), so only
/// the items that change are rewritten and the file is parsed once, to validate the result.
pub fn edit(d: &Daemon, f: impl FnOnce(&mut SiteRecords) -> Result<String, EditError>) -> Result<Change, EditError> {
    edit_or_check(d, false, f).map(|(change, _)| change)
}

/// [`edit`], or with `dry_run` all of it but the write and the reload: the change is made
/// and validated, the file left byte for byte as it was, and the config the change would
/// run is returned (`None` when nothing would change).
pub fn edit_or_check(
    d: &Daemon,
    dry_run: bool,
    f: impl FnOnce(&mut SiteRecords) -> Result<String, EditError>,
) -> Result<(Change, Option<Config>), EditError> {
    let path = d.config_path.as_deref().ok_or(EditError::NoFile)?;
    let _one_edit = d.site.edit.lock();
    d.reload_if_changed();
    let (target, cur, running) = current(d, path).map_err(|e| match e {
        EditError::Invalid(e) => EditError::Conflict(format!("{} cannot be edited now: {e}", path.display())),
        other => other,
    })?;
    let mut records = cur.records().clone();
    let message = f(&mut records)?;
    if &records == cur.records() {
        return Ok((Change { changed: false, message: format!("nothing to change: {message}") }, None));
    }
    const INVALID: &str = "the change would make the config invalid";
    // Only local records changed (the edit that 200k-record files see most): the running
    // config with those records swapped, without parsing the whole file again.
    let quick = running.as_deref().and_then(|base| ravens_config::site::revalidate(base, cur.records(), &records));
    let new = cur.edit(records).map_err(|e| EditError::Conflict(e.to_string()))?;
    let cfg = match quick {
        Some(cfg) => cfg.map_err(|e| EditError::Invalid(format!("{INVALID}: {e}")))?,
        None => validate(path, new.text(), INVALID)?,
    };
    if dry_run {
        return Ok((Change { changed: false, message: format!("dry run, nothing written: {message}") }, Some(cfg)));
    }
    write_atomic(&target, new.text()).map_err(|e| EditError::Io(format!("writing {}: {e}", target.display())))?;
    d.load_edited(cfg, new)
        .map_err(|e| EditError::Io(format!("written to {}, but the reload failed: {e:#}", target.display())))?;
    Ok((Change { changed: true, message }, None))
}

/// Writes what the merged site records say into the file (after remote changes). A result
/// that would not validate here is not written; the error shows in `dnsctl status`.
pub fn write_back(d: &Daemon) {
    let Some(path) = d.config_path.as_deref() else { return };
    let _one_edit = d.site.edit.lock();
    // A hand edit not reloaded yet goes first: it gets versions newer than what arrived, so
    // the write-back below keeps it instead of undoing it.
    d.reload_if_changed();
    let outcome = (|| -> Result<bool, String> {
        let (target, cur, _) = current(d, path).map_err(|e| e.to_string())?;
        let desired = d.site.desired();
        if &desired == cur.records() {
            return Ok(false);
        }
        let new = cur.edit(desired).map_err(|e| e.to_string())?;
        if new.text() == cur.text() {
            return Ok(false);
        }
        let cfg = validate(path, new.text(), "the merged site config does not validate here, file left as it was")
            .map_err(|e| e.to_string())?;
        write_atomic(&target, new.text()).map_err(|e| format!("writing {}: {e}", target.display()))?;
        tracing::info!(file = %path.display(), "site config from the cluster written");
        d.load_edited(cfg, new)
            .map_err(|e| format!("written to {}, but the reload failed: {e:#}", target.display()))?;
        Ok(true)
    })();
    match outcome {
        Ok(_) => *d.site.last_error.lock() = None,
        Err(e) => {
            tracing::error!("{e}");
            *d.site.last_error.lock() = Some(e);
        }
    }
}

/// Where an edit writes, the file it starts from, and the config that file validated to.
type Current = (PathBuf, Arc<SiteFile>, Option<Arc<Config>>);

/// The file an edit starts from, where it is written, and the config it validated to:
/// the file the daemon last loaded when the text on disk is still that (with its config),
/// else the text on disk cut afresh (no config: the edit validates the whole result).
fn current(d: &Daemon, path: &Path) -> Result<Current, EditError> {
    let target = target(path);
    let text =
        std::fs::read_to_string(&target).map_err(|e| EditError::Io(format!("reading {}: {e}", target.display())))?;
    if let Some((f, cfg)) = d.site.loaded_with_config(&text) {
        return Ok((target, f, Some(cfg)));
    }
    let f = SiteFile::parse(text).map_err(|e| EditError::Invalid(e.to_string()))?;
    Ok((target, Arc::new(f), None))
}

/// `new` parsed and validated as a whole config; `invalid` prefixes the error.
fn validate(path: &Path, new: &str, invalid: &str) -> Result<Config, EditError> {
    ravens_config::parse(new, &path.display().to_string()).map_err(|e| EditError::Invalid(format!("{invalid}: {e}")))
}

/// The file that `path` names: a symlink is followed, so edits go to its target and the
/// link stays a link.
pub fn target(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Where [`write_atomic`] stages the new text of `file`.
fn temp_of(file: &Path) -> PathBuf {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    file.with_file_name(format!(".{name}.ravens-tmp"))
}

/// Removes what an edit cut short by a crash or a kill left beside the config file (and
/// beside its symlink's target).
pub fn remove_stale_temp(path: &Path) {
    for file in [path.to_path_buf(), target(path)] {
        let tmp = temp_of(&file);
        match std::fs::remove_file(&tmp) {
            Ok(()) => tracing::info!(file = %tmp.display(), "removed a temp file left by an interrupted edit"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %tmp.display(), "cannot remove a stale temp file: {e}"),
        }
    }
}

/// Replaces the file in one rename, so a crash or a concurrent reader never sees half of
/// it; the mode of the old file is kept. A failed write removes its temp file.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = temp_of(path);
    let write = || -> std::io::Result<()> {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    };
    write().inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
