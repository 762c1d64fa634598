//! Building the engine: rules are appended to the arena as lists are read and deduplicated
//! as they come, so a rebuild needs little more memory than the engine it produces, however
//! much the lists overlap.
//!
//! Names are indexed in batches ([`BATCH`]): the batch's first index slots are read before
//! any is used, so their cache misses overlap. A name already indexed is not kept: its rule
//! goes to the overflow table under the first entry, and the next entry is slid over it (in
//! place, within the batch). The index grows by rebuilding from the arena; `finish` rebuilds
//! it once more only if it ended up far larger than needed.

use regex::bytes::{RegexBuilder, RegexSetBuilder};

use super::engine::{Engine, ListInfo, Parts, RegexRule};
use super::parse::{Item, Scope};
use super::table::{self, Rec, Table};

/// Lists per engine at most (list ids are 16 bits).
pub const MAX_LISTS: usize = u16::MAX as usize;
/// Regex rules per engine at most: each costs time on every lookup of its groups.
pub const MAX_REGEXES: usize = 1024;
/// Compiled size limit of one regex and of the whole set.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_SET_SIZE_LIMIT: usize = 32 << 20;
/// The arena is addressed with 32-bit offsets.
const MAX_ARENA: usize = (u32::MAX - 512) as usize;
/// Names indexed together.
const BATCH: usize = 16;

/// Identifies a list inside one engine.
pub type ListId = u16;

