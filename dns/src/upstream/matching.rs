//! Does a reply answer our query? ID, QR bit and the question must all match
//! (RFC 5452 §9.1); anything else is dropped and counted as a mismatch.

use crate::wire;

/// The question an upstream reply must echo.
#[derive(Debug, Clone)]
pub struct Question {
    pub name_wire: Vec<u8>,
    pub qtype: u16,
    pub qclass: u16,
}

/// True when `reply` is a response with `id` to exactly `q` (names compared case-insensitively).
pub fn reply_matches(reply: &[u8], id: u16, q: &Question, scratch: &mut Vec<u8>) -> bool {
    if reply.len() < wire::HEADER_LEN || reply[2] & 0x80 == 0 {
        return false;
    }
    if wire::read_u16(reply, 0) != Ok(id) || wire::read_u16(reply, 4) != Ok(1) {
        return false;
    }
    if wire::read_name(reply, wire::HEADER_LEN, scratch).is_err() || *scratch != q.name_wire {
        return false;
    }
    let Ok(end) = wire::skip_name(reply, wire::HEADER_LEN) else { return false };
    wire::read_u16(reply, end) == Ok(q.qtype) && wire::read_u16(reply, end + 2) == Ok(q.qclass)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = wire::build_query(id, &wire::name_from_text(name).unwrap(), qtype, 1, false, None);
        m[2] |= 0x80;
        m
    }

    #[test]
    fn matches_only_the_same_id_and_question() {
        let q = Question { name_wire: wire::name_from_text("a.test").unwrap(), qtype: 1, qclass: 1 };
        let mut s = Vec::new();
        assert!(reply_matches(&reply(7, "A.TEST", 1), 7, &q, &mut s));
        assert!(!reply_matches(&reply(8, "a.test", 1), 7, &q, &mut s), "wrong id");
        assert!(!reply_matches(&reply(7, "b.test", 1), 7, &q, &mut s), "wrong name");
        assert!(!reply_matches(&reply(7, "a.test", 28), 7, &q, &mut s), "wrong type");
        let mut query = reply(7, "a.test", 1);
        query[2] &= 0x7F;
        assert!(!reply_matches(&query, 7, &q, &mut s), "not a response");
        assert!(!reply_matches(&[0; 5], 7, &q, &mut s));
    }
}
