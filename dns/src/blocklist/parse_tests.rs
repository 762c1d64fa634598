//! Line parser tests: every format, what is skipped, what is rejected, hostile input.

use super::*;
use crate::blocklist::report::KEEP_REJECTED;

/// Parses one line; returns the outcome and the items as (name, scope, allow, important)
/// or ("/re/", ..).
fn line(text: &[u8], allow_list: bool) -> (Outcome, Vec<(String, Scope, bool, bool)>) {
    let mut items = Vec::new();
    let mut emit = |item: Item<'_>| {
        items.push(match item {
            Item::Name { name, scope, allow, important } => {
                (String::from_utf8(name.to_vec()).unwrap(), scope, allow, important)
            }
            Item::Regex { pattern, allow } => (format!("/{pattern}/"), Scope::Exact, allow, false),
        });
        Ok(())
    };
    let outcome = LineParser::default().parse(text, allow_list, &mut emit);
    (outcome, items)
}

fn one(text: &str) -> (String, Scope, bool, bool) {
    let (outcome, items) = line(text.as_bytes(), false);
    assert_eq!(outcome, Outcome::Kept(1), "{text}");
    items.into_iter().next().unwrap()
}

fn outcome(text: &str) -> Outcome {
    line(text.as_bytes(), false).0
}

use Scope::{Exact, Subtree};

#[test]
fn hosts_lines() {
    let (o, items) = line(b"0.0.0.0 Ads.Example.COM.", false);
    assert_eq!(o, Outcome::Kept(1));
    assert_eq!(items, [("ads.example.com".into(), Exact, false, false)]);
    let (o, items) = line(b"127.0.0.1\ta.com  b.com # trackers\r", false);
    assert_eq!(o, Outcome::Kept(2));
    assert_eq!(items[1].0, "b.com");
    assert_eq!(one(":: v6.example").0, "v6.example");
    assert_eq!(one("::1 v6.example").0, "v6.example");
}

#[test]
fn hosts_local_names_are_skipped() {
    for l in ["127.0.0.1 localhost", "::1 ip6-localhost ip6-loopback", "255.255.255.255 broadcasthost"] {
        assert_eq!(outcome(l), Outcome::Skipped(Skip::Local), "{l}");
    }
    assert_eq!(outcome("0.0.0.0 0.0.0.0"), Outcome::Skipped(Skip::Local));
    assert_eq!(outcome("localhost"), Outcome::Skipped(Skip::Local));
    assert_eq!(line(b"127.0.0.1 localhost real.example", false).0, Outcome::Kept(1));
}

#[test]
fn plain_and_wildcard() {
    assert_eq!(one("tracker.example"), ("tracker.example".into(), Exact, false, false));
    assert_eq!(one("tracker.example # why"), ("tracker.example".into(), Exact, false, false));
    assert_eq!(one("*.wild.example"), ("wild.example".into(), Subtree, false, false));
    assert_eq!(outcome("ads*.example"), Outcome::Skipped(Skip::Wildcard));
    assert_eq!(outcome("*.*.example"), Outcome::Skipped(Skip::Wildcard));
}

#[test]
fn adblock_rules() {
    assert_eq!(one("||ads.example^"), ("ads.example".into(), Subtree, false, false));
    assert_eq!(one("@@||ok.example^"), ("ok.example".into(), Subtree, true, false));
    assert_eq!(one("||imp.example^$important"), ("imp.example".into(), Subtree, false, true));
    assert_eq!(one("||doc.example^$document"), ("doc.example".into(), Subtree, false, false));
    assert_eq!(one("||noanchor.example"), ("noanchor.example".into(), Subtree, false, false));
    assert_eq!(one("@@plain.example"), ("plain.example".into(), Exact, true, false));
    assert_eq!(outcome("||ads.example^$third-party"), Outcome::Skipped(Skip::Options));
    assert_eq!(outcome("||ads.example/banner.js"), Outcome::Skipped(Skip::Path));
    assert_eq!(outcome("||ads.example^*/x"), Outcome::Skipped(Skip::Path));
    assert_eq!(outcome("|https://ads.example/"), Outcome::Skipped(Skip::Path));
    assert_eq!(outcome("||*.ads.example^"), Outcome::Skipped(Skip::Wildcard));
    assert_eq!(outcome("example.com##.banner"), Outcome::Skipped(Skip::Cosmetic));
    assert_eq!(outcome("example.com#@#.banner"), Outcome::Skipped(Skip::Cosmetic));
    assert_eq!(outcome("##.banner"), Outcome::Nothing, "a comment line");
    for l in ["example.com#?#div:has(a)", "example.com#$#body { x }", "example.com#%#//js", "example.com$$script"] {
        assert_eq!(outcome(l), Outcome::Skipped(Skip::Cosmetic), "{l}");
    }
    assert_eq!(one("0.0.0.0 a.example # $ note #"), ("a.example".into(), Exact, false, false));
}

