//! Names between wire form and text: the presentation form every shown name goes through,
//! and the wire form of a dotted name typed by a person or a test; and [`printable`], the
//! same escaping for text that did not come as a name (in `ravens-config`, which dnsctl
//! shares).

pub use ravens_config::text::printable;

/// A wire-format name (no compression) in presentation form, as `dig` prints it, without
/// the trailing dot (`"."` for the root): a `.` inside a label is `\.`, the characters
/// `" ( ) ; @ $ \` are backslash-escaped and every byte outside `!`..`~` is `\DDD` (decimal),
/// so the text is unambiguous and holds no control characters (a web page still escapes
/// HTML as it does for any text). A label cut
/// short (a name truncated for the query log) is shown as far as it goes.
///
/// Every place that shows a query name (query log, statistics, log file, API) goes through
/// this one function: names are untrusted bytes from the network.
pub fn name_to_text(wire: &[u8]) -> String {
    let mut out = String::with_capacity(wire.len() + 1);
    write_name_text(wire, &mut out);
    out
}

/// [`name_to_text`] into a caller's buffer (cleared first), to reuse one allocation.
pub fn write_name_text(wire: &[u8], out: &mut String) {
    out.clear();
    let mut i = 0;
    while let Some(&len) = wire.get(i) {
        if len == 0 || len & 0xC0 != 0 {
            break;
        }
        if !out.is_empty() {
            out.push('.');
        }
        let end = (i + 1 + len as usize).min(wire.len());
        for &b in &wire[i + 1..end] {
            match b {
                b'.' | b'"' | b'(' | b')' | b';' | b'@' | b'$' | b'\\' => {
                    out.push('\\');
                    out.push(b as char);
                }
                b'!'..=b'~' => out.push(b as char),
                _ => {
                    out.push('\\');
                    out.push(char::from(b'0' + b / 100));
                    out.push(char::from(b'0' + b / 10 % 10));
                    out.push(char::from(b'0' + b % 10));
                }
            }
        }
        i = end;
    }
    if out.is_empty() {
        out.push('.');
    }
}

/// Wire form of a dotted name (`"a.example"` → `\x01a\x07example\x00`), lower-cased.
/// Returns `None` for labels over 63 bytes or names over 255.
pub fn name_from_text(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_suffix('.').unwrap_or(text);
    let mut out = Vec::with_capacity(text.len() + 2);
    if !text.is_empty() {
        for label in text.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            out.push(label.len() as u8);
            out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
        }
    }
    out.push(0);
    (out.len() <= 255).then_some(out)
}
