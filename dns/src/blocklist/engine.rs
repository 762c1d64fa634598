//! The compiled, immutable blocklist engine: every rule of every list for every group in one
//! structure, looked up on the query path without allocating.
//!
//! A lookup hashes the query name and each of its parent names (`a.b.c`, `b.c`, `c`), finds
//! their entries in the arena index ([`super::table`]) and keeps the strongest rule that
//! applies to the client's group: allow-list entries and `@@...$important` beat
//! `||x^$important`, which beats `@@` exceptions, which beat plain block rules. Exact rules
//! only apply to the full name, subtree rules to every level. Regexes, if any, come last.

use std::mem::size_of;

use regex::bytes::RegexSet;

use super::build::{EngineBuilder, ListId};
use super::groups::GroupId;
use super::table::{self, Rec, Table};

/// Highest rule priority: nothing can override it, so the walk may stop.
const TOP: u8 = 3;
/// Suffixes whose first index slots are read together.
const WAVE: usize = 6;
/// A name of at most 253 bytes has at most 127 labels.
const MAX_LABELS: usize = 128;

/// A list as the engine knows it.
#[derive(Debug, Clone)]
pub struct ListInfo {
    pub name: String,
    /// Bit `g` set: the list applies to group `g`.
    pub groups: u64,
    pub allow_list: bool,
}

/// A regex rule.
#[derive(Debug, Clone)]
pub struct RegexRule {
    pub list: ListId,
    pub line: u32,
    pub allow: bool,
    pub important: bool,
    pub pattern: String,
}

/// How a rule matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// An exact-name rule (hosts or plain line).
    Exact,
    /// A subtree rule (`||x^`, `*.x`) for the name or a parent of it.
    Subtree,
    Regex,
}

/// The rule that decided a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    pub list: ListId,
    /// 1-based line number in the list (saturates at 2^28 - 1).
    pub line: u32,
    pub how: How,
    /// Byte offset in the query name where the matched name starts (0 for regexes).
    pub at: u8,
}

/// The answer of the engine for a name and a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    NotListed,
    Blocked(Match),
    Allowed(Match),
}

impl Verdict {
    pub fn is_blocked(&self) -> bool {
        matches!(self, Verdict::Blocked(_))
    }
}

/// A rule that matches a name, for [`Engine::explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMatch {
    pub list: String,
    pub line: u32,
    /// The rule in list syntax: `a.com`, `||a.com^`, `@@||a.com^$important`, `/re/`.
    pub rule: String,
    pub allow: bool,
    /// Groups (bit `g` = group `g`) the rule applies to.
    pub groups: u64,
}

/// Why a name gets its verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub verdict: Verdict,
    /// The deciding rule, if any.
    pub decided_by: Option<RuleMatch>,
    /// Every rule of every list that matches the name, whatever its group.
    pub all: Vec<RuleMatch>,
}

/// The compiled lists. Build with [`EngineBuilder`] or [`super::compile`].
#[derive(Debug, Clone)]
pub struct Engine {
    arena: Vec<u8>,
    index: Table,
    /// Extra rules of names with more than one, sorted by the name's arena offset.
    overflow: Vec<(u32, Rec)>,
    /// Group mask per list, apart from `lists` to keep lookups in few cache lines.
    masks: Vec<u64>,
    lists: Vec<ListInfo>,
    /// Groups any list applies to: other groups skip the lookup.
    any_groups: u64,
    regex_groups: u64,
    regexes: Vec<RegexRule>,
    regex_set: Option<RegexSet>,
    names: usize,
    /// Bit `n` (capped at 63): some entry has `n` labels.
    any_labels: u64,
    /// Bit `n`: some subtree entry has `n` labels. Parents of other sizes are not looked up.
    subtree_labels: u64,
}

/// What [`EngineBuilder::finish`] hands over.
#[derive(Debug)]
pub(super) struct Parts {
    pub arena: Vec<u8>,
    pub index: Table,
    pub overflow: Vec<(u32, Rec)>,
    pub lists: Vec<ListInfo>,
    pub regexes: Vec<RegexRule>,
    pub regex_set: Option<RegexSet>,
    pub names: usize,
    pub any_labels: u64,
    pub subtree_labels: u64,
}

impl Default for Engine {
    fn default() -> Self {
        EngineBuilder::new().finish().0
    }
}

