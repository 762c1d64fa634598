//! Sealed gossip datagrams on arbitrary bytes, with a fixed key ring: opening never panics,
//! whether at a fixed time or at the time the bytes claim (past the clock checks, into the key
//! lookup and the AEAD); the bytes sealed as a plaintext open back to themselves, once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ravens_sync::seal::{FragHeader, Keyring, Reject};

const NOW: u64 = 1_700_000_000_000;

fuzz_target!(|data: &[u8]| {
    let mut ring = Keyring::new(b"fuzz secret, current", Some(b"fuzz secret, previous"), "fuzz");
    let _ = ring.open(data, NOW);
    if let Some(sent) = data.get(2..10) {
        let sent = u64::from_be_bytes(sent.try_into().unwrap());
        assert!(ring.open(data, sent).is_err(), "random bytes never authenticate");
    }
    let frag = match data {
        [a, b, c, d, index, count, ..] if index < count => {
            FragHeader { msg_id: u32::from_be_bytes([*a, *b, *c, *d]), index: *index, count: *count }
        }
        _ => FragHeader::WHOLE,
    };
    let sealed = ring.seal(data, frag, NOW);
    let opened = ring.open(&sealed, NOW + 1).expect("a fresh seal opens");
    assert_eq!(opened.frag, frag);
    assert_eq!(opened.plaintext, data);
    assert_eq!(ring.open(&sealed, NOW + 2), Err(Reject::Replay));
});
