//! The name arena and its open-addressing index, the engine's storage.
//!
//! Arena entry at byte offset `off`: `[len: u8][name: len bytes][record: 6 bytes]`. The record
//! is `list: u16` and `meta: u32` (little-endian): line number in the low 28 bits, then the
//! subtree, allow, important and "more records in the overflow table" flags. A name has one
//! entry however many lists and groups use it; extra rules for it live in the overflow table.
//!
//! The index is a `Vec<u32>` probed linearly. A slot holds `off + 1` in its low `off_bits`
//! bits and a tag of the name's hash in the bits above, so most probes that do not match are
//! settled without touching the arena; 0 is an empty slot.

use std::hash::BuildHasher;

/// Bytes of the record after each name.
pub const REC_LEN: usize = 6;
/// Largest line number a record can hold; later lines are stored as this.
pub const MAX_LINE_NO: u32 = (1 << 28) - 1;
const SUBTREE: u32 = 1 << 28;
const ALLOW: u32 = 1 << 29;
const IMPORTANT: u32 = 1 << 30;
const MORE: u32 = 1 << 31;

/// One rule for a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rec {
    pub list: u16,
    pub meta: u32,
}

impl Rec {
    pub fn new(list: u16, line: u64, subtree: bool, allow: bool, important: bool) -> Rec {
        let line = u32::try_from(line).unwrap_or(MAX_LINE_NO).min(MAX_LINE_NO);
        let flag = |on: bool, bit: u32| if on { bit } else { 0 };
        Rec { list, meta: line | flag(subtree, SUBTREE) | flag(allow, ALLOW) | flag(important, IMPORTANT) }
    }
    pub fn line(self) -> u32 {
        self.meta & MAX_LINE_NO
    }
    pub fn subtree(self) -> bool {
        self.meta & SUBTREE != 0
    }
    pub fn allow(self) -> bool {
        self.meta & ALLOW != 0
    }
    pub fn important(self) -> bool {
        self.meta & IMPORTANT != 0
    }
    pub fn more(self) -> bool {
        self.meta & MORE != 0
    }
    /// Same list and same kind of rule (line numbers may differ).
    pub fn same_rule(self, other: Rec) -> bool {
        self.list == other.list && (self.meta ^ other.meta) & (SUBTREE | ALLOW | IMPORTANT) == 0
    }
    pub fn with_more(self) -> Rec {
        Rec { list: self.list, meta: self.meta | MORE }
    }
}

/// Appends an entry; returns its offset.
pub fn push_entry(arena: &mut Vec<u8>, name: &[u8], rec: Rec) -> u32 {
    let off = arena.len() as u32;
    arena.push(name.len() as u8);
    arena.extend_from_slice(name);
    arena.extend_from_slice(&rec.list.to_le_bytes());
    arena.extend_from_slice(&rec.meta.to_le_bytes());
    off
}

/// Size in bytes of the entry at `off`.
pub fn entry_len(arena: &[u8], off: u32) -> usize {
    1 + usize::from(arena[off as usize]) + REC_LEN
}

pub fn entry_name(arena: &[u8], off: u32) -> &[u8] {
    let off = off as usize;
    &arena[off + 1..off + 1 + usize::from(arena[off])]
}

pub fn entry_rec(arena: &[u8], off: u32) -> Rec {
    let at = off as usize + 1 + usize::from(arena[off as usize]);
    let r = &arena[at..at + REC_LEN];
    Rec { list: u16::from_le_bytes([r[0], r[1]]), meta: u32::from_le_bytes([r[2], r[3], r[4], r[5]]) }
}

pub fn set_entry_rec(arena: &mut [u8], off: u32, rec: Rec) {
    let at = off as usize + 1 + usize::from(arena[off as usize]);
    arena[at..at + 2].copy_from_slice(&rec.list.to_le_bytes());
    arena[at + 2..at + REC_LEN].copy_from_slice(&rec.meta.to_le_bytes());
}

/// A random seed, so list authors cannot precompute colliding names.
pub fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xD6E8_FEB8_6659_FD93;

