//! The HTTP side of DNS over HTTPS (RFC 8484), apart from any socket so it can be fuzzed:
//! a request's method, query string, content type and body → the DNS message, or the HTTP
//! status and reason it is refused with; and the cache lifetime of a reply.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::wire::{self, read_u16};

/// Media type of a DNS message over HTTP.
pub const DNS_MESSAGE: &str = "application/dns-message";
/// Largest DNS message accepted (a TCP-framed message cannot be longer).
pub const MAX_MESSAGE: usize = 65_535;

/// RFC 8484 §4.1 says base64url without padding; padded input is accepted as well.
const BASE64URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a request carries no DNS query: the HTTP status and a line for the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status}: {why}")]
pub struct Refusal {
    pub status: u16,
    pub why: &'static str,
}

const fn refuse(status: u16, why: &'static str) -> Refusal {
    Refusal { status, why }
}

/// The DNS message of a DoH request. `query` is the URI's query string (without `?`).
pub fn decode(method: &str, query: Option<&str>, content_type: Option<&str>, body: &[u8]) -> Result<Vec<u8>, Refusal> {
    let msg = match method {
        "GET" | "HEAD" => {
            let value = query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .find_map(|pair| pair.strip_prefix("dns="))
                .ok_or(refuse(400, "GET needs the query in the 'dns' parameter (base64url)"))?;
            if value.len() > MAX_MESSAGE * 4 / 3 + 4 {
                return Err(refuse(414, "the 'dns' parameter is longer than any DNS message"));
            }
            BASE64URL.decode(value).map_err(|_| refuse(400, "the 'dns' parameter is not base64url"))?
        }
        "POST" => {
            let media = content_type.map(|c| c.split(';').next().unwrap_or("").trim());
            if !media.is_some_and(|m| m.eq_ignore_ascii_case(DNS_MESSAGE)) {
                return Err(refuse(415, "POST needs Content-Type: application/dns-message"));
            }
            if body.len() > MAX_MESSAGE {
                return Err(refuse(413, "the body is longer than any DNS message"));
            }
            body.to_vec()
        }
        _ => return Err(refuse(405, "only GET and POST carry DNS queries")),
    };
    // A header at least; the resolver judges the rest as it does for UDP and TCP.
    if msg.len() < 12 {
        return Err(refuse(400, "the DNS message is shorter than a header"));
    }
    Ok(msg)
}

/// The freshness lifetime of a reply (RFC 8484 §5.1): the smallest TTL of its records,
/// OPT excluded; 0 for a reply without records or one that does not parse.
pub fn max_age(reply: &[u8]) -> u32 {
    let count = |at| read_u16(reply, at).map(usize::from).unwrap_or(0);
    let (qd, records) = (count(4), count(6) + count(8) + count(10));
    let mut pos = 12;
    for _ in 0..qd {
        match wire::skip_name(reply, pos) {
            Ok(p) => pos = p + 4,
            Err(_) => return 0,
        }
    }
    let mut min: Option<u32> = None;
    for _ in 0..records {
        let Ok((rr, next)) = wire::skip_record(reply, pos) else { return 0 };
        pos = next;
        if rr.rtype != 41 {
            min = Some(min.map_or(rr.ttl, |m| m.min(rr.ttl)));
        }
    }
    min.unwrap_or(0)
}

#[cfg(test)]
#[path = "doh_request_tests.rs"]
mod tests;
