//! Reading the input into memory: a v5 Teleporter `.tar.gz`, a v6 Teleporter `.zip` or a
//! Pi-hole directory, as files under logical names (`gravity.db`, `pihole.toml`,
//! `setupVars.conf`, `custom.list`, `dhcp.leases`, `hosts`, `dnsmasq.d/NAME`, the v5 JSON
//! dumps by their own names). The input is untrusted: entry names with `..` or an absolute
//! path are refused, and the unpacked size and entry count are capped, so a decompression
//! bomb ends in an error instead of filling memory.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Component, Path};

use crate::ImportError;

/// Unpacked bytes at most, all entries together (FTL caps one entry at 256 MiB too).
pub const MAX_UNPACKED: u64 = 256 << 20;
/// Archive entries at most.
pub const MAX_ENTRIES: usize = 10_000;

/// Caps on what an archive may unpack to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_unpacked: u64,
    pub max_entries: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_unpacked: MAX_UNPACKED, max_entries: MAX_ENTRIES }
    }
}

/// Which kind of export was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    V5Teleporter,
    V6Teleporter,
    Directory,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::V5Teleporter => "Pi-hole v5 Teleporter archive",
            Format::V6Teleporter => "Pi-hole v6 Teleporter archive",
            Format::Directory => "Pi-hole directory",
        }
    }
}

/// The files of an export, by logical name.
#[derive(Debug, Clone)]
pub struct Source {
    pub format: Format,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Source {
    /// Reads a Teleporter archive file or a Pi-hole directory (`/etc/pihole`).
    pub fn open(path: &Path) -> Result<Source, ImportError> {
        let io = |source| ImportError::Io { path: path.to_path_buf(), source };
        if path.is_dir() {
            return from_dir(path);
        }
        let bytes = std::fs::read(path).map_err(io)?;
        Source::from_bytes(&bytes)
    }

    /// Reads an archive from memory (what the admin API receives), by its magic bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Source, ImportError> {
        Source::from_bytes_with(bytes, Limits::default())
    }

    /// [`Source::from_bytes`] with other caps.
    pub fn from_bytes_with(bytes: &[u8], limits: Limits) -> Result<Source, ImportError> {
        if bytes.starts_with(&[0x1f, 0x8b]) {
            from_tar_gz(bytes, limits)
        } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            from_zip(bytes, limits)
        } else {
            Err(ImportError::NotArchive("neither gzip nor zip data".into()))
        }
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }

    /// Text of a file; invalid UTF-8 is replaced rather than refused (hosts files in the
    /// wild carry Latin-1 comments).
    pub fn text(&self, name: &str) -> Option<String> {
        self.get(name).map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Rejects names that would leave the archive when unpacked.
fn check_name(name: &str) -> Result<(), ImportError> {
    let p = Path::new(name);
    let bad = name.starts_with('/')
        || name.starts_with('\\')
        || name.contains('\0')
        || name.split(['/', '\\']).any(|c| c == "..")
        || p.components().any(|c| matches!(c, Component::RootDir | Component::Prefix(_) | Component::ParentDir));
    if bad { Err(ImportError::UnsafePath(name.to_string())) } else { Ok(()) }
}

/// The logical name of an archive entry, or `None` for files an import does not read.
fn logical(name: &str) -> Option<String> {
    let name = name.trim_start_matches("./");
    let name = name.strip_prefix("etc/pihole/").unwrap_or(name);
    let name = name.strip_prefix("etc/").unwrap_or(name);
    let keep = matches!(
        name,
        "gravity.db"
            | "pihole.toml"
            | "setupVars.conf"
            | "pihole-FTL.conf"
            | "custom.list"
            | "dhcp.leases"
            | "hosts"
            | "blacklist.txt"
            | "whitelist.txt"
            | "regex.list"
            | "adlists.list"
    ) || name.ends_with(".json")
        || name.strip_prefix("dnsmasq.d/").is_some_and(|f| !f.is_empty() && !f.contains('/'));
    keep.then(|| name.to_string())
}

/// Fails once more than [`MAX_UNPACKED`] bytes came through.
struct Capped<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left = self.left.checked_sub(n as u64).ok_or_else(|| io::Error::other(BOMB))?;
        Ok(n)
    }
}

const BOMB: &str = "more unpacked than the cap";

fn archive_err(e: io::Error) -> ImportError {
    if e.to_string().contains(BOMB) { ImportError::TooLarge(BOMB.into()) } else { ImportError::Archive(e.to_string()) }
}