/// Collects lists and their rules, then compiles them into an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    arena: Vec<u8>,
    index: Table,
    /// Extra rules of names already in the arena, keyed by the first entry's offset.
    overflow: Vec<(u32, Rec)>,
    /// Distinct names indexed.
    live: usize,
    /// Entries appended after `indexed_len` and not yet indexed (at most BATCH).
    pending: usize,
    indexed_len: usize,
    /// Expected names, from [`with_capacity`](Self::with_capacity).
    hint: usize,
    lists: Vec<ListInfo>,
    regexes: Vec<RegexRule>,
    /// Label counts present (bit n = n labels, capped at 63), all entries and subtree ones.
    any_labels: u64,
    subtree_labels: u64,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl EngineBuilder {
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// A builder expecting about `names` names of `bytes` bytes in all (e.g. from file sizes),
    /// so the index need not grow while lists are read.
    pub fn with_capacity(names: usize, bytes: usize) -> Self {
        let hint = names.max(64);
        EngineBuilder {
            arena: Vec::with_capacity(bytes.min(MAX_ARENA)),
            index: Table::new(hint, bytes.max(hint * 32).min(MAX_ARENA), table::random_seed()),
            overflow: Vec::new(),
            live: 0,
            pending: 0,
            indexed_len: 0,
            hint,
            lists: Vec::new(),
            regexes: Vec::new(),
            any_labels: 0,
            subtree_labels: 0,
        }
    }

    /// Registers a list; `groups` has bit `g` set for each group index the list applies to.
    /// Entries of an allow list beat every block rule, `$important` ones included.
    pub fn add_list(&mut self, name: &str, groups: u64, allow_list: bool) -> Option<ListId> {
        if self.lists.len() >= MAX_LISTS {
            return None;
        }
        self.lists.push(ListInfo { name: name.to_string(), groups, allow_list });
        Some((self.lists.len() - 1) as ListId)
    }

    /// Adds one rule of `list` found on line `line`. Names must be normalised as the parser
    /// does ([`super::parse::normalize`]): lower-case ASCII, no trailing dot.
    pub fn add(&mut self, list: ListId, item: Item<'_>, line: u64) -> Result<(), &'static str> {
        let allow_list = self.lists[usize::from(list)].allow_list;
        match item {
            Item::Name { name, scope, allow, important } => {
                if name.is_empty() || name.len() > 253 {
                    return Err("not a DNS name");
                }
                if self.arena.len() + name.len() + 1 + table::REC_LEN > MAX_ARENA {
                    return Err("blocklist engine is full (4 GiB of names)");
                }
                let rec = Rec::new(list, line, scope == Scope::Subtree, allow, important || allow_list);
                table::push_entry(&mut self.arena, name, rec);
                let labels = 1u64 << (memchr::memchr_iter(b'.', name).count() + 1).min(63);
                self.any_labels |= labels;
                if scope == Scope::Subtree {
                    self.subtree_labels |= labels;
                }
                self.pending += 1;
                if self.pending == BATCH {
                    self.flush();
                }
                Ok(())
            }
            Item::Regex { pattern, allow } => self.add_regex(list, pattern, allow, line),
        }
    }

    fn add_regex(&mut self, list: ListId, pattern: &str, allow: bool, line: u64) -> Result<(), &'static str> {
        if self.regexes.len() >= MAX_REGEXES {
            return Err("too many regex rules (at most 1024 in all lists)");
        }
        RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|_| "invalid regex or regex too large")?;
        let line = u32::try_from(line).unwrap_or(table::MAX_LINE_NO).min(table::MAX_LINE_NO);
        let important = self.lists[usize::from(list)].allow_list;
        self.regexes.push(RegexRule { list, line, allow, important, pattern: pattern.to_string() });
        Ok(())
    }

    /// Distinct names so far (give or take the last batch).
    pub fn len(&self) -> usize {
        self.live + self.pending
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0 && self.regexes.is_empty()
    }

    /// Indexes the pending entries, dropping repeated names from the arena.
    fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        if !self.index.has_room(self.live + self.pending, self.arena.len()) {
            self.grow();
        }
        let mut batch = [(0usize, 0u64, 0usize); BATCH];
        let mut read = self.indexed_len;
        let mut touched = 0;
        for b in batch.iter_mut().take(self.pending) {
            let h = table::hash(self.index.seed(), table::entry_name(&self.arena, read as u32));
            let (slot, value) = self.index.first_slot(h);
            touched ^= value;
            *b = (read, h, slot);
            read += table::entry_len(&self.arena, read as u32);
        }
        // The values are re-read when used (an insert of this batch may change them); this
        // keeps the early loads, whose only purpose is to start the cache misses together.
        std::hint::black_box(touched);
        let mut write = self.indexed_len;
        for &(read, h, slot) in &batch[..self.pending] {
            let len = table::entry_len(&self.arena, read as u32);
            self.arena.copy_within(read..read + len, write);
            match self.index.insert_at(slot, h, write as u32, &self.arena) {
                None => {
                    write += len;
                    self.live += 1;
                }
                Some(first) => {
                    let rec = table::entry_rec(&self.arena, write as u32);
                    if !table::entry_rec(&self.arena, first).same_rule(rec) {
                        self.overflow.push((first, rec));
                    }
                }
            }
        }
        self.arena.truncate(write);
        self.indexed_len = write;
        self.pending = 0;
    }

    /// Replaces the index by one with room for twice the names and arena bytes.
    fn grow(&mut self) {
        let names = (2 * (self.live + self.pending)).max(self.hint);
        let bytes = (2 * self.arena.len()).clamp(self.indexed_len + 1, MAX_ARENA);
        self.index = reindex(&self.arena[..self.indexed_len], names, bytes, self.index.seed());
    }

    /// Compiles the engine. Fails only if the regexes together exceed the set size limit;
    /// the engine is then built without them and the error says so.
    pub fn finish(mut self) -> (Engine, Option<String>) {
        self.flush();
        let EngineBuilder {
            mut arena, mut index, mut overflow, live, lists, regexes, any_labels, subtree_labels, ..
        } = self;
        arena.shrink_to_fit();
        if !index.is_snug(live, arena.len()) {
            let seed = index.seed();
            drop(index);
            index = reindex(&arena, live, arena.len(), seed);
        }
        // Same key: ordered by list then line; the same rule twice keeps its first line.
        overflow.sort_unstable();
        overflow.dedup_by(|later, earlier| later.0 == earlier.0 && later.1.same_rule(earlier.1));
        overflow.shrink_to_fit();
        for &(key, _) in &overflow {
            let rec = table::entry_rec(&arena, key);
            table::set_entry_rec(&mut arena, key, rec.with_more());
        }
        let (regex_set, regex_error) = if regexes.is_empty() {
            (None, None)
        } else {
            match RegexSetBuilder::new(regexes.iter().map(|r| &r.pattern))
                .case_insensitive(true)
                .size_limit(REGEX_SET_SIZE_LIMIT)
                .build()
            {
                Ok(set) => (Some(set), None),
                Err(e) => (None, Some(format!("regex rules dropped: together they are too large ({e})"))),
            }
        };
        let regexes = if regex_set.is_some() { regexes } else { Vec::new() };
        let parts =
            Parts { arena, index, overflow, lists, regexes, regex_set, names: live, any_labels, subtree_labels };
        (Engine::from_parts(parts), regex_error)
    }
}

/// A new index of every entry in `arena` (which holds no repeated names).
fn reindex(arena: &[u8], names: usize, bytes: usize, seed: u64) -> Table {
    let mut index = Table::new(names, bytes, seed);
    index.insert_all(arena, |_, _| debug_assert!(false, "the arena holds no repeats"));
    index
}
