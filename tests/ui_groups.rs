//! A group edited whole from the web UI (headless Chromium) and from `dnsctl`, each change
//! checked with `dig -b` from the group's client (127.0.0.5) and from another (127.0.0.1):
//! the group's upstreams set to a second upstream that answers `same.test` differently, then
//! cleared; its blocking turned off (the blocked name resolves) and on with an NXDOMAIN block
//! answer; an invalid upstream URL refused with its reason beside the form and the file byte
//! for byte the same. `dnsctl group edit --upstream/--upstreams ""` does the same and
//! `dnsctl group list` shows it. The page passes the page checks and is screenshotted.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::browser::{Browser, PASSWORD, check_widths, refused, set_password, until};
use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::edits::{a_from, blocked};
use common::upstream::TestUpstream;

const KID: &str = "127.0.0.5";
const OTHER: &str = "127.0.0.1";

/// The upstream `same.test` answer as the group's client and another client see it.
fn same(d: &Daemon) -> (String, String) {
    (a_from(d, KID, "same.test"), a_from(d, OTHER, "same.test"))
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_string(), b.to_string())
}

/// Opens the groups page afresh (the last save reloaded it) and sets the group's select.
async fn select(b: &Browser, base: &str, field: &str, value: &str) {
    b.goto(&format!("{base}/groups")).await;
    b.js(&format!("document.getElementById('edit-group-0-{field}').value = '{value}'")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_groups_upstreams_blocking_and_block_answer_edited_from_the_ui_and_dnsctl() {
    let Some(b) = Browser::start().await else { return };
    let up = TestUpstream::start().await;
    let other = TestUpstream::start_at(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 22))).await;
    up.set_a("same.test", Ipv4Addr::new(192, 0, 2, 1), 300);
    other.set_a("same.test", Ipv4Addr::new(192, 0, 2, 22), 300);
    let d = Daemon::start(&format!(
        "[dns]\nupstreams = [\"{}\"]\nupstream_timeout = \"1s\"\n\n\
         [[group]]\nname = \"kids\"\nclients = [\"{KID}\"]\n\n\
         [[list]]\nname = \"ads\"\ngroups = [\"default\", \"kids\"]\nentries = [\"h00002.test\"]\n",
        up.udp_url()
    ));
    set_password(&d, PASSWORD);
    let base = format!("http://{}", d.admin);
    assert!(b.login(&base, PASSWORD).await.contains("Log out"));
    assert_eq!(same(&d), pair("192.0.2.1", "192.0.2.1"));
    assert!(blocked(&d, KID, "h00002.test"));

    // Upstreams: a refused URL, then the second upstream for the group's client only.
    b.goto(&format!("{base}/groups")).await;
    b.fill("edit-group-0-upstreams", "ftp://192.0.2.9").await;
    refused(&b, &d, "edit-group-0", "unknown scheme 'ftp'").await;
    b.fill("edit-group-0-upstreams", &other.udp_url()).await;
    b.click("#edit-group-0 button[type=submit]").await;
    until("the group's upstream for its client", || same(&d) == pair("192.0.2.22", "192.0.2.1")).await;
    let shown = other.udp_url();
    b.wait_for(|t| t.contains(&shown), "the upstream on the group's card").await;
    check_widths(&b, &base, "/groups", "groups-whole").await;

    // Blocking off: the blocked name resolves for the group's client only; the form keeps
    // the upstream it shows.
    select(&b, &base, "blocking", "false").await;
    b.click("#edit-group-0 button[type=submit]").await;
    until("blocking off for the group", || a_from(&d, KID, "h00002.test") == "198.18.0.3").await;
    assert!(blocked(&d, OTHER, "h00002.test"), "default still blocks");
    assert_eq!(same(&d), pair("192.0.2.22", "192.0.2.1"), "the save kept the upstreams");

    // Blocking on with NXDOMAIN as the group's block answer; a bad answer is refused.
    select(&b, &base, "blocking", "true").await;
    b.fill("edit-group-0-block_response", "maybe").await;
    refused(&b, &d, "edit-group-0", "'maybe' is not null, nxdomain, refused or an IP").await;
    b.fill("edit-group-0-block_response", "nxdomain").await;
    b.click("#edit-group-0 button[type=submit]").await;
    let status = |from: &str| dig_status(&dig(d.dns, &["-b", from, "h00002.test", "A"]));
    until("NXDOMAIN for the group's client", || status(KID) == "NXDOMAIN").await;
    assert!(blocked(&d, OTHER, "h00002.test"), "default keeps its block answer");

    // Cleared: an emptied field puts the group back on dns.upstreams and dns.block_response.
    b.goto(&format!("{base}/groups")).await;
    b.fill("edit-group-0-upstreams", "").await;
    b.fill("edit-group-0-block_response", "").await;
    b.click("#edit-group-0 button[type=submit]").await;
    until("the group back on the default upstream", || same(&d) == pair("192.0.2.1", "192.0.2.1")).await;
    assert!(blocked(&d, KID, "h00002.test"), "back to the default block answer");
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(!text.contains("upstreams = [\"udp://127.0.0.22") && !text.contains("block_response"), "{text}");
    assert!(!text.contains("blocking"), "blocking on is the default, not written: {text}");

    // dnsctl: --upstream sets, list shows, a bad URL is refused, --upstreams "" clears.
    let (code, _, err) = d.dnsctl(&["group", "edit", "kids", "--client", KID, "--upstream", &other.udp_url()]);
    assert_eq!(code, 0, "{err}");
    until("dnsctl's upstream for the group", || same(&d) == pair("192.0.2.22", "192.0.2.1")).await;
    let (code, out, err) = d.dnsctl(&["group", "list"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("upstreams [{}]", other.udp_url())), "{out}");
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, _, err) = d.dnsctl(&["group", "edit", "kids", "--client", KID, "--upstream", "ftp://192.0.2.9"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown scheme 'ftp'"), "{err}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused dnsctl edit moved the file");
    let (code, _, err) = d.dnsctl(&["group", "edit", "kids", "--client", KID, "--upstreams", ""]);
    assert_eq!(code, 0, "{err}");
    until("dnsctl cleared the group's upstreams", || same(&d) == pair("192.0.2.1", "192.0.2.1")).await;
    other.stop().await;
    up.stop().await;
}
