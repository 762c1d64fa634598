use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use super::*;

fn cfg_records() -> Vec<LocalRecord> {
    let text = r#"
[[record]]
name = "nas.lan"
type = "A"
value = "10.0.1.10"
[[record]]
name = "nas.lan"
type = "AAAA"
value = "fd00::10"
[[record]]
name = "www.lan"
type = "CNAME"
value = "nas.lan"
[[record]]
name = "lan"
type = "MX"
value = "10 mail.lan"
[[record]]
name = "_sip._udp.lan"
type = "SRV"
value = "0 5 5060 sip.lan"
[[record]]
name = "info.lan"
type = "TXT"
value = "hello"
[[record]]
name = "host.example.org"
type = "A"
value = "192.0.2.7"
"#;
    ravens_config::parse_with(text, "t", &String::new).unwrap().records
}

fn ask(zone: &LocalZone, name: &str, qtype: u16) -> Option<Message> {
    ask_as(zone, name, qtype, false)
}

fn ask_as(zone: &LocalZone, name: &str, qtype: u16, forwarded: bool) -> Option<Message> {
    let msg = wire::build_query(9, &wire::name_from_text(name).unwrap(), qtype, 1, false, None);
    let q = wire::parse_query(&msg).unwrap();
    let mut out = Vec::new();
    zone.answer(&msg, &q, &mut out, forwarded).then(|| Message::from_vec(&out).unwrap())
}

fn zone() -> LocalZone {
    let hosts = [HostName { fqdn: "laptop.lan".into(), addr: IpAddr::from([10, 0, 1, 50]), ttl: 60 }];
    LocalZone::build("lan", &cfg_records(), &hosts)
}

#[test]
fn answers_every_record_type_authoritatively() {
    let z = zone();
    let m = ask(&z, "NAS.lan", T_A).unwrap();
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 1);
    assert!(matches!(&m.answers[0].data, RData::A(a) if a.0.octets() == [10, 0, 1, 10]));
    assert!(matches!(ask(&z, "nas.lan", T_AAAA).unwrap().answers[0].data, RData::AAAA(_)));
    assert!(matches!(ask(&z, "lan", T_MX).unwrap().answers[0].data, RData::MX(_)));
    assert!(matches!(ask(&z, "_sip._udp.lan", T_SRV).unwrap().answers[0].data, RData::SRV(_)));
    assert!(matches!(ask(&z, "info.lan", T_TXT).unwrap().answers[0].data, RData::TXT(_)));
    assert_eq!(ask(&z, "laptop.lan", T_A).unwrap().answers.len(), 1);
}

#[test]
fn cname_is_followed_inside_the_zone() {
    let m = ask(&zone(), "www.lan", T_A).unwrap();
    let types: Vec<RecordType> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::CNAME, RecordType::A]);
}

#[test]
fn automatic_ptr_for_a_and_aaaa() {
    let z = zone();
    let m = ask(&z, "10.1.0.10.in-addr.arpa", T_PTR).unwrap();
    assert!(matches!(&m.answers[0].data, RData::PTR(p) if p.0.to_ascii() == "nas.lan."));
    assert_eq!(ask(&z, &reverse_name("fd00::10".parse().unwrap()), T_PTR).unwrap().answers.len(), 1);
    assert_eq!(ask(&z, "50.1.0.10.in-addr.arpa", T_PTR).unwrap().answers.len(), 1);
}

#[test]
fn unknown_local_names_are_nxdomain_with_soa() {
    let m = ask(&zone(), "nothere.lan", T_A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(m.authorities.len(), 1);
    assert_eq!(m.authorities[0].record_type(), RecordType::SOA);
    assert_eq!(m.authorities[0].name.to_ascii(), "lan.");
}

#[test]
fn other_types_of_existing_names_are_nodata() {
    let m = ask(&zone(), "info.lan", T_A).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert_eq!(m.authorities.len(), 1);
    let m = ask(&zone(), "_udp.lan", T_A).unwrap(); // empty non-terminal
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn private_reverse_zones_never_leave() {
    let z = zone();
    for name in
        ["1.2.168.192.in-addr.arpa", "9.9.20.172.in-addr.arpa", "3.3.3.10.in-addr.arpa", "1.1.64.100.in-addr.arpa"]
    {
        let m = ask(&z, name, T_PTR).unwrap_or_else(|| panic!("{name} was not local"));
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain, "{name}");
    }
    assert!(ask(&z, "1.1.32.172.in-addr.arpa", T_PTR).is_none(), "172.32/16 is public");
    assert!(ask(&z, "8.8.8.8.in-addr.arpa", T_PTR).is_none());
}

#[test]
fn names_outside_local_zones_are_not_answered() {
    let z = zone();
    assert!(ask(&z, "example.com", T_A).is_none());
    assert!(ask(&z, "notlan", T_A).is_none(), "suffix must match on a label boundary");
    assert_eq!(ask(&z, "host.example.org", T_A).unwrap().answers.len(), 1);
    assert!(ask(&z, "other.example.org", T_A).is_none());
}

#[test]
fn apex_soa() {
    let m = ask(&zone(), "lan", T_SOA).unwrap();
    assert_eq!(m.answers.len(), 1);
}

#[test]
fn a_forwarded_name_is_answered_here_only_when_it_has_local_records() {
    let z = zone();
    // 192.168.0.0/16 forwarded: an unknown PTR leaves the local zone, a known one does not.
    assert!(ask_as(&z, "1.2.168.192.in-addr.arpa", T_PTR, true).is_none());
    assert!(ask_as(&z, "unknown.lan", T_A, true).is_none());
    assert_eq!(ask_as(&z, "nas.lan", T_A, true).unwrap().answers.len(), 1);
    assert_eq!(ask_as(&z, "50.1.0.10.in-addr.arpa", T_PTR, true).unwrap().answers.len(), 1);
}

fn a(name: &str, ip: [u8; 4]) -> LocalRecord {
    LocalRecord { name: name.into(), ttl: 300, data: RecordData::A(ip.into()) }
}

fn host(fqdn: &str, ip: [u8; 4]) -> HostName {
    HostName { fqdn: fqdn.into(), addr: IpAddr::from(ip), ttl: 60 }
}

#[test]
fn records_added_to_a_zone_give_what_a_build_gives() {
    let mut records = cfg_records();
    let hosts = [host("laptop.lan", [10, 0, 9, 1])];
    let before = LocalZone::build("lan", &records, &hosts);
    let added = [a("new.lan", [10, 0, 1, 99]), a("deep.sub.lan", [10, 0, 1, 10]), a("nas.lan", [10, 0, 1, 11])];
    records.extend(added.iter().cloned());
    let grown = before.with_added(&added, &hosts).expect("no clash with a host");
    assert_eq!(grown, LocalZone::build("lan", &records, &hosts));
}

#[test]
fn a_record_on_a_hosts_name_or_address_is_built_afresh() {
    let records = cfg_records();
    let hosts = [host("laptop.lan", [10, 0, 9, 1])];
    let zone = LocalZone::build("lan", &records, &hosts);
    assert!(zone.with_added(&[a("laptop.lan", [10, 0, 9, 2])], &hosts).is_none(), "same name");
    assert!(zone.with_added(&[a("other.lan", [10, 0, 9, 1])], &hosts).is_none(), "same address (PTR)");
}