impl Engine {
    pub(super) fn from_parts(p: Parts) -> Engine {
        let masks: Vec<u64> = p.lists.iter().map(|l| l.groups).collect();
        let regex_groups = p.regexes.iter().fold(0, |m, r| m | masks[usize::from(r.list)]);
        let any_groups = masks.iter().fold(0, |m, g| m | g);
        Engine {
            arena: p.arena,
            index: p.index,
            overflow: p.overflow,
            masks,
            lists: p.lists,
            any_groups,
            regex_groups,
            regexes: p.regexes,
            regex_set: p.regex_set,
            names: p.names,
            any_labels: p.any_labels,
            subtree_labels: p.subtree_labels,
        }
    }

    /// The verdict for `name` asked by a client of `group`. `name` must be lower-case ASCII
    /// (punycode for internationalised names); a trailing dot is ignored.
    #[inline]
    pub fn lookup(&self, name: &[u8], group: GroupId) -> Verdict {
        let bit = group.bit();
        let name = name.strip_suffix(b".").unwrap_or(name);
        if self.any_groups & bit == 0 || name.is_empty() || name.len() > 253 {
            return Verdict::NotListed;
        }
        let mut starts = [0u8; MAX_LABELS];
        let mut labels = 1;
        for (i, &b) in name.iter().enumerate() {
            if b == b'.' && labels < MAX_LABELS {
                starts[labels] = (i + 1) as u8;
                labels += 1;
            }
        }
        let mut best: Option<(u8, Match)> = None;
        let mut wave = [(0u8, 0u64, 0u32); WAVE];
        let mut k = 0;
        while k < labels {
            // Hash the next few suffixes that may hold a rule and read their first index
            // slots before looking at any: the loads are independent, so their cache misses
            // overlap instead of adding up.
            let mut w = 0;
            while k < labels && w < WAVE {
                if self.may_hold(labels - k, k == 0) {
                    let at = starts[k];
                    let h = table::hash(self.index.seed(), &name[usize::from(at)..]);
                    wave[w] = (at, h, self.index.peek(h));
                    w += 1;
                }
                k += 1;
            }
            for &(at, h, first) in &wave[..w] {
                if first != 0 && self.probe(name, at, h, bit, &mut best) {
                    return Self::verdict(best);
                }
            }
        }
        if self.regex_groups & bit != 0 && best.is_none_or(|b| b.0 != TOP) {
            self.consider_regexes(name, bit, &mut best);
        }
        Self::verdict(best)
    }

    /// Looks up the suffix of `name` at `at`; true when a rule nothing can beat was found.
    #[inline]
    fn probe(&self, name: &[u8], at: u8, h: u64, bit: u64, best: &mut Option<(u8, Match)>) -> bool {
        if let Some(off) = self.index.find(h, &name[usize::from(at)..], &self.arena) {
            self.consider(off, at, bit, best);
        }
        best.is_some_and(|b| b.0 == TOP)
    }

    /// Whether a name of `labels` labels may have an entry: any entry for the query name
    /// itself (`whole`), a subtree entry for its parents.
    #[inline]
    fn may_hold(&self, labels: usize, whole: bool) -> bool {
        let mask = if whole { self.any_labels } else { self.subtree_labels };
        mask & (1u64 << labels.min(63)) != 0
    }

    fn verdict(best: Option<(u8, Match)>) -> Verdict {
        match best {
            None => Verdict::NotListed,
            Some((prio, m)) if prio & 1 == 1 => Verdict::Allowed(m),
            Some((_, m)) => Verdict::Blocked(m),
        }
    }

