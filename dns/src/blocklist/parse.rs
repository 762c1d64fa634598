//! List parsing: one line at a time, the format detected per line.
//!
//! Formats: hosts (`0.0.0.0 a.com b.com`), plain domains, adblock (`||a.com^`, `@@||a.com^`,
//! `||a.com^$important`), wildcards (`*.a.com`), regexes (`/.../`) and comments (`#`, `!`).
//! Hosts and plain lines match the exact name; `||x^` and `*.x` match x and every subdomain.
//! Names come out lower-case ASCII without the trailing dot, internationalised names in
//! punycode. Input is untrusted: lines are capped ([`MAX_LINE`]), anything we cannot read is
//! a rejected line, never a panic or an aborted list ([`read_list`]).

use std::io::{self, BufRead};
use std::net::IpAddr;

use super::report::{ListReport, Skip};

/// Longer lines are rejected without being buffered whole.
pub const MAX_LINE: usize = 4096;
/// Longer regexes are skipped: each one costs time on every lookup.
pub const MAX_REGEX: usize = 256;

/// Which names a rule covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The name itself.
    Exact,
    /// The name and every name below it.
    Subtree,
}

/// One rule out of a line. A hosts line may yield several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Name { name: &'a [u8], scope: Scope, allow: bool, important: bool },
    Regex { pattern: &'a str, allow: bool },
}

/// What a line was, besides the items it yielded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Blank line or comment.
    Nothing,
    /// This many items were yielded.
    Kept(u32),
    /// A valid rule of a kind we do not support.
    Skipped(Skip),
    /// Not a rule: the reason.
    Rejected(&'static str),
}

/// Parses lines; holds the scratch buffer normalised names are built in.
#[derive(Debug, Default)]
pub struct LineParser {
    name: Vec<u8>,
}

