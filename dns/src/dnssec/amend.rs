//! Where hickory 0.26.3's verdict differs from RFC 4035/5155 and from unbound (found by
//! tests/dnssec.rs, which compares the two on the same signed zones), corrected here.
//!
//! - A wildcard answer whose NSEC chain has the wildcard itself as an owner (the usual
//!   layout: `*.wild.example. NSEC www.example.`) is called bogus: hickory wants the
//!   wildcard's name *covered* by an NSEC, which would prove the wildcard absent. RFC 4035
//!   §5.3.4 asks only that the next closer name be covered; [`nsec_wildcard_secure`].
//! - A name error proven by an NSEC3 with the opt-out flag is called secure; RFC 5155 §9.2
//!   says an opt-out span cannot prove that an unsigned delegation is absent, and unbound
//!   answers it as insecure; [`opt_out_insecure`].

use hickory_proto::dnssec::Proof;
use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

/// Whether `msg`, a wildcard expansion hickory rejected, is secure: every answer record at
/// the query name secure, a secure RRSIG showing the expansion (fewer labels than the name),
/// and a secure NSEC covering the next closer name, whose next name is not below it (which
/// would make it an existing empty non-terminal).
pub fn nsec_wildcard_secure(msg: &Message, query: &Query) -> bool {
    if msg.metadata.response_code != ResponseCode::NoError {
        return false;
    }
    let qname = query.name();
    let at_name: Vec<_> = msg.answers.iter().filter(|r| &r.name == qname).collect();
    let data = at_name.iter().filter(|r| r.record_type() != RecordType::RRSIG);
    let mut any = false;
    for r in data {
        any = true;
        if r.proof != Proof::Secure
            || !matches!(r.record_type(), t if t == query.query_type() || t == RecordType::CNAME)
        {
            return false;
        }
    }
    let labels = at_name.iter().find_map(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) if sig.input().num_labels < qname.num_labels() => {
            Some(sig.input().num_labels)
        }
        _ => None,
    });
    let (true, Some(labels)) = (any, labels) else { return false };
    let next_closer = qname.trim_to(usize::from(labels) + 1);
    msg.authorities.iter().any(|r| match &r.data {
        RData::DNSSEC(DNSSECRData::NSEC(nsec)) if r.proof == Proof::Secure => {
            let (owner, next) = (&r.name, nsec.next_domain_name());
            let covers = next_closer > *owner && (next_closer < *next || (next <= owner && next.zone_of(&next_closer)));
            covers && !next_closer.zone_of(next) && !nsec.is_ancestor_delegation()
        }
        _ => false,
    })
}

/// Whether a name error (or a DS denial) rests on an opt-out NSEC3 span: insecure.
pub fn opt_out_insecure(msg: &Message, query: &Query) -> bool {
    let denial = msg.metadata.response_code == ResponseCode::NXDomain
        || (query.query_type() == RecordType::DS && msg.answers.is_empty());
    denial && msg.authorities.iter().any(|r| matches!(&r.data, RData::DNSSEC(DNSSECRData::NSEC3(n)) if n.opt_out()))
}
