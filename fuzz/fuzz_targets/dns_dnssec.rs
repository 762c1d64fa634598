//! DNSSEC validation input (issue 16): what an upstream answers is attacker-controlled. The
//! input is length-prefixed messages (u16 big-endian each) that answer before the recorded
//! chain of `benches/data/dnssec-chain.txt` (so they may replace any answer of it, the
//! question's included); the first one's question is validated with the recorded root key.
//! Any bytes give a verdict or an error, never a panic or a hang; a DO=0 client's copy
//! (`strip_dnssec`) still parses; and the input as text is a trust anchor file that parses
//! or is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ravens_dns::dnssec::{anchor, canned::Canned, checker, judge, strip_dnssec};
use ravens_dns::upstream::Question;
use ravens_dns::wire;

const FIXTURE: &str = include_str!("../../benches/data/dnssec-chain.txt");

fuzz_target!(|data: &[u8]| {
    let _ = anchor::parse(&String::from_utf8_lossy(data));
    let mut lines = FIXTURE.lines();
    let anchors = anchor::dnskey_anchors(lines.next().unwrap()).unwrap();
    let mut msgs = Vec::new();
    let mut rest = data;
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        msgs.push(tail[..n].to_vec());
        rest = &tail[n..];
    }
    let Some(first) = msgs.first() else { return };
    let Ok(q) = wire::parse_query(first) else { return };
    let question = Question { name_wire: q.name_wire().to_vec(), qtype: q.qtype, qclass: q.qclass };
    if let Some(stripped) = strip_dnssec(first, q.qtype) {
        assert!(wire::parse_query(&stripped).is_ok(), "the stripped copy parses");
    }
    msgs.extend(lines.filter_map(ravens_config::text::unhex));
    let canned = Canned::new(&msgs);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let ch = checker(canned, anchors);
        let _ = judge(&ch, &question).await;
    });
});
