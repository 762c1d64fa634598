//! The admin bearer token, in a 0600 file `admin.token` of the data_dir.
//!
//! A single node makes 32 random bytes (hex) at first start and keeps them. A cluster
//! member derives its token from the cluster secret (HKDF-SHA256 with a label of its own,
//! so it reveals nothing of the gossip keys), so every node of the pair has the same token
//! and `dnsctl --all` needs one token file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use anyhow::Context;
use ravens_config::Config;

/// HKDF `info` of the admin token: distinct from every key the gossip derives.
const LABEL: &[u8] = b"ravens admin api token v1";

/// The token for this node's config: derived from the cluster secret when `[cluster]` is
/// configured (and its secret readable), else random and kept. Written to
/// `data_dir/admin.token` with mode 0600 either way.
pub fn for_node(cfg: &Config) -> anyhow::Result<String> {
    let path = cfg.node.data_dir.join("admin.token");
    let Some(cl) = &cfg.cluster else { return ensure(&path) };
    // A missing secret is reported by the cluster start, with the advice to create it.
    if !cl.secret_file.exists() {
        return ensure(&path);
    }
    let secret = ravens_sync::load_secret(&cl.secret_file)
        .with_context(|| format!("deriving the admin token from the cluster secret {}", cl.secret_file.display()))?;
    let token = derive(&secret);
    if std::fs::read_to_string(&path).ok().as_deref().map(str::trim) != Some(token.as_str()) {
        write(&path, &token)?;
    }
    Ok(token)
}

/// The cluster-wide token of a secret.
pub fn derive(secret: &[u8]) -> String {
    let mut okm = [0u8; 32];
    hkdf::Hkdf::<sha2::Sha256>::new(None, secret)
        .expand(LABEL, &mut okm)
        .unwrap_or_else(|_| unreachable!("32 bytes is a valid HKDF-SHA256 output length"));
    okm.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads the token at `path`, creating it (mode 0600) when absent.
pub fn ensure(path: &Path) -> anyhow::Result<String> {
    if let Ok(t) = std::fs::read_to_string(path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok(t);
        }
    }
    let token: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
    write(path, &token)?;
    Ok(token)
}

fn write(path: &Path, token: &str) -> anyhow::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating admin token file {}", path.display()))?;
    // `mode` applies only to a new file: an older, wider file is narrowed too.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| writeln!(f, "{token}"))
        .with_context(|| format!("writing {}", path.display()))
}

/// The token of an `Authorization` header value: `Bearer TOKEN`, the scheme in any letter
/// case (RFC 9110 §11.1: schemes are case-insensitive) and the token after one or more
/// spaces. `None` for another scheme.
pub fn bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim_start().split_once([' ', '\t'])?;
    scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
}

/// Compares in constant time (for equal lengths), so timing reveals nothing of the token.
pub fn equal(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin.token");
        let t1 = ensure(&path).unwrap();
        assert_eq!(t1.len(), 64);
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(ensure(&path).unwrap(), t1);
    }

    #[test]
    fn a_cluster_token_comes_from_the_secret_and_replaces_a_random_one() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("cluster.key");
        ravens_sync::generate_secret(&secret).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let random = ensure(&data.join("admin.token")).unwrap();
        std::fs::set_permissions(data.join("admin.token"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let text = format!(
            "[node]\nname = \"a\"\ndata_dir = \"{}\"\n[cluster]\nname = \"c\"\ngossip_listen = \"127.0.0.1:7946\"\n\
             peers = [\"127.0.0.2:7946\"]\nsecret_file = \"{}\"\n",
            data.display(),
            secret.display()
        );
        let cfg = ravens_config::parse(&text, "t.toml").unwrap();
        let t = for_node(&cfg).unwrap();
        assert_ne!(t, random);
        assert_eq!(t, derive(&ravens_sync::load_secret(&secret).unwrap()));
        assert_eq!(std::fs::read_to_string(data.join("admin.token")).unwrap().trim(), t);
        assert_eq!(std::fs::metadata(data.join("admin.token")).unwrap().permissions().mode() & 0o777, 0o600);
        assert_ne!(derive(b"another secret of enough length"), t);
    }

    #[test]
    fn issue_10_bearer_scheme_in_any_case() {
        for h in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR  abc ", "Bearer\tabc"] {
            assert_eq!(bearer(h), Some("abc"), "{h:?}");
        }
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearerabc"), None);
        assert_eq!(bearer("abc"), None);
    }

    #[test]
    fn compares() {
        assert!(equal(b"abc", b"abc"));
        assert!(!equal(b"abc", b"abd"));
        assert!(!equal(b"abc", b"ab"));
    }
}
