//! What loading a list found: lines read, entries kept, rejected lines (the first few with
//! their numbers and text), rules skipped because we do not support them, and a load error.

use std::fmt;

/// Rejected lines kept verbatim in a report; the rest are only counted.
pub const KEEP_REJECTED: usize = 5;
/// Rejected line text is cut to this many characters in a report.
const REJECTED_TEXT: usize = 120;

/// Why a valid rule was skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// `localhost`, `broadcasthost`, `ip6-*` and address-like names of hosts files.
    Local,
    /// Element hiding (`##`) and other browser-only rules.
    Cosmetic,
    /// Adblock rules with a path, scheme or query: they match URLs, not names.
    Path,
    /// Adblock rules with options other than `important`.
    Options,
    /// Wildcards other than a leading `*.`.
    Wildcard,
    /// Regexes that are too long or beyond the engine's regex budget.
    Regex,
}

/// Counts of skipped rules by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkipCounts {
    pub local: u64,
    pub cosmetic: u64,
    pub path: u64,
    pub options: u64,
    pub wildcard: u64,
    pub regex: u64,
}

impl SkipCounts {
    pub fn add(&mut self, skip: Skip) {
        let n = match skip {
            Skip::Local => &mut self.local,
            Skip::Cosmetic => &mut self.cosmetic,
            Skip::Path => &mut self.path,
            Skip::Options => &mut self.options,
            Skip::Wildcard => &mut self.wildcard,
            Skip::Regex => &mut self.regex,
        };
        *n += 1;
    }

    pub fn total(&self) -> u64 {
        self.local + self.cosmetic + self.path + self.options + self.wildcard + self.regex
    }
}

/// A rejected line, as kept in a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// 1-based line number.
    pub line: u64,
    /// The line, lossily decoded, control characters escaped, cut to 120 characters.
    pub text: String,
    pub reason: &'static str,
}

/// The result of loading one list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListReport {
    /// The list's name.
    pub name: String,
    /// Lines read.
    pub lines: u64,
    /// Rules kept (a hosts line with two names counts two).
    pub entries: u64,
    /// Lines that are not rules.
    pub rejected: u64,
    /// The first [`KEEP_REJECTED`] rejected lines.
    pub first_rejected: Vec<RejectedLine>,
    pub skipped: SkipCounts,
    /// The list could not be read (entirely, or past some line); what was read is used.
    pub error: Option<String>,
}

impl ListReport {
    pub fn new(name: &str) -> Self {
        ListReport { name: name.to_string(), ..Default::default() }
    }

    /// Counts a rejected line, keeping the first few.
    pub fn reject(&mut self, line: u64, text: &[u8], reason: &'static str) {
        self.rejected += 1;
        if self.first_rejected.len() < KEEP_REJECTED {
            let text = printable(text);
            self.first_rejected.push(RejectedLine { line, text, reason });
        }
    }
}

/// A line as kept in a report: lossily decoded, control characters escaped (rejected lines
/// of binary files end up on terminals, `dnsctl lists`, and in logs), cut to
/// [`REJECTED_TEXT`] characters in all.
fn printable(text: &[u8]) -> String {
    let mut out = String::new();
    let mut left = REJECTED_TEXT;
    for c in String::from_utf8_lossy(&text[..text.len().min(4 * REJECTED_TEXT)]).chars() {
        let escaped = c.is_control().then(|| c.escape_debug());
        let n = escaped.clone().map_or(1, Iterator::count);
        if n > left {
            break;
        }
        left -= n;
        match escaped {
            Some(e) => out.extend(e),
            None => out.push(c),
        }
    }
    out
}

impl fmt::Display for ListReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "list {}: {} lines, {} entries, {} rejected, {} skipped",
            self.name,
            self.lines,
            self.entries,
            self.rejected,
            self.skipped.total()
        )?;
        if let Some(e) = &self.error {
            write!(f, " ({e})")?;
        }
        for r in &self.first_rejected {
            write!(f, "; line {}: {} ({:?})", r.line, r.reason, r.text)?;
        }
        Ok(())
    }
}
