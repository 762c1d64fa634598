//! Pi-hole regex entries → ravens regex rules.
//!
//! FTL compiles each entry as POSIX ERE (TRE, `REG_EXTENDED | REG_ICASE | REG_NOSUB`, see
//! FTL's src/regex.c) after cutting FTL options off at `;` (`;querytype=`, `;invert`,
//! `;reply=`; unknown options are ignored). ravens compiles `/.../` rules with the `regex`
//! crate, case-insensitive. Only match/no-match matters for blocking, so POSIX's
//! leftmost-longest rule makes no difference. What differs and is translated: bracket
//! expressions (a backslash is literal inside them in POSIX; `[`, `&`, `~` and `-` runs are
//! set syntax in Rust), `{,n}`, and GNU word boundaries `\<` `\>`. What cannot be expressed
//! is refused with the reason: back-references, collating elements and equivalence classes,
//! and every FTL option (ravens rules apply to every query type and answer with the group's
//! block response).

/// The ravens pattern for a Pi-hole regex entry, or why there is none.
pub fn translate(entry: &str) -> Result<String, String> {
    let mut parts = entry.split(';');
    let pattern = parts.next().unwrap_or_default();
    for opt in parts.map(str::trim).filter(|o| !o.is_empty()) {
        let lower = opt.to_ascii_lowercase();
        if lower.starts_with("querytype=") {
            return Err(format!("';{opt}' limits the rule to query types; ravens rules apply to every type"));
        }
        if lower == "invert" {
            return Err("';invert' (match what the regex does not match) has no ravens equivalent".into());
        }
        if lower.starts_with("reply=") {
            return Err(format!("';{opt}' sets a per-rule answer; ravens answers with the group's block_response"));
        }
        // FTL logs unknown options and ignores them; so does the import.
    }
    if pattern.is_empty() {
        return Err("empty regex (FTL ignores it too)".into());
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                let Some(&c) = chars.get(i + 1) else { return Err("trailing backslash".into()) };
                match c {
                    '1'..='9' => return Err(format!("back-reference \\{c} has no ravens equivalent")),
                    '<' => out.push_str(r"\b{start}"),
                    '>' => out.push_str(r"\b{end}"),
                    'w' | 'W' | 's' | 'S' | 'd' | 'D' | 'b' | 'B' | 'n' | 't' => {
                        out.push('\\');
                        out.push(c);
                    }
                    c if c.is_ascii_alphanumeric() => return Err(format!("escape \\{c} has no ravens equivalent")),
                    c => push_literal(&mut out, c),
                }
                i += 2;
            }
            '[' => i = bracket(&chars, i, &mut out)?,
            '{' => i = bound(&chars, i, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A literal character, escaped when Rust would read it as syntax.
fn push_literal(out: &mut String, c: char) {
    if regex_syntax_meta(c) {
        out.push('\\');
    }
    out.push(c);
}

fn regex_syntax_meta(c: char) -> bool {
    matches!(
        c,
        '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' | '#' | '&' | '-' | '~'
    )
}

/// `{n}`, `{n,}`, `{n,m}` and TRE's `{,m}` (= `{0,m}`).
fn bound(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let end = chars[start..].iter().position(|&c| c == '}').map(|p| start + p).ok_or("unclosed '{'")?;
    let body: String = chars[start + 1..end].iter().collect();
    let (lo, hi) = match body.split_once(',') {
        Some((lo, hi)) => (if lo.is_empty() { "0" } else { lo }, Some(hi)),
        None => (body.as_str(), None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if !digits(lo) || hi.is_some_and(|h| !h.is_empty() && !digits(h)) {
        return Err(format!("'{{{body}}}' is not a repetition bound"));
    }
    out.push('{');
    out.push_str(lo);
    if let Some(h) = hi {
        out.push(',');
        out.push_str(h);
    }
    out.push('}');
    Ok(end + 1)
}

/// A POSIX bracket expression from `chars[start] == '['`, written as a Rust class.
fn bracket(chars: &[char], start: usize, out: &mut String) -> Result<usize, String> {
    let mut i = start + 1;
    out.push('[');
    if chars.get(i) == Some(&'^') {
        out.push('^');
        i += 1;
    }
    let mut first = true;
    loop {
        let Some(&c) = chars.get(i) else { return Err("unclosed '['".into()) };
        match c {
            ']' if !first => {
                out.push(']');
                return Ok(i + 1);
            }
            '[' if matches!(chars.get(i + 1), Some(':' | '=' | '.')) => {
                let kind = chars[i + 1];
                let close = (i + 2..chars.len().saturating_sub(1))
                    .find(|&j| chars[j] == kind && chars[j + 1] == ']')
                    .ok_or("unclosed character class")?;
                let name: String = chars[i + 2..close].iter().collect();
                if kind != ':' {
                    return Err(format!(
                        "'[{kind}{name}{kind}]' (collating element / equivalence class) has no ravens equivalent"
                    ));
                }
                const CLASSES: [&str; 12] = [
                    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space", "upper",
                    "xdigit",
                ];
                if !CLASSES.contains(&name.as_str()) {
                    return Err(format!("unknown character class [:{name}:]"));
                }
                out.push_str(&format!("[:{name}:]"));
                i = close + 2;
            }
            // A range operator between two members stays; `-` first or last is literal.
            '-' if !first && chars.get(i + 1).is_some_and(|&n| n != ']') => {
                if chars.get(i + 1) == Some(&'-') || out.ends_with('-') {
                    return Err("'--' in a bracket expression is ambiguous".into());
                }
                out.push('-');
                i += 1;
            }
            c => {
                push_literal(out, c);
                i += 1;
            }
        }
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn translations() {
        assert_eq!(translate(r"^ad[0-9]+\.example\.com$").unwrap(), r"^ad[0-9]+\.example\.com$");
        assert_eq!(translate(r"[a\]x").unwrap(), r"[a\\]x");
        assert_eq!(translate(r"[]a]").unwrap(), r"[\]a]");
        assert_eq!(translate(r"x{,3}").unwrap(), r"x{0,3}");
        assert_eq!(translate(r"[[:digit:]&~]").unwrap(), r"[[:digit:]\&\~]");
        assert_eq!(translate(r"\<ads").unwrap(), r"\b{start}ads");
        assert!(translate("(^|\\.)tracker\\.;invert").unwrap_err().contains("invert"));
        assert!(translate("ads;querytype=AAAA").unwrap_err().contains("query types"));
        assert!(translate("ads;reply=nxdomain").unwrap_err().contains("answer"));
        assert!(translate(r"(a)\1").unwrap_err().contains("back-reference"));
        assert!(translate("[[=a=]]").unwrap_err().contains("equivalence"));
        assert_eq!(translate("ads;unknownopt").unwrap(), "ads");
    }

    /// The translations mean in Rust what the originals mean in POSIX ERE (case-insensitive).
    #[test]
    fn translations_match_what_posix_matches() {
        let re = |p: &str| regex::RegexBuilder::new(&translate(p).unwrap()).case_insensitive(true).build().unwrap();
        let backslash = re(r"^a[x\]b$");
        assert!(backslash.is_match("a\\b") && backslash.is_match("axb") && !backslash.is_match("a]b"));
        let bound = re("^x{,2}y$");
        assert!(bound.is_match("y") && bound.is_match("xxy") && !bound.is_match("xxxy"));
        let word = re(r"\<ads\.");
        assert!(word.is_match("ads.example") && word.is_match("x.ads.example") && !word.is_match("bads.example"));
        let set = re("^[a-c&~-]+$");
        assert!(set.is_match("a&~-c") && !set.is_match("d"));
        assert!(re("^ADS[[:digit:]]").is_match("ads1.example"));
    }
}
