//! The web UI of a real pair in headless Chromium: every page renders the live data of
//! both nodes (checked for script errors, labels and phone-width scrolling, screenshotted
//! at desktop and phone width into target/ui-screenshots/); a `dig` shows up in the live
//! query log; blocking a name from the log makes `dig` through both nodes return the block
//! answer and allowing it undoes that; a relayed DHCP lease shows on both nodes' DHCP pages,
//! and a reservation and a list added from the UI reach B; pausing shows a countdown and resumes by itself;
//! with node B killed, A's UI says B is down and every page still works.

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use common::browser::{Browser, PASSWORD, set_password};
use common::client::dig;
use common::daemon::Daemon;
use common::dhcp::Relay;
use common::upstream::TestUpstream;

const PAGES: [(&str, &str); 10] = [
    ("/", "dashboard"),
    ("/log", "query-log"),
    ("/lists", "lists"),
    ("/domains", "domains"),
    ("/groups", "groups"),
    ("/records", "local-dns"),
    ("/dhcp", "dhcp"),
    ("/cluster", "cluster"),
    ("/settings", "settings"),
    ("/why?name=a.test&client=127.0.0.1", "why"),
];

/// Node `name`, serving DHCP on `dhcp` for relays answering on `relay_port`.
fn node(
    name: &str,
    gossip: (SocketAddr, SocketAddr),
    secret: &Path,
    upstream: &str,
    dhcp: SocketAddr,
    relay_port: u16,
) -> Daemon {
    let site = format!(
        "[dns]\nupstreams = [\"{upstream}\"]\nupstream_timeout = \"1s\"\nbuiltin_blocklist = true\n\n\
         [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.168.1.10\"\n\n\
         [[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\npools = [\"127.0.0.100-127.0.0.199\"]\nrouter = \"127.0.0.2\"\nlease_time = \"1h\"\n"
    );
    let node_extra = format!("dhcp_listen = \"{dhcp}\"\ndhcp_relay_port = {relay_port}");
    common::daemon::cluster_node(name, "uitest", gossip, secret, &node_extra, &site)
}

fn free(last: u8) -> SocketAddr {
    UdpSocket::bind((Ipv4Addr::new(127, 0, 0, last), 0)).unwrap().local_addr().unwrap()
}

