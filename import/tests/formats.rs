//! v5 and v6 Teleporter archives and a Pi-hole directory, built from the real formats, map
//! onto the expected ravens items; the result validates as a ravens config; a second import
//! adds nothing.

mod common;

use common::*;
use ravens_config::site::{self, SiteRecords};
use ravens_import::{Counts, Import, Source, import, validate};

fn counts(added: usize, unchanged: usize, skipped: usize) -> Counts {
    Counts { added, unchanged, skipped }
}

fn run(src: &Source, base: &str) -> (Import, String) {
    let current = site::records(base).unwrap();
    let imp = import(src, &current, NOW).unwrap();
    let text = validate(base, &imp).unwrap_or_else(|e| panic!("{e}\n{}", imp.toml().unwrap()));
    (imp, text)
}

fn table(imp: &Import, key: &str) -> toml::Table {
    let v = imp.records.get(key).unwrap_or_else(|| panic!("no {key} in {:?}", imp.records.keys().collect::<Vec<_>>()));
    site::decode(key, v).unwrap()
}

fn strs(t: &toml::Table, k: &str) -> Vec<String> {
    t[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn skipped_reason(imp: &Import, source: &str) -> String {
    let s = imp.report.skipped.iter().find(|s| s.source == source);
    s.unwrap_or_else(|| panic!("{source} not skipped: {:#?}", imp.report)).reason.clone()
}

/// The gravity mapping both v6 forms share.
fn check_policy(imp: &Import, adlists: usize) {
    let r = &imp.report;
    assert_eq!(r.counts("group"), counts(3, 0, 1), "{r:#?}");
    assert_eq!(r.counts("client"), counts(4, 1, 2));
    assert_eq!(r.counts("entry"), counts(7, 0, 4));
    assert_eq!(r.counts("list"), counts(adlists + 4, 0, 1));
    // A client in two groups gets a group of its own, matched before the wider CIDR group.
    let both = table(imp, "group/default+kids");
    assert_eq!(strs(&both, "clients"), ["192.168.1.50"]);
    // The host-name client "TV" has a static lease: matched by its address.
    assert_eq!(strs(&table(imp, "group/iot"), "clients"), ["aa:bb:cc:dd:ee:02", "192.168.1.20"]);
    assert!(skipped_reason(imp, &client_source(imp, 4)).contains("without a static lease"));
    assert!(skipped_reason(imp, &client_source(imp, 5)).contains("interface"));
    assert_eq!(strs(&table(imp, "group/kids"), "clients"), ["10.0.5.0/24"]);
    assert!(both["_order"].as_integer() < table(imp, "group/kids")["_order"].as_integer());
    let ads = table(imp, "list/pihole-adlist-1");
    assert_eq!(ads["url"].as_str(), Some("https://lists.example/hosts.txt"));
    assert_eq!(strs(&ads, "groups"), ["default", "default+kids", "kids"]);
    assert_eq!(table(imp, "list/pihole-adlist-2")["enabled"].as_bool(), Some(false));
    let deny = table(imp, "list/pihole-default-deny");
    assert_eq!(
        (deny["kind"].as_str(), strs(&deny, "groups")),
        (Some("block"), vec!["default".into(), "default+kids".into()])
    );
    // A disabled Pi-hole entry is a disabled entry of its group's list, not a list of its own.
    assert!(!imp.records.keys().any(|k| k.ends_with("-disabled")), "{:?}", imp.records.keys());
    let (k, v) = site::entry_state("pihole-default-deny", "disabled.example.com", false);
    assert_eq!(imp.records.get(&k), Some(&v), "the disabled entry");
    assert!(
        r.notes.iter().any(|n| n.starts_with("entries disabled in Pi-hole, imported disabled in their lists: 1 ")),
        "{r:#?}"
    );
    assert_eq!(strs(&table(imp, "list/pihole-kids-deny"), "groups"), ["default+kids", "kids"]);
    for (list, rule) in [
        ("pihole-default-deny", "ads.example.com"),
        ("pihole-default-allow", "good.example.com"),
        ("pihole-kids-allow", "good.example.com"),
        ("pihole-kids-deny", r"/^track[0-9]+\.example\.net$/"),
        ("pihole-default-allow", r"/^cdn\.allowed\./"),
    ] {
        assert!(imp.records.contains_key(&site::entry(list, rule).0), "{list} {rule}");
    }
    assert!(skipped_reason(imp, &domain_source(imp, 5)).contains("query types"));
    assert!(skipped_reason(imp, &domain_source(imp, 7)).contains("back-reference"));
    assert!(skipped_reason(imp, &domain_source(imp, 8)).contains("no enabled group"));
    assert!(skipped_reason(imp, &domain_source(imp, 9)).contains("no enabled group"));
}

fn client_source(imp: &Import, id: i64) -> String {
    if imp.report.format.contains("v5") { format!("client.json:id {id}") } else { format!("gravity.db:client id {id}") }
}

fn domain_source(imp: &Import, id: i64) -> String {
    let v5 = imp.report.format.contains("v5");
    if !v5 {
        return format!("gravity.db:domainlist id {id}");
    }
    let file = match DOMAINS.iter().find(|d| d.0 == id).unwrap().1 {
        0 => "whitelist.exact.json",
        1 => "blacklist.exact.json",
        2 => "whitelist.regex.json",
        _ => "blacklist.regex.json",
    };
    format!("{file}:id {id}")
}

fn check_dhcp(imp: &Import, reservations: usize) {
    let lan = table(imp, "subnet/lan");
    assert_eq!(lan["cidr"].as_str(), Some("192.168.1.0/24"));
    assert_eq!(strs(&lan, "pools"), ["192.168.1.100-192.168.1.199"]);
    assert_eq!((lan["router"].as_str(), lan["lease_time"].as_str()), (Some("192.168.1.1"), Some("86400s")));
    let nas = table(imp, "reservation/lan/aa:bb:cc:dd:ee:01");
    assert_eq!((nas["ip"].as_str(), nas["hostname"].as_str()), (Some("192.168.1.10"), Some("nas")));
    assert_eq!(imp.report.counts("reservation").added, reservations);
    assert_eq!(imp.report.counts("lease"), counts(3, 0, 3));
    let l = &imp.leases[0];
    assert_eq!(
        (l.mac.as_str(), l.ip.to_string(), l.expires),
        ("aa:bb:cc:dd:ee:01", "192.168.1.10".into(), Some(NOW + 3600))
    );
    assert_eq!((l.hostname.as_deref(), l.client_id.as_deref()), (Some("nas"), Some("01:aa:bb:cc:dd:ee:01")));
    assert_eq!((imp.leases[1].hostname.as_deref(), imp.leases[2].expires), (None, None));
    assert_eq!(skipped_reason(imp, "dhcp.leases:4"), "expired");
    assert!(skipped_reason(imp, "dhcp.leases:5").contains("not '<expiry>"));
    assert!(skipped_reason(imp, "dhcp.leases:7").contains("DHCPv6"));
}

fn check_records(imp: &Import) {
    let a = site::record(&toml::toml! { name = "nas.lan" type = "A" value = "192.168.1.10" }).unwrap().0;
    assert!(imp.records.contains_key(&a));
    let c = site::record(&toml::toml! { name = "media.lan" type = "CNAME" value = "nas.lan" }).unwrap().0;
    assert_eq!(table(imp, &c)["ttl"].as_str(), Some("300s"));
    assert!(skipped_reason(imp, "hosts:1").contains("loopback"));
    // Conditional forwarding: the CIDR's reverse zones and the domain, to the router.
    for domain in ["192.168.1.0/24", "lan"] {
        let key = site::forward(&toml::toml! { domain = domain upstreams = ["udp://192.168.1.1"] }).unwrap().0;
        assert_eq!(
            table(imp, &key)["upstreams"].as_array().unwrap()[0].as_str(),
            Some("udp://192.168.1.1"),
            "{domain}"
        );
    }
    assert!(!imp.report.skipped.iter().any(|s| s.kind == "forward"), "{:?}", imp.report.skipped);
}

/// Imports `src` twice into `base`: the first adds, the second finds everything there.
fn twice(src: &Source, base: &str) -> Import {
    let (first, text) = run(src, base);
    let current: SiteRecords = site::records(&text).unwrap();
    let second = import(src, &current, NOW).unwrap();
    // Leases are not site items: they are listed every time (the journal dedupes them).
    let added: usize = second.report.kinds.iter().filter(|(k, _)| *k != "lease").map(|(_, c)| c.added).sum();
    assert_eq!(added, 0, "{:#?}", second.report);
    assert!(second.records.is_empty());
    for (kind, c) in &first.report.kinds {
        if kind != "lease" {
            assert_eq!(second.report.counts(kind).unchanged, c.added + c.unchanged, "{kind}");
        }
        assert_eq!(second.report.counts(kind).skipped, c.skipped, "{kind}");
    }
    assert_eq!(validate(&text, &second).unwrap(), text, "a second import changes nothing");
    first
}

#[test]
fn v6_teleporter_zip() {
    let src = Source::from_bytes(&zip(&v6_entries())).unwrap();
    let imp = twice(&src, BASE);
    assert!(imp.report.format.contains("v6"));
    check_policy(&imp, 3);
    assert_eq!(table(&imp, "list/pihole-adlist-3")["kind"].as_str(), Some("allow"));
    check_dhcp(&imp, 2);
    check_records(&imp);
    assert_eq!(imp.report.counts("record"), counts(6, 0, 3));
    assert!(skipped_reason(&imp, "pihole.toml:dhcp.hosts[2]").contains("tags"));
    // The base config's upstreams are left alone; the rest of [dns] is added.
    let dns = table(&imp, "dns");
    assert_eq!(strs(&dns, "upstreams"), ["udp://1.1.1.1"]);
    assert_eq!((dns["local_domain"].as_str(), dns["block_response"].as_str()), (Some("lan"), Some("null")));
    assert!(skipped_reason(&imp, "pihole.toml:dns.upstreams[2]").contains("Pi-hole host"));
}

#[test]
fn v5_teleporter_tar_gz() {
    let src = Source::from_bytes(&tar_gz(&v5_entries())).unwrap();
    let imp = twice(&src, "");
    assert!(imp.report.format.contains("v5"));
    check_policy(&imp, 2);
    check_dhcp(&imp, 2);
    check_records(&imp);
    assert_eq!(imp.report.counts("record"), counts(5, 0, 3));
    assert!(imp.report.notes.iter().any(|n| n.contains("assumed /24")));
    assert_eq!(strs(&table(&imp, "dns"), "upstreams"), ["udp://9.9.9.9", "udp://149.112.112.112"]);
    assert!(skipped_reason(&imp, "dnsmasq.d/99-user.conf:1").contains("not imported"));
    assert!(!imp.report.skipped.iter().any(|s| s.source.starts_with("dnsmasq.d/01-pihole")));
}

#[test]
fn pihole_directory() {
    let root = tempfile::tempdir().unwrap();
    let src = Source::open(&pihole_dir(root.path())).unwrap();
    let imp = twice(&src, BASE);
    assert!(imp.report.format.contains("directory"));
    check_policy(&imp, 3);
    check_dhcp(&imp, 2);
    check_records(&imp);
    assert!(skipped_reason(&imp, "dnsmasq.d/99-user.conf:1").contains("not imported"));
}

#[test]
fn an_existing_subnet_takes_the_reservations() {
    let base = "[[subnet]]\nname = \"home\"\ncidr = \"192.168.0.0/16\"\n";
    let src = Source::from_bytes(&zip(&v6_entries())).unwrap();
    let (imp, _) = run(&src, base);
    assert_eq!(imp.report.counts("subnet"), counts(0, 1, 0));
    assert!(imp.records.contains_key("reservation/home/aa:bb:cc:dd:ee:01"));
}

/// Regression: on a second import the regexes of the first counted against ravens's cap of
/// 1,024 before their key was looked up, so they were reported as skipped over the cap
/// instead of unchanged.
#[test]
fn regexes_over_the_cap_are_skipped_each_time_and_imported_ones_stay_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("gravity.db");
    let db = rusqlite::Connection::open(&p).unwrap();
    db.execute_batch(SCHEMA).unwrap();
    db.execute_batch("BEGIN; INSERT INTO \"group\" (id, name) VALUES (0, 'Default');").unwrap();
    for d in 1..=1100i64 {
        let re = format!(r"^ad{d}[0-9]*\.tracker\.example$");
        db.execute("INSERT INTO domainlist (id, type, domain) VALUES (?1, 3, ?2)", (d, re)).unwrap();
        db.execute("INSERT INTO domainlist_by_group VALUES (?1, 0)", [d]).unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let src = Source::from_bytes(&zip(&[("etc/pihole/gravity.db".into(), std::fs::read(&p).unwrap())])).unwrap();
    let imp = twice(&src, BASE);
    assert_eq!(imp.report.counts("entry"), counts(1024, 0, 76), "{:#?}", imp.report);
    assert!(skipped_reason(&imp, "gravity.db:domainlist id 1100").contains("at most 1024 regex rules"));
}
