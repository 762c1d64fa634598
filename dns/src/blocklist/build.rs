//! Building the engine: rules are appended to the arena as lists are read, then deduplicated
//! in place, so a rebuild needs little more memory than the engine it produces.
//!
//! `finish` indexes every entry, moving the rules of repeated names to the overflow table and
//! marking the repeats dead. If there were repeats, it then slides the live entries down over
//! the dead ones (in place) and indexes them again in a table sized for them.

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
/// First name byte of a repeated entry during `finish`; no valid name starts with it.
const DEAD: u8 = 0;

/// Identifies a list inside one engine.
pub type ListId = u16;

/// Collects lists and their rules, then compiles them into an [`Engine`].
#[derive(Debug)]
pub struct EngineBuilder {
    arena: Vec<u8>,
    entries: usize,
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
        EngineBuilder {
            arena: Vec::new(),
            entries: 0,
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
                self.entries += 1;
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

    /// Rule entries added so far (before removing repeats).
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0 && self.regexes.is_empty()
    }

    /// Compiles the engine. Fails only if the regexes together exceed the set size limit;
    /// the engine is then built without them and the error says so.
    pub fn finish(self) -> (Engine, Option<String>) {
        let EngineBuilder { mut arena, entries, lists, regexes, any_labels, subtree_labels } = self;
        let seed = table::random_seed();
        let (mut index, mut overflow, repeats) = mark_repeats(&mut arena, entries, seed);
        let live = entries - repeats;
        if repeats > 0 {
            // Offsets move when repeats are squeezed out: index again, sized for what is left.
            drop(index);
            compact(&mut arena, &mut overflow);
            index = Table::new(live, arena.len(), seed);
            index.insert_all(&arena, |_, _| debug_assert!(false, "no repeats are left"));
        }
        arena.shrink_to_fit();
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

/// Pass 1: finds repeated names. The first entry of a name stays; each repeat's rule goes to
/// the overflow table under the first entry's offset (unless it is the very same rule) and
/// the repeat is marked dead.
fn mark_repeats(arena: &mut [u8], entries: usize, seed: u64) -> (Table, Vec<(u32, Rec)>, usize) {
    let mut index = Table::new(entries, arena.len(), seed);
    let mut overflow = Vec::new();
    let mut dead = Vec::new();
    index.insert_all(arena, |off, first| {
        let rec = table::entry_rec(arena, off);
        if !table::entry_rec(arena, first).same_rule(rec) {
            overflow.push((first, rec));
        }
        dead.push(off);
    });
    // Marked after indexing: insert_all reads the arena while it runs.
    for &off in &dead {
        arena[off as usize + 1] = DEAD;
    }
    let repeats = dead.len();
    // Same key: ordered by list then line; the same rule twice keeps its first line.
    overflow.sort_unstable();
    overflow.dedup_by(|later, earlier| later.0 == earlier.0 && later.1.same_rule(earlier.1));
    (index, overflow, repeats)
}

/// Pass 2: slides live entries over dead ones and moves overflow keys along with them.
fn compact(arena: &mut Vec<u8>, overflow: &mut [(u32, Rec)]) {
    let (mut read, mut write) = (0usize, 0usize);
    let mut next_key = 0;
    while read < arena.len() {
        let len = table::entry_len(arena, read as u32);
        if arena[read + 1] != DEAD {
            // Keys are sorted and only name live entries, so they are met in order.
            while next_key < overflow.len() && overflow[next_key].0 as usize == read {
                overflow[next_key].0 = write as u32;
                next_key += 1;
            }
            arena.copy_within(read..read + len, write);
            write += len;
        }
        read += len;
    }
    arena.truncate(write);
}
