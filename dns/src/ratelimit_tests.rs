use ravens_config::LimitAction;

use super::*;

fn limiter(per_second: u32, burst: u32, exempt: &[&str]) -> RateLimiter {
    let exempt = exempt.iter().map(|n| n.parse().unwrap()).collect();
    RateLimiter::new(&RateLimit { per_second, burst, action: LimitAction::Drop, exempt }).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn a_client_over_its_burst_is_limited_while_another_is_not() {
    let l = limiter(10, 5, &[]);
    let t: u32 = 5_000;
    for _ in 0..5 {
        assert_eq!(l.check(ip("10.0.0.1"), t), Verdict::Pass);
    }
    assert_eq!(l.check(ip("10.0.0.1"), t), Verdict::Limited { log: true, count: 1 });
    assert_eq!(l.check(ip("10.0.0.1"), t), Verdict::Limited { log: false, count: 2 }, "logged once a minute");
    assert_eq!(l.check(ip("10.0.0.2"), t), Verdict::Pass, "another client has its own bucket");
    // 10/s: one token per 100 ms.
    assert_eq!(l.check(ip("10.0.0.1"), t + 100), Verdict::Pass);
    assert!(matches!(l.check(ip("10.0.0.1"), t + 100), Verdict::Limited { .. }));
    let later = t + 61_000;
    assert_eq!(l.check(ip("10.0.0.1"), later), Verdict::Pass, "refilled");
    for _ in 0..4 {
        l.check(ip("10.0.0.1"), later);
    }
    assert!(
        matches!(l.check(ip("10.0.0.1"), later), Verdict::Limited { log: true, .. }),
        "logged again after a minute"
    );
}

#[test]
fn ipv6_clients_share_their_slash_56_and_mapped_ipv4_is_ipv4() {
    let l = limiter(1, 2, &[]);
    let t: u32 = 5_000;
    assert_eq!(l.check(ip("2001:db8:0:1::1"), t), Verdict::Pass);
    assert_eq!(l.check(ip("2001:db8:0:ff::2"), t), Verdict::Pass, "same /56");
    assert!(matches!(l.check(ip("2001:db8:0:2a::3"), t), Verdict::Limited { .. }));
    assert_eq!(l.check(ip("2001:db8:0:100::1"), t), Verdict::Pass, "the next /56");
    assert_eq!(prefix_key(ip("::ffff:10.1.2.3")), prefix_key(ip("10.1.2.3")));
    assert_eq!(key_network(prefix_key(ip("2001:db8:0:1::1"))).to_string(), "2001:db8::/56");
    assert_eq!(key_network(prefix_key(ip("10.1.2.3"))).to_string(), "10.1.2.3/32");
}

#[test]
fn exempt_networks_are_never_limited() {
    let l = limiter(1, 1, &["10.9.0.0/16"]);
    let t: u32 = 5_000;
    for _ in 0..100 {
        assert_eq!(l.check(ip("10.9.3.4"), t), Verdict::Pass);
    }
}

#[test]
fn exempt_matches_each_family_and_ipv4_mapped_sources() {
    let l = limiter(1, 1, &["10.9.0.0/16", "2001:db8::/32", "192.0.2.7/32", "0.0.0.0/0"]);
    let e = |s| l.exempt.contains(ip(s));
    assert!(e("10.9.255.1") && e("192.0.2.7") && e("203.0.113.9"), "IPv4 networks, /0 included");
    assert!(e("::ffff:10.9.0.1"), "an IPv4-mapped source counts as IPv4");
    assert!(e("2001:db8:ffff::1") && !e("2001:db9::1"), "IPv6 /32");
    assert!(!e("::1"), "0.0.0.0/0 is IPv4 only");
    let only6 = limiter(1, 1, &["::/0"]);
    assert!(only6.exempt.contains(ip("fe80::1")) && !only6.exempt.contains(ip("10.0.0.1")), "::/0 is IPv6 only");
    let narrow = limiter(1, 1, &["10.9.0.0/16", "2001:db8::1/128"]);
    assert!(!narrow.exempt.contains(ip("10.8.0.1")) && !narrow.exempt.contains(ip("2001:db8::2")));
}

#[test]
fn a_spoofed_flood_keeps_the_table_bounded_and_real_clients_limited() {
    let l = limiter(1, 3, &[]);
    let t: u32 = 5_000;
    for _ in 0..3 {
        l.check(ip("192.0.2.1"), t);
    }
    assert!(matches!(l.check(ip("192.0.2.1"), t), Verdict::Limited { .. }));
    // Many more sources than slots: the table stays its size (nothing to grow).
    for i in 0..(SLOTS as u32 * 2) {
        l.check(IpAddr::V4((0x0A00_0000 + i).into()), t);
    }
    assert_eq!(l.slots.len(), SLOTS);
    let used = l.slots.iter().filter(|s| s.key.load(Ordering::Relaxed) != 0).count();
    assert!(used > SLOTS / 2, "the flood spread over the table: {used}");
}

#[test]
fn off_builds_no_limiter() {
    let off = RateLimit { per_second: 0, burst: 1, action: LimitAction::Drop, exempt: vec![] };
    assert!(RateLimiter::new(&off).is_none());
}

#[test]
fn limited_clients_are_listed_most_first() {
    let l = limiter(10, 2, &[]);
    let t: u32 = 5_000;
    for (client, queries) in [("10.0.0.1", 5), ("10.0.0.2", 9), ("10.0.0.3", 2), ("2001:db8:0:1::5", 4)] {
        for _ in 0..queries {
            l.check(ip(client), t);
        }
    }
    let top = l.limited_clients(10);
    let shown: Vec<(String, u64)> = top.iter().map(|(n, c)| (n.to_string(), *c)).collect();
    assert_eq!(
        shown,
        [("10.0.0.2/32".to_string(), 7), ("10.0.0.1/32".to_string(), 3), ("2001:db8::/56".to_string(), 2)]
    );
    assert_eq!(l.limited_clients(1).len(), 1);
}
