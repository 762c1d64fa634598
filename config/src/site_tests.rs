use super::*;

pub(super) const FILE: &str = r#"# node a of the pair
[node]
name = "a"   # node-local

[cluster]
name = "home"
gossip_listen = "127.0.0.1:7946"
secret_file = "/etc/ravens/cluster.key"

[dns]
# quad9 first
upstreams = ["udp://192.0.2.1"]
local_domain = "lan"

[[group]]
name = "iot"
clients = ["10.0.20.0/24"]
lists = []   # unfiltered

[[group]]
name = "guest"
clients = ["10.0.30.0/24"]

[[list]]
name = "ads"
url = "https://lists.example/hosts.txt"

[[list]]
name = "custom-block"
entries = ["a.example", "||b.example^"]

[[record]]
name = "nas.lan"
type = "A"
value = "10.0.1.10"

[[subnet]]
name = "home"
cidr = "10.0.1.0/24"
pools = ["10.0.1.100-10.0.1.200"]

[[subnet.reservation]]
mac = "AA:BB:CC:DD:EE:10"   # the NAS
ip = "10.0.1.10"
"#;

fn keys(r: &SiteRecords) -> Vec<&str> {
    r.keys().map(String::as_str).collect()
}

#[test]
fn a_file_is_cut_into_keyed_records_without_node_sections() {
    let r = records(FILE).unwrap();
    assert_eq!(
        keys(&r),
        [
            "dns",
            "entry/custom-block/%7C%7Cb.example^",
            "entry/custom-block/a.example",
            "group/guest",
            "group/iot",
            "list/ads",
            "list/custom-block",
            "record/nas.lan A 10.0.1.10",
            "reservation/home/aa:bb:cc:dd:ee:10",
            "subnet/home",
        ]
    );
    assert!(r["group/iot"].contains("_order = 0"), "{}", r["group/iot"]);
    assert!(r["group/guest"].contains("_order = 1"));
    assert!(!r["subnet/home"].contains("reservation"));
    assert!(r["reservation/home/aa:bb:cc:dd:ee:10"].contains("subnet = \"home\""));
}

#[test]
fn formatting_and_comments_do_not_change_records() {
    let reformatted = FILE.replace("# quad9 first\n", "").replace("local_domain = \"lan\"", "local_domain   =   'lan'");
    assert_eq!(records(FILE).unwrap(), records(&reformatted).unwrap());
}

#[test]
fn applying_the_same_records_is_byte_identical() {
    let r = records(FILE).unwrap();
    assert_eq!(apply(FILE, &r).unwrap(), FILE);
}

#[test]
fn a_changed_item_is_edited_in_place_keeping_comments_and_node_sections() {
    let mut r = records(FILE).unwrap();
    let mut dns = decode("dns", &r["dns"]).unwrap();
    dns.insert("local_domain".into(), Value::String("home.arpa".into()));
    r.insert("dns".into(), canon(&dns));
    let out = apply(FILE, &r).unwrap();
    assert!(out.contains("local_domain = \"home.arpa\""), "{out}");
    for kept in ["# node a of the pair", "name = \"a\"   # node-local", "# quad9 first", "lists = []   # unfiltered"] {
        assert!(out.contains(kept), "lost {kept:?}:\n{out}");
    }
    assert_eq!(records(&out).unwrap(), r);
}

#[test]
fn a_changed_value_keeps_the_comments_around_its_key() {
    let text =
        "[dns]\n# the resolvers: see the wiki\nupstreams = [\"udp://10.0.0.1\"]   # primary\ncache_size = \"1MiB\"\n";
    let mut r = records(text).unwrap();
    let mut dns = decode("dns", &r["dns"]).unwrap();
    dns.insert("upstreams".into(), Value::Array(vec![Value::String("udp://10.0.0.2".into())]));
    r.insert("dns".into(), canon(&dns));
    let out = apply(text, &r).unwrap();
    assert_eq!(
        out,
        "[dns]\n# the resolvers: see the wiki\nupstreams = [\"udp://10.0.0.2\"]   # primary\ncache_size = \"1MiB\"\n"
    );
}

#[test]
fn items_are_added_and_removed() {
    let mut r = records(FILE).unwrap();
    r.remove("record/nas.lan A 10.0.1.10");
    let mut rec = Table::new();
    rec.insert("name".into(), Value::String("printer.lan".into()));
    rec.insert("type".into(), Value::String("A".into()));
    rec.insert("value".into(), Value::String("10.0.1.20".into()));
    let (k, v) = record(&rec).unwrap();
    r.insert(k, v);
    let (k, v) = entry("custom-block", "c.example");
    r.insert(k, v);
    r.remove("entry/custom-block/a.example");
    r.remove("reservation/home/aa:bb:cc:dd:ee:10");
    let out = apply(FILE, &r).unwrap();
    assert!(!out.contains("nas.lan"), "{out}");
    assert!(out.contains("printer.lan"), "{out}");
    assert!(out.contains(r#"entries = ["||b.example^", "c.example"]"#), "{out}");
    assert!(!out.contains("[[subnet.reservation]]"), "{out}");
    assert_eq!(records(&out).unwrap(), r);
    // The result is still a valid config.
    crate::parse_with(&out, "t.toml", &|| String::new()).unwrap();
}

#[test]
fn group_order_is_replicated() {
    let mut r = records(FILE).unwrap();
    let swap = |k: &str, order: i64, r: &mut SiteRecords| {
        let mut t = decode(k, &r[k]).unwrap();
        t.insert("_order".into(), Value::Integer(order));
        r.insert(k.into(), canon(&t));
    };
    swap("group/iot", 1, &mut r);
    swap("group/guest", 0, &mut r);
    let out = apply(FILE, &r).unwrap();
    assert!(out.find("name = \"guest\"").unwrap() < out.find("name = \"iot\"").unwrap(), "{out}");
    assert!(out.contains("lists = []   # unfiltered"), "{out}");
    assert_eq!(records(&out).unwrap(), r);
}

#[test]
fn a_minimal_file_is_seeded_and_export_has_no_node_sections() {
    let minimal = "[node]\nname = \"b\"\n";
    let r = records(FILE).unwrap();
    let out = apply(minimal, &r).unwrap();
    assert!(out.starts_with("[node]\nname = \"b\"\n"), "{out}");
    assert_eq!(records(&out).unwrap(), r);
    crate::parse_with(&out, "t.toml", &|| String::new()).unwrap();
    let exported = export(&r).unwrap();
    assert!(!exported.contains("[node]") && !exported.contains("[cluster]"), "{exported}");
    assert_eq!(records(&exported).unwrap(), r);
}

#[test]
fn keys_escape_bars_and_hash_long_identities() {
    assert_eq!(key("entry", "l/||x^"), "entry/l/%7C%7Cx^");
    let long = "x".repeat(400);
    let k = key("record", &long);
    assert!(k.starts_with("record/#") && k.len() < MAX_KEY, "{k}");
    assert_eq!(k, key("record", &long));
}

#[test]
fn inline_tables_are_refused_with_a_clear_error() {
    // An inline array of tables is still an array of tables to the parser: accepted.
    assert!(records("group = [{ name = \"x\" }]\n").is_ok());
    let e = records("group = 3\n").unwrap_err().to_string();
    assert!(e.contains("[[group]]"), "{e}");
}
