//! Who answers a DHCP client: the RFC 3074 load-balancing hash maps a client id to one of 256
//! buckets, and rendezvous (highest-random-weight) hashing gives each bucket to one of the
//! serving nodes. Rendezvous hashing moves only the buckets of a node that leaves, so a
//! takeover or hand-back never reshuffles the clients of the other nodes (docs/ARCHITECTURE.md
//! §7).

/// Number of buckets (RFC 3074 hashes to one byte).
pub const BUCKETS: usize = 256;

/// The RFC 3074 §6 mixing table (a permutation of 0..=255).
const MIX: [u8; 256] = [
    251, 175, 119, 215, 81, 14, 79, 191, 103, 49, 181, 143, 186, 157, 0, 232, 31, 32, 55, 60, 152, 58, 17, 237, 174,
    70, 160, 144, 220, 90, 57, 223, 59, 3, 18, 140, 111, 166, 203, 196, 134, 243, 124, 95, 222, 179, 197, 65, 180, 48,
    36, 15, 107, 46, 233, 130, 165, 30, 123, 161, 209, 23, 97, 16, 40, 91, 219, 61, 100, 10, 210, 109, 250, 127, 22,
    138, 29, 108, 244, 67, 207, 9, 178, 204, 74, 98, 126, 249, 167, 116, 34, 77, 193, 200, 121, 5, 20, 113, 71, 35,
    128, 13, 182, 94, 25, 226, 227, 199, 75, 27, 41, 245, 230, 224, 43, 225, 177, 26, 155, 150, 212, 142, 218, 115,
    241, 73, 88, 105, 39, 114, 62, 255, 192, 201, 145, 214, 168, 158, 221, 148, 154, 122, 12, 84, 82, 163, 44, 139,
    228, 236, 205, 242, 217, 11, 187, 146, 159, 64, 86, 239, 195, 42, 106, 198, 118, 112, 184, 172, 87, 2, 173, 117,
    176, 229, 247, 253, 137, 185, 99, 164, 102, 147, 45, 66, 231, 52, 141, 211, 194, 206, 246, 238, 56, 110, 78, 248,
    63, 240, 189, 93, 92, 51, 53, 183, 19, 171, 72, 50, 33, 104, 101, 69, 8, 252, 83, 120, 76, 135, 85, 54, 202, 125,
    188, 213, 96, 235, 136, 208, 162, 129, 190, 132, 156, 38, 47, 1, 7, 254, 24, 4, 216, 131, 89, 21, 28, 133, 37, 153,
    149, 80, 170, 68, 6, 169, 234, 151,
];

/// RFC 3074 `loadb_p_hash`: Pearson hash seeded with the length, over the bytes from last to
/// first. `client_id` is option 61 when present, else the hardware address (RFC 3074 §5).
pub fn bucket_of(client_id: &[u8]) -> u8 {
    // The RFC seeds with the length as an unsigned char, so it wraps past 255.
    let mut hash = client_id.len() as u8;
    for &b in client_id.iter().rev() {
        hash = MIX[usize::from(hash ^ b)];
    }
    hash
}

/// The node (among `nodes`) that serves `bucket`: the highest rendezvous score, ties to the
/// higher id. `None` when `nodes` is empty.
pub fn bucket_owner<'a>(bucket: u8, nodes: &[&'a str]) -> Option<&'a str> {
    nodes.iter().copied().max_by_key(|n| (score(n, bucket), *n))
}

/// Rendezvous weight of (node, bucket): FNV-1a of the id mixed with the bucket through the
/// splitmix64 finaliser. Fixed arithmetic (no `std` hasher), so every build and platform
/// agrees.
fn score(node: &str, bucket: u8) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in node.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ (u64::from(bucket) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// `secs` (DHCP header) at or above which any node may answer: a client that has been trying
/// this long is not being served by its bucket's owner.
pub const ANSWER_ANYWAY_SECS: u16 = 3;

/// Pure "who answers" rule: `me` answers when `secs` ≥ 3, or when it owns the client's bucket
/// among `serving` (the nodes that currently own buckets; see [`super::takeover`]).
pub fn should_answer_among(me: &str, serving: &[&str], client_id: &[u8], secs: u16) -> bool {
    secs >= ANSWER_ANYWAY_SECS || bucket_owner(bucket_of(client_id), serving) == Some(me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixing_table_is_a_permutation() {
        let mut seen = [false; 256];
        for &v in &MIX {
            assert!(!seen[usize::from(v)], "duplicate {v}");
            seen[usize::from(v)] = true;
        }
    }

    #[test]
    fn hash_is_deterministic_and_known() {
        // Worked by hand from the table: len 1 → hash 1; 1 ^ 0 = 1 → MIX[1] = 175.
        assert_eq!(bucket_of(&[0]), 175);
        assert_eq!(bucket_of(&[]), 0);
        let mac = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
        assert_eq!(bucket_of(&mac), bucket_of(&mac));
    }

    #[test]
    fn clients_spread_evenly_over_buckets_and_nodes() {
        let mut per_bucket = [0u32; BUCKETS];
        let mut per_node = [0u32; 2];
        for i in 0..25_600u32 {
            let mac = [0x02, 0, (i >> 16) as u8, (i >> 8) as u8, i as u8, 0x11];
            let b = bucket_of(&mac);
            per_bucket[usize::from(b)] += 1;
            per_node[usize::from(bucket_owner(b, &["a", "b"]) == Some("b"))] += 1;
        }
        assert!(per_bucket.iter().all(|&c| (50..=150).contains(&c)), "{per_bucket:?}");
        assert!(per_node.iter().all(|&c| (10_000..=15_600).contains(&c)), "{per_node:?}");
    }

    #[test]
    fn buckets_balanced_for_two_and_three_nodes() {
        for nodes in [&["a", "b"][..], &["a", "b", "c"][..]] {
            let mut counts = vec![0usize; nodes.len()];
            for b in 0..=255u8 {
                let o = bucket_owner(b, nodes).unwrap();
                counts[nodes.iter().position(|n| *n == o).unwrap()] += 1;
            }
            let fair = 256 / nodes.len();
            assert!(counts.iter().all(|&c| c.abs_diff(fair) <= fair / 4), "{nodes:?} {counts:?}");
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_buckets() {
        for b in 0..=255u8 {
            let with = bucket_owner(b, &["a", "b", "c"]).unwrap();
            let without = bucket_owner(b, &["a", "c"]).unwrap();
            if with != "b" {
                assert_eq!(with, without);
            }
        }
        assert_eq!(bucket_owner(7, &[]), None);
    }

    #[test]
    fn answer_rule() {
        let id = b"client-1";
        let owner = bucket_owner(bucket_of(id), &["a", "b"]).unwrap();
        let other = if owner == "a" { "b" } else { "a" };
        assert!(should_answer_among(owner, &["a", "b"], id, 0));
        assert!(!should_answer_among(other, &["a", "b"], id, 2));
        assert!(should_answer_among(other, &["a", "b"], id, 3));
        assert!(should_answer_among(other, &[other], id, 0));
    }
}
