//! What the blocklist service reports of each list; the admin API maps it to its own types.

/// One block or allow list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListStatus {
    pub name: String,
    /// `block` or `allow`.
    pub kind: String,
    /// Path or URL.
    pub source: String,
    pub enabled: bool,
    /// Rules kept at the last compile.
    pub entries: u64,
    pub lines: u64,
    pub rejected: u64,
    /// The first rejected lines, each with the parser's reason.
    pub first_rejected: Vec<RejectedLine>,
    /// Unix seconds of the last successful download (URL lists).
    pub last_refresh: Option<u64>,
    /// Why the last download or read failed; the previous copy stays in use.
    pub last_error: Option<String>,
}

/// A list line that is not a rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedLine {
    /// 1-based line number.
    pub line: u64,
    /// The line, control characters escaped, cut to 120 characters.
    pub text: String,
    /// Why it is not a rule (e.g. "not UTF-8 text", "NUL byte (binary data?)").
    pub reason: String,
}
