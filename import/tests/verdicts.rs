//! The imported config, compiled by ravens's own blocklist engine, gives each client the
//! verdicts Pi-hole gave it: a deny applies to its group's clients only, allow entries win,
//! disabled entries do nothing, regexes match.

mod common;

use std::net::IpAddr;

use common::*;
use ravens_config::site;
use ravens_dns::blocklist::{self, Engine, GroupMatcher, ListStore, Verdict};
use ravens_import::{Source, import, validate};

struct Resolver {
    engine: Engine,
    groups: GroupMatcher,
}

impl Resolver {
    fn verdict(&self, client: &str, mac: Option<[u8; 6]>, name: &str) -> &'static str {
        let ip: IpAddr = client.parse().unwrap();
        match self.engine.lookup(name.as_bytes(), self.groups.group_of(ip, mac)) {
            Verdict::Blocked(_) => "blocked",
            Verdict::Allowed(_) => "allowed",
            Verdict::NotListed => "-",
        }
    }
}

fn resolver() -> Resolver {
    let src = Source::from_bytes(&zip(&v6_entries())).unwrap();
    let imp = import(&src, &site::records(BASE).unwrap(), NOW).unwrap();
    let config = ravens_config::parse(&validate(BASE, &imp).unwrap(), "import").unwrap();
    // URL lists have no local copy here: they contribute nothing; the inline lists are all.
    let store = ListStore::new(tempfile::tempdir().unwrap().path());
    let (engine, _) = blocklist::compile(&blocklist::inputs_from_policy(&config.policy, &store));
    Resolver { engine, groups: GroupMatcher::new(&config.policy) }
}

#[test]
fn each_client_gets_its_groups_verdicts() {
    let r = resolver();
    let default_only = ["192.168.1.60", "192.168.1.77"]; // listed in Default / unknown to Pi-hole
    for c in default_only {
        assert_eq!(r.verdict(c, None, "ads.example.com"), "blocked", "{c}");
        assert_eq!(r.verdict(c, None, "good.example.com"), "allowed", "{c}: the allow entry wins over the deny");
        assert_eq!(r.verdict(c, None, "track12.example.net"), "-", "{c}: a Kids regex");
        assert_eq!(r.verdict(c, None, "cdn.allowed.example"), "allowed", "{c}: regex allow");
        assert_eq!(r.verdict(c, None, "disabled.example.com"), "-", "{c}: disabled entry");
        assert_eq!(r.verdict(c, None, "sub.ads.example.com"), "-", "{c}: exact entries are exact");
    }
    // In Default and Kids: both groups' entries.
    assert_eq!(r.verdict("192.168.1.50", None, "ads.example.com"), "blocked");
    assert_eq!(r.verdict("192.168.1.50", None, "TRACK12.example.net"), "blocked");
    // Kids only (by CIDR): the Kids regex, not Default's deny.
    assert_eq!(r.verdict("10.0.5.7", None, "track99.example.net"), "blocked");
    assert_eq!(r.verdict("10.0.5.7", None, "ads.example.com"), "-");
    assert_eq!(r.verdict("10.0.5.7", None, "good.example.com"), "allowed");
    // IoT by MAC has no entries at all; so has the host-name client with a static lease.
    let mac = Some([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x02]);
    assert_eq!(r.verdict("192.168.1.99", mac, "ads.example.com"), "-");
    assert_eq!(r.verdict("192.168.1.20", None, "ads.example.com"), "-");
}
