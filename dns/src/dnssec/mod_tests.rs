use super::*;

fn config(extra: &str) -> Config {
    let text = format!(
        "[node]\ndns_listen = [\"127.0.0.1:0\"]\n[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\ndnssec = \"validate\"\n{extra}"
    );
    ravens_config::parse(&text, "test.toml").unwrap()
}

fn wire(name: &str) -> Vec<u8> {
    crate::wire::name_from_text(name).unwrap()
}

#[test]
fn negative_trust_anchors_cover_their_subtrees_only() {
    let c = config(
        "dnssec_nta = [\"broken.example\"]\n[[forward]]\ndomain = \"corp.example\"\nupstreams = [\"udp://127.0.0.1:9\"]\n[[forward]]\ndomain = \"signed.example\"\nupstreams = [\"udp://127.0.0.1:9\"]\ndnssec = true\n",
    );
    let v = Validation::new(&c, 3).unwrap().with_not_before(0);
    let now = 2_000_000_000;
    for nta in ["host.lan", "lan", "a.b.broken.example", "corp.example", "x.corp.example", "1.1.168.192.in-addr.arpa"] {
        assert_eq!(v.applies(&wire(nta), now), Applies::Nta, "{nta}");
    }
    for validated in ["example", "notbroken.example", "x.signed.example", "www.example.com", "8.8.8.8.in-addr.arpa"] {
        assert_eq!(v.applies(&wire(validated), now), Applies::Validate, "{validated}");
    }
}

#[test]
fn a_clock_before_the_build_date_suspends_validation_until_it_is_sane() {
    let v = Validation::new(&config(""), 1).unwrap().with_not_before(1_800_000_000);
    assert_eq!(v.applies(&wire("example.com"), 1_700_000_000), Applies::Clock);
    assert_eq!(v.applies(&wire("example.com"), 1_800_000_001), Applies::Validate);
    // The status reads the real clock: before this build date it is wrong.
    let v = Validation::new(&config(""), 1).unwrap().with_not_before(4_000_000_000);
    assert!(!v.status().clock_ok);
    let v = Validation::new(&config(""), 1).unwrap().with_not_before(BUILD_TIME);
    assert!(v.status().clock_ok);
}

#[test]
fn the_build_date_is_recorded() {
    // Some time after this code was written, and not in the future.
    assert!(BUILD_TIME > 1_750_000_000 && BUILD_TIME <= ravens_config::clock::unix_secs());
}

#[test]
fn security_survives_the_cache_byte() {
    for s in [Security::Unchecked, Security::Secure, Security::Insecure, Security::Bogus(7), Security::Bogus(12)] {
        assert_eq!(Security::from_byte(s.to_byte()), s);
    }
}

#[test]
fn trust_anchor_files_in_zone_file_form() {
    let text = "; unbound root.key\n. 172800 IN DNSKEY 257 3 8 AwEAAa+s8A== ;{id = 20326 (ksk), size = 2048b}\n\
                .\tIN\tDS\t20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n\
                example. IN DNSKEY ( 256 3 13\n  mdsswUyr3DPW132mOi8V9xESWE8jTo0d\n  xCjjnopKl+GqJxpVXckHAeF+KkxLbxIL )\n";
    let a = anchor::parse(text).unwrap();
    assert_eq!(a.len(), 3);
    assert!(matches!(&a[0], Anchor::Dnskey(n, k) if n.is_root() && k.flags() == 257));
    assert!(matches!(&a[1], Anchor::Ds(n, ds) if n.is_root() && ds.key_tag() == 20326));
    assert!(matches!(&a[2], Anchor::Dnskey(n, k) if n.to_string() == "example." && k.flags() == 256));
    assert!(anchor::parse("; nothing\n").is_err());
    assert!(anchor::parse(". IN DS 20326 8 2 NOTHEX\n").is_err());
}

/// A positive answer `name` A with an authority NS record and an OPT, as nsd sends it.
fn positive_with_authority(authority_type: u16) -> Vec<u8> {
    let name = wire("www.example");
    let mut m = crate::wire::build_query(0, &name, 1, 1, false, None);
    m[2] |= 0x80;
    m[7] = 1; // ANCOUNT
    m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0x0E, 0x10, 0, 4, 192, 0, 2, 1]);
    m[9] = 1; // NSCOUNT
    m.extend_from_slice(&[0xC0, 16]); // "example"
    m.extend_from_slice(&authority_type.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0x0E, 0x10, 0, 2, 0xC0, 12]);
    m[11] = 1; // ARCOUNT: OPT
    m.extend_from_slice(&[0, 0, 41, 4, 0xD0, 0, 0, 0x80, 0, 0, 0]);
    m
}

#[test]
fn the_validator_sees_positive_answers_without_their_ns_and_glue_but_keeps_proofs() {
    let reply = positive_with_authority(2);
    let cut = handle::minimal(reply.clone());
    assert_eq!(&cut[6..12], &[0, 1, 0, 0, 0, 0]);
    assert_eq!(cut.len(), reply.len() - 14 - 11, "the NS record and the OPT are gone");
    // An NSEC in the authority section (a wildcard's proof) keeps everything.
    assert_eq!(handle::minimal(positive_with_authority(47)), positive_with_authority(47));
    // Negative answers and garbage pass as they are.
    let mut nx = reply.clone();
    nx[3] |= 3;
    assert_eq!(handle::minimal(nx.clone()), nx);
    assert_eq!(handle::minimal(vec![1, 2, 3]), vec![1, 2, 3]);
}
