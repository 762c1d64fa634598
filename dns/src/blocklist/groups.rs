//! Client groups: which group a client's queries are judged for.
//!
//! Groups are tried in config order and the first whose `clients` match wins (a CIDR, a
//! single IP or a MAC address); a client no group matches is in `default` (index 0). MAC
//! addresses come from the DHCP lease table, which lives elsewhere: the caller supplies them,
//! and [`GroupMatcher::group_of_with`] only asks when a MAC rule is reached.

use std::net::IpAddr;

use ipnet::IpNet;
use ravens_config::policy::{ClientMatch, Policy};

/// A group's index in [`Policy::groups`]; bit `index` of a list's group mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct GroupId(pub u8);

impl GroupId {
    /// The group of clients no other group matches.
    pub const DEFAULT: GroupId = GroupId(0);

    pub fn index(self) -> usize {
        usize::from(self.0)
    }

    /// This group's bit in a group mask.
    #[inline]
    pub fn bit(self) -> u64 {
        1u64 << (self.0 & 63)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    Net(IpNet),
    Mac([u8; 6]),
}

/// Maps a client to its group.
#[derive(Debug, Clone, Default)]
pub struct GroupMatcher {
    rules: Vec<(Rule, GroupId)>,
    has_mac: bool,
}

impl GroupMatcher {
    /// The matcher for a validated policy (at most 64 groups, `default` first).
    pub fn new(policy: &Policy) -> Self {
        let mut m = GroupMatcher::default();
        for (i, g) in policy.match_order() {
            let id = GroupId(u8::try_from(i).unwrap_or(u8::MAX));
            for c in &g.clients {
                let rule = match *c {
                    ClientMatch::Net(net) => Rule::Net(net),
                    ClientMatch::Mac(mac) => Rule::Mac(mac),
                };
                m.has_mac |= matches!(rule, Rule::Mac(_));
                m.rules.push((rule, id));
            }
        }
        m
    }

    /// Whether any group matches by MAC (else the lease table need not be consulted).
    pub fn needs_mac(&self) -> bool {
        self.has_mac
    }

    /// The group of a client with address `ip` and, if known, hardware address `mac`.
    pub fn group_of(&self, ip: IpAddr, mac: Option<[u8; 6]>) -> GroupId {
        self.group_of_with(ip, |_| mac)
    }

    /// Like [`group_of`](Self::group_of), asking `mac_of` for the client's MAC at most once
    /// and only if a MAC rule comes before any match by address.
    pub fn group_of_with(&self, ip: IpAddr, mac_of: impl FnOnce(IpAddr) -> Option<[u8; 6]>) -> GroupId {
        let ip = ip.to_canonical();
        let mut mac_of = Some(mac_of);
        let mut mac: Option<[u8; 6]> = None;
        for &(rule, id) in &self.rules {
            let hit = match rule {
                Rule::Net(net) => net.contains(&ip),
                Rule::Mac(want) => {
                    if let Some(f) = mac_of.take() {
                        mac = f(ip);
                    }
                    mac == Some(want)
                }
            };
            if hit {
                return id;
            }
        }
        GroupId::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(text: &str) -> Policy {
        ravens_config::parse_with(text, "t.toml", &|| "nameserver 192.0.2.53\n".into()).unwrap().policy
    }

    const GROUPS: &str = r#"
[[group]]
name = "printer"
clients = ["10.0.1.9", "02:00:00:00:00:09"]
[[group]]
name = "iot"
clients = ["10.0.20.0/24", "fd00:20::/64"]
[[group]]
name = "home"
clients = ["10.0.0.0/16"]
"#;

    #[test]
    fn cidr_ip_and_mac_first_match_wins() {
        let p = policy(GROUPS);
        let m = GroupMatcher::new(&p);
        let id = |name| GroupId(p.group_index(name).unwrap() as u8);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(m.group_of(ip("10.0.20.7"), None), id("iot"));
        assert_eq!(m.group_of(ip("fd00:20::7"), None), id("iot"));
        assert_eq!(m.group_of(ip("::ffff:10.0.20.7"), None), id("iot"), "v4-mapped");
        assert_eq!(m.group_of(ip("10.0.1.9"), None), id("printer"), "single IP before home's /16");
        assert_eq!(m.group_of(ip("10.0.1.10"), None), id("home"));
        assert_eq!(m.group_of(ip("10.0.1.10"), Some([2, 0, 0, 0, 0, 9])), id("printer"), "by MAC");
        assert_eq!(m.group_of(ip("192.0.2.1"), None), GroupId::DEFAULT);
        assert_eq!(m.group_of(ip("192.0.2.1"), Some([2, 0, 0, 0, 0, 8])), GroupId::DEFAULT);
        assert!(m.needs_mac());
    }

    #[test]
    fn mac_lookup_is_lazy() {
        let p = policy("[[group]]\nname = \"a\"\nclients = [\"10.0.0.0/8\", \"02:00:00:00:00:01\"]\n");
        let m = GroupMatcher::new(&p);
        let mut asked = 0;
        let g = m.group_of_with("10.1.2.3".parse().unwrap(), |_| {
            asked += 1;
            None
        });
        assert_eq!((g, asked), (GroupId(1), 0));
        let g = m.group_of_with("192.0.2.1".parse().unwrap(), |_| {
            asked += 1;
            Some([2, 0, 0, 0, 0, 1])
        });
        assert_eq!((g, asked), (GroupId(1), 1));
    }

    #[test]
    fn no_groups_is_all_default() {
        let m = GroupMatcher::new(&Policy::default());
        assert_eq!(m.group_of("10.0.0.1".parse().unwrap(), Some([0; 6])), GroupId::DEFAULT);
        assert!(!m.needs_mac());
    }
}
