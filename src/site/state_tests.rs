//! The state file's formats: golden files of every format read back to exact values, the
//! current writer still writes the current golden file, and what a reader does with unknown
//! fields, a newer format and a damaged file.

use super::*;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

fn version(wall_ms: u64, logical: u32, origin: &str, value: Option<&str>) -> Version {
    Version { wall_ms, logical, origin: origin.into(), value: value.map(str::to_owned) }
}

/// What every golden state file holds: two local edits, a remote record, a remote tombstone.
fn expected() -> Applied {
    let records = [
        ("dns", version(1_700_000_000_000, 0, "node-a", Some("listen = [\"127.0.0.1:5353\"]\n"))),
        (
            "record/nas.lan A 10.0.0.5",
            version(1_700_000_000_000, 0, "node-a", Some("name = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.0.0.5\"\n")),
        ),
        ("record/old.lan A 10.0.0.9", version(1_700_000_200_000, 0, "node-b", None)),
        (
            "record/printer.lan A 10.0.0.7",
            version(
                1_700_000_100_000,
                2,
                "node-b",
                Some("name = \"printer.lan\"\ntype = \"A\"\nvalue = \"10.0.0.7\"\n"),
            ),
        ),
    ];
    Applied { records: records.into_iter().map(|(k, v)| (k.to_owned(), v)).collect() }
}

fn load_ok(path: &Path) -> Applied {
    let (applied, err) = load(path);
    assert!(err.is_none(), "{}: {err:?}", path.display());
    applied
}

#[test]
fn the_previous_release_state_file_is_read() {
    // Written by the release before formats were marked (no "format" field).
    assert_eq!(load_ok(&golden("site-config-1-unmarked.json")), expected());
}

#[test]
fn the_current_format_golden_file_is_read_and_still_written() {
    let path = golden(&format!("site-config-{FORMAT}.json"));
    let written = encode(&expected()).unwrap();
    if std::env::var_os("RAVENS_WRITE_GOLDEN").is_some() && !path.exists() {
        std::fs::write(&path, &written).unwrap();
    }
    assert_eq!(load_ok(&path), expected());
    let on_disk = std::fs::read(&path).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&written),
        String::from_utf8_lossy(&on_disk),
        "the state file format changed: add a format and a golden file, keep this one"
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    let text = r#"{"format":1,"written_by":"ravensd 9","records":{
        "dns":{"wall_ms":5,"logical":1,"origin":"b","value":"x = 1\n","signed":"abc"}}}"#;
    std::fs::write(&path, text).unwrap();
    let applied = load_ok(&path);
    assert_eq!(applied.records["dns"], version(5, 1, "b", Some("x = 1\n")));
}

#[test]
fn a_newer_format_is_moved_aside_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    // It would parse as format 1: only the format says its fields mean something else now.
    let newer = br#"{"format":2,"records":{"dns":{"wall_ms":5,"logical":0,"origin":"b","value":"x = 1\n"}}}"#;
    std::fs::write(&path, newer).unwrap();
    let (applied, err) = load(&path);
    assert_eq!(applied, Applied::default());
    let err = err.expect("an error to log");
    assert!(matches!(err, StateError::Newer { format: 2, .. }), "{err}");
    assert!(err.to_string().contains("format 2 is newer"), "{err}");
    // Nothing lost: the file is kept beside, and the path is free for this release's state.
    assert!(!path.exists());
    assert_eq!(std::fs::read(dir.path().join("site-config.json.format-2")).unwrap(), newer);
}

#[test]
fn a_damaged_or_missing_file_gives_an_empty_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    assert_eq!(load_ok(&path), Applied::default(), "missing: the first start");
    for bad in [&b""[..], b"{\"format\":\"one\"}", b"{\"records\":7}", b"\xff"] {
        std::fs::write(&path, bad).unwrap();
        let (applied, err) = load(&path);
        assert_eq!(applied, Applied::default());
        assert!(matches!(err, Some(StateError::Corrupt { .. })), "{err:?}");
        assert_eq!(std::fs::read(&path).unwrap(), bad, "left in place");
    }
}

#[test]
fn save_then_load_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(FILE_NAME);
    save(&path, &expected()).unwrap();
    assert_eq!(load_ok(&path), expected());
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, [FILE_NAME], "no temp file left");
}
