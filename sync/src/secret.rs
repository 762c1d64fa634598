//! The cluster secret file: 32 random bytes written as hex with mode 0600, read back as the
//! HKDF input. The file's trimmed content is the key material, so an operator may also paste
//! any long random string.

use std::io::Write;
use std::path::Path;

use rand::RngCore;

/// Shortest secret accepted, in bytes of file content (a guessable secret would make the
/// sealing pointless).
pub const MIN_SECRET_LEN: usize = 16;

/// Why a secret file could not be written or used.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The file exists already; generating must never replace a secret in use.
    #[error("{0}: already exists; refusing to overwrite a cluster secret")]
    Exists(String),
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    /// The file holds fewer than [`MIN_SECRET_LEN`] bytes after trimming.
    #[error("{0}: secret too short (at least {MIN_SECRET_LEN} characters)")]
    TooShort(String),
}

/// Writes a fresh secret (64 hex characters and a newline) to `path` with mode 0600.
/// Fails if the file exists.
pub fn generate_secret(path: &Path) -> Result<(), SecretError> {
    let shown = path.display().to_string();
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::AlreadyExists => SecretError::Exists(shown.clone()),
        _ => SecretError::Io { path: shown.clone(), source },
    })?;
    file.write_all(format!("{hex}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|source| SecretError::Io { path: shown, source })
}

/// Reads a secret file; the trimmed content is the key material.
pub fn load_secret(path: &Path) -> Result<Vec<u8>, SecretError> {
    let shown = path.display().to_string();
    let raw = std::fs::read(path).map_err(|source| SecretError::Io { path: shown.clone(), source })?;
    let trimmed = raw.trim_ascii();
    if trimmed.len() < MIN_SECRET_LEN {
        return Err(SecretError::TooShort(shown));
    }
    Ok(trimmed.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generate_writes_0600_hex_and_refuses_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.key");
        generate_secret(&path).unwrap();
        let content = std::fs::read_to_string(&path).unwrap();
        assert_eq!(content.len(), 65);
        assert!(content.trim().bytes().all(|b| b.is_ascii_hexdigit()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(matches!(generate_secret(&path), Err(SecretError::Exists(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content, "unchanged");
        assert_eq!(load_secret(&path).unwrap(), content.trim().as_bytes());
    }

    #[test]
    fn short_or_missing_secret_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        assert!(matches!(load_secret(&path), Err(SecretError::Io { .. })));
        std::fs::write(&path, "short\n").unwrap();
        assert!(matches!(load_secret(&path), Err(SecretError::TooShort(_))));
    }
}
