//! The edit endpoints the web UI's editing needs, on a real ravensd, checked with `dig`:
//! groups through `dnsctl group` (a client address in the group gets the group's lists,
//! loopback addresses 127.0.0.x being distinct clients), lists and custom entries turned
//! off and on (`PATCH`), a local record changed in place (`PUT`); every refused change
//! leaves the config file byte-identical.

mod common;

use std::time::{Duration, Instant};

use common::client::dig;
use common::daemon::Daemon;
use common::edits::{a_from, blocked, site};
use common::upstream::TestUpstream;

/// Waits (at most 20 s) until `f` holds.
fn until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One API call with the node's token: (status, body).
async fn call(d: &Daemon, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, String) {
    let token = std::fs::read_to_string(d.token_file()).unwrap();
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = reqwest::Client::new().request(m, format!("http://{}{path}", d.admin)).bearer_auth(token.trim());
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// Runs `change` (which must be refused with `status`) and checks the file did not move.
async fn refused(d: &Daemon, status: u16, method: &str, path: &str, body: Option<serde_json::Value>) -> String {
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, text) = call(d, method, path, body).await;
    assert_eq!(code, status, "{method} {path}: {text}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "{method} {path} changed the file");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_are_added_edited_and_removed_through_dnsctl() {
    let up = TestUpstream::start().await;
    let d = Daemon::start(&site(&up.udp_url()));
    assert_eq!(a_from(&d, "127.0.0.5", "h00001.test"), "198.18.0.2", "no group names kids yet");

    let (code, out, err) = d.dnsctl(&["group", "add", "kids", "--client", "127.0.0.5/32", "--lists", "kids"]);
    assert_eq!(code, 0, "{out}{err}");
    until("kids blocked for 127.0.0.5", || blocked(&d, "127.0.0.5", "h00001.test"));
    assert_eq!(a_from(&d, "127.0.0.1", "h00001.test"), "198.18.0.2", "other clients are in default");
    assert!(!blocked(&d, "127.0.0.5", "h00002.test"), "the group uses only the lists it names");
    let (_, out, _) = d.dnsctl(&["group", "list"]);
    assert!(out.contains("kids") && out.contains("127.0.0.5/32") && out.contains("[kids]"), "{out}");
    let file = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(file.contains("# the house rules") && file.contains("[[group]]"), "{file}");

    // Refused: a bad client, a list that does not exist, a second kids, an unknown group.
    let text =
        refused(&d, 400, "POST", "/api/v1/groups", Some(serde_json::json!({"name": "x", "clients": ["not-a-client"]})))
            .await;
    assert!(text.contains("group.clients") && text.contains("not-a-client"), "{text}");
    let text = refused(
        &d,
        400,
        "PUT",
        "/api/v1/groups/kids",
        Some(serde_json::json!({"clients": ["127.0.0.6"], "lists": ["nope"]})),
    )
    .await;
    assert!(text.contains("no list named 'nope'"), "{text}");
    refused(&d, 409, "POST", "/api/v1/groups", Some(serde_json::json!({"name": "kids"}))).await;
    refused(&d, 404, "PUT", "/api/v1/groups/nobody", Some(serde_json::json!({}))).await;
    refused(&d, 404, "DELETE", "/api/v1/groups/nobody", None).await;

    // Edit: the group moves to another client.
    let (code, out, err) = d.dnsctl(&["group", "edit", "kids", "--client", "127.0.0.6", "--lists", "kids"]);
    assert_eq!(code, 0, "{out}{err}");
    until("kids follows the client", || {
        blocked(&d, "127.0.0.6", "h00001.test") && !blocked(&d, "127.0.0.5", "h00001.test")
    });

    // A form cannot send an empty array: `lists_from` says the group names its lists (none).
    let none = serde_json::json!({"clients": ["127.0.0.6"], "lists_from": "group"});
    assert_eq!(call(&d, "PUT", "/api/v1/groups/kids", Some(none)).await.0, 200);
    until("kids without lists", || !blocked(&d, "127.0.0.6", "h00001.test"));
    assert!(std::fs::read_to_string(&d.config_path).unwrap().contains("lists = []"));
    let text = refused(&d, 400, "PUT", "/api/v1/groups/kids", Some(serde_json::json!({"lists_from": "x"}))).await;
    assert!(text.contains("lists_from"), "{text}");
    assert_eq!(d.dnsctl(&["group", "edit", "kids", "--client", "127.0.0.6", "--lists", "kids"]).0, 0);
    until("kids back", || blocked(&d, "127.0.0.6", "h00001.test"));

    // A group a list names is not removed (the list would not validate without it).
    let list = serde_json::json!({"name": "g", "url": "http://127.0.0.1:9/g.txt", "groups": ["kids"]});
    assert_eq!(call(&d, "POST", "/api/v1/lists", Some(list)).await.0, 200);
    let text = refused(&d, 400, "DELETE", "/api/v1/groups/kids", None).await;
    assert!(text.contains("named by list(s) g"), "{text}");
    assert_eq!(call(&d, "DELETE", "/api/v1/lists/g", None).await.0, 200);
    let (code, out, err) = d.dnsctl(&["group", "remove", "kids"]);
    assert_eq!(code, 0, "{out}{err}");
    until("kids gone", || !blocked(&d, "127.0.0.6", "h00001.test"));
    assert!(!std::fs::read_to_string(&d.config_path).unwrap().contains("[[group]]"));
    up.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_and_entries_turn_off_and_on_and_a_record_changes_in_place() {
    let up = TestUpstream::start().await;
    let d = Daemon::start(&site(&up.udp_url()));
    let here = "127.0.0.1";
    assert!(blocked(&d, here, "h00002.test") && blocked(&d, here, "h00003.test"));

    // A list off: its name resolves; on: blocked again. Kept in the file throughout.
    let off = Some(serde_json::json!({"enabled": false}));
    let on = Some(serde_json::json!({"enabled": true}));
    assert_eq!(call(&d, "PATCH", "/api/v1/lists/ads", off.clone()).await.0, 200);
    until("ads off", || a_from(&d, here, "h00002.test") == "198.18.0.3");
    assert!(std::fs::read_to_string(&d.config_path).unwrap().contains("enabled = false"));
    assert_eq!(call(&d, "PATCH", "/api/v1/lists/ads", on.clone()).await.0, 200);
    until("ads on", || blocked(&d, here, "h00002.test"));
    assert!(!std::fs::read_to_string(&d.config_path).unwrap().contains("enabled = false"));

    // A custom entry off and on.
    assert_eq!(call(&d, "PATCH", "/api/v1/block?name=h00003.test", off.clone()).await.0, 200);
    until("the entry off", || a_from(&d, here, "h00003.test") == "198.18.0.4");
    let file = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(file.contains(r#"entries = [{ rule = "h00003.test", enabled = false }]"#), "{file}");
    let (_, rows) = call(&d, "GET", "/api/v1/block", None).await;
    assert!(rows.contains(r#""name":"h00003.test","list":"custom-block","enabled":false"#), "{rows}");
    assert_eq!(call(&d, "PATCH", "/api/v1/block?name=h00003.test", on).await.0, 200);
    until("the entry on", || blocked(&d, here, "h00003.test"));

    // The same through dnsctl.
    assert_eq!(d.dnsctl(&["lists", "disable", "ads"]).0, 0);
    assert_eq!(d.dnsctl(&["block", "disable", "h00003.test"]).0, 0);
    until("both off", || {
        a_from(&d, here, "h00002.test") == "198.18.0.3" && a_from(&d, here, "h00003.test") == "198.18.0.4"
    });
    assert!(d.dnsctl(&["block", "list"]).1.contains("h00003.test (disabled)"));
    assert_eq!(d.dnsctl(&["lists", "enable", "ads"]).0, 0);
    // Blocking a disabled entry again (the query log's Block button) turns it on.
    let (code, out, err) = d.dnsctl(&["block", "add", "h00003.test"]);
    assert!(code == 0 && out.contains("enabled h00003.test"), "{out}{err}");
    until("both on", || blocked(&d, here, "h00002.test") && blocked(&d, here, "h00003.test"));
    assert_eq!(d.dnsctl(&["block", "disable", "h00003.test"]).0, 0);
    until("the entry off again", || a_from(&d, here, "h00003.test") == "198.18.0.4");
    assert_eq!(d.dnsctl(&["block", "enable", "h00003.test"]).0, 0);
    until("the entry on again", || blocked(&d, here, "h00003.test"));

    // A record's value and TTL changed in place.
    let new = serde_json::json!({"name": "nas.lan", "type": "A", "value": "192.168.1.11", "ttl": "60s"});
    let (code, text) = call(&d, "PUT", "/api/v1/records?name=nas.lan&type=A&value=192.168.1.10", Some(new)).await;
    assert_eq!(code, 200, "{text}");
    until("the new value and TTL", || {
        let answer = dig(d.dns, &["nas.lan", "A", "+noall", "+answer"]);
        answer.contains("\t60\t") && answer.contains("192.168.1.11") && !answer.contains("192.168.1.10")
    });

    let (code, out, err) = d.dnsctl(&["records", "edit", "nas.lan", "A", "192.168.1.11", "192.168.1.12"]);
    assert_eq!(code, 0, "{out}{err}");
    until("dnsctl records edit", || dig(d.dns, &["nas.lan", "A", "+short"]).trim() == "192.168.1.12");
    let new = serde_json::json!({"name": "nas.lan", "type": "A", "value": "192.168.1.11", "ttl": "60s"});
    assert_eq!(call(&d, "PUT", "/api/v1/records?name=nas.lan", Some(new)).await.0, 200, "one record: no type needed");

    // Refused, the file untouched: an invalid IP, no such record, list or entry.
    let bad = serde_json::json!({"name": "nas.lan", "type": "A", "value": "300.1.1.1"});
    let text = refused(&d, 400, "PUT", "/api/v1/records?name=nas.lan", Some(bad.clone())).await;
    assert!(text.contains("300.1.1.1"), "{text}");
    refused(&d, 404, "PUT", "/api/v1/records?name=nothing.lan", Some(bad)).await;
    refused(&d, 404, "PATCH", "/api/v1/lists/nope", off.clone()).await;
    refused(&d, 404, "PATCH", "/api/v1/block?name=nothing.test", off.clone()).await;
    refused(&d, 400, "PATCH", "/api/v1/lists/ads", Some(serde_json::json!({"enabled": "no"}))).await;
    assert_eq!(dig(d.dns, &["nas.lan", "A", "+short"]).trim(), "192.168.1.11");
    up.stop().await;
}