/// Waits until `f` holds, for at most `secs`.
async fn until(what: &str, secs: u64, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens every page at the current window size, checks it and saves a screenshot.
async fn every_page(b: &Browser, base: &str, suffix: &str) {
    for (path, name) in PAGES {
        b.goto(&format!("{base}{path}")).await;
        let t = b.text().await;
        assert!(t.contains("Log out"), "{path}: not a logged-in page:\n{t}");
        b.check_page(&format!("{path} ({suffix})")).await;
        b.screenshot(&format!("{name}-{suffix}")).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pair_through_the_web_ui() {
    let Some(b) = Browser::start().await else { return };
    let up = TestUpstream::start().await;
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let (ga, gb) = (free(31), free(32));
    let (da, db) = (free(31), free(32));
    let relay = Relay {
        sock: UdpSocket::bind("127.0.0.2:0").unwrap(),
        server: da,
        giaddr: Ipv4Addr::new(127, 0, 0, 2),
        secs: 5,
    };
    relay.sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let relay_port = relay.sock.local_addr().unwrap().port();
    let a = node("a", (ga, gb), &secret, &up.udp_url(), da, relay_port);
    let bn = node("b", (gb, ga), &secret, &up.udp_url(), db, relay_port);
    until("both admin addresses published", 20, || {
        [&a, &bn].iter().all(|d| d.status()["cluster"]["admin"].as_object().is_some_and(|m| m.len() == 2))
    })
    .await;
    // One password for the pair: set on A, replicated to B's file.
    set_password(&a, PASSWORD);
    until("the password hash on B", 20, || std::fs::read_to_string(&bn.config_path).unwrap().contains("$argon2id$"))
        .await;
    let (base_a, base_b) = (format!("http://{}", a.admin), format!("http://{}", bn.admin));
    let t = b.login(&base_b, PASSWORD).await;
    assert!(t.contains("Log out"), "B accepts the replicated password: {t}");

    // The dashboard shows both nodes up, with live figures.
    let t = b.login(&base_a, PASSWORD).await;
    assert!(t.contains("Log out"), "{t}");
    let t = b.wait_for(|t| t.matches(" up").count() >= 2, "both nodes up").await;
    assert!(t.contains("a up") && t.contains("b up"), "{t}");

    // Live tail: the log page is open when dig asks.
    b.goto(&format!("{base_a}/log")).await;
    assert!(dig(a.dns, &["a.test", "A", "+short"]).contains("192.0.2.1"));
    assert!(dig(bn.dns, &["a.test", "A", "+short"]).contains("192.0.2.1"));
    let t = b.wait_for(|t| t.matches("a.test").count() >= 2, "both queries in the live tail").await;
    assert!(t.contains("\ta\t") || t.contains("a\t127.0.0.1"), "rows name their node: {t}");

    // Block from the log: both nodes answer with the block answer; allow undoes it.
    b.click("#tail button[data-api=block]").await;
    until("a.test blocked on both nodes", 20, || {
        [&a, &bn].iter().all(|d| dig(d.dns, &["a.test", "A", "+short"]).trim() == "0.0.0.0")
    })
    .await;
    b.goto(&format!("{base_a}/log?name=a.test")).await;
    b.click("#tail button[data-api=allow]").await;
    until("a.test allowed on both nodes", 20, || {
        [&a, &bn].iter().all(|d| dig(d.dns, &["a.test", "A", "+short"]).contains("192.0.2.1"))
    })
    .await;
    b.goto(&format!("{base_a}/domains")).await;
    let t = b.text().await;
    assert!(t.contains("custom-block") && t.contains("custom-allow"), "{t}");

    // A real lease (relayed DORA to A) shows on both nodes' DHCP pages; "make reservation"
    // and a list added from the UI take effect on B (checked with dnsctl there).
    let ip = relay.dora(0x100, [2, 0, 0, 0, 0, 1], "laptop");
    // Sessions are per node, and the browser keeps one cookie per host (not per port): log
    // in to each node before its page.
    for base in [&base_b, &base_a] {
        b.login(base, PASSWORD).await;
        b.goto(&format!("{base}/dhcp")).await;
        b.wait_for(|t| t.contains("laptop") && t.contains(&ip.to_string()), "the lease on the DHCP page").await;
    }
    b.click("button[data-api=reservations]").await;
    until("the reservation on B", 20, || bn.dnsctl(&["reservations"]).1.contains("02:00:00:00:00:01")).await;
    b.goto(&format!("{base_a}/lists")).await;
    b.fill("add-list-name", "extra").await;
    b.fill("add-list-url", "http://127.0.0.1:9/extra.txt").await;
    b.click("#add-list button[type=submit]").await;
    until("the list on B", 20, || bn.dnsctl(&["--json", "lists"]).1.contains("\"extra\"")).await;

    // Every page, desktop then phone.
    b.c.set_window_size(1280, 900).await.unwrap();
    every_page(&b, &base_a, "desktop").await;
    b.c.set_window_size(390, 844).await.unwrap();
    every_page(&b, &base_a, "phone").await;
    b.c.set_window_size(1280, 900).await.unwrap();

    // Pause for 30 s on every node: a countdown, then blocking resumes by itself.
    b.goto(&format!("{base_a}/settings")).await;
    b.click("button[data-api=pause][data-body*='\"seconds\":30}']").await;
    let t = b.wait_for(|t| t.matches(" s left").count() >= 2, "a countdown per node").await;
    assert!(t.contains("paused"), "{t}");
    assert!(bn.status()["paused_secs"].as_u64().is_some(), "B paused too");
    until("blocking resumed", 45, || a.status()["paused_secs"].is_null() && bn.status()["paused_secs"].is_null()).await;
    b.wait_for(|t| !t.contains(" s left"), "the countdown gone").await;

    // B dies: A's dashboard says so, and every page still works.
    bn.kill();
    b.goto(&format!("{base_a}/")).await;
    let t = b.wait_for(|t| t.contains("Node b is down"), "B reported down").await;
    assert!(t.contains("a up"), "{t}");
    for (path, name) in PAGES {
        b.goto(&format!("{base_a}{path}")).await;
        b.check_page(&format!("{path} with b down")).await;
        if path == "/" {
            b.screenshot(&format!("{name}-peer-down")).await;
        }
    }
}
