use super::*;
use crate::site::{SiteFile, record};

const BASE: &str = r#"
[node]
name = "a"
dns_listen = ["127.0.0.1:5353"]

[dns]
upstreams = ["udp://127.0.0.1:9"]

# printers
[[record]]
name = "printer.lan"
type = "A"
value = "10.0.0.5"

[[record]]
name = "mail.lan"
type = "MX"
value = "10 mx.lan"
ttl = "1h"

[[group]]
name = "kids"
clients = ["10.0.0.0/28"]
"#;

fn parse(text: &str) -> Config {
    crate::parse_with(text, "test.toml", &String::new).expect("valid")
}

fn item(name: &str, ty: &str, value: &str) -> (String, String) {
    let mut t = toml::Table::new();
    t.insert("name".into(), name.into());
    t.insert("type".into(), ty.into());
    t.insert("value".into(), value.into());
    record(&t).unwrap()
}

/// The edit's config from [`revalidate`] and from parsing the edited file in full.
fn both(edit: impl FnOnce(&mut SiteRecords)) -> (Option<Result<Config, ConfigError>>, Result<Config, ConfigError>) {
    let file = SiteFile::parse(BASE.to_string()).unwrap();
    let base = parse(BASE);
    let mut after = file.records().clone();
    edit(&mut after);
    let new = file.edit(after.clone()).unwrap();
    (revalidate(&base, file.records(), &after), crate::parse_with(new.text(), "test.toml", &String::new))
}

#[test]
fn an_added_record_gives_what_the_full_parse_gives() {
    let (fast, full) = both(|r| {
        let (k, v) = item("nas.lan", "AAAA", "fd00::5");
        r.insert(k, v);
    });
    assert_eq!(fast.expect("records only").unwrap(), full.unwrap());
}

#[test]
fn removed_and_replaced_records_give_what_the_full_parse_gives() {
    let (fast, full) = both(|r| {
        r.retain(|k, _| !k.starts_with("record/printer.lan"));
        let (k, _) = item("mail.lan", "MX", "10 mx.lan");
        r.insert(k, "name = \"mail.lan\"\nttl = \"5m\"\ntype = \"MX\"\nvalue = \"10 mx.lan\"\n".into());
    });
    let (fast, full) = (fast.expect("records only").unwrap(), full.unwrap());
    assert_eq!(fast, full);
    assert_eq!(fast.records.len(), 1);
    assert_eq!(fast.records[0].ttl, 300);
}

#[test]
fn an_invalid_record_is_refused_with_its_name_and_the_reason() {
    let (fast, full) = both(|r| {
        let (k, v) = item("bad.lan", "A", "10.0.0.999");
        r.insert(k, v);
    });
    let err = fast.expect("records only").unwrap_err().to_string();
    assert!(err.contains("bad.lan A 10.0.0.999") && err.contains("is not an IPv4 address"), "{err}");
    assert!(full.is_err());
}

#[test]
fn any_other_change_is_left_to_the_full_parse() {
    let (fast, _) = both(|r| {
        r.retain(|k, _| !k.starts_with("group/"));
    });
    assert!(fast.is_none());
}

#[test]
fn a_file_that_repeats_a_record_is_left_to_the_full_parse() {
    let text = format!("{BASE}\n[[record]]\nname = \"printer.lan\"\ntype = \"A\"\nvalue = \"10.0.0.5\"\n");
    let file = SiteFile::parse(text.clone()).unwrap();
    let mut after = file.records().clone();
    after.retain(|k, _| !k.starts_with("record/printer.lan"));
    assert!(revalidate(&parse(&text), file.records(), &after).is_none());
}

#[test]
fn no_change_is_the_same_config() {
    let (fast, full) = both(|_| {});
    assert_eq!(fast.expect("nothing changed").unwrap(), full.unwrap());
}

#[test]
fn a_replaced_record_keeps_its_place() {
    let text = format!("{BASE}\n[[record]]\nname = \"z.lan\"\ntype = \"A\"\nvalue = \"10.0.0.9\"\n");
    let file = SiteFile::parse(text.clone()).unwrap();
    let mut after = file.records().clone();
    let (k, _) = item("mail.lan", "MX", "10 mx.lan");
    after.insert(k, "name = \"mail.lan\"\nttl = \"5m\"\ntype = \"MX\"\nvalue = \"10 mx.lan\"\n".into());
    let new = file.edit(after.clone()).unwrap();
    let fast = revalidate(&parse(&text), file.records(), &after).expect("records only").unwrap();
    assert_eq!(fast, crate::parse_with(new.text(), "test.toml", &String::new).unwrap());
    assert_eq!(fast.records[1].ttl, 300);
}
