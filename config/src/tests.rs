//! Whole-file parsing tests: errors carry FILE:LINE:COL and name the key.

use super::*;

/// Parses `text` as `t.toml` with a fixed resolv.conf (shared by the modules' tests).
pub(crate) fn parse_t(text: &str) -> Result<Config, ConfigError> {
    parse_with(text, "t.toml", &|| "nameserver 192.0.2.53\n".to_string())
}

/// The error `text` gives, as displayed.
pub(crate) fn err(text: &str) -> String {
    parse_t(text).unwrap_err().to_string()
}

#[test]
fn embedded_default_is_valid() {
    let c = embedded_default();
    assert_eq!(c.node.dns_listen, vec!["127.0.0.1:5353".parse().unwrap()]);
    assert_eq!(c.dns.local_domain, "lan");
}

#[test]
fn empty_file_uses_system_resolvers() {
    let c = parse_t("").unwrap();
    assert!(c.dns.upstreams_from_system);
    assert_eq!(c.dns.upstreams[0].addr, "192.0.2.53:53".parse().unwrap());
    assert_eq!(c.dns.upstream_timeout, std::time::Duration::from_secs(2));
}

#[test]
fn syntax_error_has_line_and_column() {
    let e = parse_t("[dns]\nlocal_domain = \"lan\"\nmax_ttl = \n").unwrap_err().to_string();
    assert!(e.starts_with("t.toml:3:"), "{e}");
}

#[test]
fn unknown_key_is_rejected_with_position() {
    let e = parse_t("[dns]\nupstream = [\"1.2.3.4\"]\n").unwrap_err().to_string();
    assert!(e.starts_with("t.toml:2:1:"), "{e}");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn bad_upstream_names_key_and_position() {
    let e = parse_t("[dns]\nupstreams = [\"udp://1.2.3.4\", \"ftp://x\"]\n").unwrap_err().to_string();
    assert!(e.starts_with("t.toml:2:31: dns.upstreams:"), "{e}");
}

#[test]
fn cidr_with_host_bits_is_not_a_network() {
    let e = parse_t("[dns]\nserve_networks = [\"10.0.0.1/16\"]\n").unwrap_err().to_string();
    assert!(e.contains("dns.serve_networks") && e.contains("host bits"), "{e}");
}

#[test]
fn overlapping_subnets_are_rejected() {
    let text = "[[subnet]]\nname = \"a\"\ncidr = \"10.0.0.0/16\"\n[[subnet]]\nname = \"b\"\ncidr = \"10.0.1.0/24\"\n";
    let e = parse_t(text).unwrap_err().to_string();
    assert!(e.starts_with("t.toml:6:8: subnet.cidr:") && e.contains("overlaps"), "{e}");
}

#[test]
fn records_of_every_type() {
    let text = r#"
[[record]]
name = "NAS.lan."
type = "A"
value = "10.0.1.10"
[[record]]
name = "nas.lan"
type = "aaaa"
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
ttl = "1h"
[[record]]
name = "lan"
type = "TXT"
value = "hello world"
"#;
    let c = parse_t(text).unwrap();
    assert_eq!(c.records.len(), 6);
    assert_eq!(c.records[0].name, "nas.lan");
    assert_eq!(c.records[4].ttl, 3600);
    let e = parse_t("[[record]]\nname = \"x.lan\"\ntype = \"A\"\nvalue = \"fd00::1\"\n").unwrap_err().to_string();
    assert!(e.starts_with("t.toml:4:9: record.value:"), "{e}");
}

#[test]
fn serve_networks_default_includes_subnets() {
    let c = parse_t("[[subnet]]\nname = \"iot\"\ncidr = \"10.0.20.0/24\"\n").unwrap();
    assert!(c.dns.serve_networks.contains(&"10.0.20.0/24".parse().unwrap()));
    assert!(c.dns.serve_networks.contains(&"127.0.0.0/8".parse().unwrap()));
}
