//! Text helpers every crate shares: text from outside (names, host names, list lines, errors)
//! made safe to show (the DNS engine and dnsctl, which prints what nodes send), and the one
//! hex encoder, hex decoder and MAC parser.

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

/// `bytes` as lower-case hex pairs joined by `sep` (`""`, `":"`).
pub fn hex(bytes: &[u8], sep: &str) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep)
}

/// Hex bytes, optionally separated by `:`, `-` or spaces (what [`hex`] writes, and what
/// people type for DHCP options and reservation MACs); `None` unless every pair is hex.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits: String = s.chars().filter(|c| !matches!(c, ':' | '-' | ' ')).collect();
    if !digits.len().is_multiple_of(2) || !digits.is_ascii() {
        return None;
    }
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect()
}

/// A MAC address written `aa:bb:cc:dd:ee:ff` or `aa-bb-cc-dd-ee-ff`, any case: separators
/// required, so a group client entry is never taken for a MAC by accident.
pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let s = s.trim();
    let sep = if s.contains(':') { ':' } else { '-' };
    let mut out = [0u8; 6];
    let mut parts = s.split(sep);
    for b in &mut out {
        let p = parts.next()?;
        if p.len() != 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_and_separators() {
        assert_eq!(hex(&[0x01, 0xab], ":"), "01:ab");
        assert_eq!(unhex("01:ab"), Some(vec![0x01, 0xab]));
        assert_eq!(unhex("01-ab cd"), Some(vec![0x01, 0xab, 0xcd]));
        assert_eq!(unhex("01a"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("\u{e9}1"), None);
    }
}
