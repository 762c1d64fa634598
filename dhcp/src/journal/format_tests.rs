//! Format versions: the golden journal written by this release reads back to the exact leases
//! (and is still what this release writes), a header-less journal of the releases before
//! versioning reads the same, a newer writer's additions are ignored, and a journal that
//! needs a newer reader is refused untouched.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use super::{READS, VERSION, encode, header};
use crate::journal::tests::{append_all, sorted, temp_dir};
use crate::journal::{FILE_NAME, Journal, JournalOptions};
use crate::lease::{Lease, RecordKind};
use crate::packet::ClientKey;

/// Written by `write_golden_v1` below; keep it when the format changes and add the next one.
const GOLDEN_V1: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/lease-journal-v1.bin");
/// The same records as the releases before versioning wrote them (no header).
const GOLDEN_V0: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/lease-journal-v0.bin");

fn lease(kind: RecordKind, subnet: &str, ip: [u8; 4], expires: u64, n: u8) -> Lease {
    Lease {
        state: kind.state(),
        seq: 0,
        subnet: subnet.into(),
        ip: Ipv4Addr::from(ip),
        expires,
        key: ClientKey(vec![1, 1, 2, 0, 0, 0, 0, n].into()),
        mac: vec![2, 0, 0, 0, 0, n],
        client_id: None,
        hostname: None,
        node: "a".into(),
    }
}

/// What the golden file holds, in the order written (the last two replace earlier records).
fn golden_records() -> Vec<Lease> {
    vec![
        Lease {
            client_id: Some(vec![0xff, 0, 0, 0, 1, 0, 1, 0x2a]),
            hostname: Some("laptop".into()),
            ..lease(RecordKind::Bound, "lan", [10, 0, 0, 100], 1_900_000_000, 1)
        },
        lease(RecordKind::Bound, "lan", [10, 0, 0, 101], 1_900_000_060, 2),
        Lease { node: "b".into(), ..lease(RecordKind::Bound, "iot", [10, 20, 0, 50], 1_900_000_120, 3) },
        lease(RecordKind::Declined, "lan", [10, 0, 0, 102], 1_800_000_000, 4),
        lease(RecordKind::Bound, "lan", [10, 0, 0, 103], 1_700_000_000, 5),
        lease(RecordKind::Released, "lan", [10, 0, 0, 103], 1_700_000_500, 5),
        lease(RecordKind::Bound, "iot", [10, 20, 0, 50], 1_900_003_600, 3),
    ]
}

/// The leases a reader must find in the golden file: the latest record per address.
fn golden_leases() -> Vec<Lease> {
    let all = golden_records();
    let mut want: Vec<_> = vec![all[0].clone(), all[1].clone(), all[3].clone(), all[5].clone(), all[6].clone()];
    want.sort_by_key(|r| r.ip);
    want
}

fn write_journal(dir: &Path, recs: &[Lease]) -> Vec<u8> {
    let (j, _) = Journal::open(dir, JournalOptions::default()).unwrap();
    for r in recs {
        append_all(&j, std::slice::from_ref(r));
    }
    drop(j);
    fs::read(dir.join(FILE_NAME)).unwrap()
}

fn dir_with(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = temp_dir(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(FILE_NAME), bytes).unwrap();
    dir
}

/// A frame around `payload`, as a writer of any version would put it down.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

fn header_of(version: u16, min_reader: u16) -> Vec<u8> {
    let mut p = vec![0u8];
    p.extend_from_slice(b"RVLJ");
    p.extend_from_slice(&version.to_le_bytes());
    p.extend_from_slice(&min_reader.to_le_bytes());
    frame(&p)
}

