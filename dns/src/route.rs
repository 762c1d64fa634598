//! Which upstreams a forwarded query goes to (docs/ARCHITECTURE.md §3): the longest
//! `[[forward]]` zone that holds the name and applies to the client's group, else the
//! group's own `upstreams`, else `dns.upstreams`.
//!
//! Each distinct choice is an *upstream set* with its own [`Pool`] (own health, latency and
//! prober) and a small [`SetId`]. The cache keys answers by the set (see
//! [`crate::cache::make_key`]) so that one group is never answered with what another
//! group's upstream said; the default set is 0 and adds nothing to the key.

use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;
use ravens_config::Config;

use crate::blocklist::GroupId;
use crate::upstream::{Pool, UpstreamError, UpstreamStatus};
use crate::wire;

/// An upstream set: 0 = `dns.upstreams`.
pub type SetId = u16;

/// The set of `dns.upstreams`.
pub const DEFAULT_SET: SetId = 0;

/// What an upstream set serves, for status and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `dns.upstreams`.
    Default,
    /// A `[[group]]`'s `upstreams`.
    Group(String),
    /// A `[[forward]]`: its domain as written, its zones, and the groups it applies to
    /// (empty = every group).
    Forward { domain: String, zones: Vec<String>, groups: Vec<String> },
}

#[derive(Debug, Clone, Copy)]
struct Zone {
    set: SetId,
    /// Bit g set when the zone applies to group g.
    groups: u64,
}

/// The upstream sets of one config version.
pub struct Routes {
    /// Indexed by [`SetId`]; `pools[0]` is `dns.upstreams`.
    pools: Vec<(Route, Arc<Pool>)>,
    /// The set of each group by index; empty when no group has upstreams of its own.
    group_sets: Vec<SetId>,
    /// Lower-case wire name of each forward zone's apex, and of every suffix of one (with
    /// no zone of its own), so a lookup walks from the top label down and stops at the first
    /// suffix no zone lies under: one probe for most names.
    zones: HashMap<Vec<u8>, Option<Zone>, RandomState>,
    /// Bit [`tld_bit`] of every zone's top label: a name whose top label's bit is clear is
    /// in no zone, known without hashing it (most names, as `com` or `net`).
    tlds: [u64; 4],
}

/// A byte of a top label's length, first and last letter: equal labels, equal bits.
#[inline]
fn tld_bit(label: &[u8]) -> usize {
    let (first, last) = (label.first().copied().unwrap_or(0), label.last().copied().unwrap_or(0));
    usize::from((label.len() as u8).wrapping_mul(31) ^ first ^ last.rotate_left(3))
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Routes").field("sets", &self.pools.len()).field("zones", &self.zones.len()).finish()
    }
}

impl Routes {
    pub fn new(c: &Config) -> Result<Self, UpstreamError> {
        let mut pools = vec![(Route::Default, Arc::new(Pool::new(&c.dns)?))];
        let mut group_sets = Vec::new();
        if c.policy.groups.iter().any(|g| !g.upstreams.is_empty()) {
            for g in &c.policy.groups {
                if g.upstreams.is_empty() {
                    group_sets.push(DEFAULT_SET);
                } else {
                    group_sets.push(pools.len() as SetId);
                    pools.push((Route::Group(g.name.clone()), Arc::new(Pool::with_upstreams(&c.dns, &g.upstreams)?)));
                }
            }
        }
        let mut zones = HashMap::default();
        let mut tlds = [0u64; 4];
        for f in &c.forwards {
            let set = pools.len() as SetId;
            let groups = f.groups.as_ref().map_or(u64::MAX, |gs| gs.iter().fold(0, |m, &g| m | (1u64 << (g & 63))));
            for z in &f.zones {
                let Some(w) = wire::name_from_text(z) else { continue };
                let (mut at, mut top) = (0, 0);
                while at < w.len() && w[at] != 0 {
                    if at > 0 {
                        zones.entry(w[at..].to_vec()).or_insert(None);
                    }
                    top = at;
                    at += usize::from(w[at]) + 1;
                }
                let bit = tld_bit(&w[top + 1..top + 1 + usize::from(w[top])]);
                tlds[bit / 64] |= 1 << (bit % 64);
                zones.insert(w, Some(Zone { set, groups }));
            }
            let names = |gs: &Vec<usize>| gs.iter().filter_map(|&g| c.policy.group_names.get(g).cloned()).collect();
            let route = Route::Forward {
                domain: f.domain.clone(),
                zones: f.zones.clone(),
                groups: f.groups.as_ref().map(names).unwrap_or_default(),
            };
            pools.push((route, Arc::new(Pool::with_upstreams(&c.dns, &f.upstreams)?)));
        }
        Ok(Routes { pools, group_sets, zones, tlds })
    }

