use super::*;

/// `example.com A`, id 0 (RFC 8484 §4.1.1's example query).
const QUERY_B64: &str = "AAABAAABAAAAAAAAB2V4YW1wbGUDY29tAAABAAE";

fn query() -> Vec<u8> {
    BASE64URL.decode(QUERY_B64).unwrap()
}

#[test]
fn get_takes_the_dns_parameter_padded_or_not() {
    assert_eq!(decode("GET", Some(&format!("dns={QUERY_B64}")), None, b"").unwrap(), query());
    assert_eq!(decode("GET", Some(&format!("ct=x&dns={QUERY_B64}=")), None, b"").unwrap(), query());
}

#[test]
fn post_takes_the_body_with_the_right_media_type() {
    let q = query();
    assert_eq!(decode("POST", None, Some("application/dns-message"), &q).unwrap(), q);
    assert_eq!(decode("POST", None, Some("Application/DNS-Message; charset=x"), &q).unwrap(), q);
}

#[test]
fn bad_requests_get_the_fitting_status() {
    let q = query();
    let status = |r: Result<Vec<u8>, Refusal>| r.unwrap_err().status;
    assert_eq!(status(decode("GET", None, None, b"")), 400);
    assert_eq!(status(decode("GET", Some("dns=%%%"), None, b"")), 400);
    assert_eq!(status(decode("GET", Some("dns=AAAB"), None, b"")), 400, "shorter than a header");
    assert_eq!(status(decode("GET", Some(&format!("dns={}", "A".repeat(100_000))), None, b"")), 414);
    assert_eq!(status(decode("POST", None, Some("text/plain"), &q)), 415);
    assert_eq!(status(decode("POST", None, None, &q)), 415);
    assert_eq!(status(decode("POST", None, Some(DNS_MESSAGE), &vec![0; MAX_MESSAGE + 1])), 413);
    assert_eq!(status(decode("PUT", None, Some(DNS_MESSAGE), &q)), 405);
}

#[test]
fn max_age_is_the_smallest_ttl_without_opt() {
    let mut reply = query();
    reply[2] |= 0x80;
    reply[7] = 2; // ANCOUNT
    reply[11] = 1; // ARCOUNT
    for ttl in [300u32, 60] {
        reply.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        reply.extend_from_slice(&ttl.to_be_bytes());
        reply.extend_from_slice(&[0, 4, 192, 0, 2, 1]);
    }
    // OPT: root name, type 41, class 1232, "TTL" 0 (extended flags).
    reply.extend_from_slice(&[0, 0, 41, 4, 208, 0, 0, 0, 0, 0, 0]);
    assert_eq!(max_age(&reply), 60);
    assert_eq!(max_age(&query()), 0, "no records");
    assert_eq!(max_age(&reply[..reply.len() - 20]), 0, "truncated");
}
