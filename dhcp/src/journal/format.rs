//! The journal's bytes: frames, the version header, records, and the scan that reads a file.
//!
//! Frame: `len: u32 LE | crc32(payload): u32 LE | payload`; the payload's first byte is its kind.
//! Record payload (kinds 1-3, [`RecordKind`]): `kind u8 | expires u64 | ip u32 | subnet | key |
//! mac | client_id | hostname | node`, each of the last six a `u8` length and bytes (empty
//! client_id / hostname = none). Header payload (kind 0, the first frame of a file):
//! `0 | "RVLJ" | version u16 LE | min_reader u16 LE`.
//!
//! Compatibility, so the nodes of a pair can be upgraded one at a time and rolled back:
//! - a reader ignores bytes after the record fields it knows (a later format appends fields
//!   there; compaction copies frames verbatim, so they survive) and skips frames of kinds it
//!   does not know (counted in [`Recovery::unknown`]);
//! - a writer whose change an older reader would misread despite those two rules raises
//!   `min_reader`; a reader older than that refuses the file (`InvalidData`) rather than
//!   compacting away records it cannot understand;
//! - a file without a header was written before versioning (format 0, the same records); it is
//!   read the same way and gets a header at its next compaction. Format-0 readers count the
//!   header as one corrupt frame and skip it, so a rollback keeps every lease.

use std::collections::HashMap;
use std::io;
use std::net::Ipv4Addr;

use std::sync::Arc;

use crate::lease::{Lease, RecordKind};
use crate::packet::ClientKey;

/// The format this release writes.
pub const VERSION: u16 = 1;
/// The newest `min_reader` this release can read.
pub const READS: u16 = 1;
/// The oldest reader format that reads what this release writes (its header's `min_reader`).
const MIN_READER: u16 = 1;
const MAGIC: &[u8; 4] = b"RVLJ";
const KIND_HEADER: u8 = 0;
const MAX_PAYLOAD: usize = 2048;

/// What was found on open.
#[derive(Debug, Default)]
pub struct Recovery {
    /// The latest record per (subnet, address).
    pub records: Vec<Lease>,
    /// Bytes cut off the end (a torn final write).
    pub torn_bytes: u64,
    /// Records skipped because their CRC did not match.
    pub corrupt: u64,
    /// Frames of kinds this release does not know (written by a newer one), skipped.
    pub unknown: u64,
    /// Format version of the file (0: written before versioning, or a new file).
    pub version: u16,
}

/// The latest frame per (subnet, address), kept verbatim for compaction.
pub type Live = HashMap<(String, Ipv4Addr), Vec<u8>>;

/// One frame read from a journal.
enum Frame<'a> {
    Record(&'a [u8], (String, Ipv4Addr)),
    Header {
        version: u16,
        min_reader: u16,
    },
    /// A kind this release does not know.
    Unknown,
}

/// Reads every frame: the live map, what was found, and the length of the good prefix (the
/// file is cut there). Fails only for a file whose header asks for a newer reader.
pub fn scan(bytes: &[u8]) -> io::Result<(Live, Recovery, usize)> {
    let mut live = Live::new();
    let mut rec = Recovery::default();
    let mut at = 0;
    loop {
        match next_frame(bytes, at) {
            Ok(None) => break,
            Ok(Some((n, frame))) => {
                match frame {
                    Frame::Record(f, key) => {
                        live.insert(key, f.to_vec());
                    }
                    Frame::Header { version, min_reader } if at == 0 => {
                        if min_reader > READS {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                format!(
                                    "lease journal format {version} needs a reader of format {min_reader}; this \
                                     release reads up to {READS} (upgrade ravens, or move the journal aside)"
                                ),
                            ));
                        }
                        rec.version = version;
                    }
                    Frame::Header { .. } | Frame::Unknown => rec.unknown += 1,
                }
                at += n;
            }
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
    Ok((live, rec, at))
}

/// The record frames of a batch this release encoded, with their keys.
pub fn records(batch: &[u8]) -> impl Iterator<Item = (&[u8], (String, Ipv4Addr))> {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let (n, frame) = next_frame(batch, at).ok().flatten()?;
            at += n;
            if let Frame::Record(f, key) = frame {
                return Some((f, key));
            }
        }
    })
}

/// The frame at `at` and its length: `Ok(None)` at the end, `Err(Some(n))` for a whole frame
/// of `n` bytes with a bad CRC or bad fields, `Err(None)` for a torn or unreadable tail.
fn next_frame(bytes: &[u8], at: usize) -> Result<Option<(usize, Frame<'_>)>, Option<usize>> {
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
    let n = 8 + len;
    if crc32fast::hash(payload) != crc {
        return Err(Some(n));
    }
    let frame = match payload.first() {
        Some(&KIND_HEADER) => {
            let h = payload.get(1..9).filter(|h| &h[..4] == MAGIC).ok_or(Some(n))?;
            Frame::Header { version: u16::from_le_bytes([h[4], h[5]]), min_reader: u16::from_le_bytes([h[6], h[7]]) }
        }
        Some(1..=3) => {
            let rec = decode(payload).ok_or(Some(n))?;
            Frame::Record(&bytes[at..at + n], (rec.subnet.to_string(), rec.ip))
        }
        _ => Frame::Unknown,
    };
    Ok(Some((n, frame)))
}

/// Appends the header frame of this release's format to `out`.
pub fn header(out: &mut Vec<u8>) {
    let mut p = [0u8; 9];
    p[0] = KIND_HEADER;
    p[1..5].copy_from_slice(MAGIC);
    p[5..7].copy_from_slice(&VERSION.to_le_bytes());
    p[7..9].copy_from_slice(&MIN_READER.to_le_bytes());
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&p).to_le_bytes());
    out.extend_from_slice(&p);
}

/// Appends one framed record to `out`.
pub fn encode(r: &Lease, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(r.kind() as u8);
    out.extend_from_slice(&r.expires.to_le_bytes());
    out.extend_from_slice(&r.ip.octets());
    let empty: &[u8] = &[];
    for field in [
        r.subnet.as_bytes(),
        &r.key.0,
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

/// A record payload; bytes after the last known field are ignored (a newer format's fields).
fn decode(p: &[u8]) -> Option<Lease> {
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
    let lease = Lease {
        subnet: Arc::from(subnet),
        ip,
        key: ClientKey(key.into()),
        mac,
        client_id: (!cid.is_empty()).then_some(cid),
        hostname: (!host.is_empty()).then(|| String::from_utf8_lossy(&host).into_owned()),
        expires,
        state: kind.state(),
        node: Arc::from(String::from_utf8(node).ok()?),
        seq: 0,
    };
    Some(lease)
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