    /// The pool of set `set` (the default pool for an unknown one).
    pub fn pool(&self, set: SetId) -> &Arc<Pool> {
        &self.pools.get(usize::from(set)).unwrap_or(&self.pools[0]).1
    }

    /// The pool of `dns.upstreams`.
    pub fn default_pool(&self) -> &Arc<Pool> {
        &self.pools[0].1
    }

    /// Every pool (for the probers).
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.iter().map(|(_, p)| p)
    }

    /// True when any `[[forward]]` zone exists: only then must the pipeline look for one.
    #[inline]
    pub fn has_zones(&self) -> bool {
        !self.zones.is_empty()
    }

    /// The set of the longest forward zone holding `name` (lower-case wire form) that
    /// applies to `group`: the suffixes from the top label down, one hash probe each, until
    /// one that no zone lies under (so one probe for a name outside every zone).
    pub fn zone(&self, name: &[u8], group: GroupId) -> Option<SetId> {
        // The top label first: for most names its bit is clear and nothing else is done.
        let (mut at, mut top) = (0, None);
        while at < name.len() && name[at] != 0 {
            top = Some(at);
            at += 1 + usize::from(name[at]);
        }
        let top = top?;
        let bit = tld_bit(name.get(top + 1..at)?);
        if self.tlds[bit / 64] & (1 << (bit % 64)) == 0 {
            return None;
        }
        // A wire name is at most 255 bytes: its label offsets fit in a u8, at most 127.
        let mut starts = [0u8; 128];
        let (mut n, mut at) = (0, 0);
        while at < name.len() && name[at] != 0 && n < starts.len() {
            starts[n] = at as u8;
            n += 1;
            at += 1 + usize::from(name[at]);
        }
        let mut found = None;
        for &s in starts[..n].iter().rev() {
            match self.zones.get(&name[usize::from(s)..]) {
                None => break,
                Some(Some(z)) if z.groups & group.bit() != 0 => found = Some(z.set),
                Some(_) => {}
            }
        }
        found
    }

    /// The set of a group's queries outside every forward zone.
    #[inline]
    pub fn group_set(&self, group: GroupId) -> SetId {
        self.group_sets.get(group.index()).copied().unwrap_or(DEFAULT_SET)
    }

    /// Every set but the default one, with its upstreams' health.
    pub fn status(&self) -> Vec<(Route, Vec<UpstreamStatus>)> {
        self.pools.iter().skip(1).map(|(r, p)| (r.clone(), p.status())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
[dns]
upstreams = ["udp://192.0.2.1"]
[[group]]
name = "work"
clients = ["10.0.40.0/24"]
upstreams = ["udp://192.0.2.7"]
[[group]]
name = "kids"
clients = ["10.0.50.0/24"]
[[forward]]
domain = "corp.example"
upstreams = ["udp://10.0.0.53"]
groups = ["work"]
[[forward]]
domain = "example"
upstreams = ["udp://10.0.0.54"]
[[forward]]
domain = "10.1.16.0/20"
upstreams = ["udp://10.0.0.55"]
"#;

    fn name(s: &str) -> Vec<u8> {
        wire::name_from_text(s).unwrap()
    }

    #[test]
    fn longest_zone_for_the_group_then_the_group_then_the_default() {
        let c = ravens_config::parse(CONF, "t").unwrap();
        let r = Routes::new(&c).unwrap();
        let (default, work, kids) = (GroupId(0), GroupId(1), GroupId(2));
        // Sets: 0 default, 1 work's upstreams, 2 corp.example, 3 example, 4 the /20.
        assert_eq!(r.zone(&name("a.corp.example"), work), Some(2));
        assert_eq!(r.zone(&name("a.corp.example"), kids), Some(3), "corp.example is for work only");
        assert_eq!(r.zone(&name("example"), default), Some(3));
        assert_eq!(r.zone(&name("xexample"), default), None);
        assert_eq!(r.zone(&name("test"), default), None, "an ancestor of a zone is no zone");
        assert_eq!(r.zone(&name("in-addr.arpa"), default), None);
        assert_eq!(r.zone(&name("b.a.corp.example"), work), Some(2));
        assert_eq!(r.zone(&name("5.4.17.1.10.in-addr.arpa"), default), Some(4));
        assert_eq!(r.zone(&name("5.4.32.1.10.in-addr.arpa"), default), None);
        assert_eq!(r.zone(&[0], default), None);
        assert_eq!((r.group_set(default), r.group_set(work), r.group_set(kids)), (0, 1, 0));
        assert_eq!(r.status().len(), 4);
    }

    #[test]
    fn no_forwards_no_group_upstreams_is_one_set() {
        let c = ravens_config::parse("[dns]\nupstreams = [\"udp://192.0.2.1\"]\n", "t").unwrap();
        let r = Routes::new(&c).unwrap();
        assert!(!r.has_zones());
        assert_eq!(r.group_set(GroupId(5)), DEFAULT_SET);
        assert!(r.status().is_empty());
    }
}
