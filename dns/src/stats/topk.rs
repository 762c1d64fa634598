//! A bounded counting map for heavy hitters (top domains, top clients).
//!
//! Counts are exact while the map holds fewer than `cap` keys. When it fills, the lower half
//! by count is dropped (amortised O(log n) per new key, no per-insert scan), so a key that
//! keeps coming back survives and rare keys are forgotten: the top entries stay right for the
//! skewed traffic DNS sees, while memory stays bounded whatever the number of names.

use std::collections::HashMap;
use std::hash::Hash;

#[derive(Debug, Clone)]
pub struct TopK<K> {
    counts: HashMap<K, u64, foldhash::fast::RandomState>,
    cap: usize,
}

impl<K: Hash + Eq + Clone + Ord> TopK<K> {
    pub fn new(cap: usize) -> Self {
        TopK { counts: HashMap::default(), cap: cap.max(2) }
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// Adds `n` to `key`, making the key (`make`) only when it is new.
    pub fn add_with<Q>(&mut self, key: &Q, n: u64, make: impl FnOnce(&Q) -> K)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(c) = self.counts.get_mut(key) {
            *c += n;
            return;
        }
        if self.counts.len() >= self.cap {
            self.shrink_to(self.cap / 2);
        }
        self.counts.insert(make(key), n);
    }

    pub fn add(&mut self, key: K, n: u64) {
        *self.counts.entry(key).or_default() += n;
        if self.counts.len() > self.cap {
            self.shrink_to(self.cap / 2);
        }
    }

    /// Keeps the `keep` largest counts (ties broken by key, so the result is deterministic).
    pub fn shrink_to(&mut self, keep: usize) {
        if self.counts.len() <= keep {
            return;
        }
        let top = self.top(keep);
        self.counts.clear();
        self.counts.extend(top);
    }

    /// The `n` largest, largest first.
    pub fn top(&self, n: usize) -> Vec<(K, u64)> {
        let mut all: Vec<(K, u64)> = self.counts.iter().map(|(k, &c)| (k.clone(), c)).collect();
        let by_count = |a: &(K, u64), b: &(K, u64)| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0));
        if all.len() > n {
            all.select_nth_unstable_by(n, by_count);
            all.truncate(n);
        }
        all.sort_unstable_by(by_count);
        all
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &TopK<K>) {
        for (k, &c) in &other.counts {
            self.add(k.clone(), c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_under_the_bound_and_keeps_heavy_hitters_over_it() {
        let mut t: TopK<String> = TopK::new(8);
        for _ in 0..5 {
            t.add_with("heavy", 1, str::to_string);
        }
        t.add_with("light", 2, str::to_string);
        assert_eq!(t.top(2), vec![("heavy".to_string(), 5), ("light".to_string(), 2)]);
        for i in 0..1000 {
            t.add_with(format!("rare{i}").as_str(), 1, str::to_string);
            t.add_with("heavy", 1, str::to_string);
        }
        assert!(t.len() <= 8);
        assert_eq!(t.top(1), vec![("heavy".to_string(), 1005)]);
    }

    #[test]
    fn merges_and_ranks_ties_by_key() {
        let mut a: TopK<u32> = TopK::new(16);
        let mut b: TopK<u32> = TopK::new(16);
        a.add(1, 3);
        a.add(2, 1);
        b.add(2, 2);
        b.add(3, 3);
        a.merge(&b);
        assert_eq!(a.top(10), vec![(1, 3), (2, 3), (3, 3)]);
        a.shrink_to(1);
        assert_eq!(a.top(10), vec![(1, 3)]);
    }
}
