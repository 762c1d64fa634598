//! Replicated records: a key, opaque value bytes, an HLC stamp, the origin node and a
//! deleted flag; the last-writer-wins merge; and their string encoding as chitchat values.
//!
//! Keys name what a record describes, not who wrote it (the daemon's prefixes are listed in
//! docs/ARCHITECTURE.md §7). Every node may hold an entry for the same key; readers pick the
//! winner with [`merge`], or apply a rule of their own to every node's entry.
//!
//! # Format versions (rolling upgrades: each node reads what the previous version wrote)
//!
//! The encoding ([`Record::encode_value`]) is format [`RECORD_FORMAT`]. Format 1 is unmarked
//! (it starts with a digit) and is what every version so far writes, so a pair mid-upgrade
//! keeps replicating both ways. A later, incompatible encoding is written as `v<N>|<rest>`:
//! the previous version refuses it as [`RecordError::NewerFormat`] (the sync node skips and
//! counts it, and keeps the entries it has) instead of misreading it, and reads format 1 on.
//! Bump the format only when an older reader would misread the new encoding. New data goes
//! into the values, whose readers ignore fields they do not know (values may carry a
//! `format` of their own). Golden encodings of every format live in `sync/tests/golden/`;
//! keep the old ones when adding a format.

use crate::hlc::Hlc;

/// Largest value accepted, in bytes (docs/ARCHITECTURE.md §7: values stay ≤ 4 KB so a record
/// always fits a gossip datagram with room to spare).
pub const MAX_VALUE_BYTES: usize = 4096;
/// Largest key accepted, in bytes.
pub const MAX_KEY_BYTES: usize = 256;
/// How long a tombstone is kept before it may be purged: a node offline for longer than this
/// may resurrect a deleted record when it returns.
pub const TOMBSTONE_TTL_MS: u64 = 30 * 24 * 3600 * 1000;

/// The record encoding this version writes and the newest it reads (see the module docs).
pub const RECORD_FORMAT: u32 = 1;

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The value is larger than [`MAX_VALUE_BYTES`].
    #[error("value of {key:?} is {len} bytes; the limit is {MAX_VALUE_BYTES}")]
    ValueTooLarge { key: String, len: usize },
    /// The key is empty, too long, starts with `~` (reserved for the engine's own keys), or
    /// holds a control character or `|`.
    #[error("invalid record key {0:?}: 1..=256 printable bytes, no '|', not starting with '~'")]
    BadKey(String),
    /// The node id is empty or holds a character other than `[A-Za-z0-9._-]`.
    #[error("invalid node id {0:?}: use [A-Za-z0-9._-]")]
    BadNodeId(String),
    /// A chitchat value that is not a record encoding.
    #[error("malformed record encoding")]
    Malformed,
    /// A record in a format newer than [`RECORD_FORMAT`], written by a later version.
    #[error("record in format {0}; this version reads up to format {RECORD_FORMAT}")]
    NewerFormat(u32),
}

/// One version of one key, as written by `origin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// What the record describes (`c/...`, ...).
    pub key: String,
    /// Opaque value (JSON by convention); empty for tombstones.
    pub value: Vec<u8>,
    /// When it was written.
    pub hlc: Hlc,
    /// Node id of the writer; breaks HLC ties.
    pub origin: String,
    /// True for a tombstone (a delete that must win over older versions).
    pub deleted: bool,
}

impl Record {
    /// A live record, validated.
    pub fn new(key: &str, value: Vec<u8>, hlc: Hlc, origin: &str) -> Result<Self, RecordError> {
        check_key(key)?;
        check_node_id(origin)?;
        if value.len() > MAX_VALUE_BYTES {
            return Err(RecordError::ValueTooLarge { key: key.to_owned(), len: value.len() });
        }
        Ok(Self { key: key.to_owned(), value, hlc, origin: origin.to_owned(), deleted: false })
    }

    /// A tombstone, validated.
    pub fn tombstone(key: &str, hlc: Hlc, origin: &str) -> Result<Self, RecordError> {
        let mut r = Self::new(key, Vec::new(), hlc, origin)?;
        r.deleted = true;
        Ok(r)
    }

    /// The merge order: HLC first, then the origin node id.
    pub fn order(&self) -> (Hlc, &str) {
        (self.hlc, &self.origin)
    }