fn from_tar_gz(bytes: &[u8], limits: Limits) -> Result<Source, ImportError> {
    let gz = Capped { inner: flate2::read::GzDecoder::new(bytes), left: limits.max_unpacked };
    let mut archive = tar::Archive::new(gz);
    let mut files = BTreeMap::new();
    let mut count = 0usize;
    for entry in archive.entries().map_err(archive_err)? {
        let mut entry = entry.map_err(archive_err)?;
        count += 1;
        if count > limits.max_entries {
            return Err(ImportError::TooLarge(format!("more than {} entries", limits.max_entries)));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        check_name(&name)?;
        let kind = entry.header().entry_type();
        if let Some(link) = entry.link_name_bytes() {
            check_name(&String::from_utf8_lossy(&link))?;
        }
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(archive_err)?;
        if kind.is_file()
            && let Some(l) = logical(&name)
        {
            files.insert(l, data);
        }
    }
    if files.is_empty() {
        return Err(ImportError::Empty("the archive holds no Pi-hole file".into()));
    }
    // A v5 Teleporter dumps the gravity tables as JSON; a tar.gz holding gravity.db is a
    // Pi-hole directory packed by dnsctl (the server is the only one that reads it).
    let format = if files.contains_key("gravity.db") { Format::Directory } else { Format::V5Teleporter };
    Ok(Source { format, files })
}

fn from_zip(bytes: &[u8], limits: Limits) -> Result<Source, ImportError> {
    let zerr = |e: zip::result::ZipError| ImportError::Archive(e.to_string());
    let mut zip = zip::ZipArchive::new(io::Cursor::new(bytes)).map_err(zerr)?;
    if zip.len() > limits.max_entries {
        return Err(ImportError::TooLarge(format!("more than {} entries", limits.max_entries)));
    }
    let mut files = BTreeMap::new();
    let mut left = limits.max_unpacked;
    for i in 0..zip.len() {
        let f = zip.by_index(i).map_err(zerr)?;
        let name = f.name().map_err(zerr)?.into_owned();
        check_name(&name)?;
        let Some(l) = logical(&name).filter(|_| f.is_file()) else { continue };
        // The declared size may lie: read at most what is left of the budget, plus one byte
        // to tell "exactly at the cap" from "over it".
        let mut data = Vec::new();
        f.take(left + 1).read_to_end(&mut data).map_err(|e| ImportError::Archive(e.to_string()))?;
        left = left.checked_sub(data.len() as u64).ok_or_else(|| ImportError::TooLarge(BOMB.into()))?;
        files.insert(l, data);
    }
    if files.is_empty() {
        return Err(ImportError::Empty("the archive holds no Pi-hole file".into()));
    }
    Ok(Source { format: Format::V6Teleporter, files })
}

/// `/etc/pihole` (any directory holding gravity.db), with `dnsmasq.d` and `hosts` looked
/// for beside it, as on a Pi-hole host.
fn from_dir(dir: &Path) -> Result<Source, ImportError> {
    let mut files = BTreeMap::new();
    let mut left = MAX_UNPACKED;
    let mut read = |path: &Path, name: String, files: &mut BTreeMap<String, Vec<u8>>| -> Result<(), ImportError> {
        let io = |source| ImportError::Io { path: path.to_path_buf(), source };
        let f = std::fs::File::open(path).map_err(io)?;
        let mut data = Vec::new();
        f.take(left + 1).read_to_end(&mut data).map_err(io)?;
        left = left.checked_sub(data.len() as u64).ok_or_else(|| ImportError::TooLarge(BOMB.into()))?;
        files.insert(name, data);
        Ok(())
    };
    for name in ["gravity.db", "pihole.toml", "setupVars.conf", "pihole-FTL.conf", "custom.list", "dhcp.leases"] {
        let p = dir.join(name);
        if p.is_file() {
            read(&p, name.to_string(), &mut files)?;
        }
    }
    if !files.contains_key("gravity.db") {
        return Err(ImportError::NotArchive(format!("{} holds no gravity.db", dir.display())));
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let hosts = parent.join("hosts");
    if hosts.is_file() {
        read(&hosts, "hosts".into(), &mut files)?;
    }
    if let Ok(entries) = std::fs::read_dir(parent.join("dnsmasq.d")) {
        let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
        paths.sort();
        for p in paths.into_iter().take(MAX_ENTRIES) {
            let name = format!("dnsmasq.d/{}", p.file_name().unwrap_or_default().to_string_lossy());
            read(&p, name, &mut files)?;
        }
    }
    Ok(Source { format: Format::Directory, files })
}
