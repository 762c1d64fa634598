//! Format versions of the lease value the nodes of a pair replicate (rolling upgrades,
//! issue 10): golden values written by a release and kept in `tests/golden/` must read back
//! to exact values in every later release, and a value of a newer format is never misread.
//! (The record encoding around it is the replication layer's: `sync/tests/formats.rs`.)
//!
//! A golden file of the current format is written when missing and `RAVENS_WRITE_GOLDEN` is
//! set; files of older formats are never rewritten.

use std::path::PathBuf;

use ravens_dhcp::failover::{LEASE_VALUE_FORMAT, LeaseValue, lease_expiry_ms};

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name)
}

/// Writes `bytes` as the golden file `name` when asked to and it does not exist yet.
fn write_if_asked(name: &str, bytes: &[u8]) {
    let path = golden(name);
    if std::env::var_os("RAVENS_WRITE_GOLDEN").is_some() && !path.exists() {
        std::fs::write(path, bytes).unwrap();
    }
}

/// The lease of every golden lease value file.
fn expected_lease() -> LeaseValue {
    LeaseValue {
        format: 1,
        ip: [10, 0, 1, 23].into(),
        mac: "02:00:00:00:0a:17".into(),
        client_id: Some("01020000000a17".into()),
        hostname: Some("laptop".into()),
        expires_ms: 1_700_000_600_000,
        node: "node-a".into(),
        key: "0001020000000a17".into(),
        released: false,
    }
}

#[test]
fn golden_lease_values_of_every_format_read_back_exactly() {
    let name = format!("lease-value-{LEASE_VALUE_FORMAT}.json");
    write_if_asked(&name, &expected_lease().encode());
    // "-1-unmarked" was written by the release before lease values carried a format.
    let mut files = vec!["lease-value-1-unmarked.json".to_owned()];
    files.extend((1..=LEASE_VALUE_FORMAT).map(|f| format!("lease-value-{f}.json")));
    for file in files {
        let bytes = std::fs::read(golden(&file)).unwrap();
        assert_eq!(LeaseValue::decode(&bytes), Some(expected_lease()), "{file}");
        assert_eq!(lease_expiry_ms(&bytes), Some(1_700_000_600_000), "{file}");
    }
    let on_disk = std::fs::read_to_string(golden(&name)).unwrap();
    assert_eq!(
        String::from_utf8(expected_lease().encode()).unwrap(),
        on_disk,
        "the lease value format changed: add a format and a golden file, keep this one"
    );
}

#[test]
fn unknown_lease_value_fields_are_ignored() {
    let text = r#"{"format":1,"ip":"10.0.1.23","mac":"02:00:00:00:0a:17","client_id":"01020000000a17",
        "hostname":"laptop","expires_ms":1700000600000,"node":"node-a","key":"0001020000000a17",
        "vendor_class":"MSFT 5.0","options":{"81":[0,1]}}"#;
    assert_eq!(LeaseValue::decode(text.as_bytes()), Some(expected_lease()));
    assert!(!LeaseValue::is_newer(text.as_bytes()));
}

#[test]
fn a_newer_lease_value_format_is_not_misread() {
    // Parses as format 1 field by field: only the format says the fields mean something else.
    let mut newer = expected_lease();
    newer.format = LEASE_VALUE_FORMAT + 1;
    let bytes = serde_json::to_vec(&newer).unwrap();
    assert_eq!(LeaseValue::decode(&bytes), None);
    assert_eq!(lease_expiry_ms(&bytes), None, "counts as expired in the lease rule");
    assert!(LeaseValue::is_newer(&bytes));
}
