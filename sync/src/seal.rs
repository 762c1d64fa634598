//! The sealed datagram format (sans-IO): every gossip datagram is XChaCha20-Poly1305 sealed
//! with a key derived by HKDF-SHA256 from the cluster secret, with the send time in the
//! associated data so a captured datagram cannot be replayed after 60 s (and, through a cache
//! of recent nonces, not even within them).
//!
//! ```text
//!  0      1       2          10        14     15     16             40
//!  | ver  | keyid | time ms  | msg id  | frag | nfrag | nonce (24)   | ciphertext + tag (16)
//!  \___________ associated data (16 bytes) ___________/
//! ```
//! The fragment fields let the transport split a chitchat message that, once sealed, exceeds
//! one UDP datagram; each fragment is sealed on its own so a forged one is dropped at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Format version byte.
const VERSION: u8 = 1;
/// Bytes before the ciphertext.
pub const HEADER_LEN: usize = 40;
/// Authentication tag length.
pub const TAG_LEN: usize = 16;
/// Bytes a seal adds to its plaintext.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// Accepted difference between a datagram's time and ours, either way (ms).
pub const MAX_SKEW_MS: u64 = 60_000;
const AAD_LEN: usize = 16;

/// Why a datagram was dropped. Each has its own counter in [`SealStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Reject {
    /// Shorter than a header and a tag.
    #[error("truncated datagram")]
    Truncated,
    /// Unknown format version or a bad fragment header.
    #[error("malformed header")]
    Malformed,
    /// Sealed with a key that is in neither slot of the key ring.
    #[error("unknown key")]
    WrongKey,
    /// The tag does not verify: tampered, or a key-id collision with a foreign key.
    #[error("authentication failed")]
    BadTag,
    /// Sent more than 60 s ago.
    #[error("too old")]
    TooOld,
    /// Stamped more than 60 s in the future.
    #[error("from the future")]
    TooNew,
    /// A nonce already seen within the last 60 s.
    #[error("replayed")]
    Replay,
}

/// Counters of the sealed transport (shared, lock-free).
#[derive(Debug, Default)]
pub struct SealStats {
    sealed: AtomicU64,
    opened: AtomicU64,
    rejected: [AtomicU64; 7],
}

/// A copy of [`SealStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealCounts {
    /// Datagrams sealed and sent.
    pub sealed: u64,
    /// Datagrams that opened.
    pub opened: u64,
    /// Rejected: too short.
    pub truncated: u64,
    /// Rejected: bad version or fragment header.
    pub malformed: u64,
    /// Rejected: key not in the ring.
    pub wrong_key: u64,
    /// Rejected: tag did not verify.
    pub bad_tag: u64,
    /// Rejected: older than 60 s.
    pub too_old: u64,
    /// Rejected: more than 60 s ahead.
    pub too_new: u64,
    /// Rejected: nonce seen before.
    pub replay: u64,
}

impl SealCounts {
    /// All rejections together.
    pub fn rejected(&self) -> u64 {
        self.truncated + self.malformed + self.wrong_key + self.bad_tag + self.too_old + self.too_new + self.replay
    }
}

impl SealStats {
    /// Counts one rejection.
    pub fn reject(&self, why: Reject) {
        self.rejected[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Current values.
    pub fn counts(&self) -> SealCounts {
        let r = |w: Reject| self.rejected[w as usize].load(Ordering::Relaxed);
        SealCounts {
            sealed: self.sealed.load(Ordering::Relaxed),
            opened: self.opened.load(Ordering::Relaxed),
            truncated: r(Reject::Truncated),
            malformed: r(Reject::Malformed),
            wrong_key: r(Reject::WrongKey),
            bad_tag: r(Reject::BadTag),
            too_old: r(Reject::TooOld),
            too_new: r(Reject::TooNew),
            replay: r(Reject::Replay),
        }
    }
}

/// One derived key.
#[derive(Clone)]
struct Key {
    id: u8,
    cipher: XChaCha20Poly1305,
}

impl Key {
    /// HKDF-SHA256 with the secret as input key material and the cluster name as info, so one
    /// secret shared by two clusters still gives them different keys.
    fn derive(secret: &[u8], cluster: &str) -> Self {
        let mut okm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"ravens-sync v1"), secret)
            .expand(cluster.as_bytes(), &mut okm)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let id = Sha256::digest(okm)[0];
        Self { id, cipher: XChaCha20Poly1305::new(&okm.into()) }
    }
}

/// Where a fragment sits in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragHeader {
    /// Sender-chosen id shared by a message's fragments.
    pub msg_id: u32,
    /// Index of this fragment.
    pub index: u8,
    /// Number of fragments (≥ 1).
    pub count: u8,
}

impl FragHeader {
    /// A message sent whole.
    pub const WHOLE: Self = Self { msg_id: 0, index: 0, count: 1 };
}

/// A successfully opened datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// Fragment position.
    pub frag: FragHeader,
    /// Decrypted bytes.
    pub plaintext: Vec<u8>,
}

