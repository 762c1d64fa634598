//! The lease journal: an append-only file of CRC-checked records in the data dir, made durable
//! with group commit. One writer thread takes every record queued while its previous
//! `fdatasync` ran, writes them with one `write`, syncs once, then runs each record's completion
//! (the driver sends the ACK there). A batch that cannot be written (disk full, I/O error) is
//! cut off again, so the file holds exactly the records that were reported durable and later
//! batches are never appended behind a partial frame. On open, a torn tail is cut off; the file
//! is compacted (live records rewritten to a new file, then renamed over) when it grows.
//! The bytes and their versioning are in [`format`].

mod format;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use format::Live;
pub use format::{READS, Recovery, VERSION, encode};

use crate::lease::Lease;

/// Called once the record is durable (`true`) or failed to be written (`false`).
pub type Done = Box<dyn FnOnce(bool) + Send>;

pub(crate) const FILE_NAME: &str = "leases.journal";

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

/// What the writer needs of its file: `File` in service; tests wrap it to make writes fail.
/// The writer is generic over it, so the service path pays nothing for the seam.
pub(crate) trait JournalFile: Write + Send + Sized + 'static {
    fn sync_data(&self) -> io::Result<()>;
    fn set_len(&self, len: u64) -> io::Result<()>;
    /// Opens another file for appending the same way (`new`: it must not exist yet).
    fn open_like(&self, path: &Path, new: bool) -> io::Result<Self>;
}

impl JournalFile for File {
    fn sync_data(&self) -> io::Result<()> {
        File::sync_data(self)
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        File::set_len(self, len)
    }

    fn open_like(&self, path: &Path, new: bool) -> io::Result<File> {
        append_file(path, new)
    }
}

/// Opens `path` for appending: created if missing, or (`new`) created and not there before.
pub(crate) fn append_file(path: &Path, new: bool) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.append(true);
    if new {
        o.create_new(true);
    } else {
        o.create(true);
    }
    o.open(path)
}

struct Writer<F> {
    dir: PathBuf,
    file: F,
    /// End of the good records; the file holds nothing else once `dirty` is cleared.
    len: u64,
    /// A failed write may have left bytes past `len`: cut them before writing again.
    dirty: bool,
    /// A compaction's rename is not known durable yet: sync the directory before writing.
    dir_unsynced: bool,
    /// No compaction below this length (backs off after a failed one).
    compact_after: u64,
    live: Live,
    live_bytes: u64,
    opts: JournalOptions,
}

impl Journal {
    /// Opens (or creates) the journal in `dir` and starts its writer thread. Fails when the
    /// file cannot be read, or was written in a format this release cannot read.
    pub fn open(dir: &Path, opts: JournalOptions) -> io::Result<(Journal, Recovery)> {
        Self::open_on(dir, opts, |p| append_file(p, false))
    }

    /// [`Journal::open`] on files opened by `open` (tests inject failures there).
    pub(crate) fn open_on<F: JournalFile>(
        dir: &Path,
        opts: JournalOptions,
        open: impl FnOnce(&Path) -> io::Result<F>,
    ) -> io::Result<(Journal, Recovery)> {
        fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        let (live, recovery, good) = format::scan(&bytes)?;
        let live_bytes = live.values().map(|v| v.len() as u64).sum();
        let mut w = Writer {
            dir: dir.to_path_buf(),
            file: open(&path)?,
            len: good as u64,
            dirty: good < bytes.len(),
            dir_unsynced: false,
            compact_after: 0,
            live,
            live_bytes,
            opts,
        };
        // A torn tail is cut in place (needs no free space, unlike a rewrite); should that fail,
        // the first write retries it, and nothing is appended behind the torn bytes before.
        if let Err(e) = w.repair() {
            tracing::warn!(error = %e, "cannot cut the lease journal's torn tail yet");
        }
        if recovery.corrupt > 0 {
            // Frames with a bad CRC are skipped on every read; dropping them is only tidier.
            if let Err(e) = w.compact() {
                tracing::warn!(error = %e, "lease journal compaction failed");
            }
        } else if good == 0 {
            let mut h = Vec::new();
            format::header(&mut h);
            if let Err(e) = w.write(&h) {
                tracing::warn!(error = %e, "cannot write the lease journal header; it follows at compaction");
            }
        }
        let shared = Arc::new(Shared { q: Mutex::new(Queue::default()), cv: Condvar::new() });
        let s2 = shared.clone();
        let thread = std::thread::Builder::new().name("dhcp-journal".into()).spawn(move || w.run(&s2))?;
        Ok((Journal { shared, thread: Mutex::new(Some(thread)) }, recovery))
    }

