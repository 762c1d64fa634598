//! DNSSEC records out of an answer for a client that did not set DO (RFC 4035 §3.2.1: a
//! validating forwarder asks with DO=1 whatever the client asked).

use hickory_proto::op::Message;
use hickory_proto::rr::{Record, RecordType};

/// `reply` without RRSIG, NSEC and NSEC3 records (unless the question asked for that type),
/// re-encoded: dropping records in place could break compression pointers into them.
/// `None` when it does not parse or encode (the caller keeps the reply as it is).
pub fn strip_dnssec(reply: &[u8], qtype: u16) -> Option<Vec<u8>> {
    let mut msg = Message::from_vec(reply).ok()?;
    let qtype = RecordType::from(qtype);
    let keep = |r: &Record| {
        let t = r.record_type();
        t == qtype || !matches!(t, RecordType::RRSIG | RecordType::NSEC | RecordType::NSEC3)
    };
    msg.answers.retain(keep);
    msg.authorities.retain(keep);
    msg.additionals.retain(keep);
    msg.to_vec().ok()
}
