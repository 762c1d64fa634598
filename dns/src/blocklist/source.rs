//! List sources: downloads of URL lists into a local store, so a node starts and blocks with
//! no network.
//!
//! For each URL list the store directory (the daemon's `data_dir/lists`) holds the last good
//! copy and a small metadata file with its URL, ETag and Last-Modified. A refresh sends those
//! validators; 304 keeps the copy, 200 replaces it atomically (written to a temporary file,
//! then renamed), anything else keeps the copy and returns an error for the caller to report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use tokio::io::AsyncWriteExt;

/// Downloads larger than this are abandoned (the previous copy stays).
pub const MAX_DOWNLOAD: u64 = 512 << 20;
/// A download taking longer than this fails.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a refresh failed. The previous copy, if any, is still in place.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("HTTP status {0}")]
    Status(StatusCode),
    #[error("download failed: {0}")]
    Request(#[from] reqwest::Error),
    #[error("list is larger than {} MiB", MAX_DOWNLOAD >> 20)]
    TooLarge,
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SourceError {
    /// The message with its causes (reqwest's own says only "error sending request for url
    /// (...)"; the cause says "Connection refused" or "dns error"), for the list status.
    pub fn with_causes(&self) -> String {
        let mut s = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let text = c.to_string();
            if !s.contains(&text) {
                s.push_str(": ");
                s.push_str(&text);
            }
            cause = c.source();
        }
        s
    }
}

/// What a successful refresh did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStatus {
    /// A new copy was stored.
    Updated { bytes: u64 },
    /// The server said 304: the stored copy is current.
    NotModified,
}

/// Validators of the stored copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Meta {
    url: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Meta {
    fn parse(text: &str) -> Meta {
        let mut m = Meta::default();
        for line in text.lines() {
            match line.split_once(' ') {
                Some(("url", v)) => m.url = v.to_string(),
                Some(("etag", v)) => m.etag = Some(v.to_string()),
                Some(("last-modified", v)) => m.last_modified = Some(v.to_string()),
                _ => {}
            }
        }
        m
    }

    fn render(&self) -> String {
        let mut s = format!("url {}\n", self.url);
        if let Some(e) = &self.etag {
            s += &format!("etag {e}\n");
        }
        if let Some(l) = &self.last_modified {
            s += &format!("last-modified {l}\n");
        }
        s
    }
}

/// The directory of downloaded list copies.
#[derive(Debug, Clone)]
pub struct ListStore {
    dir: PathBuf,
}

impl ListStore {
    /// A store in `dir` (created on the first download).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        ListStore { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the copy of list `name` is kept. Names are made file-safe and a hash of the
    /// full name keeps two names from sharing a file.
    pub fn copy_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.list", file_stem(name)))
    }

    fn meta_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{}.meta", file_stem(name)))
    }

    /// Whether a copy of list `name` is stored.
    pub fn has_copy(&self, name: &str) -> bool {
        self.copy_path(name).is_file()
    }

    /// Deletes the copies (and their metadata and partial downloads) of every list not in
    /// `keep`: a removed list's copy must not linger in `data_dir/lists`. Only files named as
    /// this store names them are touched, never `keep_files` (list files an admin put in
    /// the same directory). Returns the files removed.
    pub fn remove_stale(&self, keep: &[&str], keep_files: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
        let keep: Vec<String> = keep.iter().map(|n| file_stem(n)).collect();
        let mut removed = Vec::new();
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(stored_stem) else { continue };
            let path = entry.path();
            if keep.iter().any(|k| k == stem) || keep_files.contains(&path) || !entry.file_type()?.is_file() {
                continue;
            }
            std::fs::remove_file(&path)?;
            removed.push(path);
        }
        Ok(removed)
    }

    /// Downloads list `name` from `url` unless the stored copy is current.
    pub async fn refresh(&self, client: &reqwest::Client, name: &str, url: &str) -> Result<FetchStatus, SourceError> {
        let copy = self.copy_path(name);
        let meta_path = self.meta_path(name);
        let meta = match tokio::fs::read_to_string(&meta_path).await {
            Ok(text) => Meta::parse(&text),
            Err(_) => Meta::default(),
        };
        let mut req = client.get(url).timeout(DOWNLOAD_TIMEOUT);
        // Validators only describe the copy if it came from this URL and still exists.
        if meta.url == url && copy.is_file() {
            if let Some(e) = &meta.etag {
                req = req.header(IF_NONE_MATCH, e);
            }
            if let Some(l) = &meta.last_modified {
                req = req.header(IF_MODIFIED_SINCE, l);
            }
        }
        let mut resp = req.send().await?;
        if resp.status() == StatusCode::NOT_MODIFIED {
            return Ok(FetchStatus::NotModified);
        }
        if !resp.status().is_success() {
            return Err(SourceError::Status(resp.status()));
        }
        let header = |h| resp.headers().get(h).and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok());
        let new_meta = Meta {
            url: url.to_string(),
            etag: header(ETAG).map(str::to_string),
            last_modified: header(LAST_MODIFIED).map(str::to_string),
        };
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SourceError::Io { path, source }
        };
        tokio::fs::create_dir_all(&self.dir).await.map_err(io(&self.dir))?;
        let tmp = copy.with_extension("part");
        let bytes = match download(&mut resp, &tmp).await {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        };
        tokio::fs::rename(&tmp, &copy).await.map_err(io(&copy))?;
        let meta_tmp = meta_path.with_extension("meta.part");
        tokio::fs::write(&meta_tmp, new_meta.render()).await.map_err(io(&meta_tmp))?;
        tokio::fs::rename(&meta_tmp, &meta_path).await.map_err(io(&meta_path))?;
        Ok(FetchStatus::Updated { bytes })
    }
}

/// Streams the body into `path`, at most [`MAX_DOWNLOAD`] bytes.
async fn download(resp: &mut reqwest::Response, path: &Path) -> Result<u64, SourceError> {
    let io = |source| SourceError::Io { path: path.to_path_buf(), source };
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut bytes = 0u64;
    while let Some(chunk) = resp.chunk().await? {
        bytes += chunk.len() as u64;
        if bytes > MAX_DOWNLOAD {
            return Err(SourceError::TooLarge);
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.sync_all().await.map_err(io)?;
    Ok(bytes)
}

/// The stem of a file this store writes (`<name>-<8 hex>.list`, `.meta`, `.part`,
/// `.meta.part`), or `None` for any other file.
fn stored_stem(file: &str) -> Option<&str> {
    let stem = [".meta.part", ".list", ".meta", ".part"].iter().find_map(|ext| file.strip_suffix(ext))?;
    let (safe, hash) = stem.rsplit_once('-')?;
    let hex = hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let safe_ok = safe.len() <= 64 && safe.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (hex && safe_ok).then_some(stem)
}

fn file_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    format!("{safe}-{:08x}", super::table::hash(0, name.as_bytes()) as u32)
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
