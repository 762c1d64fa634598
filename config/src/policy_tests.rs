use super::*;
use crate::tests::{err, parse_t};

/// A reference home network: Home full blocking, IoT none, Guest malware only,
/// Work its own lists.
const REFERENCE: &str = r#"
[[group]]
name = "iot"
clients = ["10.0.20.0/24", "aa:bb:cc:dd:ee:ff"]
blocking = false
[[group]]
name = "guest"
clients = ["10.0.30.0/24"]
lists = ["malware"]
block_response = "nxdomain"
[[group]]
name = "work"
clients = ["10.0.40.0/24", "10.0.1.77"]
lists = ["work-block", "work-allow"]
[[group]]
name = "home"
clients = ["10.0.1.0/24"]
[[list]]
name = "ads"
url = "https://lists.example/hosts.txt"
groups = ["home", "default"]
[[list]]
name = "malware"
path = "/etc/ravens/malware.txt"
groups = ["home", "default"]
refresh = "6h"
[[list]]
name = "work-block"
path = "/etc/ravens/work.txt"
[[list]]
name = "work-allow"
path = "/etc/ravens/work-allow.txt"
kind = "allow"
enabled = false
"#;

#[test]
fn reference_network_is_expressible() {
    let p = parse_t(REFERENCE).unwrap().policy;
    assert_eq!(p.group_names, ["default", "iot", "guest", "work", "home"]);
    let (ads, malware, work, work_allow) = (0, 1, 2, 3);
    let bit = |name| 1u64 << p.group_index(name).unwrap();
    assert_eq!(p.list_mask(ads), bit("home") | bit("default"));
    assert_eq!(p.list_mask(malware), bit("home") | bit("default") | bit("guest"));
    // work-block names no group, so it defaults to `default`, plus work names it.
    assert_eq!(p.list_mask(work), bit("work") | bit("default"));
    assert_eq!(p.list_mask(work_allow), 0, "disabled");
    assert!(!p.groups[1].blocking);
    assert_eq!(p.groups[2].block_response, Some(BlockResponse::Nxdomain));
    assert_eq!(p.groups[1].clients[1], ClientMatch::Mac([0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff]));
    assert_eq!(p.lists[0].source, ListSource::Url("https://lists.example/hosts.txt".into()));
    assert_eq!(p.lists[0].refresh, Duration::from_secs(86_400));
    assert_eq!(p.lists[1].refresh, Duration::from_secs(6 * 3600));
    assert_eq!(p.lists[3].kind, ListKind::Allow);
    let order: Vec<&str> = p.match_order().map(|(_, g)| g.name.as_str()).collect();
    assert_eq!(order, ["iot", "guest", "work", "home"]);
}

#[test]
fn no_groups_means_default_only() {
    let p = parse_t("[[list]]\nname = \"a\"\npath = \"/x\"\n").unwrap().policy;
    assert_eq!(p.group_names, ["default"]);
    assert_eq!(p.list_mask(0), 1);
    assert_eq!(p.lists[0].kind, ListKind::Block);
    assert!(p.lists[0].enabled);
}

#[test]
fn semantic_errors_name_the_key() {
    let e = err("[[list]]\nname = \"a\"\npath = \"/x\"\nurl = \"http://h/x\"\n");
    assert!(e.starts_with("t.toml:4:7: list.url:"), "{e}");
    let e = err("[[list]]\nname = \"a\"\nurl = \"ftp://h/x\"\n");
    assert!(e.starts_with("t.toml:3:7: list.url:"), "{e}");
    let e = err("[[list]]\nname = \"a\"\n");
    assert!(e.contains("list: needs a path, a url or entries"), "{e}");
    let e = err("[[list]]\nname = \"a\"\npath = \"/x\"\nkind = \"deny\"\n");
    assert!(e.starts_with("t.toml:4:8: list.kind:"), "{e}");
    let e = err("[[list]]\nname = \"a\"\npath = \"/x\"\ngroups = [\"nope\"]\n");
    assert!(e.contains("list.groups: no group named 'nope'"), "{e}");
    let e = err("[[list]]\nname = \"a\"\npath = \"/x\"\nrefresh = \"soon\"\n");
    assert!(e.starts_with("t.toml:4:11: list.refresh:"), "{e}");
    let e = err("[[group]]\nname = \"g\"\nlists = [\"nope\"]\n");
    assert!(e.contains("group.lists: no list named 'nope'"), "{e}");
    let e = err("[[group]]\nname = \"g\"\nclients = [\"10.0.0.0/33\"]\n");
    assert!(e.starts_with("t.toml:3:12: group.clients:"), "{e}");
    let e = err("[[group]]\nname = \"g\"\nclients = [\"printer\"]\n");
    assert!(e.contains("group.clients: 'printer' is not a CIDR"), "{e}");
    let e = err("[[group]]\nname = \"g\"\nblock_response = \"drop\"\n");
    assert!(e.contains("group.block_response:"), "{e}");
    let e = err("[[group]]\nname = \"default\"\nclients = [\"10.0.0.1\"]\n");
    assert!(e.contains("group.clients: the default group"), "{e}");
    let e = err("[[group]]\nname = \"g\"\n[[group]]\nname = \"g\"\n");
    assert!(e.contains("group.name: duplicate group 'g'"), "{e}");
    let e = err("[[group]]\nname = \"g\"\ncolor = \"red\"\n");
    assert!(e.contains("unknown field"), "{e}");
}

#[test]
fn default_group_can_be_configured() {
    let text = "[[group]]\nname = \"default\"\nblocking = false\n[[list]]\nname = \"a\"\npath = \"/x\"\n";
    let p = parse_t(text).unwrap().policy;
    assert_eq!(p.group_names, ["default"]);
    assert!(!p.groups[0].blocking);
    assert_eq!(p.list_mask(0), 0);
}

#[test]
fn macs_parse_with_colons_or_dashes() {
    assert_eq!(parse_mac("AA-bb-0c-dd-ee-01"), Some([0xaa, 0xbb, 0x0c, 0xdd, 0xee, 0x01]));
    assert_eq!(parse_mac("aa:bb:cc:dd:ee"), None);
    assert_eq!(parse_mac("aa:bb:cc:dd:ee:ff:00"), None);
    assert_eq!(parse_mac("10.0.0.1"), None);
}
