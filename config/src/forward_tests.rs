use super::*;
use crate::site;
use crate::tests::{err, parse_t};

fn zones(domain: &str) -> Vec<String> {
    zones_of(domain).unwrap().1
}

#[test]
fn names_are_normalised_and_networks_become_reverse_zones() {
    assert_eq!(zones_of("Corp.Example.").unwrap(), ("corp.example".into(), vec!["corp.example".into()]));
    assert_eq!(zones("192.168.0.0/16"), ["168.192.in-addr.arpa"]);
    assert_eq!(zones("192.168.1.0/24"), ["1.168.192.in-addr.arpa"]);
    assert_eq!(zones("10.0.0.0/8"), ["10.in-addr.arpa"]);
    let z = zones("10.1.16.0/20");
    assert_eq!(z.len(), 16);
    assert_eq!(z[0], "16.1.10.in-addr.arpa");
    assert_eq!(z[15], "31.1.10.in-addr.arpa");
    assert_eq!(zones("172.16.0.0/12").len(), 16);
    assert_eq!(zones("172.16.0.0/12")[15], "31.172.in-addr.arpa");
    let z = zones("192.168.1.128/25");
    assert_eq!(
        (z.len(), z[0].as_str(), z[127].as_str()),
        (128, "128.1.168.192.in-addr.arpa", "255.1.168.192.in-addr.arpa")
    );
    assert_eq!(zones("fd00::/8"), ["d.f.ip6.arpa"]);
    assert_eq!(zones("2001:db8::/32"), ["8.b.d.0.1.0.0.2.ip6.arpa"]);
    // A /30 is one nibble and two bits: the 4 zones of the next nibble boundary.
    assert_eq!(
        zones("2001:db8::/30"),
        [
            "8.b.d.0.1.0.0.2.ip6.arpa",
            "9.b.d.0.1.0.0.2.ip6.arpa",
            "a.b.d.0.1.0.0.2.ip6.arpa",
            "b.b.d.0.1.0.0.2.ip6.arpa"
        ]
    );
}

#[test]
fn bad_domains_say_why() {
    assert!(zones_of("192.168.1.0/33").unwrap_err().contains("not a network"));
    assert!(zones_of("192.168.1.1/24").unwrap_err().contains("did you mean 192.168.1.0/24"));
    assert!(zones_of("192.168.1.1").unwrap_err().contains("give its network"));
    assert!(zones_of("*.corp").unwrap_err().contains("wildcard"));
    assert!(zones_of("bad name").unwrap_err().contains("forward.domain"));
}

const TWO: &str = r#"
[dns]
upstreams = ["udp://192.0.2.1"]
[[group]]
name = "work"
clients = ["10.0.40.0/24"]
upstreams = ["tls://192.0.2.7#dns.work.example"]
[[forward]]
domain = "corp.example"
upstreams = ["udp://10.0.0.53", "tcp://10.0.0.54:5353"]
groups = ["work"]
[[forward]]
domain = "192.168.0.0/16"
upstreams = ["192.168.1.1"]
"#;

#[test]
fn forwards_and_group_upstreams_validate() {
    let c = parse_t(TWO).unwrap();
    assert_eq!(c.forwards.len(), 2);
    assert_eq!(c.forwards[0].domain, "corp.example");
    assert_eq!(c.forwards[0].groups, Some(vec![1]));
    assert_eq!(c.forwards[0].upstreams[1].addr, "10.0.0.54:5353".parse().unwrap());
    assert_eq!(c.forwards[1].zones, ["168.192.in-addr.arpa"]);
    assert_eq!(c.forwards[1].groups, None);
    assert_eq!(c.policy.groups[1].upstreams[0].tls_name.as_deref(), Some("dns.work.example"));
    assert!(c.policy.groups[0].upstreams.is_empty());
}

#[test]
fn errors_point_at_the_value() {
    let bad_url = TWO.replace("udp://10.0.0.53", "ftp://10.0.0.53");
    assert!(
        err(&bad_url).starts_with("t.toml:10:14: forward.upstreams: 'ftp://10.0.0.53': unknown scheme"),
        "{}",
        err(&bad_url)
    );
    let bad_cidr = TWO.replace("192.168.0.0/16", "192.168.0.0/40");
    assert!(err(&bad_cidr).starts_with("t.toml:13:10: forward.domain: '192.168.0.0/40' is not a network"));
    let bad_group = TWO.replace("groups = [\"work\"]", "groups = [\"nope\"]");
    assert!(err(&bad_group).starts_with("t.toml:11:11: forward.groups: no group named 'nope'"));
    let bad_group_up = TWO.replace("tls://192.0.2.7#dns.work.example", "udp://work");
    assert!(err(&bad_group_up).starts_with("t.toml:7:14: group.upstreams: 'udp://work'"), "{}", err(&bad_group_up));
    let none = TWO.replace("upstreams = [\"192.168.1.1\"]", "upstreams = []");
    assert!(err(&none).contains("forward.upstreams: give at least one upstream"));
    let twice = format!(
        "{TWO}[[forward]]\ndomain = \"192.168.7.0/24\"\nupstreams = [\"192.0.2.9\"]\n[[forward]]\ndomain = \"168.192.in-addr.arpa\"\nupstreams = [\"192.0.2.9\"]\n"
    );
    assert!(
        err(&twice).contains("zone 168.192.in-addr.arpa is already forwarded by the [[forward]] of '192.168.0.0/16'")
    );
    let unknown = TWO.replace("groups = [\"work\"]", "group = [\"work\"]");
    assert!(err(&unknown).contains("unknown field `group`"));
}

#[test]
fn forwards_are_site_records_keyed_by_domain() {
    let r = site::records(TWO).unwrap();
    assert!(r.contains_key("forward/corp.example"));
    assert!(r.contains_key("forward/192.168.0.0/16"));
    let mut t = toml::Table::new();
    t.insert("domain".into(), "Lab.Example.".into());
    t.insert("upstreams".into(), toml::Value::Array(vec!["udp://10.9.0.1".into()]));
    let (k, v) = site::forward(&t).unwrap();
    assert_eq!(k, "forward/lab.example");
    let mut want = r.clone();
    want.insert(k, v);
    want.remove("forward/corp.example");
    let out = site::apply(TWO, &want).unwrap();
    assert_eq!(site::records(&out).unwrap(), want);
    assert!(out.contains("domain = \"Lab.Example.\"") && !out.contains("corp.example"), "{out}");
    assert!(parse_t(&out).is_ok());
}