    /// Queues a record; `done` runs after it is durable.
    pub fn append(&self, rec: &Lease, done: Option<Done>) {
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

impl<F: JournalFile> Writer<F> {
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
                tracing::error!(error = %e, records = done.len(), "lease journal write failed; ACKs withheld");
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

    /// Makes a batch durable; on error the file is as it was before (or is cut back to that
    /// before anything else is written).
    fn commit(&mut self, batch: &[u8]) -> io::Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        self.write(batch)?;
        for (frame, key) in format::records(batch) {
            let new = frame.len() as u64;
            if let Some(old) = self.live.insert(key, frame.to_vec()) {
                self.live_bytes -= old.len() as u64;
            }
            self.live_bytes += new;
        }
        if self.len > self.opts.compact_min_bytes.max(2 * self.live_bytes).max(self.compact_after) {
            // The batch is durable in the old file already: a failed compaction only delays.
            if let Err(e) = self.compact() {
                self.compact_after = self.len + self.opts.compact_min_bytes.max(self.live_bytes);
                tracing::warn!(error = %e, "lease journal compaction failed; appending to the old file");
            }
        }
        Ok(())
    }

    /// Appends `bytes` durably at `len`, or leaves the file's good records as they were.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.repair()?;
        let res = self.file.write_all(bytes).and_then(|()| if self.opts.sync { self.file.sync_data() } else { Ok(()) });
        if let Err(e) = res {
            // A partial frame left here would hide every later record at the next open.
            self.dirty = true;
            if let Err(cut) = self.repair() {
                tracing::error!(error = %cut, "cannot cut a failed lease journal write; retrying before the next");
            }
            return Err(e);
        }
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Cuts what a failed write left past `len`, and makes a compaction's rename durable.
    fn repair(&mut self) -> io::Result<()> {
        if self.dirty {
            self.file.set_len(self.len)?;
            self.dirty = false;
        }
        if self.dir_unsynced {
            File::open(&self.dir)?.sync_all()?;
            self.dir_unsynced = false;
        }
        Ok(())
    }

    /// Rewrites the live records to a new file and renames it over the journal. On error the
    /// journal is unchanged.
    fn compact(&mut self) -> io::Result<()> {
        self.repair()?;
        let path = self.dir.join(FILE_NAME);
        let tmp = self.dir.join(format!("{FILE_NAME}.tmp"));
        let mut out = Vec::with_capacity(self.live_bytes as usize + 32);
        format::header(&mut out);
        for frame in self.live.values() {
            out.extend_from_slice(frame);
        }
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let new = self.file.open_like(&tmp, true).and_then(|mut f| {
            f.write_all(&out)?;
            f.sync_data()?;
            Ok(f)
        });
        let new = match new.and_then(|f| fs::rename(&tmp, &path).map(|()| f)) {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
        };
        // The handle opened before the rename is the journal now; no record goes into it
        // before its name is durable (`repair`).
        self.file = new;
        self.len = out.len() as u64;
        self.dir_unsynced = true;
        self.compact_after = 0;
        if let Err(e) = self.repair() {
            tracing::warn!(error = %e, "cannot sync the data dir after compaction; retrying before the next write");
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "journal_fault_tests.rs"]
mod fault_tests;
