//! Journal tests with injected write failures (issue 10, defect 1: a disk-full write left a
//! partial frame, later ACKed records were appended behind it and cut off at the next open).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::tests::{rec, sorted, temp_dir};
use super::*;
use crate::lease::RecordKind;

/// Failures shared by every file a journal opens.
#[derive(Default)]
struct Fault {
    /// Bytes writes may still put down before failing with "no space" (`None`: no limit).
    budget: Mutex<Option<usize>>,
    fail_sync: AtomicBool,
    fail_set_len: AtomicBool,
    fail_open: AtomicBool,
}

impl Fault {
    fn budget(&self, b: Option<usize>) {
        *self.budget.lock().unwrap() = b;
    }
}

struct Faulty {
    f: File,
    fault: Arc<Fault>,
}

fn full() -> io::Error {
    io::Error::from(io::ErrorKind::StorageFull)
}

impl Write for Faulty {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut budget = self.fault.budget.lock().unwrap();
        match *budget {
            None => self.f.write(buf),
            Some(0) => Err(full()),
            // Like a filesystem with a few bytes left: a short write, then ENOSPC.
            Some(n) => {
                let k = self.f.write(&buf[..n.min(buf.len())])?;
                *budget = Some(n - k);
                Ok(k)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl JournalFile for Faulty {
    fn sync_data(&self) -> io::Result<()> {
        if self.fault.fail_sync.load(Ordering::SeqCst) { Err(io::Error::other("injected EIO")) } else { Ok(()) }
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        if self.fault.fail_set_len.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected EIO"));
        }
        self.f.set_len(len)
    }

    fn open_like(&self, path: &Path, new: bool) -> io::Result<Faulty> {
        if self.fault.fail_open.load(Ordering::SeqCst) {
            return Err(full());
        }
        Ok(Faulty { f: append_file(path, new)?, fault: self.fault.clone() })
    }
}

fn open_faulty(dir: &Path, opts: JournalOptions) -> (Journal, Arc<Fault>) {
    let fault = Arc::new(Fault::default());
    let f2 = fault.clone();
    let (j, r) = Journal::open_on(dir, opts, |p| Ok(Faulty { f: append_file(p, false)?, fault: f2 })).unwrap();
    assert!(r.records.is_empty());
    (j, fault)
}

/// Appends `recs` as one batch (behind a barrier, so they commit together); returns each
/// record's outcome.
fn batch(j: &Journal, recs: &[Lease]) -> Vec<bool> {
    let (tx, rx) = mpsc::channel();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    // Hold the writer thread in a completion so the records below queue up as one batch. Wait
    // until it is held: a writer that had not yet taken the barrier took the first record
    // with it, and that record was written alone (the test failed at random).
    let (held_tx, held_rx) = mpsc::channel::<()>();
    j.barrier(Box::new(move |_| {
        let _ = held_tx.send(());
        let _ = gate_rx.recv_timeout(Duration::from_secs(10));
    }));
    held_rx.recv_timeout(Duration::from_secs(10)).expect("the writer runs the barrier");
    for (i, r) in recs.iter().enumerate() {
        let tx = tx.clone();
        j.append(r, Some(Box::new(move |ok| tx.send((i, ok)).unwrap())));
    }
    gate_tx.send(()).unwrap();
    let mut out = vec![false; recs.len()];
    for _ in recs {
        let (i, ok) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        out[i] = ok;
    }
    out
}

fn bound(range: std::ops::Range<u32>) -> Vec<Lease> {
    range.map(|i| rec(i, RecordKind::Bound)).collect()
}

#[test]
fn issue10_defect1_failed_write_leaves_the_journal_byte_identical() {
    let dir = temp_dir("fault-identical");
    let (j, fault) = open_faulty(&dir, JournalOptions::default());
    assert_eq!(batch(&j, &bound(0..3)), [true; 3]);
    let path = dir.join(FILE_NAME);
    let before = fs::read(&path).unwrap();
    // Disk full in the middle of the second frame, then with no byte left, then a failed sync.
    for (budget, sync) in [(Some(70), false), (Some(0), false), (None, true)] {
        fault.budget(budget);
        fault.fail_sync.store(sync, Ordering::SeqCst);
        assert_eq!(batch(&j, &bound(10..13)), [false; 3], "budget {budget:?}, sync fails: {sync}");
        assert_eq!(fs::read(&path).unwrap(), before, "budget {budget:?}, sync fails: {sync}");
    }
    drop(j);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn issue10_defect1_records_after_a_failed_write_survive_reopen() {
    let dir = temp_dir("fault-later");
    let (j, fault) = open_faulty(&dir, JournalOptions::default());
    assert_eq!(batch(&j, &bound(0..3)), [true; 3]);
    fault.budget(Some(70));
    assert_eq!(batch(&j, &bound(10..12)), [false; 2]);
    fault.budget(None);
    assert_eq!(batch(&j, &bound(20..22)), [true; 2]);
    drop(j);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!((r.torn_bytes, r.corrupt), (0, 0));
    let want: Vec<_> = bound(0..3).into_iter().chain(bound(20..22)).collect();
    assert_eq!(sorted(r.records), want, "every record reported durable, and only those");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn issue10_defect1_nothing_is_appended_behind_bytes_that_could_not_be_cut() {
    let dir = temp_dir("fault-uncut");
    let (j, fault) = open_faulty(&dir, JournalOptions::default());
    assert_eq!(batch(&j, &bound(0..2)), [true; 2]);
    let path = dir.join(FILE_NAME);
    let good = fs::read(&path).unwrap();
    fault.fail_set_len.store(true, Ordering::SeqCst);
    fault.budget(Some(30));
    assert_eq!(batch(&j, &bound(10..11)), [false]);
    // Space is back but the partial frame is still there: no record may follow it.
    fault.budget(None);
    assert_eq!(batch(&j, &bound(20..21)), [false]);
    assert_eq!(fs::read(&path).unwrap().len(), good.len() + 30);
    fault.fail_set_len.store(false, Ordering::SeqCst);
    assert_eq!(batch(&j, &bound(30..31)), [true]);
    drop(j);
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!((r.torn_bytes, r.corrupt), (0, 0));
    let want: Vec<_> = bound(0..2).into_iter().chain(bound(30..31)).collect();
    assert_eq!(sorted(r.records), want);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn failed_compaction_keeps_the_batch_and_the_old_file() {
    let dir = temp_dir("fault-compact");
    let (j, fault) = open_faulty(&dir, JournalOptions { sync: true, compact_min_bytes: 1024 });
    fault.fail_open.store(true, Ordering::SeqCst);
    for round in 0..30u64 {
        let recs: Vec<_> = (0..5).map(|i| Lease { expires: round, ..rec(i, RecordKind::Bound) }).collect();
        assert_eq!(batch(&j, &recs), [true; 5], "round {round}");
    }
    assert!(!dir.join(format!("{FILE_NAME}.tmp")).exists(), "no half-written compaction left behind");
    fault.fail_open.store(false, Ordering::SeqCst);
    // A failed compaction backs off by `compact_min_bytes`: a few more rounds bring it back.
    let mut recs = Vec::new();
    for round in 100..110u64 {
        recs = (0..5).map(|i| Lease { expires: round, ..rec(i, RecordKind::Bound) }).collect();
        assert_eq!(batch(&j, &recs), [true; 5]);
    }
    drop(j);
    let size = fs::metadata(dir.join(FILE_NAME)).unwrap().len();
    assert!(size < 1024, "compacted once the files could be opened again: {size} bytes");
    let (_j, r) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(sorted(r.records), recs);
    let _ = fs::remove_dir_all(&dir);
}
