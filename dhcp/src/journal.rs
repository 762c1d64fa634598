//! The lease journal: an append-only file of CRC-checked records in the data dir, made durable
//! with group commit. One writer thread takes every record queued while its previous
//! `fdatasync` ran, writes them with one `write`, syncs once, then runs each record's completion
//! (the driver sends the ACK there). On open, a torn or corrupt tail is cut off; the file is
//! compacted (live records rewritten to a new file, then renamed over) when it grows.
//!
//! Frame: `len: u32 LE | crc32(payload): u32 LE | payload`. Payload: `kind u8 | expires u64 |
//! ip u32 | subnet | key | mac | client_id | hostname | node`, each of the last six a `u8` length
//! and bytes (empty client_id / hostname = none).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crate::lease::{LeaseRecord, RecordKind};

/// Called once the record is durable (`true`) or failed to be written (`false`).
pub type Done = Box<dyn FnOnce(bool) + Send>;

const FILE_NAME: &str = "leases.journal";
const MAX_PAYLOAD: usize = 2048;

/// Journal settings.
#[derive(Debug, Clone, Copy)]
pub struct JournalOptions {
    /// `fdatasync` each batch (off only in benches).
    pub sync: bool,
    /// Do not compact below this file size.
    pub compact_min_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions { sync: true, compact_min_bytes: 4 << 20 }
    }
}

/// What was found on open.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The latest record per (subnet, address).
    pub records: Vec<LeaseRecord>,
    /// Bytes cut off the end (a torn final write).
    pub torn_bytes: u64,
    /// Records skipped because their CRC did not match.
    pub corrupt: u64,
}

#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    done: Vec<Done>,
    closed: bool,
}

struct Shared {
    q: Mutex<Queue>,
    cv: Condvar,
}

/// Handle to the journal and its writer thread.
pub struct Journal {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").finish_non_exhaustive()
    }
}

type Live = HashMap<(String, Ipv4Addr), Vec<u8>>;

struct Writer {
    dir: PathBuf,
    file: File,
    len: u64,
    live: Live,
    live_bytes: u64,
    opts: JournalOptions,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and starts its writer thread.
    pub fn open(dir: &Path, opts: JournalOptions) -> io::Result<(Journal, Recovery)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut bytes = Vec::new();
        if let Ok(mut f) = File::open(&path) {
            f.read_to_end(&mut bytes)?;
        }
        let (live, recovery, good) = scan(&bytes);
        let live_bytes = live.values().map(|v| v.len() as u64).sum();
        let file = OpenOptions::new().create(true).append(true).open(&path)?;
        let mut w = Writer { dir: dir.to_path_buf(), file, len: bytes.len() as u64, live, live_bytes, opts };
        if recovery.torn_bytes > 0 || recovery.corrupt > 0 || good < bytes.len() {
            // Never append after garbage: rewrite the good records first.
            w.compact()?;
        }
        let shared = Arc::new(Shared { q: Mutex::new(Queue::default()), cv: Condvar::new() });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new().name("dhcp-journal".into()).spawn(move || w.run(&s2))?;
        Ok((Journal { shared, thread: Mutex::new(Some(thread)) }, recovery))
    }

    /// Queues a record; `done` runs after it is durable.
    pub fn append(&self, rec: &LeaseRecord, done: Option<Done>) {
        let mut q = self.shared.q.lock().unwrap_or_else(|e| e.into_inner());
        encode(rec, &mut q.buf);
        if let Some(d) = done {
            q.done.push(d);
        }
        drop(q);
        self.shared.cv.notify_one();
    }

    /// Runs `done` once everything queued before it is durable.
    pub fn barrier(&self, done: Done) {
        let mut q = self.shared.q.lock().unwrap_or_else(|e| e.into_inner());
        q.done.push(done);
        drop(q);
        self.shared.cv.notify_one();
    }

    /// Writes what is queued, then stops the writer thread.
    pub fn close(&self) {
        self.shared.q.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
        self.shared.cv.notify_one();
        if let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.close();
    }
}

impl Writer {
    fn run(mut self, shared: &Shared) {
        let mut buf = Vec::new();
        let mut done: Vec<Done> = Vec::new();
        loop {
            let closed = {
                let mut q = shared.q.lock().unwrap_or_else(|e| e.into_inner());
                while q.buf.is_empty() && q.done.is_empty() && !q.closed {
                    q = shared.cv.wait(q).unwrap_or_else(|e| e.into_inner());
                }
                // Swap buffers so producers keep queueing while this batch syncs.
                std::mem::swap(&mut q.buf, &mut buf);
                std::mem::swap(&mut q.done, &mut done);
                q.closed && buf.is_empty()
            };
            let ok = self.commit(&buf);
            if let Err(e) = &ok {
                tracing::error!(error = %e, "lease journal write failed; ACKs withheld");
            }
            buf.clear();
            for d in done.drain(..) {
                d(ok.is_ok());
            }
            if closed {
                return;
            }
        }
    }

