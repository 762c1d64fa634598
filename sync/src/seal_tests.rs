//! Unit tests of the sealed datagram format.

use std::sync::Arc;

use super::*;

const NOW: u64 = 1_700_000_000_000;

fn ring(secret: &str) -> Keyring {
    Keyring::new(secret.as_bytes(), None, "home")
}

#[test]
fn round_trip_whole_and_fragment() {
    let tx = ring("s3cret");
    let mut rx = ring("s3cret");
    let frag = FragHeader { msg_id: 7, index: 1, count: 2 };
    let d = tx.seal(b"hello", frag, NOW);
    assert_eq!(d.len(), 5 + OVERHEAD);
    assert_eq!(rx.open(&d, NOW + 5).unwrap(), Opened { frag, plaintext: b"hello".to_vec() });
    let empty = tx.seal(b"", FragHeader::WHOLE, NOW);
    assert_eq!(rx.open(&empty, NOW).unwrap().plaintext, b"");
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let tx = ring("s3cret");
    let d = tx.seal(&[0x5a; 64], FragHeader::WHOLE, NOW);
    for byte in 0..d.len() {
        for bit in 0..8 {
            let mut bad = d.clone();
            bad[byte] ^= 1 << bit;
            let mut rx = ring("s3cret");
            assert!(rx.open(&bad, NOW).is_err(), "flip byte {byte} bit {bit} accepted");
        }
    }
}

#[test]
fn wrong_key_and_wrong_cluster_are_rejected() {
    let d = ring("s3cret").seal(b"x", FragHeader::WHOLE, NOW);
    let mut other = ring("other");
    assert!(matches!(other.open(&d, NOW), Err(Reject::WrongKey | Reject::BadTag)));
    let mut other_cluster = Keyring::new(b"s3cret", None, "office");
    assert!(other_cluster.open(&d, NOW).is_err());
}

#[test]
fn old_future_and_replayed_datagrams_are_rejected() {
    let tx = ring("k");
    let mut rx = ring("k");
    let d = tx.seal(b"x", FragHeader::WHOLE, NOW);
    assert_eq!(rx.open(&d, NOW + MAX_SKEW_MS + 1), Err(Reject::TooOld));
    assert_eq!(rx.open(&d, NOW - MAX_SKEW_MS - 1), Err(Reject::TooNew));
    assert!(rx.open(&d, NOW + MAX_SKEW_MS).is_ok());
    assert_eq!(rx.open(&d, NOW + 1), Err(Reject::Replay));
}

#[test]
fn previous_key_still_opens_during_rotation() {
    let old = ring("old");
    let new = Keyring::new(b"new", Some(b"old"), "home");
    let mut rx = Keyring::new(b"new", Some(b"old"), "home");
    assert!(rx.open(&old.seal(b"a", FragHeader::WHOLE, NOW), NOW).is_ok());
    assert!(rx.open(&new.seal(b"b", FragHeader::WHOLE, NOW), NOW).is_ok());
    // A node that has dropped the old key refuses it.
    let mut only_new = ring("new");
    assert!(only_new.open(&old.seal(b"c", FragHeader::WHOLE, NOW), NOW).is_err());
}

#[test]
fn truncations_and_garbage_never_panic_and_are_counted() {
    let stats = Arc::new(SealStats::default());
    let mut rx = Sealer::new(ring("k"), stats.clone());
    let d = ring("k").seal(&[1; 100], FragHeader::WHOLE, NOW);
    for len in 0..d.len() {
        assert!(rx.open(&d[..len], NOW).is_err());
    }
    let mut state = 0x1234_5678u32;
    for n in 0..2000usize {
        let buf: Vec<u8> = (0..n % 300)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        assert!(rx.open(&buf, NOW).is_err());
    }
    let c = stats.counts();
    assert_eq!(c.opened, 0);
    assert_eq!(c.rejected(), d.len() as u64 + 2000);
    assert!(c.truncated > 0 && c.malformed + c.wrong_key + c.bad_tag + c.too_old + c.too_new > 0);
}

#[test]
fn replay_cache_is_pruned_by_age() {
    let tx = ring("k");
    let mut rx = ring("k");
    for i in 0..3000u64 {
        rx.open(&tx.seal(b"x", FragHeader::WHOLE, NOW + i * 100), NOW + i * 100).unwrap();
    }
    // 3000 datagrams over 300 s: only those of the last 60 s may remain after pruning.
    assert!(rx.seen.len() < 1300, "{}", rx.seen.len());
}