    /// Rules of the entry at `off` (its own record, then its overflow records).
    fn entry_rules(&self, off: u32) -> impl Iterator<Item = Rec> + '_ {
        let first = table::entry_rec(&self.arena, off);
        let extra = if first.more() {
            let start = self.overflow.partition_point(|e| e.0 < off);
            &self.overflow[start..]
        } else {
            &[]
        };
        std::iter::once(first).chain(extra.iter().take_while(move |e| e.0 == off).map(|e| e.1))
    }

    fn consider(&self, off: u32, at: u8, bit: u64, best: &mut Option<(u8, Match)>) {
        for rec in self.entry_rules(off) {
            if (at != 0 && !rec.subtree()) || self.masks[usize::from(rec.list)] & bit == 0 {
                continue;
            }
            let prio = (u8::from(rec.important()) << 1) | u8::from(rec.allow());
            if best.is_none_or(|b| prio > b.0) {
                let how = if rec.subtree() { How::Subtree } else { How::Exact };
                *best = Some((prio, Match { list: rec.list, line: rec.line(), how, at }));
            }
        }
    }

    fn consider_regexes(&self, name: &[u8], bit: u64, best: &mut Option<(u8, Match)>) {
        let Some(set) = &self.regex_set else { return };
        for i in set.matches(name).iter() {
            let r = &self.regexes[i];
            if self.masks[usize::from(r.list)] & bit == 0 {
                continue;
            }
            let prio = (u8::from(r.important) << 1) | u8::from(r.allow);
            if best.is_none_or(|b| prio > b.0) {
                *best = Some((prio, Match { list: r.list, line: r.line, how: How::Regex, at: 0 }));
            }
        }
    }

    /// The verdict for `name` (any case, Unicode allowed) and `group`, the rule that decided
    /// it, and every rule of any list or group that matches the name. Off the query path: it
    /// allocates.
    pub fn explain(&self, name: &str, group: GroupId) -> Explanation {
        let mut buf = Vec::new();
        let name = match super::parse::normalize(name.as_bytes(), &mut buf) {
            Ok(()) => String::from_utf8_lossy(&buf).into_owned(),
            Err(_) => name.trim_end_matches('.').to_ascii_lowercase(),
        };
        let verdict = self.lookup(name.as_bytes(), group);
        let mut all = Vec::new();
        let mut at = 0usize;
        while at <= name.len() && !name.is_empty() {
            let suffix = &name.as_bytes()[at..];
            let h = table::hash(self.index.seed(), suffix);
            if let Some(off) = self.index.find(h, suffix, &self.arena) {
                let rules = self.entry_rules(off).filter(|r| at == 0 || r.subtree());
                all.extend(rules.map(|r| self.describe(r, &name[at..])));
            }
            match suffix.iter().position(|&b| b == b'.') {
                Some(i) => at += i + 1,
                None => break,
            }
        }
        if let Some(set) = &self.regex_set {
            for i in set.matches(name.as_bytes()).iter() {
                let r = &self.regexes[i];
                let rule = format!("{}/{}/", if r.allow { "@@" } else { "" }, r.pattern);
                all.push(self.rule_match(r.list, r.line, rule, r.allow));
            }
        }
        let decided_by = match verdict {
            Verdict::NotListed => None,
            Verdict::Blocked(m) | Verdict::Allowed(m) => all.iter().find(|r| self.is_match(r, m)).cloned(),
        };
        Explanation { verdict, decided_by, all }
    }

    fn is_match(&self, r: &RuleMatch, m: Match) -> bool {
        r.line == m.line && r.list == self.lists[usize::from(m.list)].name
    }

    fn describe(&self, rec: Rec, name: &str) -> RuleMatch {
        let rule = match (rec.subtree(), rec.allow(), rec.important()) {
            (false, false, _) => name.to_string(),
            (false, true, _) => format!("@@{name}"),
            (true, allow, important) => {
                let allow = if allow { "@@" } else { "" };
                let important = if important { "$important" } else { "" };
                format!("{allow}||{name}^{important}")
            }
        };
        self.rule_match(rec.list, rec.line(), rule, rec.allow())
    }

    fn rule_match(&self, list: ListId, line: u32, rule: String, allow: bool) -> RuleMatch {
        let info = &self.lists[usize::from(list)];
        RuleMatch { list: info.name.clone(), line, rule, allow, groups: info.groups }
    }

    /// The lists, indexed by [`ListId`].
    pub fn lists(&self) -> &[ListInfo] {
        &self.lists
    }

    /// The name of list `id` (for logs and EDE texts).
    pub fn list_name(&self, id: ListId) -> &str {
        self.lists.get(usize::from(id)).map_or("", |l| l.name.as_str())
    }

    /// Distinct names stored.
    pub fn len(&self) -> usize {
        self.names
    }

    pub fn is_empty(&self) -> bool {
        self.names == 0 && self.regexes.is_empty()
    }

    /// Heap bytes held (regexes estimated from their pattern sizes).
    pub fn heap_bytes(&self) -> usize {
        let lists: usize = self.lists.iter().map(|l| size_of::<ListInfo>() + l.name.capacity()).sum();
        let regexes: usize = self.regexes.iter().map(|r| size_of::<RegexRule>() + 64 * r.pattern.len()).sum();
        self.arena.capacity()
            + self.index.heap_bytes()
            + self.overflow.capacity() * size_of::<(u32, Rec)>()
            + self.masks.capacity() * size_of::<u64>()
            + lists
            + regexes
    }
}
