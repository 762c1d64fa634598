//! Hostile or broken input: a clear error, nothing produced.

mod common;

use common::*;
use ravens_config::site::SiteRecords;
use ravens_import::{Import, ImportError, Limits, Source, import};

fn imported(bytes: &[u8]) -> Result<Import, ImportError> {
    import(&Source::from_bytes(bytes)?, &SiteRecords::new(), NOW)
}

fn err(bytes: &[u8]) -> ImportError {
    imported(bytes).expect_err("an error")
}

fn entries(list: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
    list.iter().map(|(n, b)| (n.to_string(), b.to_vec())).collect()
}

#[test]
fn truncated_or_foreign_files_are_refused() {
    let tgz = tar_gz(&v5_entries());
    assert!(matches!(err(&tgz[..tgz.len() / 2]), ImportError::Archive(_)), "{}", err(&tgz[..tgz.len() / 2]));
    let z = zip(&v6_entries());
    assert!(matches!(err(&z[..z.len() - 30]), ImportError::Archive(_)), "{}", err(&z[..z.len() - 30]));
    assert!(matches!(err(b"PRAGMA not an archive"), ImportError::NotArchive(_)));
    assert!(matches!(err(&[]), ImportError::NotArchive(_)));
}

#[test]
fn entries_leaving_the_archive_are_refused() {
    for name in ["../etc/passwd", "/etc/passwd", "etc/../../x"] {
        let e = err(&tar_gz(&entries(&[(name, b"x"), ("custom.list", b"10.0.0.1 a.lan\n")])));
        assert!(matches!(&e, ImportError::UnsafePath(n) if n == name), "{e}");
        let e = err(&zip(&entries(&[("etc/pihole/pihole.toml", b""), (name, b"x")])));
        assert!(matches!(&e, ImportError::UnsafePath(n) if n == name), "{e}");
    }
}

#[test]
fn decompression_bombs_are_refused() {
    // 2 MiB of zeros packs into a few KiB; the cap is 1 MiB here (256 MiB by default).
    let limits = Limits { max_unpacked: 1 << 20, max_entries: 100 };
    let zeros = vec![0u8; 2 << 20];
    let tgz = tar_gz(&entries(&[("custom.list", &zeros)]));
    assert!(tgz.len() < 64 << 10);
    let e = Source::from_bytes_with(&tgz, limits).unwrap_err();
    assert!(matches!(e, ImportError::TooLarge(_)), "{e}");
    let z = zip(&entries(&[("etc/pihole/custom.list", &zeros)]));
    let e = Source::from_bytes_with(&z, limits).unwrap_err();
    assert!(matches!(e, ImportError::TooLarge(_)), "{e}");
    // Under the cap the same archive reads.
    assert!(Source::from_bytes_with(&z, Limits { max_unpacked: 4 << 20, max_entries: 100 }).is_ok());
    let many: Vec<(String, Vec<u8>)> = (0..5).map(|i| (format!("dnsmasq.d/{i}.conf"), Vec::new())).collect();
    let few = Limits { max_unpacked: 1 << 20, max_entries: 3 };
    assert!(matches!(Source::from_bytes_with(&tar_gz(&many), few), Err(ImportError::TooLarge(_))));
    assert!(matches!(Source::from_bytes_with(&zip(&many), few), Err(ImportError::TooLarge(_))));
}

#[test]
fn a_gravity_db_that_is_not_sqlite_or_not_pihole_is_refused() {
    let e = err(&zip(&entries(&[("etc/pihole/gravity.db", &[7u8; 4096])])));
    assert!(matches!(e, ImportError::NotSqlite { .. }), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("other.db");
    rusqlite::Connection::open(&p).unwrap().execute_batch("CREATE TABLE notes (id INTEGER, text TEXT);").unwrap();
    let e = err(&zip(&entries(&[("etc/pihole/gravity.db", &std::fs::read(&p).unwrap())])));
    assert!(matches!(&e, ImportError::UnknownSchema { why, .. } if why.contains("no table 'group'")), "{e}");
    // A Pi-hole table without a column the import needs.
    let p = dir.path().join("old.db");
    let schema = SCHEMA.replace("domain TEXT NOT NULL, enabled", "domain TEXT NOT NULL, active");
    rusqlite::Connection::open(&p).unwrap().execute_batch(&schema).unwrap();
    let e = err(&zip(&entries(&[("etc/pihole/gravity.db", &std::fs::read(&p).unwrap())])));
    assert!(
        matches!(&e, ImportError::UnknownSchema { why, .. } if why.contains("'domainlist' has no column 'enabled'")),
        "{e}"
    );
    // SQLite's header and then garbage.
    let mut broken = b"SQLite format 3\0".to_vec();
    broken.extend([0xffu8; 4096]);
    let e = err(&zip(&entries(&[("etc/pihole/gravity.db", &broken)])));
    assert!(matches!(e, ImportError::Sqlite { .. } | ImportError::UnknownSchema { .. }), "{e}");
}

#[test]
fn json_that_does_not_match_is_refused() {
    for (file, body) in [
        ("group.json", &br#"{"id": 1}"#[..]),
        ("client.json", br#"[{"id": 1, "comment": null}]"#),
        ("adlist.json", br#"[{"id": "one", "address": "https://x/", "enabled": 1}]"#),
        ("blacklist.exact.json", b"[{\"id\": 1, \"domain\": "),
        ("client_by_group.json", br#"[{"client": 1, "group_id": 0}]"#),
    ] {
        let e = err(&tar_gz(&entries(&[(file, body)])));
        assert!(matches!(&e, ImportError::Json { file: f, .. } if f == file), "{file}: {e}");
    }
}

#[test]
fn a_broken_pihole_toml_is_refused() {
    let db = gravity_bytes();
    let e = err(&zip(&entries(&[("etc/pihole/pihole.toml", b"[dns\nupstreams = 1"), ("etc/pihole/gravity.db", &db)])));
    assert!(matches!(e, ImportError::Toml { .. }), "{e}");
    let e =
        err(&zip(&entries(&[("etc/pihole/pihole.toml", b"[dns]\nupstreams = 1\n"), ("etc/pihole/gravity.db", &db)])));
    assert!(matches!(&e, ImportError::Toml { why, .. } if why.contains("not an array")), "{e}");
}

#[test]
fn a_directory_without_gravity_db_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("custom.list"), "10.0.0.1 a.lan\n").unwrap();
    assert!(matches!(Source::open(dir.path()), Err(ImportError::NotArchive(_))));
}