#[test]
#[ignore = "writes the golden file; run with RAVENS_WRITE_GOLDEN=1 when adding a format version"]
fn write_golden_v1() {
    if std::env::var_os("RAVENS_WRITE_GOLDEN").is_none() {
        return;
    }
    let dir = temp_dir("golden-write");
    let bytes = write_journal(&dir, &golden_records());
    fs::write(GOLDEN_V1, &bytes).unwrap();
    let mut legacy = Vec::new();
    for r in golden_records() {
        encode(&r, &mut legacy);
    }
    assert!(bytes.ends_with(&legacy));
    fs::write(GOLDEN_V0, legacy).unwrap();
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn golden_v1_journal_reads_back_to_the_exact_leases() {
    let golden = fs::read(GOLDEN_V1).expect("the golden journal in dhcp/tests/golden");
    let dir = dir_with("golden-read", &golden);
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!((r.version, r.torn_bytes, r.corrupt, r.unknown), (1, 0, 0, 0));
    assert_eq!(sorted(r.records), golden_leases());
    drop(j);
    assert_eq!(fs::read(dir.join(FILE_NAME)).unwrap(), golden, "opening and closing changes nothing");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn this_release_still_writes_the_golden_v1_bytes() {
    // Fails on any change to the bytes written: bump VERSION (and MIN_READER when older
    // readers would misread it), keep this golden file and add one for the new version.
    assert_eq!(VERSION, 1, "a new format version needs its own golden file");
    let dir = temp_dir("golden-same");
    let bytes = write_journal(&dir, &golden_records());
    assert_eq!(bytes, fs::read(GOLDEN_V1).unwrap(), "the journal format changed");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn journal_without_header_from_before_versioning_reads_the_same() {
    let legacy = fs::read(GOLDEN_V0).expect("the golden journal in dhcp/tests/golden");
    let dir = dir_with("golden-legacy", &legacy);
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!((r.version, r.torn_bytes, r.corrupt, r.unknown), (0, 0, 0, 0));
    assert_eq!(sorted(r.records), golden_leases());
    let extra = lease(RecordKind::Bound, "lan", [10, 0, 0, 110], 1_900_000_000, 9);
    append_all(&j, std::slice::from_ref(&extra));
    drop(j);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    let mut want = golden_leases();
    want.push(extra);
    assert_eq!(sorted(r.records), sorted(want));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn newer_fields_and_kinds_that_older_readers_may_skip_are_ignored_and_kept() {
    let recs = golden_records();
    let mut bytes = header_of(VERSION + 1, READS);
    let mut first = Vec::new();
    encode(&recs[0], &mut first);
    // A field a newer release appended to the record, and a frame of a kind unknown here.
    let mut payload = first[8..].to_vec();
    payload.extend_from_slice(&[3, b'n', b'e', b'w']);
    bytes.extend_from_slice(&frame(&payload));
    bytes.extend_from_slice(&frame(&[42, 1, 2, 3]));
    encode(&recs[1], &mut bytes);
    let dir = dir_with("golden-newer", &bytes);
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!((r.version, r.torn_bytes, r.corrupt, r.unknown), (VERSION + 1, 0, 0, 1));
    assert_eq!(sorted(r.records), sorted(recs[..2].to_vec()));
    drop(j);
    // Compaction copies records verbatim: the newer field is still there for the newer reader.
    let opts = JournalOptions { sync: true, compact_min_bytes: 0 };
    let (j, _) = Journal::open(&dir, opts).unwrap();
    for t in 0..8 {
        append_all(&j, &[lease(RecordKind::Bound, "lan", [10, 0, 0, 120], 1_900_000_000 + t, 7)]);
    }
    drop(j);
    let after = fs::read(dir.join(FILE_NAME)).unwrap();
    let unknown = frame(&[42, 1, 2, 3]);
    assert!(!after.windows(unknown.len()).any(|w| w == unknown.as_slice()), "compacted");
    assert!(after.windows(payload.len()).any(|w| w == payload.as_slice()), "newer field kept");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn journal_that_needs_a_newer_reader_is_refused_untouched() {
    let mut bytes = header_of(READS + 1, READS + 1);
    encode(&golden_records()[0], &mut bytes);
    bytes.extend_from_slice(&frame(&[7, 0, 0])); // a record this release cannot know
    let dir = dir_with("golden-refused", &bytes);
    let err = Journal::open(&dir, JournalOptions::default()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("needs a reader of format 2"), "{err}");
    assert_eq!(fs::read(dir.join(FILE_NAME)).unwrap(), bytes, "left as it was");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_new_journal_starts_with_the_header_of_this_release() {
    let dir = temp_dir("golden-header");
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(r.version, 0, "nothing there yet");
    drop(j);
    let mut want = Vec::new();
    header(&mut want);
    assert_eq!(fs::read(dir.join(FILE_NAME)).unwrap(), want);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(r.version, VERSION);
    let _ = fs::remove_dir_all(&dir);
}
