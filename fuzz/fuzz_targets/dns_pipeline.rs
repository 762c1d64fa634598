//! The whole synchronous query pipeline on arbitrary bytes: never panics, and every reply it
//! produces is a well-formed response to the same ID.
#![no_main]
use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use ravens_dns::{Resolver, State, Step, Transport};

fn resolver() -> &'static Resolver {
    static R: OnceLock<Resolver> = OnceLock::new();
    R.get_or_init(|| {
        let text = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n[[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.0.1.10\"\n";
        let cfg = ravens_config::parse_with(text, "fuzz", &String::new).unwrap();
        Resolver::new(State::new(Arc::new(cfg)).unwrap())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let src = "127.0.0.1:5000".parse().unwrap();
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Step::Reply = resolver().handle(data, src, transport, &mut out) {
            assert!(out.len() >= 12);
            assert_eq!(&out[..2], &data[..2], "reply carries the query ID");
            assert!(out[2] & 0x80 != 0, "QR set");
            if transport == Transport::Udp {
                assert!(out.len() <= 1232.max(512) + 64);
            }
        }
    }
});
