//! Address pools: the mapping between pool addresses and dense indices, this node's slice of
//! the pool (docs/ARCHITECTURE.md §7), and the free list ordered by last use. Allocation is
//! O(1): the free list is an intrusive doubly linked list over the index array, least recently
//! used at the head.

use std::net::Ipv4Addr;

use ravens_config::subnet::PoolRange;

const NIL: u32 = u32::MAX;

/// Which part of every pool this node may hand out new addresses from: slice `index` of
/// `count` equal contiguous parts, assigned by the sorted node ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub index: u32,
    pub count: u32,
}

impl Slice {
    /// A single node owning every pool.
    pub const WHOLE: Slice = Slice { index: 0, count: 1 };
    /// Owns no address: new clients get nothing, known ones can still renew in place.
    pub const NONE: Slice = Slice { index: 1, count: 1 };

    /// The slice of node `me` among `nodes` (any order; they are sorted here so every node
    /// computes the same split). An unknown `me` owns nothing new (count + 1 slices, last one).
    pub fn for_node(nodes: &[&str], me: &str) -> Slice {
        let mut sorted: Vec<&str> = nodes.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        match sorted.iter().position(|n| *n == me) {
            Some(i) => Slice { index: i as u32, count: sorted.len() as u32 },
            None => Slice { index: sorted.len() as u32, count: sorted.len() as u32 + 1 },
        }
    }

    /// Whether the address at `idx` of a pool of `total` addresses is in this slice.
    pub fn owns(&self, idx: u32, total: u32) -> bool {
        let part = u64::from(idx) * u64::from(self.count) / u64::from(total.max(1));
        part == u64::from(self.index)
    }
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    prev: u32,
    next: u32,
    free: bool,
    /// In this node's slice and not excluded: may be on the free list.
    owned: bool,
}

/// One subnet's dynamic addresses.
#[derive(Debug, Clone)]
pub struct Pool {
    /// (first address, last address, index of the first address).
    ranges: Vec<(u32, u32, u32)>,
    slots: Vec<Slot>,
    head: u32,
    tail: u32,
    free: u32,
    owned: u32,
    /// Addresses not excluded, in every node's slice.
    usable: u32,
}

impl Pool {
    /// Builds the pool; owned addresses not in `excluded` start free in ascending order.
    pub fn new(ranges: &[PoolRange], slice: Slice, excluded: &dyn Fn(Ipv4Addr) -> bool) -> Pool {
        let mut sorted: Vec<PoolRange> = ranges.to_vec();
        sorted.sort_by_key(|r| r.start);
        let mut out = Vec::with_capacity(sorted.len());
        let mut total: u32 = 0;
        for r in &sorted {
            let (s, e) = (u32::from(r.start), u32::from(r.end));
            out.push((s, e, total));
            total = total.saturating_add(e - s + 1);
        }
        let slots = vec![Slot { prev: NIL, next: NIL, free: false, owned: false }; total as usize];
        let mut pool = Pool { ranges: out, slots, head: NIL, tail: NIL, free: 0, owned: 0, usable: 0 };
        for idx in 0..total {
            if excluded(pool.addr(idx)) {
                continue;
            }
            pool.usable += 1;
            if slice.owns(idx, total) {
                pool.owned += 1;
                pool.slots[idx as usize].owned = true;
                pool.push_tail(idx);
            }
        }
        pool
    }

    /// Index of a pool address, or `None` when it is not in the pool.
    pub fn index(&self, ip: Ipv4Addr) -> Option<u32> {
        let v = u32::from(ip);
        let i = self.ranges.partition_point(|r| r.1 < v);
        let (s, e, base) = *self.ranges.get(i)?;
        (s <= v && v <= e).then(|| base + (v - s))
    }

    fn addr(&self, idx: u32) -> Ipv4Addr {
        let i = self.ranges.partition_point(|r| r.2 + (r.1 - r.0) < idx);
        let (s, _, base) = self.ranges[i];
        Ipv4Addr::from(s + (idx - base))
    }

    /// Addresses this node hands out (its slice, less exclusions).
    pub fn owned(&self) -> u32 {
        self.owned
    }

    /// Addresses of the whole pool, every node's slice, less exclusions.
    pub fn usable(&self) -> u32 {
        self.usable
    }

    /// Addresses currently free.
    pub fn free(&self) -> u32 {
        self.free
    }

