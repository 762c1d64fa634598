//! Site-config changes through dnsctl on one real daemon (issues 3 and 6): custom block and
//! allow entries, local records, reservations, list sources, config export/import. Each
//! change must be live in DNS, written into the file with its comments kept, and a bad one
//! must leave the file byte for byte as it was.

mod common;

use std::net::UdpSocket;

use common::client::{dig, dig_status};
use common::daemon::Daemon;

fn body() -> String {
    let relay = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dhcp = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!(
        "dhcp_listen = \"127.0.0.1:{dhcp}\"\ndhcp_relay_port = {relay}\n\n\
         # ---- site config (comments must survive dnsctl edits) ----\n\
         [dns]\nupstreams = [\"udp://127.0.0.1:9\"]   # nothing answers there\nupstream_timeout = \"300ms\"\n\n\
         [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.9.0.10\"   # the NAS\n\n\
         [[subnet]]\nname = \"home\"\ncidr = \"10.9.0.0/24\"\npools = [\"10.9.0.100-10.9.0.199\"]\n"
    )
}

fn start() -> Daemon {
    let b = body();
    let (node_extra, site) = b.split_once("\n\n").unwrap();
    Daemon::start_full("127.0.0.1", node_extra, site)
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = d.dnsctl(args);
    assert_eq!(code, 0, "dnsctl {args:?} failed: {err}\n{}", d.log());
    out
}

/// Runs a change that must fail; returns its stderr after checking the file did not change.
fn refused(d: &Daemon, args: &[&str]) -> String {
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, _, err) = d.dnsctl(args);
    assert_eq!(code, 1, "dnsctl {args:?} should fail: {err}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused change touched the file");
    err
}

fn answer(d: &Daemon, name: &str) -> String {
    dig(d.dns, &[name, "A", "+short", "+tries=1", "+time=2"]).trim().to_string()
}

fn file(d: &Daemon) -> String {
    std::fs::read_to_string(&d.config_path).unwrap()
}

#[test]
fn block_and_allow_entries_are_live_written_and_removable() {
    let d = start();
    assert_eq!(answer(&d, "ads.example.com"), "", "not blocked yet (upstream dead: no answer)");
    assert!(ok(&d, &["block", "add", "ads.example.com"]).contains("blocked ads.example.com"));
    assert_eq!(answer(&d, "ads.example.com"), "0.0.0.0");
    assert_eq!(answer(&d, "sub.ads.example.com"), "", "a plain entry matches the exact name only");
    ok(&d, &["block", "add", "||tracker.example^"]);
    ok(&d, &["allow", "add", "ok.tracker.example"]);
    assert_eq!(answer(&d, "x.tracker.example"), "0.0.0.0");
    assert_eq!(answer(&d, "ok.tracker.example"), "", "allow beats block");
    let f = file(&d);
    assert!(f.contains("name = \"custom-block\"") && f.contains("\"ads.example.com\""), "{f}");
    assert!(f.contains("# the NAS") && f.contains("# nothing answers there"), "comments lost:\n{f}");
    let listed = ok(&d, &["--json", "block", "list"]);
    assert!(listed.contains("ads.example.com") && listed.contains("||tracker.example^"), "{listed}");
    let why = ok(&d, &["query", "x.tracker.example"]);
    assert!(why.contains("custom-block"), "explain names the list: {why}");

    ok(&d, &["block", "remove", "ads.example.com"]);
    assert_eq!(answer(&d, "ads.example.com"), "");
    let err = refused(&d, &["block", "remove", "never.example"]);
    assert!(err.contains("not a custom block entry"), "{err}");
    let err = refused(&d, &["block", "add", "not a domain!"]);
    assert!(err.contains("400") && err.contains("not a usable rule"), "{err}");
    let err = refused(&d, &["allow", "add", "x.example", "--list", "custom-block"]);
    assert!(err.contains("not an allow list"), "{err}");
}