/// The current key and, during a rotation, the previous one; plus the replay cache.
pub struct Keyring {
    keys: Vec<Key>,
    seen: HashMap<[u8; 24], u64>,
    prune_at: usize,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring").field("keys", &self.keys.len()).finish_non_exhaustive()
    }
}

impl Keyring {
    /// Keys from the current secret and optionally the previous one. Sealing always uses the
    /// current key; opening accepts both, so nodes can switch secrets one at a time.
    pub fn new(current: &[u8], previous: Option<&[u8]>, cluster: &str) -> Self {
        let mut keys = vec![Key::derive(current, cluster)];
        keys.extend(previous.map(|p| Key::derive(p, cluster)));
        Self { keys, seen: HashMap::new(), prune_at: 1024 }
    }

    /// Seals `plaintext` sent at `now_ms`.
    pub fn seal(&self, plaintext: &[u8], frag: FragHeader, now_ms: u64) -> Vec<u8> {
        let key = &self.keys[0];
        let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
        out.extend_from_slice(&[VERSION, key.id]);
        out.extend_from_slice(&now_ms.to_be_bytes());
        out.extend_from_slice(&frag.msg_id.to_be_bytes());
        out.extend_from_slice(&[frag.index, frag.count]);
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        out.extend_from_slice(&nonce);
        let payload = Payload { msg: plaintext, aad: &out[..AAD_LEN] };
        let sealed = key
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .expect("XChaCha20-Poly1305 encryption of an in-memory buffer cannot fail");
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a datagram received at `now_ms`; never panics on any input.
    pub fn open(&mut self, datagram: &[u8], now_ms: u64) -> Result<Opened, Reject> {
        if datagram.len() < OVERHEAD {
            return Err(Reject::Truncated);
        }
        let (header, body) = datagram.split_at(HEADER_LEN);
        let frag = parse_header(header)?;
        let sent_ms = u64::from_be_bytes(header[2..10].try_into().map_err(|_| Reject::Malformed)?);
        if now_ms.saturating_sub(sent_ms) > MAX_SKEW_MS {
            return Err(Reject::TooOld);
        }
        if sent_ms.saturating_sub(now_ms) > MAX_SKEW_MS {
            return Err(Reject::TooNew);
        }
        let nonce: [u8; 24] = header[16..40].try_into().map_err(|_| Reject::Malformed)?;
        let plaintext = self.decrypt(header, &nonce, body)?;
        if self.seen.insert(nonce, sent_ms).is_some() {
            return Err(Reject::Replay);
        }
        self.prune_seen(now_ms);
        Ok(Opened { frag, plaintext })
    }

    fn decrypt(&self, header: &[u8], nonce: &[u8; 24], body: &[u8]) -> Result<Vec<u8>, Reject> {
        let mut candidates = self.keys.iter().filter(|k| k.id == header[1]).peekable();
        if candidates.peek().is_none() {
            return Err(Reject::WrongKey);
        }
        candidates
            .find_map(|k| {
                let payload = Payload { msg: body, aad: &header[..AAD_LEN] };
                k.cipher.decrypt(XNonce::from_slice(nonce), payload).ok()
            })
            .ok_or(Reject::BadTag)
    }

    /// Forgets nonces too old to pass the time check anyway. Amortised: runs when the cache
    /// has doubled since the last prune.
    fn prune_seen(&mut self, now_ms: u64) {
        if self.seen.len() < self.prune_at {
            return;
        }
        self.seen.retain(|_, sent| now_ms.saturating_sub(*sent) <= MAX_SKEW_MS);
        self.prune_at = (self.seen.len() * 2).max(1024);
    }
}

fn parse_header(header: &[u8]) -> Result<FragHeader, Reject> {
    let frag = FragHeader {
        msg_id: u32::from_be_bytes(header[10..14].try_into().map_err(|_| Reject::Malformed)?),
        index: header[14],
        count: header[15],
    };
    if header[0] != VERSION || frag.count == 0 || frag.index >= frag.count {
        return Err(Reject::Malformed);
    }
    Ok(frag)
}

/// Seals and opens with a shared [`SealStats`]: the piece the transport uses.
pub struct Sealer {
    ring: Keyring,
    stats: std::sync::Arc<SealStats>,
}

impl Sealer {
    /// Wraps a key ring; `stats` is shared with the handle that reports it.
    pub fn new(ring: Keyring, stats: std::sync::Arc<SealStats>) -> Self {
        Self { ring, stats }
    }

    /// Seals and counts.
    pub fn seal(&self, plaintext: &[u8], frag: FragHeader, now_ms: u64) -> Vec<u8> {
        self.stats.sealed.fetch_add(1, Ordering::Relaxed);
        self.ring.seal(plaintext, frag, now_ms)
    }

    /// Opens and counts the outcome.
    pub fn open(&mut self, datagram: &[u8], now_ms: u64) -> Result<Opened, Reject> {
        let res = self.ring.open(datagram, now_ms);
        match &res {
            Ok(_) => self.stats.opened.fetch_add(1, Ordering::Relaxed),
            Err(why) => {
                self.stats.reject(*why);
                0
            }
        };
        res
    }
}

#[cfg(test)]
#[path = "seal_tests.rs"]
mod tests;
