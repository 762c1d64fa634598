//! Edits through [`SiteFile`]: the splice must read back as exactly the desired records,
//! leave a layout equal to a fresh scan, keep comments, and fall back to the whole-file
//! writer for what it does not handle.

use toml::{Table, Value};

use super::super::tests::FILE;
use super::super::{apply, canon, decode, entry, entry_state, record, records, reservation};
use super::*;

fn rec(name: &str, ty: &str, value: &str) -> (String, String) {
    let mut t = Table::new();
    t.insert("name".into(), Value::String(name.into()));
    t.insert("type".into(), Value::String(ty.into()));
    t.insert("value".into(), Value::String(value.into()));
    record(&t).unwrap()
}

/// Edits `text` to `desired` and checks the result; returns the new text and whether the
/// splice (not the whole-file writer) did it.
fn edit(text: &str, desired: &SiteRecords) -> (String, bool) {
    let f = SiteFile::parse(text.to_string()).unwrap();
    assert!(f.layout.is_some(), "no layout for:\n{text}");
    let spliced = splice(f.text(), f.layout.as_ref().unwrap(), f.records(), desired).is_some();
    let out = f.edit(desired.clone()).unwrap();
    assert_eq!(&records(out.text()).unwrap(), desired, "records differ after the edit:\n{}", out.text());
    assert_eq!(out.records(), desired);
    let fresh = SiteFile::parse(out.text().to_string()).unwrap();
    assert_eq!(out.layout, fresh.layout, "the spliced layout is not the text's:\n{}", out.text());
    crate::parse_with(out.text(), "t.toml", &String::new).unwrap();
    (out.text().to_string(), spliced)
}

#[test]
fn records_are_added_changed_and_removed_in_place() {
    let mut r = records(FILE).unwrap();
    let (k, v) = rec("printer.lan", "A", "10.0.1.20");
    r.insert(k, v);
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced);
    assert!(out.contains("value = \"10.0.1.10\"\n\n[[record]]\nname = \"printer.lan\""), "{out}");
    assert!(out.find("printer.lan").unwrap() < out.find("[[subnet]]").unwrap(), "{out}");
    assert_eq!(out.replace("\n[[record]]\nname = \"printer.lan\"\ntype = \"A\"\nvalue = \"10.0.1.20\"\n", ""), FILE);

    let mut t = decode("record/nas.lan A 10.0.1.10", &r["record/nas.lan A 10.0.1.10"]).unwrap();
    t.insert("ttl".into(), Value::String("1h".into()));
    r.insert("record/nas.lan A 10.0.1.10".into(), canon(&t));
    r.remove(&rec("printer.lan", "A", "10.0.1.20").0);
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced && out.contains("value = \"10.0.1.10\"\nttl = \"1h\"\n"), "{out}");
    for kept in ["# node a of the pair", "# quad9 first", "lists = []   # unfiltered", "# the NAS"] {
        assert!(out.contains(kept), "lost {kept:?}:\n{out}");
    }
    r.remove("record/nas.lan A 10.0.1.10");
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced && !out.contains("nas.lan") && out.contains("[[subnet]]"), "{out}");
}

#[test]
fn entries_and_reservations_are_edited_with_their_list_and_subnet() {
    let mut r = records(FILE).unwrap();
    let (k, v) = entry("custom-block", "c.example");
    r.insert(k, v);
    r.remove("entry/custom-block/a.example");
    let mut res = Table::new();
    for (k, v) in [("subnet", "home"), ("mac", "aa:bb:cc:dd:ee:20"), ("ip", "10.0.1.20")] {
        res.insert(k.into(), Value::String(v.into()));
    }
    let (k, v) = reservation(&res).unwrap();
    r.insert(k, v);
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced);
    assert!(out.contains(r#"entries = ["||b.example^", "c.example"]"#), "{out}");
    assert!(out.contains("mac = \"AA:BB:CC:DD:EE:10\"   # the NAS") && out.contains("aa:bb:cc:dd:ee:20"), "{out}");

    // A list goes with its entries; a subnet with its reservations.
    r.retain(|k, _| !k.starts_with("entry/") && !k.starts_with("reservation/") && k != "list/custom-block");
    r.remove("subnet/home");
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced && !out.contains("custom-block") && !out.contains("[[subnet"), "{out}");
}

#[test]
fn what_the_splice_does_not_handle_goes_through_the_whole_file_writer() {
    let mut r = records(FILE).unwrap();
    let mut dns = decode("dns", &r["dns"]).unwrap();
    dns.insert("local_domain".into(), Value::String("home.arpa".into()));
    r.insert("dns".into(), canon(&dns));
    let (out, spliced) = edit(FILE, &r);
    assert!(!spliced && out.contains("home.arpa") && out.contains("# quad9 first"), "{out}");

    // The first record of a file without records.
    let no_records = FILE.replace("[[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.0.1.10\"\n\n", "");
    let mut r = records(&no_records).unwrap();
    let (k, v) = rec("printer.lan", "A", "10.0.1.20");
    r.insert(k, v);
    let (out, spliced) = edit(&no_records, &r);
    assert!(!spliced && out.contains("printer.lan"), "{out}");

    // A list removed while its entries stay in the records: the writer drops the entries.
    let mut r = records(FILE).unwrap();
    r.remove("list/custom-block");
    let f = SiteFile::parse(FILE.to_string()).unwrap();
    assert!(splice(f.text(), f.layout.as_ref().unwrap(), f.records(), &r).is_none());
    let out = f.edit(r).unwrap();
    assert!(!out.records().keys().any(|k| k.starts_with("entry/")), "{:?}", out.records());
}

