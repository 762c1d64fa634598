//! The DoH request decoder (issue 15 part 4): any method byte, query string, content type and
//! body give a DNS message or an HTTP refusal, never a panic; the cache lifetime of any
//! "reply" is computed without a panic too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ravens_dns::server::doh_request::{decode, max_age};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let method = ["GET", "POST", "HEAD", "PUT"][usize::from(sel & 3)];
    let (head, body) = rest.split_at(rest.len().min(usize::from(sel >> 2) * 4));
    let head = String::from_utf8_lossy(head);
    let (query, ctype) = head.split_once('\n').unwrap_or((&head, "application/dns-message"));
    if let Ok(msg) = decode(method, Some(query), Some(ctype), body) {
        assert!(msg.len() >= 12);
    }
    let _ = max_age(body);
});
