//! Whole-file edits of the node's config: remote site changes written back, and dnsctl
//! changes, both validated as a complete config before the file is replaced, then reloaded.

use std::path::Path;

use ravens_config::site::SiteRecords;

use crate::api::site::Change;
use crate::daemon::Daemon;

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
/// with `toml_edit` (comments kept), reloaded and so replicated, the path of a hand edit.
/// `f` returns the message for the operator.
pub fn edit(d: &Daemon, f: impl FnOnce(&mut SiteRecords) -> Result<String, EditError>) -> Result<Change, EditError> {
    let path = d.config_path.as_deref().ok_or(EditError::NoFile)?;
    let _one_edit = d.site.edit.lock();
    d.reload_if_changed();
    let text = read(path)?;
    let mut records = ravens_config::site::records(&text)
        .map_err(|e| EditError::Conflict(format!("{} cannot be edited now: {e}", path.display())))?;
    let before = records.clone();
    let message = f(&mut records)?;
    if records == before {
        return Ok(Change { changed: false, message: format!("nothing to change: {message}") });
    }
    let new = ravens_config::site::apply(&text, &records).map_err(|e| EditError::Conflict(e.to_string()))?;
    replace(path, &new, "the change would make the config invalid")?;
    d.reload();
    if let Some(e) = d.config_state.lock().last_error.clone() {
        return Err(EditError::Io(format!("written to {}, but the reload failed: {e}", path.display())));
    }
    Ok(Change { changed: true, message })
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
        let text = read(path).map_err(|e| e.to_string())?;
        let new = ravens_config::site::apply(&text, &d.site.desired()).map_err(|e| e.to_string())?;
        if new == text {
            return Ok(false);
        }
        replace(path, &new, "the merged site config does not validate here, file left as it was")
            .map_err(|e| e.to_string())?;
        Ok(true)
    })();
    match outcome {
        Ok(written) => {
            *d.site.last_error.lock() = None;
            if written {
                tracing::info!(file = %path.display(), "site config from the cluster written");
                d.reload();
            }
        }
        Err(e) => {
            tracing::error!("{e}");
            *d.site.last_error.lock() = Some(e);
        }
    }
}

/// Writes `new` over the file if it validates as a whole config; `invalid` prefixes the
/// validation error.
fn replace(path: &Path, new: &str, invalid: &str) -> Result<(), EditError> {
    ravens_config::parse(new, &path.display().to_string())
        .map_err(|e| EditError::Invalid(format!("{invalid}: {e}")))?;
    write_atomic(path, new).map_err(|e| EditError::Io(format!("writing {}: {e}", path.display())))
}

fn read(path: &Path) -> Result<String, EditError> {
    std::fs::read_to_string(path).map_err(|e| EditError::Io(format!("reading {}: {e}", path.display())))
}

/// Replaces the file in one rename, so a crash or a concurrent reader never sees half of
/// it; the mode of the old file is kept.
fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.ravens-tmp"));
    {
        use std::io::Write as _;
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(&tmp, meta.permissions())?;
    }
    std::fs::rename(&tmp, path)
}