#[test]
fn headers_inside_strings_and_odd_shapes_are_not_taken_for_items() {
    let text = "[dns]\nupstreams = []\n\n[[record]]\nname = \"t.lan\"\ntype = \"TXT\"\nvalue = '''\n[[record]]\n# not a comment'''\n\n# about the next one\n[[record]] # trailing\nname = \"u.lan\"\ntype = \"A\"\nvalue = \"10.0.0.1\"";
    let mut r = records(text).unwrap();
    r.remove(&rec("u.lan", "A", "10.0.0.1").0);
    let (k, v) = rec("v.lan", "A", "10.0.0.2");
    r.insert(k, v);
    let (out, spliced) = edit(text, &r);
    assert!(spliced, "{out}");
    assert!(out.contains("'''\n[[record]]\n# not a comment'''\n") && !out.contains("about the next one"), "{out}");
    assert!(out.ends_with("name = \"v.lan\"\ntype = \"A\"\nvalue = \"10.0.0.2\"\n"), "{out}");

    // A reservation away from its subnet: no layout, the whole-file writer edits it.
    let away = "[[subnet]]\nname = \"s\"\ncidr = \"10.0.0.0/24\"\n[dns]\nupstreams = []\n[[subnet.reservation]]\nmac = \"aa:bb:cc:dd:ee:ff\"\nip = \"10.0.0.9\"\n";
    let table: Table = toml::from_str(away).unwrap();
    assert!(Layout::scan(away, &table).is_none());
    // The same item twice: no layout either.
    let twice = "[[record]]\nname = \"a\"\ntype = \"A\"\nvalue = \"10.0.0.1\"\n[[record]]\nname = \"A.\"\ntype = \"a\"\nvalue = \"10.0.0.1\"\n";
    let table: Table = toml::from_str(twice).unwrap();
    assert!(Layout::scan(twice, &table).is_none());
}

#[test]
fn many_edits_of_a_large_file_read_back_exactly() {
    let mut text = String::from(
        "[node]\nname = \"a\"\n\n[dns]\nupstreams = []\n\n[[list]]\nname = \"custom-block\"\nentries = []\n",
    );
    for i in 0..500 {
        text.push_str(&format!(
            "\n# host {i}\n[[record]]\nname = \"h{i}.lan\"\ntype = \"A\"\nvalue = \"10.0.{}.{}\"\n",
            i / 250,
            i % 250
        ));
    }
    text.push_str("\n[[subnet]]\nname = \"s\"\ncidr = \"10.9.0.0/16\"\n");
    let mut f = SiteFile::parse(text).unwrap();
    for step in 0..12usize {
        let mut r = f.records().clone();
        let i = step * 47 % 500;
        r.remove(&rec(&format!("h{i}.lan"), "A", &format!("10.0.{}.{}", i / 250, i % 250)).0);
        let (k, v) = rec(&format!("n{step}.lan"), "AAAA", &format!("fd00::{step:x}"));
        r.insert(k, v);
        let (k, v) = entry("custom-block", &format!("b{step}.example"));
        r.insert(k, v);
        let mut res = Table::new();
        for (k, v) in
            [("subnet", "s"), ("mac", &format!("aa:bb:cc:dd:00:{step:02x}")), ("ip", &format!("10.9.1.{step}"))]
        {
            res.insert(k.into(), Value::String(v.to_string()));
        }
        let (k, v) = reservation(&res).unwrap();
        r.insert(k, v);
        let (out, spliced) = edit(f.text(), &r);
        assert!(spliced);
        f = SiteFile::parse(out).unwrap();
    }
    assert_eq!(f.records().keys().filter(|k| k.starts_with("record/")).count(), 500);
}

#[test]
fn a_disabled_entry_is_written_as_a_table_and_not_compiled() {
    let mut r = records(FILE).unwrap();
    let (k, v) = entry_state("custom-block", "a.example", false);
    assert_eq!(k, "entry/custom-block/a.example", "the key does not depend on the state");
    r.insert(k, v);
    let (out, spliced) = edit(FILE, &r);
    assert!(spliced);
    assert!(out.contains(r#"entries = [{ rule = "a.example", enabled = false }, "||b.example^"]"#), "{out}");
    assert_eq!(apply(FILE, &r).unwrap(), out, "the whole-file writer writes the same");
    let cfg = crate::parse_with(&out, "t.toml", &String::new).unwrap();
    let l = cfg.policy.lists.iter().find(|l| l.name == "custom-block").unwrap();
    assert_eq!(l.source, crate::policy::ListSource::Inline(vec!["||b.example^".into()]), "only enabled rules load");

    // Enabled again: back to the plain string, and to the original records.
    let (k, v) = entry("custom-block", "a.example");
    r.insert(k, v);
    let (back, _) = edit(&out, &r);
    assert!(back.contains(r#"entries = ["a.example", "||b.example^"]"#), "{back}");
    assert_eq!(records(&back).unwrap(), records(FILE).unwrap());
}

#[test]
fn an_entry_of_another_shape_is_refused() {
    for bad in [r#"{ rule = "x.example", enabled = "no" }"#, r#"{ rule = "x.example", color = 1 }"#, "3"] {
        let text = FILE.replace(r#"entries = ["a.example", "||b.example^"]"#, &format!("entries = [{bad}]"));
        let e = crate::parse_with(&text, "t.toml", &String::new).unwrap_err().to_string();
        assert!(e.contains("list.entries"), "{bad}: {e}");
        assert!(records(&text).is_err(), "{bad}");
    }
}
