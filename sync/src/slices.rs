//! Pool slices: a pool (an inclusive range of IPv4 addresses as `u32`) split into one
//! contiguous slice per node, from the sorted node ids, so every node computes the same split
//! without talking to the others. A node hands out new addresses only from its own slice,
//! which keeps two nodes from giving one address to two clients even in a split brain.

use std::ops::RangeInclusive;

/// One node's share of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slice {
    /// The node id.
    pub node: String,
    /// Its addresses; `None` when the pool has fewer addresses than there are nodes.
    pub range: Option<RangeInclusive<u32>>,
}

/// Splits `pool` into one slice per node. Node ids are sorted and deduplicated first, so the
/// order the caller passes does not matter. Slice sizes differ by at most one address; the
/// first slices get the extra ones. An empty node list gives no slices.
pub fn split(pool: RangeInclusive<u32>, nodes: &[&str]) -> Vec<Slice> {
    let mut sorted: Vec<&str> = nodes.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let (start, end) = (u64::from(*pool.start()), u64::from(*pool.end()));
    let size = if end >= start { end - start + 1 } else { 0 };
    let n = sorted.len() as u64;
    let mut next = start;
    sorted
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let share = size / n + u64::from((i as u64) < size % n);
            let range = (share > 0).then(|| {
                // Both ends lie inside the original u32 pool, so the casts cannot truncate.
                let r = next as u32..=(next + share - 1) as u32;
                next += share;
                r
            });
            Slice { node: (*node).to_owned(), range }
        })
        .collect()
}

/// The slice of `pool` that belongs to `me`, if `me` is among `nodes` and got any address.
pub fn slice_of(pool: RangeInclusive<u32>, nodes: &[&str], me: &str) -> Option<RangeInclusive<u32>> {
    split(pool, nodes).into_iter().find(|s| s.node == me).and_then(|s| s.range)
}

/// The node whose slice of `pool` holds `addr` (`None` when `addr` is outside the pool).
pub fn owner_of(pool: RangeInclusive<u32>, nodes: &[&str], addr: u32) -> Option<String> {
    split(pool, nodes).into_iter().find(|s| s.range.as_ref().is_some_and(|r| r.contains(&addr))).map(|s| s.node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> u32 {
        u32::from_be_bytes([a, b, c, d])
    }

    /// Every address lands in exactly one slice and the slices are contiguous in order.
    fn assert_disjoint_and_covering(pool: RangeInclusive<u32>, slices: &[Slice]) {
        let mut next = u64::from(*pool.start());
        for s in slices {
            if let Some(r) = &s.range {
                assert_eq!(u64::from(*r.start()), next, "gap or overlap at {}", s.node);
                next = u64::from(*r.end()) + 1;
            }
        }
        assert_eq!(next, u64::from(*pool.end()) + 1, "not covering");
    }

    #[test]
    fn two_nodes_split_a_pool_in_halves_whatever_the_order() {
        let pool = ip(10, 0, 20, 100)..=ip(10, 0, 20, 199);
        let s = split(pool.clone(), &["b", "a"]);
        assert_eq!(s, split(pool.clone(), &["a", "b"]));
        assert_eq!(s[0].range, Some(ip(10, 0, 20, 100)..=ip(10, 0, 20, 149)));
        assert_eq!(s[1].range, Some(ip(10, 0, 20, 150)..=ip(10, 0, 20, 199)));
        assert_disjoint_and_covering(pool.clone(), &s);
        assert_eq!(owner_of(pool.clone(), &["a", "b"], ip(10, 0, 20, 150)).as_deref(), Some("b"));
        assert_eq!(owner_of(pool, &["a", "b"], ip(10, 0, 20, 99)), None);
    }

    #[test]
    fn three_nodes_uneven_pool() {
        let pool = 1000..=1100; // 101 addresses
        let s = split(pool.clone(), &["c", "a", "b", "a"]);
        assert_eq!(s.len(), 3);
        let sizes: Vec<u32> = s.iter().map(|x| x.range.clone().map_or(0, |r| r.end() - r.start() + 1)).collect();
        assert_eq!(sizes, vec![34, 34, 33]);
        assert_disjoint_and_covering(pool.clone(), &s);
        assert_eq!(slice_of(pool, &["a", "b", "c"], "c"), Some(1068..=1100));
    }

    #[test]
    fn tiny_and_edge_pools() {
        let s = split(5..=6, &["a", "b", "c"]);
        assert_eq!(s[2].range, None);
        assert_disjoint_and_covering(5..=6, &s);
        let full = split(0..=u32::MAX, &["a", "b"]);
        assert_disjoint_and_covering(0..=u32::MAX, &full);
        #[allow(clippy::reversed_empty_ranges)] // an empty pool is a valid input
        let empty = 1..=0;
        assert!(split(empty, &["a"])[0].range.is_none());
        assert!(split(1..=10, &[]).is_empty());
    }
}