    pub fn is_free(&self, ip: Ipv4Addr) -> bool {
        self.index(ip).is_some_and(|i| self.slots[i as usize].free)
    }

    /// Takes a specific free address out of the free list; false when it was not free.
    pub fn take(&mut self, ip: Ipv4Addr) -> bool {
        match self.index(ip) {
            Some(i) if self.slots[i as usize].free => {
                self.unlink(i);
                true
            }
            _ => false,
        }
    }

    /// Takes the least recently used free address.
    pub fn take_lru(&mut self) -> Option<Ipv4Addr> {
        let i = self.head;
        if i == NIL {
            return None;
        }
        self.unlink(i);
        Some(self.addr(i))
    }

    /// Returns an address to the free list as the most recently used one. Addresses outside
    /// the pool or this node's slice, excluded ones and ones already free are ignored.
    pub fn put(&mut self, ip: Ipv4Addr) {
        if let Some(i) = self.index(ip) {
            let slot = self.slots[i as usize];
            if slot.owned && !slot.free {
                self.push_tail(i);
            }
        }
    }

    /// Whether the address is one this node may hand out new (its slice, not excluded).
    pub fn owns(&self, ip: Ipv4Addr) -> bool {
        self.index(ip).is_some_and(|i| self.slots[i as usize].owned)
    }

    /// Moves a free address to the most-recently-used end (restoring last-use order).
    pub fn touch(&mut self, ip: Ipv4Addr) {
        if self.take(ip) {
            self.put(ip);
        }
    }

    fn push_tail(&mut self, i: u32) {
        let tail = self.tail;
        let owned = self.slots[i as usize].owned;
        self.slots[i as usize] = Slot { prev: tail, next: NIL, free: true, owned };
        if tail == NIL {
            self.head = i;
        } else {
            self.slots[tail as usize].next = i;
        }
        self.tail = i;
        self.free += 1;
    }

    fn unlink(&mut self, i: u32) {
        let Slot { prev, next, .. } = self.slots[i as usize];
        if prev == NIL {
            self.head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let owned = self.slots[i as usize].owned;
        self.slots[i as usize] = Slot { prev: NIL, next: NIL, free: false, owned };
        self.free -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(a: &str, b: &str) -> PoolRange {
        PoolRange { start: a.parse().unwrap(), end: b.parse().unwrap() }
    }

    #[test]
    fn lru_order_and_take() {
        let mut p =
            Pool::new(&[range("10.0.0.10", "10.0.0.12"), range("10.0.0.1", "10.0.0.2")], Slice::WHOLE, &|_| false);
        assert_eq!(p.owned(), 5);
        assert_eq!(p.take_lru(), Some("10.0.0.1".parse().unwrap()));
        assert!(p.take("10.0.0.11".parse().unwrap()));
        assert!(!p.take("10.0.0.11".parse().unwrap()));
        p.put("10.0.0.1".parse().unwrap());
        let order: Vec<_> = std::iter::from_fn(|| p.take_lru()).collect();
        let want: Vec<Ipv4Addr> =
            ["10.0.0.2", "10.0.0.10", "10.0.0.12", "10.0.0.1"].iter().map(|s| s.parse().unwrap()).collect();
        assert_eq!(order, want);
        assert_eq!(p.free(), 0);
    }

    #[test]
    fn slices_split_the_pool() {
        let a = Slice::for_node(&["b", "a"], "a");
        let b = Slice::for_node(&["a", "b"], "b");
        let r = [range("10.0.0.0", "10.0.0.99")];
        let pa = Pool::new(&r, a, &|_| false);
        let pb = Pool::new(&r, b, &|_| false);
        assert_eq!(pa.owned() + pb.owned(), 100);
        assert!(pa.is_free("10.0.0.0".parse().unwrap()) && !pb.is_free("10.0.0.0".parse().unwrap()));
        assert!(pb.is_free("10.0.0.99".parse().unwrap()));
        assert_eq!(Slice::for_node(&["a"], "z").count, 2);
    }

    #[test]
    fn exclusions_are_never_free() {
        let p = Pool::new(&[range("10.0.0.1", "10.0.0.4")], Slice::WHOLE, &|ip| ip == Ipv4Addr::new(10, 0, 0, 2));
        assert_eq!(p.owned(), 3);
        assert!(!p.is_free("10.0.0.2".parse().unwrap()));
    }
}
