//! Where list files may come from (`node.list_dirs`): paths are compared after resolving
//! symlinks and `..`, so `/etc/ravens/../shadow` or a symlink out of an allowed directory is
//! outside it.

use std::path::{Component, Path, PathBuf};

/// `path` made absolute (against the working directory, as the daemon opens it) with
/// symlinks and `..` resolved as far as it exists; the part that does not exist yet (a list
/// file created later) is normalised without touching the disk.
pub fn resolve(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")).join(path)
    };
    let parts: Vec<Component<'_>> = abs.components().collect();
    for known in (1..=parts.len()).rev() {
        let Ok(mut out) = parts[..known].iter().collect::<PathBuf>().canonicalize() else { continue };
        for part in &parts[known..] {
            match part {
                Component::ParentDir => {
                    out.pop();
                }
                Component::Normal(p) => out.push(p),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
            }
        }
        return out;
    }
    abs
}

/// Whether `path` lies in one of `dirs` (or below), both resolved.
pub fn within(dirs: &[PathBuf], path: &Path) -> bool {
    let path = resolve(path);
    dirs.iter().any(|d| path.starts_with(resolve(d)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_and_symlinks_are_resolved_before_comparing() {
        let tmp = tempfile::tempdir().unwrap();
        let allowed = tmp.path().join("lists");
        let outside = tmp.path().join("secret");
        std::fs::create_dir_all(&allowed).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("shadow"), "x").unwrap();
        std::os::unix::fs::symlink(outside.join("shadow"), allowed.join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, allowed.join("dirlink")).unwrap();
        let dirs = [allowed.clone()];
        assert!(within(&dirs, &allowed.join("ads.txt")), "a file still to be created");
        assert!(within(&dirs, &allowed.join("sub/new/ads.txt")));
        assert!(within(&dirs, &allowed.join("./x/../ads.txt")));
        assert!(!within(&dirs, &allowed.join("../secret/shadow")));
        assert!(!within(&dirs, &allowed.join("nope/../../secret/shadow")));
        assert!(!within(&dirs, &allowed.join("link")), "a symlink out of the directory");
        assert!(!within(&dirs, &allowed.join("dirlink/shadow")));
        assert!(!within(&dirs, Path::new("/etc/shadow")));
        assert!(!within(&[tmp.path().join("lis")], &allowed.join("ads.txt")), "whole components only");
        assert!(!within(&[], &allowed.join("ads.txt")));
    }
}