    /// True once a tombstone is older than [`TOMBSTONE_TTL_MS`] at `now_ms`.
    pub fn purgeable(&self, now_ms: u64) -> bool {
        self.deleted && now_ms.saturating_sub(self.hlc.wall_ms) > TOMBSTONE_TTL_MS
    }

    /// Encodes the record (without its key, which is the chitchat key) as a chitchat value:
    /// `<wall>.<logical>|<origin>|<flag><payload>`; flag `d` tombstone, `u` UTF-8, `x` hex.
    pub fn encode_value(&self) -> String {
        let mut s = format!("{}.{}|{}|", self.hlc.wall_ms, self.hlc.logical, self.origin);
        if self.deleted {
            s.push('d');
        } else if let Ok(text) = std::str::from_utf8(&self.value) {
            s.push('u');
            s.push_str(text);
        } else {
            s.push('x');
            for b in &self.value {
                s.push_str(&format!("{b:02x}"));
            }
        }
        s
    }

    /// Decodes a chitchat value written by [`Record::encode_value`] of this version or an
    /// earlier one; a later version's format is refused as [`RecordError::NewerFormat`].
    pub fn decode_value(key: &str, encoded: &str) -> Result<Self, RecordError> {
        if let Some(marked) = encoded.strip_prefix('v') {
            // No marked format exists yet: `v<N>|` is only ever a newer one.
            let (n, _) = marked.split_once('|').ok_or(RecordError::Malformed)?;
            let digits = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            return match n.parse::<u32>() {
                Ok(n) if digits && n > RECORD_FORMAT => Err(RecordError::NewerFormat(n)),
                _ => Err(RecordError::Malformed),
            };
        }
        let mut parts = encoded.splitn(3, '|');
        let (Some(stamp), Some(origin), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(RecordError::Malformed);
        };
        let (wall, logical) = stamp.split_once('.').ok_or(RecordError::Malformed)?;
        let hlc = Hlc::new(
            wall.parse().map_err(|_| RecordError::Malformed)?,
            logical.parse().map_err(|_| RecordError::Malformed)?,
        );
        match body.as_bytes().first() {
            Some(b'd') if body.len() == 1 => Self::tombstone(key, hlc, origin),
            Some(b'u') => Self::new(key, body.as_bytes()[1..].to_vec(), hlc, origin),
            Some(b'x') => Self::new(key, decode_hex(&body[1..])?, hlc, origin),
            _ => Err(RecordError::Malformed),
        }
    }
}

/// Last-writer-wins: the entry with the higher (HLC, origin) wins; a tombstone competes like
/// any other entry. Equal order means the same write, so `local` is kept.
pub fn merge<'a>(local: &'a Record, remote: &'a Record) -> &'a Record {
    if remote.order() > local.order() { remote } else { local }
}

/// Checks a record key: 1..=256 bytes, printable, no `|`, not starting with `~`.
pub fn check_key(key: &str) -> Result<(), RecordError> {
    let ok = !key.is_empty()
        && !key.starts_with('~')
        && key.len() <= MAX_KEY_BYTES
        && !key.chars().any(|c| c.is_control() || c == '|');
    if ok { Ok(()) } else { Err(RecordError::BadKey(key.to_owned())) }
}

/// Checks a node id: non-empty `[A-Za-z0-9._-]`, at most 64 bytes.
pub fn check_node_id(id: &str) -> Result<(), RecordError> {
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(RecordError::BadNodeId(id.to_owned())) }
}

