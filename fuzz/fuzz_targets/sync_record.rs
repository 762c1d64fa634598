//! Replicated record decoding on arbitrary text (`key\nencoded value`): never panics; a decoded
//! record re-encodes and decodes to itself, and merges into a replica.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ravens_dhcp::failover::lease_expiry_ms;
use ravens_sync::{Record, Replica};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (key, encoded) = text.split_once('\n').unwrap_or(("l/lan/0a", text));
    let Ok(rec) = Record::decode_value(key, encoded) else { return };
    let again = Record::decode_value(key, &rec.encode_value()).expect("an encoded record decodes");
    assert_eq!(again, rec);
    let _ = lease_expiry_ms(&rec.value);
    let mut replica = Replica::new();
    assert!(replica.apply(rec.clone()).is_some(), "the first entry of a key wins");
    assert_eq!(replica.winner(key), Some(&rec));
    assert!(replica.apply(rec).is_none(), "the same entry again changes nothing");
});
