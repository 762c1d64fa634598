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