#[test]
fn records_are_added_and_removed_and_bad_ones_refused() {
    let d = start();
    assert_eq!(answer(&d, "printer.lan"), "");
    ok(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    assert_eq!(answer(&d, "printer.lan"), "10.9.0.20");
    let ptr = dig(d.dns, &["-x", "10.9.0.20", "+short"]);
    assert!(ptr.contains("printer.lan"), "automatic PTR: {ptr}");
    let list = ok(&d, &["records"]);
    assert!(list.contains("printer.lan") && list.contains("nas.lan"), "{list}");
    let err = refused(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    assert!(err.contains("409") && err.contains("already exists"), "{err}");
    let err = refused(&d, &["records", "add", "bad.lan", "A", "10.9.0.999"]);
    assert!(err.contains("400") && err.contains("not an IPv4 address"), "{err}");
    let err = refused(&d, &["records", "add", "bad.lan", "BOGUS", "x"]);
    assert!(err.contains("not supported"), "{err}");
    ok(&d, &["records", "remove", "printer.lan"]);
    assert_eq!(dig_status(&dig(d.dns, &["printer.lan", "A"])), "NXDOMAIN");
    assert!(file(&d).contains("# the NAS"));
    let err = refused(&d, &["records", "remove", "printer.lan"]);
    assert!(err.contains("404"), "{err}");
}

#[test]
fn reservations_lists_and_duplicates() {
    let d = start();
    ok(&d, &["reservations", "add", "home", "--mac", "aa:bb:cc:00:00:01", "--ip", "10.9.0.50", "--hostname", "tv"]);
    let rows = ok(&d, &["--json", "reservations", "list", "--subnet", "home"]);
    assert!(rows.contains("10.9.0.50") && rows.contains("aa:bb:cc:00:00:01"), "{rows}");
    assert!(file(&d).contains("[[subnet.reservation]]"));
    let err = refused(&d, &["reservations", "add", "home", "--mac", "AA:BB:CC:00:00:01", "--ip", "10.9.0.51"]);
    assert!(err.contains("409") && err.contains("already has a reservation"), "{err}");
    let err = refused(&d, &["reservations", "add", "home", "--mac", "aa:bb:cc:00:00:02", "--ip", "10.9.0.50"]);
    assert!(err.contains("400") && err.contains("reserved twice"), "{err}");
    let err = refused(&d, &["reservations", "add", "nowhere", "--mac", "aa:bb:cc:00:00:03", "--ip", "10.9.0.52"]);
    assert!(err.contains("404") && err.contains("no subnet named 'nowhere'"), "{err}");
    ok(&d, &["reservations", "remove", "home", "10.9.0.50"]);
    assert!(!file(&d).contains("10.9.0.50"));

    let path = d.dir.path().join("extra.txt");
    std::fs::write(&path, "extra.example\n").unwrap();
    ok(&d, &["lists", "add", "extra", path.to_str().unwrap()]);
    assert_eq!(answer(&d, "extra.example"), "0.0.0.0");
    let err = refused(&d, &["lists", "add", "extra", path.to_str().unwrap()]);
    assert!(err.contains("already exists"), "{err}");
    let err = refused(&d, &["lists", "add", "bad", "ftp://x.example/list"]);
    assert!(err.contains("400"), "{err}");
    ok(&d, &["lists", "remove", "extra"]);
    assert_eq!(answer(&d, "extra.example"), "");
    let err = refused(&d, &["lists", "remove", "extra"]);
    assert!(err.contains("404") && err.contains("no list named"), "{err}");
}

#[test]
fn export_import_round_trip_and_bad_imports_change_nothing() {
    let d = start();
    ok(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    let exported = ok(&d, &["config", "export"]);
    assert!(exported.contains("printer.lan") && exported.contains("[[subnet]]"), "{exported}");
    assert!(!exported.contains("[node]"), "node-local sections are not exported:\n{exported}");

    // Restore a backup without the printer: it goes away.
    let backup = d.dir.path().join("backup.toml");
    std::fs::write(&backup, exported.replace("printer.lan", "scanner.lan")).unwrap();
    ok(&d, &["config", "import", backup.to_str().unwrap()]);
    assert_eq!(answer(&d, "scanner.lan"), "10.9.0.20");
    assert_eq!(dig_status(&dig(d.dns, &["printer.lan", "A"])), "NXDOMAIN");

    std::fs::write(&backup, "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n[[record]]\nname = \"x.lan\"\n").unwrap();
    let err = refused(&d, &["config", "import", backup.to_str().unwrap()]);
    assert!(err.contains("400") && err.contains("import:"), "the error names the line: {err}");
}

#[test]
fn a_hand_edit_shows_in_the_api_and_malformed_bodies_are_refused() {
    let d = start();
    let f = file(&d) + "\n[[record]]\nname = \"hand.lan\"\ntype = \"A\"\nvalue = \"10.9.0.30\"\n";
    std::fs::write(&d.config_path, f).unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while answer(&d, "hand.lan") != "10.9.0.30" {
        assert!(std::time::Instant::now() < end, "hand edit not loaded:\n{}", d.log());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ok(&d, &["records"]).contains("hand.lan"));

    let token = std::fs::read_to_string(d.token_file()).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-s", "-X", "POST", "-H", &format!("Authorization: Bearer {}", token.trim())])
        .args(["-H", "content-type: application/json", "-d", "{not json"])
        .arg(format!("http://{}/api/v1/records", d.admin))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("bad request body"), "{text}");
}

#[test]
fn a_list_file_that_appears_later_loads_and_its_error_clears() {
    let d = start();
    let path = d.dir.path().join("later.txt");
    ok(&d, &["lists", "add", "later", path.to_str().unwrap()]);
    let status = |d: &Daemon| -> serde_json::Value {
        let lists: serde_json::Value = serde_json::from_str(&ok(d, &["--json", "lists"])).unwrap();
        lists.as_array().unwrap().iter().find(|l| l["name"] == "later").unwrap().clone()
    };
    assert!(status(&d)["last_error"].as_str().is_some_and(|e| e.contains("cannot read")), "{}", status(&d));
    std::fs::write(&path, "later.example\n").unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while answer(&d, "later.example") != "0.0.0.0" {
        assert!(std::time::Instant::now() < end, "list file not picked up:\n{}", d.log());
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert!(status(&d)["last_error"].is_null(), "{}", status(&d));
}
