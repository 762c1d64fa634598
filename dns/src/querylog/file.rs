//! The optional query log file (`dns.query_log_file`): one JSON line per logged query,
//! written by the statistics feed off the query path, rotated by size to FILE.1 .. FILE.3.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::LogEntry;

/// Rotated copies kept beside the live file.
const KEEP: usize = 3;

#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    max_bytes: u64,
    out: BufWriter<File>,
    size: u64,
}

fn open(path: &Path) -> std::io::Result<(BufWriter<File>, u64)> {
    let f = OpenOptions::new().create(true).append(true).open(path)?;
    let size = f.metadata()?.len();
    Ok((BufWriter::new(f), size))
}

impl LogFile {
    /// Opens (appends to) `path`.
    pub fn open(path: &Path, max_bytes: u64) -> std::io::Result<Self> {
        let (out, size) = open(path)?;
        Ok(LogFile { path: path.to_path_buf(), max_bytes, out, size })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one entry, rotating first when the file is full.
    pub fn write(&mut self, e: &LogEntry) -> std::io::Result<()> {
        if self.size >= self.max_bytes {
            self.rotate()?;
        }
        let mut line = serde_json::to_vec(e).map_err(std::io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.size += line.len() as u64;
        Ok(())
    }

    /// Writes what is buffered (the feed calls this after each batch).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        let numbered = |i: usize| {
            let mut p = self.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        for i in (1..KEEP).rev() {
            let _ = std::fs::rename(numbered(i), numbered(i + 1));
        }
        std::fs::rename(&self.path, numbered(1))?;
        (self.out, self.size) = open(&self.path)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_json_lines_and_rotates_keeping_three() {
        let dir = std::env::temp_dir().join(format!("ravens-qlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("queries.log");
        let mut f = LogFile::open(&path, 200).unwrap();
        let e = LogEntry {
            time_ms: 1,
            client: "10.0.0.0".parse().unwrap(),
            name: "a \"quoted\" name.test".into(),
            qtype: 1,
            outcome: "cached".into(),
            list: None,
        };
        for _ in 0..20 {
            f.write(&e).unwrap();
        }
        f.flush().unwrap();
        let live = std::fs::read_to_string(&path).unwrap();
        let back: LogEntry = serde_json::from_str(live.lines().next().unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(dir.join("queries.log.3").exists() && !dir.join("queries.log.4").exists());
        for p in ["queries.log", "queries.log.1", "queries.log.2"] {
            assert!(std::fs::metadata(dir.join(p)).unwrap().len() <= 200 + 100, "{p}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
