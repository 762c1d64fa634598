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

#[test]
fn issue_10_list_files_only_from_list_dirs() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ravens.toml");
    let data = dir.path().join("data");
    let write = |body: &str| {
        std::fs::write(&file, format!("[node]\ndata_dir = \"{}\"\n{body}", data.display())).unwrap();
        load_file(&file)
    };
    let list = |path: &str| format!("[[list]]\nname = \"l\"\npath = \"{path}\"\n");
    let here = dir.path().join("ads.txt");
    assert!(write(&list(here.to_str().unwrap())).is_ok(), "the config's directory");
    let copy = data.join("lists").join("mine.txt");
    assert!(write(&list(copy.to_str().unwrap())).is_ok(), "data_dir/lists, not created yet");
    let e = write(&list("/etc/shadow")).unwrap_err().to_string();
    assert!(e.contains(":5:8: list.path: '/etc/shadow' is outside") && e.contains("node.list_dirs"), "{e}");
    let up = dir.path().join("data/../../x.txt");
    assert!(write(&list(up.to_str().unwrap())).is_err(), "'..' resolved before comparing");
    let cfg = write(&format!("list_dirs = [\"/etc\"]\n{}", list("/etc/ravens/x.txt"))).unwrap();
    assert_eq!(cfg.node.list_dirs, [std::path::PathBuf::from("/etc")]);
    assert!(
        write(&format!("list_dirs = [\"/etc\"]\n{}", list(here.to_str().unwrap()))).is_err(),
        "it replaces the defaults"
    );
    // Text that is not a file (an import checked alone, a test) has no directory: checked only
    // against list_dirs it sets itself.
    assert!(parse_t(&list("/etc/shadow")).is_ok());
    assert!(parse_t(&format!("[node]\nlist_dirs = [\"/srv\"]\n{}", list("/etc/shadow"))).is_err());
}

#[test]
fn chaos_defaults_to_refuse_and_names_its_choices() {
    assert_eq!(parse_t("").unwrap().dns.chaos, crate::dns::Chaos::Refuse);
    assert_eq!(parse_t("[dns]\nchaos = \"identity\"\n").unwrap().dns.chaos, crate::dns::Chaos::Identity);
    let e = err("[dns]\nchaos = \"hide\"\n");
    assert!(e.starts_with("t.toml:2:9: dns.chaos:") && e.contains("refuse or identity"), "{e}");
}

#[test]
fn encrypted_listeners_need_a_certificate_and_key() {
    let e = err("[node]\ndot_listen = [\"127.0.0.1:853\"]\n");
    assert!(e.contains("node.tls_cert_file") && e.contains("node.tls_key_file"), "{e}");
    let e = err("[node]\ntls_cert_file = \"/c.pem\"\n");
    assert!(e.contains("set both or neither"), "{e}");
    let e = err("[node]\ndoh_path = \"dns-query\"\n");
    assert!(e.starts_with("t.toml:2:12: node.doh_path"), "{e}");
    let c =
        parse_t("[node]\ndoh_listen = [\"127.0.0.1:443\"]\ntls_cert_file = \"/c.pem\"\ntls_key_file = \"/k.pem\"\n")
            .unwrap();
    let enc = &c.node.encrypted;
    assert_eq!((enc.doh_path.as_str(), enc.dot_listen.len(), enc.doh_listen.len()), ("/dns-query", 0, 1));
    assert_eq!(enc.tls.as_ref().unwrap().key, std::path::PathBuf::from("/k.pem"));
}

#[test]
fn the_ui_password_hash_is_site_config_and_must_be_argon2id() {
    let h = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA";
    let text = format!("[node]\nname = \"a\"\n\n[ui]\npassword_hash = \"{h}\"\n");
    let cfg = parse_with(&text, "t", &|| String::new()).unwrap();
    assert_eq!(cfg.ui_password_hash.as_deref(), Some(h));
    // A record of its own, so it replicates, and written back by apply.
    let recs = site::records(&text).unwrap();
    assert!(recs.contains_key("ui"), "{recs:?}");
    let written = site::apply("[node]\nname = \"b\"\n", &recs).unwrap();
    assert_eq!(parse_with(&written, "t", &|| String::new()).unwrap().ui_password_hash.as_deref(), Some(h));
    // A plain password in the file is refused at its line.
    let err = parse_with("[ui]\npassword_hash = \"hunter2\"\n", "t", &|| String::new()).unwrap_err().to_string();
    assert!(err.contains("t:2:") && err.contains("argon2id"), "{err}");
}