impl LineParser {
    /// Parses one line (without its newline). `allow_list` makes plain entries allow rules.
    /// Every item goes to `emit`; an `Err` from it rejects the line with that reason.
    pub fn parse(
        &mut self,
        line: &[u8],
        allow_list: bool,
        emit: &mut dyn FnMut(Item<'_>) -> Result<(), &'static str>,
    ) -> Outcome {
        let line = line.trim_ascii();
        match line.first() {
            None | Some(b'#' | b'!' | b'[') => return Outcome::Nothing,
            _ => {}
        }
        // Binary data is rejected up front with a reason that says so, rather than as
        // whatever name check its bytes happen to fail.
        if memchr::memchr(0, line).is_some() {
            return Outcome::Rejected("NUL byte (binary data?)");
        }
        if is_cosmetic(line) {
            return Outcome::Skipped(Skip::Cosmetic);
        }
        let (allow, rest) = match line.strip_prefix(b"@@") {
            Some(rest) => (true, rest),
            None => (allow_list, line),
        };
        if let Some(body) = rest.strip_prefix(b"||") {
            return self.adblock(body, allow, emit);
        }
        if rest.len() > 2 && rest[0] == b'/' && rest[rest.len() - 1] == b'/' {
            return regex(&rest[1..rest.len() - 1], allow, emit);
        }
        if rest.first() == Some(&b'|') || memchr::memmem::find(rest, b"://").is_some() {
            return Outcome::Skipped(Skip::Path);
        }
        self.hosts_or_plain(strip_comment(rest), allow, emit)
    }

    fn adblock(
        &mut self,
        body: &[u8],
        allow: bool,
        emit: &mut dyn FnMut(Item<'_>) -> Result<(), &'static str>,
    ) -> Outcome {
        let (pattern, options) = match body.iter().position(|&b| b == b'$') {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let mut important = false;
        for opt in options.into_iter().flat_map(|o| o.split(|&b| b == b',')) {
            match opt {
                b"important" => important = true,
                // Whole-site rules in browser syntax: at DNS level they mean the same.
                b"all" | b"document" | b"doc" => {}
                _ => return Outcome::Skipped(Skip::Options),
            }
        }
        let pattern = pattern.strip_suffix(b"|").unwrap_or(pattern);
        let pattern = pattern.strip_suffix(b"^").unwrap_or(pattern);
        if pattern.iter().any(|&b| matches!(b, b'/' | b':' | b'^' | b'?' | b'=' | b'&')) {
            return Outcome::Skipped(Skip::Path);
        }
        if pattern.contains(&b'*') {
            return Outcome::Skipped(Skip::Wildcard);
        }
        self.emit_name(pattern, Scope::Subtree, allow, important, emit)
    }

    fn hosts_or_plain(
        &mut self,
        line: &[u8],
        allow: bool,
        emit: &mut dyn FnMut(Item<'_>) -> Result<(), &'static str>,
    ) -> Outcome {
        // Checked after the comment is cut: hosts files in the wild have Latin-1 comments.
        if !line.is_ascii() && std::str::from_utf8(line).is_err() {
            return Outcome::Rejected("not UTF-8 text");
        }
        let mut tokens = line.split(|b| b.is_ascii_whitespace()).filter(|t| !t.is_empty());
        let Some(first) = tokens.next() else { return Outcome::Nothing };
        let is_ip = std::str::from_utf8(first).is_ok_and(|s| s.parse::<IpAddr>().is_ok());
        if !is_ip {
            if tokens.next().is_some() {
                return Outcome::Rejected("not a hosts line, a domain or an adblock rule");
            }
            return match first.strip_prefix(b"*.") {
                Some(name) if !name.contains(&b'*') => self.emit_name(name, Scope::Subtree, allow, false, emit),
                _ if first.contains(&b'*') => Outcome::Skipped(Skip::Wildcard),
                _ => self.emit_name(first, Scope::Exact, allow, false, emit),
            };
        }
        let (mut kept, mut local, mut bad) = (0, 0, None);
        for name in tokens {
            match self.emit_name(name, Scope::Exact, allow, false, emit) {
                Outcome::Kept(n) => kept += n,
                Outcome::Skipped(_) => local += 1,
                Outcome::Rejected(why) => bad = Some(why),
                Outcome::Nothing => {}
            }
        }
        match (kept, bad) {
            (0, Some(why)) => Outcome::Rejected(why),
            (0, None) if local > 0 => Outcome::Skipped(Skip::Local),
            (0, None) => Outcome::Rejected("hosts line without a name"),
            (n, _) => Outcome::Kept(n),
        }
    }

    /// Normalises `raw` and emits it; local names are skipped.
    fn emit_name(
        &mut self,
        raw: &[u8],
        scope: Scope,
        allow: bool,
        important: bool,
        emit: &mut dyn FnMut(Item<'_>) -> Result<(), &'static str>,
    ) -> Outcome {
        if let Err(why) = normalize(raw, &mut self.name) {
            return Outcome::Rejected(why);
        }
        if is_local(&self.name) {
            return Outcome::Skipped(Skip::Local);
        }
        match emit(Item::Name { name: &self.name, scope, allow, important }) {
            Ok(()) => Outcome::Kept(1),
            Err(why) => Outcome::Rejected(why),
        }
    }
}

fn regex(pattern: &[u8], allow: bool, emit: &mut dyn FnMut(Item<'_>) -> Result<(), &'static str>) -> Outcome {
    if pattern.len() > MAX_REGEX {
        return Outcome::Skipped(Skip::Regex);
    }
    let Ok(pattern) = std::str::from_utf8(pattern) else { return Outcome::Rejected("regex is not UTF-8") };
    match emit(Item::Regex { pattern, allow }) {
        Ok(()) => Outcome::Kept(1),
        Err(why) => Outcome::Rejected(why),
    }
}

/// Element hiding and HTML filtering rules: browser-only, meaningless for DNS. Markers `##`,
/// `#@#`, `#?#`, `#$#`, `#%#` and `$$`, found from each `#` and `$` (memchr, not a scan per
/// marker: this runs on every line of a file of garbage too).
fn is_cosmetic(line: &[u8]) -> bool {
    memchr::memchr2_iter(b'#', b'$', line).any(|i| {
        matches!(
            (line[i], line.get(i + 1), line.get(i + 2)),
            (b'#', Some(b'#'), _) | (b'$', Some(b'$'), _) | (b'#', Some(b'@' | b'?' | b'$' | b'%'), Some(b'#'))
        )
    })
}

/// Cuts a trailing `# comment` (hosts files allow them after the names).
fn strip_comment(line: &[u8]) -> &[u8] {
    match memchr::memchr(b'#', line) {
        Some(i) => line[..i].trim_ascii_end(),
        None => line,
    }
}

/// Names a hosts file maps for the machine itself; blocking them would break it.
fn is_local(name: &[u8]) -> bool {
    matches!(name, b"localhost" | b"localhost.localdomain" | b"local" | b"broadcasthost" | b"0.0.0.0")
        || name.starts_with(b"ip6-")
        || name.iter().all(|&b| b.is_ascii_digit() || b == b'.')
}

/// Writes the lower-case ASCII form of `raw` (punycode for internationalised names, no
/// trailing dot) into `out` and checks it is a DNS name.
pub fn normalize(raw: &[u8], out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.clear();
    let raw = raw.strip_suffix(b".").unwrap_or(raw);
    if raw.is_ascii() {
        out.extend(raw.iter().map(u8::to_ascii_lowercase));
    } else {
        let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8")?;
        let ascii = idna::domain_to_ascii(text).map_err(|_| "invalid internationalised name")?;
        out.extend_from_slice(ascii.as_bytes());
    }
    check_name(out)
}

/// A DNS name: labels of 1..=63 letters, digits, `-` or `_`, at most 253 bytes in all.
fn check_name(name: &[u8]) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty name");
    }
    if name.len() > 253 {
        return Err("name longer than 253 bytes");
    }
    for label in name.split(|&b| b == b'.') {
        if label.is_empty() || label.len() > 63 {
            return Err("empty or over-long label");
        }
        if !label.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err("character not allowed in a name");
        }
    }
    Ok(())
}

/// Reads a whole list, line by line, into `emit`, and reports on it. A read error ends the
/// list where it happened (what was read stays) and is recorded in the report.
pub fn read_list<R: BufRead>(
    mut input: R,
    allow_list: bool,
    report: &mut ListReport,
    emit: &mut dyn FnMut(Item<'_>, u64) -> Result<(), &'static str>,
) {
    let mut parser = LineParser::default();
    let mut on_line = |line: &[u8], too_long: bool| {
        report.lines += 1;
        let n = report.lines;
        let line = if n == 1 { line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line) } else { line };
        if too_long {
            report.reject(n, line, "line longer than 4096 bytes");
            return;
        }
        match parser.parse(line, allow_list, &mut |item| emit(item, n)) {
            Outcome::Nothing => {}
            Outcome::Kept(k) => report.entries += u64::from(k),
            Outcome::Skipped(skip) => report.skipped.add(skip),
            Outcome::Rejected(why) => report.reject(n, line, why),
        }
    };
    if let Err(e) = for_each_line(&mut input, &mut on_line) {
        report.error = Some(format!("read error after line {}: {e}", report.lines));
    }
}

/// Calls `f(line, too_long)` for each line; a line over [`MAX_LINE`] is passed truncated.
/// Lines inside the reader's buffer are passed without copying.
fn for_each_line<R: BufRead>(input: &mut R, f: &mut dyn FnMut(&[u8], bool)) -> io::Result<()> {
    let mut partial: Vec<u8> = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if !partial.is_empty() || too_long {
                f(trim_cr(&partial), too_long);
            }
            return Ok(());
        }
        let (chunk, end) = match memchr::memchr(b'\n', buf) {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        if let Some(used) = end
            && partial.is_empty()
            && !too_long
        {
            f(trim_cr(&chunk[..chunk.len().min(MAX_LINE + 1)]), chunk.len() > MAX_LINE);
            input.consume(used);
            continue;
        }
        let room = (MAX_LINE + 1).saturating_sub(partial.len());
        partial.extend_from_slice(&chunk[..chunk.len().min(room)]);
        too_long |= partial.len() > MAX_LINE;
        let used = end.unwrap_or(chunk.len());
        input.consume(used);
        if end.is_some() {
            f(trim_cr(&partial), too_long);
            partial.clear();
            too_long = false;
        }
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
pub(crate) mod tests;
