//! Queries a recursive service answers itself rather than forwarding: classes other than IN
//! (class CH carries the server-identity names of RFC 4892, `version.bind`, `id.server`,
//! which would otherwise return the upstream's identity) and qtype ANY (RFC 8482).

use ravens_config::Chaos;

use crate::stats::Outcome;
use crate::wire::{self, Query, rcode};

pub const CLASS_IN: u16 = 1;
pub const CLASS_CH: u16 = 3;
pub const TYPE_ANY: u16 = 255;
const TYPE_TXT: u16 = 16;
const TYPE_HINFO: u16 = 13;
/// TTL of the synthesized RFC 8482 HINFO: an hour, so a client asking ANY again and again
/// keeps its answer rather than coming back (RFC 8482 §4.2 leaves it to local policy).
pub const ANY_TTL: u32 = 3600;
/// TTL of a CH identity answer: zero, so a client never keeps one node's name after the
/// other node of a pair took over the service address.
const CH_TTL: u32 = 0;

/// `hostname.bind` and `id.server` in wire form: the names that ask which server answered.
const IDENTITY_NAMES: [&[u8]; 2] = [b"\x08hostname\x04bind\x00", b"\x02id\x06server\x00"];

/// Answers a query whose class is not IN. Class CH: REFUSED, or under [`Chaos::Identity`]
/// a TXT with `node_name` for the identity names. Every other class (HS, NONE, ANY):
/// NOTIMP, since ravens implements only the Internet class: no policy refuses them, the
/// kind of query is simply not supported (RFC 1035 §4.1.1), and a stub may try elsewhere.
pub fn other_class(msg: &[u8], q: &Query, chaos: Chaos, node_name: &str, ours: u16, out: &mut Vec<u8>) -> Outcome {
    if q.qclass != CLASS_CH {
        wire::reply_skeleton(msg, q, rcode::NOTIMP, 0, ours, out);
        return Outcome::Notimp;
    }
    let asks_identity = (q.qtype == TYPE_TXT || q.qtype == TYPE_ANY) && IDENTITY_NAMES.contains(&q.name_wire());
    if chaos != Chaos::Identity || !asks_identity {
        wire::reply_skeleton(msg, q, rcode::REFUSED, 0, ours, out);
        return Outcome::Refused;
    }
    let text = &node_name.as_bytes()[..node_name.len().min(255)];
    let mut rdata = Vec::with_capacity(1 + text.len());
    rdata.push(text.len() as u8);
    rdata.extend_from_slice(text);
    wire::reply_start(msg, q, rcode::NOERROR, wire::AA, out);
    wire::push_answer(out, TYPE_TXT, CLASS_CH, CH_TTL, &rdata);
    finish(out, q, ours);
    Outcome::Local
}

/// Answers qtype ANY minimally (RFC 8482 §4.2): one synthesized HINFO "RFC8482" "", never
/// forwarded, so ravens cannot be used to fetch large ANY answers.
pub fn any(msg: &[u8], q: &Query, ours: u16, out: &mut Vec<u8>) -> Outcome {
    wire::reply_start(msg, q, rcode::NOERROR, 0, out);
    wire::push_answer(out, TYPE_HINFO, CLASS_IN, ANY_TTL, b"\x07RFC8482\x00");
    finish(out, q, ours);
    Outcome::Local
}

fn finish(out: &mut Vec<u8>, q: &Query, ours: u16) {
    if q.edns.is_some() {
        wire::push_opt(out, ours, q.dnssec_ok(), None);
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, ResponseCode};
    use hickory_proto::rr::{DNSClass, RData, RecordType};

    use super::*;
    use crate::wire::{build_query, name_from_text, parse_query};

    fn ask(name: &str, qtype: u16, class: u16, chaos: Chaos) -> (Outcome, Message) {
        let msg = build_query(7, &name_from_text(name).unwrap(), qtype, class, false, Some((1232, false)));
        let q = parse_query(&msg).unwrap();
        let mut out = Vec::new();
        let o = if class == CLASS_IN {
            any(&msg, &q, 1232, &mut out)
        } else {
            other_class(&msg, &q, chaos, "node-a", 1232, &mut out)
        };
        (o, Message::from_vec(&out).unwrap())
    }

    #[test]
    fn chaos_is_refused_by_default_and_identity_names_the_node() {
        for name in ["version.bind", "hostname.bind", "id.server", "version.server", "anything.example"] {
            let (o, m) = ask(name, TYPE_TXT, CLASS_CH, Chaos::Refuse);
            assert_eq!((o, m.metadata.response_code), (Outcome::Refused, ResponseCode::Refused), "{name}");
            assert!(m.metadata.recursion_available && m.answers.is_empty(), "{name}");
        }
        let (o, m) = ask("ID.Server", TYPE_TXT, CLASS_CH, Chaos::Identity);
        assert_eq!(o, Outcome::Local);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].dns_class, DNSClass::CH);
        let RData::TXT(txt) = &m.answers[0].data else { panic!("{m:?}") };
        assert_eq!(txt.to_string(), "node-a");
        assert!(m.edns.is_some(), "OPT follows the answer");
        let (o, _) = ask("version.bind", TYPE_TXT, CLASS_CH, Chaos::Identity);
        assert_eq!(o, Outcome::Refused, "the version is never told");
    }

    #[test]
    fn other_classes_are_not_implemented() {
        for class in [4, 254, 255] {
            let (o, m) = ask("a.example", 1, class, Chaos::Identity);
            assert_eq!((o, m.metadata.response_code), (Outcome::Notimp, ResponseCode::NotImp), "class {class}");
        }
    }

    #[test]
    fn any_gets_one_synthesized_hinfo() {
        let (o, m) = ask("example.com", TYPE_ANY, CLASS_IN, Chaos::Refuse);
        assert_eq!((o, m.metadata.response_code), (Outcome::Local, ResponseCode::NoError));
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.answers[0].record_type(), RecordType::HINFO);
        assert_eq!(m.answers[0].ttl, ANY_TTL);
        let RData::HINFO(h) = &m.answers[0].data else { panic!("{m:?}") };
        assert_eq!(&*h.cpu, b"RFC8482");
        assert!(h.os.is_empty());
    }
}