    fn commit(&mut self, batch: &[u8]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.file.write_all(batch)?;
        if self.opts.sync {
            self.file.sync_data()?;
        }
        self.len += batch.len() as u64;
        let mut at = 0;
        while let Some((frame, key)) = next_frame(batch, at).ok().flatten() {
            at += frame.len();
            let new = frame.len() as u64;
            if let Some(old) = self.live.insert(key, frame.to_vec()) {
                self.live_bytes -= old.len() as u64;
            }
            self.live_bytes += new;
        }
        if self.len > self.opts.compact_min_bytes.max(2 * self.live_bytes) {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the live records to a new file and renames it over the journal.
    fn compact(&mut self) -> io::Result<()> {
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut out = Vec::with_capacity(self.live_bytes as usize);
        for frame in self.live.values() {
            out.extend_from_slice(frame);
        }
        let mut f = File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        fs::rename(&tmp, self.dir.join(FILE_NAME))?;
        File::open(&self.dir)?.sync_all()?;
        self.file = OpenOptions::new().append(true).open(self.dir.join(FILE_NAME))?;
        self.len = out.len() as u64;
        Ok(())
    }
}

/// Reads every frame: the live map, what was cut, and the length of the good prefix.
fn scan(bytes: &[u8]) -> (Live, Recovery, usize) {
    let mut live = Live::new();
    let mut rec = Recovery::default();
    let mut at = 0;
    loop {
        match next_frame(bytes, at) {
            Ok(Some((frame, key))) => {
                at += frame.len();
                live.insert(key, frame.to_vec());
            }
            Ok(None) => break,
            Err(Some(skip)) => {
                rec.corrupt += 1;
                at += skip;
            }
            Err(None) => {
                rec.torn_bytes = (bytes.len() - at) as u64;
                break;
            }
        }
    }
    rec.records = live.values().filter_map(|f| decode(&f[8..])).collect();
    (live, rec, at)
}

/// The frame at `at`: `Ok(None)` at the end, `Err(Some(n))` for a whole frame of `n` bytes with
/// a bad CRC, `Err(None)` for a torn or unreadable tail.
#[allow(clippy::type_complexity)]
fn next_frame(bytes: &[u8], at: usize) -> Result<Option<(&[u8], (String, Ipv4Addr))>, Option<usize>> {
    if at == bytes.len() {
        return Ok(None);
    }
    let head = bytes.get(at..at + 8).ok_or(None)?;
    let len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let crc = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if len > MAX_PAYLOAD {
        return Err(None);
    }
    let payload = bytes.get(at + 8..at + 8 + len).ok_or(None)?;
    if crc32fast::hash(payload) != crc {
        return Err(Some(8 + len));
    }
    let rec = decode(payload).ok_or(Some(8 + len))?;
    Ok(Some((&bytes[at..at + 8 + len], (rec.subnet, rec.ip))))
}

/// Appends one framed record to `out`.
pub fn encode(r: &LeaseRecord, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(r.kind as u8);
    out.extend_from_slice(&r.expires.to_le_bytes());
    out.extend_from_slice(&r.ip.octets());
    let empty: &[u8] = &[];
    for field in [
        r.subnet.as_bytes(),
        &r.key,
        &r.mac,
        r.client_id.as_deref().unwrap_or(empty),
        r.hostname.as_deref().map_or(empty, str::as_bytes),
        r.node.as_bytes(),
    ] {
        let f = &field[..field.len().min(255)];
        out.push(f.len() as u8);
        out.extend_from_slice(f);
    }
    let len = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn decode(p: &[u8]) -> Option<LeaseRecord> {
    let kind = match *p.first()? {
        1 => RecordKind::Bound,
        2 => RecordKind::Released,
        3 => RecordKind::Declined,
        _ => return None,
    };
    let expires = u64::from_le_bytes(p.get(1..9)?.try_into().ok()?);
    let ip = Ipv4Addr::from(<[u8; 4]>::try_from(p.get(9..13)?).ok()?);
    let mut rest = &p[13..];
    let mut field = || -> Option<Vec<u8>> {
        let n = *rest.first()? as usize;
        let v = rest.get(1..1 + n)?.to_vec();
        rest = &rest[1 + n..];
        Some(v)
    };
    let subnet = String::from_utf8(field()?).ok()?;
    let (key, mac, cid, host, node) = (field()?, field()?, field()?, field()?, field()?);
    Some(LeaseRecord {
        kind,
        subnet,
        ip,
        expires,
        key,
        mac,
        client_id: (!cid.is_empty()).then_some(cid),
        hostname: (!host.is_empty()).then(|| String::from_utf8_lossy(&host).into_owned()),
        node: String::from_utf8(node).ok()?,
    })
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
