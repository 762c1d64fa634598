//! Text from outside (names, host names, list lines, errors) made safe to show: shared by
//! the DNS engine and dnsctl, which prints what nodes send.

use std::borrow::Cow;

/// `text` with every control character (C0, DEL, C1: an escape byte starts a terminal
/// command) written as `\DDD`, its UTF-8 bytes in decimal as `ravens_dns::wire::name_to_text` writes them.
/// Borrowed when there is none, which is nearly always.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("\\{b:03}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
