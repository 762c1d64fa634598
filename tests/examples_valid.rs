//! Every config in examples/ validates (`ravensd --check-config` exits 0), and the embedded
//! default printed by `--print-default-config` is itself a valid file.

use std::process::Command;

fn check(path: &std::path::Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--check-config").arg(path).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
}

#[test]
fn examples_validate() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut n = 0;
    for dir in [root.clone(), root.join("home-pair")] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                check(&p);
                n += 1;
            }
        }
    }
    assert!(n >= 3, "examples found: {n}");
}

#[test]
fn printed_default_is_valid() {
    let out = Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--print-default-config").output().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("default.toml");
    std::fs::write(&p, out.stdout).unwrap();
    check(&p);
}
