//! The web UI's password on a node running the embedded default config (`scripts/run`, no
//! file): such a node has nowhere to keep `dnsctl password set`'s hash (it refuses changes),
//! so it makes a random password once, keeps it in `data_dir/ui-password` (mode 0600, readable
//! by whoever can read the token beside it) and names that file on the login page. A node with
//! a config file never makes or reads one: its password is the site config's.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rand::Rng as _;

/// The file, under `node.data_dir`.
pub const FILE: &str = "ui-password";
const LEN: usize = 20;

/// The demo password's file and the argon2id hash of its content.
pub struct DemoPassword {
    pub path: PathBuf,
    pub hash: String,
}

/// Reads `data_dir/ui-password`, or writes a new random one first; hashes it.
pub fn ensure(data_dir: &Path) -> anyhow::Result<DemoPassword> {
    let path = data_dir.join(FILE);
    let password = match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => text.trim().to_string(),
        _ => {
            // Letters and digits without the look-alikes (0/O, 1/l/I): typed from a terminal.
            const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
            let mut rng = rand::rng();
            let pw: String = (0..LEN).map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())])).collect();
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path)?;
            writeln!(f, "{pw}")?;
            pw
        }
    };
    Ok(DemoPassword { hash: crate::ctl::password::hash(&password)?, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_kept_private_and_verified_by_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let a = ensure(dir.path()).unwrap();
        let pw = std::fs::read_to_string(&a.path).unwrap().trim().to_string();
        assert_eq!(pw.len(), LEN);
        let mode = std::fs::metadata(&a.path).unwrap().permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
        let b = ensure(dir.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&b.path).unwrap().trim(), pw, "kept across restarts");
        let h = argon2::PasswordHash::new(&b.hash).unwrap();
        assert!(argon2::PasswordVerifier::verify_password(&argon2::Argon2::default(), pw.as_bytes(), &h).is_ok());
    }
}
