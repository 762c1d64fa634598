//! parse_query on arbitrary bytes; a parsed query re-encodes and re-parses to the same question.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ravens_dns::wire;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = wire::parse_query(data) {
        let again = wire::build_query(q.id, q.name_wire(), q.qtype, q.qclass, q.checking_disabled(), q.edns.map(|e| (e.udp_size, e.dnssec_ok)));
        let q2 = wire::parse_query(&again).expect("our own encoding parses");
        assert_eq!(q2.name_wire(), q.name_wire());
        assert_eq!((q2.qtype, q2.qclass, q2.id), (q.qtype, q.qclass, q.id));
    }
});