#[test]
fn allow_lists_make_plain_entries_allow() {
    let (_, items) = line(b"ok.example", true);
    assert_eq!(items, [("ok.example".into(), Exact, true, false)]);
    let (_, items) = line(b"||ok.example^", true);
    assert_eq!(items, [("ok.example".into(), Subtree, true, false)]);
}

#[test]
fn regexes() {
    assert_eq!(one("/^ad[0-9]+\\./"), ("/^ad[0-9]+\\./".into(), Exact, false, false));
    assert!(one("@@/^ok\\./").2);
    let long = format!("/{}/", "a".repeat(MAX_REGEX + 1));
    assert_eq!(outcome(&long), Outcome::Skipped(Skip::Regex));
}

#[test]
fn comments_and_blanks() {
    for l in ["", "   ", "# hosts comment", "! adblock comment", "[Adblock Plus 2.0]", "\t# x"] {
        assert_eq!(outcome(l), Outcome::Nothing, "{l:?}");
    }
}

#[test]
fn internationalised_names_become_punycode() {
    assert_eq!(one("bücher.example").0, "xn--bcher-kva.example");
    assert_eq!(one("||BÜCHER.example^").0, "xn--bcher-kva.example");
    assert_eq!(one("0.0.0.0 münchen.de").0, "xn--mnchen-3ya.de");
    assert_eq!(one("xn--bcher-kva.example").0, "xn--bcher-kva.example");
}

#[test]
fn malformed_lines_are_rejected() {
    for l in ["a..b", "-x!", "has space inside words", "a.b/c", "é\u{0}x", ".lead", "0.0.0.0 bad!name"] {
        assert!(matches!(outcome(l), Outcome::Rejected(_)), "{l:?}: {:?}", outcome(l));
    }
    assert!(matches!(line(b"\xff\xfe\x00bin", false).0, Outcome::Rejected(_)));
    assert!(matches!(outcome(&format!("{}.com", "a".repeat(64))), Outcome::Rejected(_)));
    assert!(matches!(outcome(&format!("{}com", "abcdefghi.".repeat(26))), Outcome::Rejected(_)));
}

#[test]
fn binary_and_other_encodings_say_so() {
    assert_eq!(line(b"ads\x00.example", false).0, Outcome::Rejected("NUL byte (binary data?)"));
    assert_eq!(line(b"\x7fELF\x02\x01\x01\x00", false).0, Outcome::Rejected("NUL byte (binary data?)"));
    assert_eq!(line(b"caf\xe9.example", false).0, Outcome::Rejected("not UTF-8 text"));
    assert_eq!(line(b"0.0.0.0 a\xff.example b.example", false).0, Outcome::Rejected("not UTF-8 text"));
    // A Latin-1 comment after a hosts entry does not cost the entry; a comment line is ignored.
    assert_eq!(line(b"0.0.0.0 a.example # caf\xe9", false).0, Outcome::Kept(1));
    assert_eq!(line(b"# caf\xe9 \x00", false).0, Outcome::Nothing);
}

#[test]
fn rejected_text_is_printable() {
    let (r, _) = read(b"\x1b[31mred\x00\n\xff\xfe\tx\n");
    assert_eq!(r.rejected, 2);
    assert_eq!(r.first_rejected[0].text, "\\u{1b}[31mred\\0");
    assert_eq!(r.first_rejected[1].text, "\u{fffd}\u{fffd}\\tx");
    assert!(r.first_rejected.iter().all(|l| !l.text.chars().any(char::is_control)));
    let (r, _) = read(&[0u8; 5000]);
    assert_eq!(r.first_rejected[0].text, "\\0".repeat(60), "escapes count toward the 120 characters");
}

fn read(input: &[u8]) -> (ListReport, Vec<(String, u64)>) {
    let mut report = ListReport::new("t");
    let mut names = Vec::new();
    let mut emit = |item: Item<'_>, n: u64| {
        if let Item::Name { name, .. } = item {
            names.push((String::from_utf8_lossy(name).into_owned(), n));
        }
        Ok(())
    };
    read_list(input, false, &mut report, &mut emit);
    (report, names)
}

