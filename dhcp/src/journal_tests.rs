//! Journal tests: round trip, torn tail, CRC mismatch, compaction, restart.

use super::*;
use crate::lease::RecordKind;
use crate::packet::ClientKey;
use std::net::Ipv4Addr;
use std::sync::mpsc;
use std::time::Duration;

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let d =
        std::env::temp_dir().join(format!("ravens-dhcp-{name}-{}-{}", std::process::id(), crate::lease::unix_now()));
    let _ = fs::remove_dir_all(&d);
    d
}

pub(crate) fn rec(i: u32, kind: RecordKind) -> Lease {
    Lease {
        state: kind.state(),
        seq: 0,
        subnet: "lan".into(),
        ip: Ipv4Addr::from(0x0a00_0000 + i),
        expires: 1000 + u64::from(i),
        key: ClientKey(vec![1, 1, 2, 0, 0, 0, 0, i as u8].into()),
        mac: vec![2, 0, 0, 0, 0, i as u8],
        client_id: i.is_multiple_of(2).then(|| vec![1, i as u8]),
        hostname: i.is_multiple_of(3).then(|| format!("h{i}")),
        node: "a".into(),
    }
}

pub(crate) fn append_all(j: &Journal, recs: &[Lease]) {
    let (tx, rx) = mpsc::channel();
    for r in recs {
        let tx = tx.clone();
        j.append(r, Some(Box::new(move |ok| tx.send(ok).unwrap())));
    }
    for _ in recs {
        assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    }
}

pub(crate) fn sorted(mut v: Vec<Lease>) -> Vec<Lease> {
    v.sort_by_key(|r| r.ip);
    v
}

#[test]
fn restart_restores_latest_record_per_address() {
    let dir = temp_dir("restart");
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert!(r.records.is_empty());
    let recs: Vec<_> = (0..50).map(|i| rec(i, RecordKind::Bound)).collect();
    append_all(&j, &recs);
    append_all(&j, &[rec(7, RecordKind::Released)]);
    drop(j);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    let got = sorted(r.records);
    assert_eq!(got.len(), 50);
    assert_eq!(got[7].kind(), RecordKind::Released);
    assert_eq!(got[8], recs[8]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn torn_tail_is_cut_and_appends_continue() {
    let dir = temp_dir("torn");
    let (j, _) = Journal::open(&dir, JournalOptions::default()).unwrap();
    append_all(&j, &[rec(1, RecordKind::Bound), rec(2, RecordKind::Bound)]);
    drop(j);
    let path = dir.join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    let mut extra = Vec::new();
    encode(&rec(3, RecordKind::Bound), &mut extra);
    bytes.extend_from_slice(&extra[..extra.len() - 5]);
    fs::write(&path, &bytes).unwrap();
    let (j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(r.records.len(), 2);
    assert_eq!(r.torn_bytes, (extra.len() - 5) as u64);
    append_all(&j, &[rec(4, RecordKind::Bound)]);
    drop(j);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(r.records.len(), 3);
    assert_eq!((r.torn_bytes, r.corrupt), (0, 0));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn crc_mismatch_skips_only_that_record() {
    let dir = temp_dir("crc");
    let (j, _) = Journal::open(&dir, JournalOptions::default()).unwrap();
    append_all(&j, &[rec(1, RecordKind::Bound), rec(2, RecordKind::Bound), rec(3, RecordKind::Bound)]);
    drop(j);
    let path = dir.join(FILE_NAME);
    let mut bytes = fs::read(&path).unwrap();
    let mut one = Vec::new();
    format::header(&mut one);
    encode(&rec(1, RecordKind::Bound), &mut one);
    bytes[one.len() + 12] ^= 0xff; // inside the second record's payload
    fs::write(&path, &bytes).unwrap();
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(r.corrupt, 1);
    let ips: Vec<_> = sorted(r.records).iter().map(|r| r.ip).collect();
    assert_eq!(ips, vec![rec(1, RecordKind::Bound).ip, rec(3, RecordKind::Bound).ip]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn compaction_keeps_live_records_and_shrinks_the_file() {
    let dir = temp_dir("compact");
    let opts = JournalOptions { sync: true, compact_min_bytes: 4096 };
    let (j, _) = Journal::open(&dir, opts).unwrap();
    for round in 0..40u64 {
        let recs: Vec<_> = (0..10).map(|i| Lease { expires: round, ..rec(i, RecordKind::Bound) }).collect();
        append_all(&j, &recs);
    }
    drop(j);
    let size = fs::metadata(dir.join(FILE_NAME)).unwrap().len();
    assert!(size < 8192, "journal not compacted: {size} bytes");
    let (_j, r) = Journal::open(&dir, opts).unwrap();
    let got = sorted(r.records);
    assert_eq!(got.len(), 10);
    assert!(got.iter().all(|r| r.expires == 39));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn group_commit_batches_concurrent_appends() {
    let dir = temp_dir("group");
    let (j, _) = Journal::open(&dir, JournalOptions::default()).unwrap();
    let recs: Vec<_> = (0..200).map(|i| rec(i, RecordKind::Bound)).collect();
    append_all(&j, &recs);
    let (tx, rx) = mpsc::channel();
    j.barrier(Box::new(move |ok| tx.send(ok).unwrap()));
    assert!(rx.recv_timeout(Duration::from_secs(10)).unwrap());
    let _ = fs::remove_dir_all(&dir);
}
