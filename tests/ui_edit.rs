//! Editing from the web UI of a real pair in headless Chromium, each change checked with
//! `dig` (loopback addresses 127.0.0.x are distinct clients) on both nodes: a group made
//! with a client CIDR gives that client the group's list, edited it follows another client,
//! removed it is gone; a list and a custom deny entry turned off let their name resolve and
//! on block it again; a record's value edited in place answers with the new value; refused changes show
//! the reason in their form and leave the config file byte-identical. The edited pages pass
//! the page checks (script errors, labels, phone width) and are screenshotted.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use common::browser::{Browser, PASSWORD, check_widths as check, refused, set_password, until};
use common::client::dig;
use common::edits::{a_from, blocked, site};
use common::upstream::TestUpstream;

fn free(last: u8) -> SocketAddr {
    UdpSocket::bind((Ipv4Addr::new(127, 0, 0, last), 0)).unwrap().local_addr().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_lists_entries_and_records_edited_from_the_ui() {
    let Some(b) = Browser::start().await else { return };
    let up = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let (ga, gb) = (free(41), free(42));
    let site = site(&up.udp_url());
    let a = common::daemon::cluster_node("a", "edit", (ga, gb), &secret, "", &site);
    let bn = common::daemon::cluster_node("b", "edit", (gb, ga), &secret, "", &site);
    set_password(&a, PASSWORD);
    until("the password hash on B", || std::fs::read_to_string(&bn.config_path).unwrap().contains("$argon2id$")).await;
    let base = format!("http://{}", a.admin);
    assert!(b.login(&base, PASSWORD).await.contains("Log out"));

    // A group with a client CIDR: that client (on both nodes) gets the group's list.
    b.goto(&format!("{base}/groups")).await;
    b.fill("add-group-name", "kids").await;
    b.fill("add-group-clients", "127.0.0.5/32").await;
    b.fill("add-group-lists", "kids").await;
    b.click("#add-group button[type=submit]").await;
    until("kids blocked for 127.0.0.5 on both nodes", || {
        blocked(&a, "127.0.0.5", "h00001.test") && blocked(&bn, "127.0.0.5", "h00001.test")
    })
    .await;
    assert_eq!(a_from(&a, "127.0.0.1", "h00001.test"), "198.18.0.2", "other clients stay in default");
    let t = b.wait_for(|t| t.contains("kids") && t.contains("127.0.0.5/32"), "the group on its page").await;
    assert!(t.contains("Remove group"), "{t}");
    check(&b, &base, "/groups", "groups-edit").await;

    // Refused: a client that is no address; then the edit moves the group to 127.0.0.6.
    b.fill("edit-group-0-clients", "not-a-client").await;
    refused(&b, &a, "edit-group-0", "not-a-client").await;
    b.fill("edit-group-0-clients", "127.0.0.6/32").await;
    b.click("#edit-group-0 button[type=submit]").await;
    until("kids follows the client", || {
        blocked(&a, "127.0.0.6", "h00001.test") && !blocked(&a, "127.0.0.5", "h00001.test")
    })
    .await;
    b.wait_for(|t| t.contains("127.0.0.6/32"), "the edited group").await;
    b.click("button[data-api='groups/kids'][data-method=DELETE]").await;
    until("kids removed on both nodes", || {
        !blocked(&a, "127.0.0.6", "h00001.test") && !blocked(&bn, "127.0.0.6", "h00001.test")
    })
    .await;
    b.wait_for(|t| t.contains("No groups yet"), "the group gone from the page").await;

    // A list off: the name it blocked resolves; on: blocked again.
    b.goto(&format!("{base}/lists")).await;
    b.click("button[data-api='lists/ads'][data-method=PATCH]").await;
    until("ads off on both nodes", || [&a, &bn].iter().all(|d| a_from(d, "127.0.0.1", "h00002.test") == "198.18.0.3"))
        .await;
    b.wait_for(|t| t.contains("Enable"), "the Enable button").await;
    check(&b, &base, "/lists", "lists-edit").await;
    b.click("button[data-api='lists/ads'][data-method=PATCH]").await;
    until("ads on on both nodes", || [&a, &bn].iter().all(|d| blocked(d, "127.0.0.1", "h00002.test"))).await;

    // A custom deny entry off and on.
    b.goto(&format!("{base}/domains")).await;
    b.click("button[data-method=PATCH][data-api^='block?name=h00003.test']").await;
    until("the entry off on both nodes", || {
        [&a, &bn].iter().all(|d| a_from(d, "127.0.0.1", "h00003.test") == "198.18.0.4")
    })
    .await;
    b.wait_for(|t| t.contains("Enable"), "the Enable button").await;
    check(&b, &base, "/domains", "domains-edit").await;
    b.click("button[data-method=PATCH][data-api^='block?name=h00003.test']").await;
    until("the entry on on both nodes", || [&a, &bn].iter().all(|d| blocked(d, "127.0.0.1", "h00003.test"))).await;

    // A record's value edited in place: refused when invalid, then answered by both nodes.
    b.goto(&format!("{base}/records")).await;
    b.click("#main details summary").await;
    b.fill("edit-record-0-value", "300.1.1.1").await;
    refused(&b, &a, "edit-record-0", "300.1.1.1").await;
    b.fill("edit-record-0-value", "192.168.1.11").await;
    b.click("#edit-record-0 button[type=submit]").await;
    until("the new value on both nodes", || {
        [&a, &bn].iter().all(|d| dig(d.dns, &["nas.lan", "A", "+short"]).trim() == "192.168.1.11")
    })
    .await;
    check(&b, &base, "/records", "local-dns-edit").await;
    up.stop().await;
}