#[test]
fn read_list_counts_and_keeps_first_rejected() {
    let text =
        b"\xEF\xBB\xBFa.example\r\n# c\nbad name here\n0.0.0.0 b.example c.example\n\xff\xff\n||x^$popup\nd.example";
    let (r, names) = read(text);
    assert_eq!((r.lines, r.entries, r.rejected, r.skipped.options), (7, 4, 2, 1));
    assert_eq!(names.iter().map(|n| n.1).collect::<Vec<_>>(), [1, 4, 4, 7]);
    assert_eq!(r.first_rejected[0].line, 3);
    assert_eq!(r.first_rejected[0].text, "bad name here");
    assert_eq!(r.first_rejected[1].line, 5);
    assert!(r.error.is_none());
    assert!(r.to_string().contains("line 3"), "{r}");
}

#[test]
fn empty_input() {
    let (r, names) = read(b"");
    assert_eq!((r.lines, r.entries, r.rejected), (0, 0, 0));
    assert!(names.is_empty());
}

#[test]
fn huge_line_is_rejected_and_the_list_goes_on() {
    let mut text = b"a.example\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', 3 << 20));
    text.extend_from_slice(b"\nb.example\n");
    text.extend(std::iter::repeat_n(b'y', MAX_LINE + 1));
    let (r, names) = read(&text);
    assert_eq!((r.lines, r.entries, r.rejected), (4, 2, 2));
    assert_eq!(names[1], ("b.example".into(), 3));
    assert_eq!(r.first_rejected[0].reason, "line longer than 4096 bytes");
    assert!(r.first_rejected[0].text.len() <= 120);
    // A line of exactly MAX_LINE bytes is read (and rejected only as a bad name).
    let (r, _) = read(&vec![b'z'; MAX_LINE]);
    assert_eq!(r.first_rejected[0].reason, "name longer than 253 bytes");
}

#[test]
fn huge_line_across_small_buffers() {
    // A tiny BufReader makes lines straddle buffer refills.
    let mut text = b"a.example\n".to_vec();
    text.extend(std::iter::repeat_n(b'x', 10_000));
    text.extend_from_slice(b"\nb.example\nc.exam");
    text.extend_from_slice(b"ple");
    let mut report = ListReport::new("t");
    let mut names = Vec::new();
    let mut emit = |item: Item<'_>, n: u64| {
        if let Item::Name { name, .. } = item {
            names.push((String::from_utf8_lossy(name).into_owned(), n));
        }
        Ok(())
    };
    read_list(io::BufReader::with_capacity(7, &text[..]), false, &mut report, &mut emit);
    assert_eq!(report.rejected, 1);
    let got: Vec<&str> = names.iter().map(|n| n.0.as_str()).collect();
    assert_eq!(got, ["a.example", "b.example", "c.example"]);
}

/// A small xorshift generator: the garbage tests need no crate and stay reproducible.
pub(crate) fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_le_bytes());
    }
    out.truncate(len);
    out
}

#[test]
fn megabytes_of_random_garbage_never_panic() {
    let (r, _) = read(&garbage(4 << 20, 0x1234_5678_9abc_def1));
    assert!(r.lines > 10_000, "{r}");
    assert!(r.rejected > 0 && r.first_rejected.len() == KEEP_REJECTED);
    assert!(r.error.is_none());
    // Printable garbage: many short "names", dots and spaces.
    let printable: Vec<u8> = garbage(2 << 20, 42).iter().map(|b| b" .a-z#|^$@/*\n0:9"[usize::from(b % 16)]).collect();
    let (r, _) = read(&printable);
    assert!(r.lines > 1000 && r.rejected > 0, "{r}");
}

struct FailingReader(usize);

impl io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        self.0 -= 1;
        let line = b"ok.example\n";
        buf[..line.len()].copy_from_slice(line);
        Ok(line.len())
    }
}

#[test]
fn read_error_keeps_what_was_read() {
    let mut report = ListReport::new("t");
    let mut n = 0;
    read_list(io::BufReader::new(FailingReader(3)), false, &mut report, &mut |_, _| {
        n += 1;
        Ok(())
    });
    assert_eq!((n, report.entries), (3, 3));
    assert!(report.error.as_deref().unwrap().contains("disk on fire"));
}