/// Pairs of hex digits to bytes. Works on bytes, not `str` slices: a peer's value may hold a
/// multi-byte character where a digit pair should be, and slicing inside it would panic.
fn decode_hex(s: &str) -> Result<Vec<u8>, RecordError> {
    let nibble = |b: u8| char::from(b).to_digit(16).ok_or(RecordError::Malformed);
    let pairs = s.as_bytes().chunks(2);
    pairs
        .map(
            |p| {
                if let [hi, lo] = *p { Ok((nibble(hi)? << 4 | nibble(lo)?) as u8) } else { Err(RecordError::Malformed) }
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(key: &str, v: &str, wall: u64, origin: &str) -> Record {
        Record::new(key, v.as_bytes().to_vec(), Hlc::new(wall, 0), origin).unwrap()
    }

    #[test]
    fn higher_hlc_wins_either_way_round() {
        let a = rec("c/x/y", "1", 10, "a");
        let b = rec("c/x/y", "2", 11, "a");
        assert_eq!(merge(&a, &b), &b);
        assert_eq!(merge(&b, &a), &b);
    }

    #[test]
    fn hlc_tie_is_broken_by_node_id() {
        let a = rec("c/x/y", "1", 10, "a");
        let b = rec("c/x/y", "2", 10, "b");
        assert_eq!(merge(&a, &b).origin, "b");
        assert_eq!(merge(&b, &a).origin, "b");
    }

    #[test]
    fn newer_tombstone_beats_older_value_and_older_value_does_not_resurrect() {
        let v = rec("c/x/y", "1", 10, "b");
        let t = Record::tombstone("c/x/y", Hlc::new(11, 0), "a").unwrap();
        assert!(merge(&v, &t).deleted);
        assert!(merge(&t, &v).deleted);
        let newer = rec("c/x/y", "2", 12, "a");
        assert!(!merge(&t, &newer).deleted);
    }

    #[test]
    fn tombstones_purgeable_after_30_days_only() {
        let t = Record::tombstone("c/x/y", Hlc::new(1_000, 0), "a").unwrap();
        assert!(!t.purgeable(1_000 + TOMBSTONE_TTL_MS));
        assert!(t.purgeable(1_001 + TOMBSTONE_TTL_MS));
        assert!(!rec("c/x/y", "1", 0, "a").purgeable(u64::MAX));
    }

    #[test]
    fn value_over_4k_is_rejected_with_a_clear_error() {
        let err = Record::new("c/a/b", vec![b'a'; 4097], Hlc::default(), "a").unwrap_err();
        assert_eq!(err, RecordError::ValueTooLarge { key: "c/a/b".into(), len: 4097 });
        assert!(err.to_string().contains("limit is 4096"));
        assert!(Record::new("c/a/b", vec![b'a'; 4096], Hlc::default(), "a").is_ok());
    }

    #[test]
    fn bad_keys_and_node_ids_are_rejected() {
        for k in ["", "a|b", "a\nb", "~seen", &"k".repeat(257)] {
            assert!(check_key(k).is_err(), "{k:?}");
        }
        for n in ["", "a b", "a|b", "é"] {
            assert!(check_node_id(n).is_err(), "{n:?}");
        }
    }

    #[test]
    fn encoding_round_trips_text_binary_and_tombstones() {
        let text = rec("c/10.0.1.0/aa", r#"{"ip":"10.0.1.5"}"#, 77, "node-a");
        let bin = Record::new("c/b/x", vec![0, 255, 10, b'|'], Hlc::new(5, 9), "b").unwrap();
        let tomb = Record::tombstone("c/b/y", Hlc::new(6, 1), "b").unwrap();
        for r in [text, bin, tomb] {
            assert_eq!(Record::decode_value(&r.key, &r.encode_value()).unwrap(), r);
        }
        for bad in ["", "1.0|a", "x.0|a|u", "1.0|a|q", "1.0|a|x0", "1.0|a|xzz", "1.0||u", "1.0|a|dd"] {
            assert!(Record::decode_value("k", bad).is_err(), "{bad:?}");
        }
    }

    /// Issue 10 (found by the sync_record fuzz target): a hex value with a multi-byte
    /// character where a digit pair should be panicked the apply task (slicing inside the
    /// character) instead of being refused.
    #[test]
    fn issue10_non_ascii_in_a_hex_value_is_malformed_not_a_panic() {
        for bad in ["5.9|a|x00ff7cФf7", "5.9|a|xФ", "5.9|a|x0Ф", "5.9|a|x\u{1F600}00", "5.9|a|x+f"] {
            assert_eq!(Record::decode_value("c/bin/x", bad), Err(RecordError::Malformed), "{bad:?}");
        }
        let crash = "5.9|/rfco$rd/oj184461<.2|x00fff7cФf7cФ80";
        assert!(Record::decode_value("c/bin/x", crash).is_err());
        assert_eq!(Record::decode_value("c/bin/x", "5.9|a|x00fF7c").unwrap().value, [0, 0xff, 0x7c]);
    }
}