fn fold(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// A fast seeded hash of a name: one folded multiply per 16 bytes (overlapping reads for
/// the tail, as foldhash does), so a typical 10-30 byte name costs two or three multiplies.
#[inline]
pub fn hash(seed: u64, bytes: &[u8]) -> u64 {
    let len = bytes.len();
    let h = seed ^ (len as u64).wrapping_mul(K1);
    let (a, b) = if len <= 16 {
        if len >= 8 {
            (read8(bytes, 0), read8(bytes, len - 8))
        } else if len >= 4 {
            (u64::from(read4(bytes, 0)), u64::from(read4(bytes, len - 4)))
        } else if len > 0 {
            (u64::from(bytes[0]) << 16 | u64::from(bytes[len / 2]) << 8 | u64::from(bytes[len - 1]), 0)
        } else {
            (0, 0)
        }
    } else {
        let mut h = h;
        let mut at = 0;
        while len - at > 16 {
            h = fold(read8(bytes, at) ^ h, read8(bytes, at + 8) ^ K2);
            at += 16;
        }
        return fold(fold(read8(bytes, len - 16) ^ h, read8(bytes, len - 8) ^ K2), K1);
    };
    fold(fold(a ^ h, b ^ K2), K1)
}

#[inline]
fn read8(b: &[u8], at: usize) -> u64 {
    let w: [u8; 8] = b[at..at + 8].try_into().unwrap_or([0; 8]);
    u64::from_le_bytes(w)
}

#[inline]
fn read4(b: &[u8], at: usize) -> u32 {
    let w: [u8; 4] = b[at..at + 4].try_into().unwrap_or([0; 4]);
    u32::from_le_bytes(w)
}

/// The index: name → arena offset of its entry.
#[derive(Debug, Clone)]
pub struct Table {
    slots: Vec<u32>,
    off_bits: u32,
    seed: u64,
}

impl Table {
    /// A table for `entries` names in an arena of `arena_len` bytes, about 2/3 full.
    pub fn new(entries: usize, arena_len: usize, seed: u64) -> Table {
        let off_bits = (usize::BITS - (arena_len + 1).leading_zeros()).max(1);
        let len = (entries + entries / 2).max(8);
        Table { slots: vec![0; len], off_bits, seed }
    }

    /// Whether `names` names in an arena of `bytes` bytes fit (at most 2/3 full).
    pub fn has_room(&self, names: usize, bytes: usize) -> bool {
        names * 3 <= self.slots.len() * 2 && bytes < (1usize << self.off_bits)
    }

    /// Whether the table is about the size [`Table::new`] would pick for `names` and `bytes`.
    pub fn is_snug(&self, names: usize, bytes: usize) -> bool {
        let off_bits = (usize::BITS - (bytes + 1).leading_zeros()).max(1);
        self.has_room(names, bytes) && self.slots.len() <= names * 8 / 5 + 16 && self.off_bits <= off_bits + 1
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
    }

    fn tag(&self, h: u64) -> u32 {
        match self.off_bits {
            32 => 0,
            bits => ((h >> 32) as u32) << bits,
        }
    }

    fn start(&self, h: u64) -> usize {
        (((h & 0xFFFF_FFFF) * self.slots.len() as u64) >> 32) as usize
    }

    /// The first slot `h` probes. Reading it early lets the loads of several names overlap.
    #[inline]
    pub fn peek(&self, h: u64) -> u32 {
        self.slots[self.start(h)]
    }

    /// The offset of `name`'s entry, hashed as `h`.
    #[inline]
    pub fn find(&self, h: u64, name: &[u8], arena: &[u8]) -> Option<u32> {
        let tag = self.tag(h);
        let off_mask = u32::MAX >> (32 - self.off_bits);
        let mut i = self.start(h);
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot & !off_mask == tag {
                let off = (slot & off_mask) - 1;
                if entry_name(arena, off) == name {
                    return Some(off);
                }
            }
            i += 1;
            if i == self.slots.len() {
                i = 0;
            }
        }
    }

    /// Where `name` (hashed as `h`) is probed first, and that slot.
    pub fn first_slot(&self, h: u64) -> (usize, u32) {
        let i = self.start(h);
        (i, self.slots[i])
    }

    /// Inserts the entry at `off` (hashed as `h`, first probing slot `i` as
    /// [`first_slot`](Self::first_slot) gave it) unless its name is there; returns the
    /// existing entry's offset then.
    pub fn insert_at(&mut self, mut i: usize, h: u64, off: u32, arena: &[u8]) -> Option<u32> {
        let name = entry_name(arena, off);
        let mut slot = self.slots[i];
        let tag = self.tag(h);
        let off_mask = u32::MAX >> (32 - self.off_bits);
        while slot != 0 {
            if slot & !off_mask == tag && entry_name(arena, (slot & off_mask) - 1) == name {
                return Some((slot & off_mask) - 1);
            }
            i = if i + 1 == self.slots.len() { 0 } else { i + 1 };
            slot = self.slots[i];
        }
        self.slots[i] = tag | (off + 1);
        None
    }

    /// Inserts every entry of `arena` in order, calling `repeat(off, first_off)` for each
    /// entry whose name is already there. First slots are read a batch ahead, so their cache
    /// misses overlap.
    pub fn insert_all(&mut self, arena: &[u8], mut repeat: impl FnMut(u32, u32)) {
        const BATCH: usize = 16;
        let mut batch = [(0u32, 0u64, 0usize); BATCH];
        let mut off = 0u32;
        while (off as usize) < arena.len() {
            let (mut n, mut touched) = (0, 0);
            while n < BATCH && (off as usize) < arena.len() {
                let h = hash(self.seed, entry_name(arena, off));
                let (slot, value) = self.first_slot(h);
                touched ^= value;
                batch[n] = (off, h, slot);
                n += 1;
                off += entry_len(arena, off) as u32;
            }
            // Keeps the early loads (see EngineBuilder::flush).
            std::hint::black_box(touched);
            for &(at, h, first) in &batch[..n] {
                if let Some(existing) = self.insert_at(first, h, at, arena) {
                    repeat(at, existing);
                }
            }
        }
    }
}
