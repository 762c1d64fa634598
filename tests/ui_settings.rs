//! The web UI's Settings, DHCP and Cluster pieces in headless Chromium against real ravensd:
//! an upstream and the block answer changed from Settings land in the config file (its
//! comments kept) and change what `dig` gets; a refused value shows its reason next to its
//! field and leaves the file byte-identical; the exported config imported back undoes a later
//! change; a Pi-hole archive uploaded shows the dry-run report (nothing written), then applied
//! blocks its denied name (the block answer set earlier) and brings its 250 leases, of which a search finds one past the
//! first page; in a pair, the cluster page shows the takeover after the peer is killed and
//! the hand-back once it is back.
//! Every page is checked for script errors, labels and phone-width scrolling, and
//! screenshotted into target/ui-screenshots/.

mod common;
#[path = "../import/tests/common/mod.rs"]
mod fixture;
#[path = "common/pihole.rs"]
mod pihole;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::browser::{Browser, PASSWORD, set_password};
use common::client::{dig, dig_status};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use fantoccini::Locator;

/// Leases in the uploaded archive: more than one page of the DHCP page (200 rows).
const LEASES: u32 = 250;

/// A Pi-hole v6 archive denying `a.test` (which the test upstream answers) for everyone, with [`LEASES`] active leases
/// `h001`..`h250` on 127.0.1.1..=250 (so the last is past the first page, ordered by address).
fn archive() -> Vec<u8> {
    let domains: &[pihole::Domain<'_>] = &[(1, 1, "a.test", true, &[0])];
    let exp = pihole::now() + 3600;
    let leases: String = (1..=LEASES)
        .map(|i| format!("{exp} 02:00:00:00:{:02x}:{:02x} 127.0.1.{i} h{i:03} *\n", i / 256, i % 256))
        .collect();
    pihole::v6_zip(pihole::gravity(&[], domains), "[dns]\nupstreams = [\"9.9.9.9\"]\n", &leases)
}

fn free_udp() -> SocketAddr {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

async fn until(what: &str, secs: u64, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The text of the element `css` (empty when there is none).
async fn text_of(b: &Browser, css: &str) -> String {
    let v = b.js(&format!("const e = document.querySelector({css:?}); return e ? e.textContent : ''")).await;
    v.as_str().unwrap_or_default().to_string()
}

/// Checks the page at desktop and phone width, with a screenshot of each.
async fn check_both_widths(b: &Browser, url: &str, what: &str) {
    for (w, h, name) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.c.set_window_size(w, h).await.unwrap();
        b.goto(url).await;
        b.check_page(&format!("{what} ({name})")).await;
        b.screenshot(&format!("{what}-{name}")).await;
    }
    b.c.set_window_size(1280, 900).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_export_import_pihole_and_dhcp_search() {
    let Some(b) = Browser::start().await else { return };
    let up = TestUpstream::start().await;
    let dhcp = free_udp();
    let site = "[dns]\n# resolvers of the test: none answers yet\nupstreams = [\"udp://127.0.0.1:9\"]\n\
                upstream_timeout = \"300ms\"\n\n[[list]]\nname = \"custom-block\"\nentries = [\"blocked.test\"]\n\n\
                [[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/16\"\npools = [\"127.0.1.1-127.0.1.254\"]\n\
                router = \"127.0.0.2\"\nlease_time = \"1h\"\n";
    let d = Daemon::start_full("127.0.0.1", &format!("dhcp_listen = \"{dhcp}\""), site);
    set_password(&d, PASSWORD);
    let base = format!("http://{}", d.admin);
    assert!(b.login(&base, PASSWORD).await.contains("Log out"));
    let settings = format!("{base}/settings");
    check_both_widths(&b, &settings, "settings-dns").await;
    assert_eq!(dig_status(&dig(d.dns, &["a.test", "A"])), "SERVFAIL", "the dead upstream");

    // A refused value: its reason next to its field, the file untouched.
    let before = std::fs::read(&d.config_path).unwrap();
    b.fill("dns-cache_size", "lots").await;
    b.click("#dns-options button[type=submit]").await;
    b.wait_for(|t| t.contains("cache_size"), "the refusal").await;
    let why = text_of(&b, "#dns-cache_size-error").await;
    assert!(why.contains("dns.cache_size") && why.contains("lots"), "the reason is at the field: {why:?}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused value changes nothing");

    // The upstream and the block answer changed: written (comment kept) and in effect.
    b.goto(&settings).await;
    b.fill("dns-upstreams", &up.udp_url()).await;
    let block = b.c.find(Locator::Id("dns-block_response")).await.unwrap();
    block.clear().await.unwrap();
    block.send_keys("nxdomain").await.unwrap();
    b.click("#dns-options button[type=submit]").await;
    b.wait_for(|t| t.contains("[dns] set"), "the change confirmed").await;
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(text.contains(&format!("upstreams = [\"{}\"]", up.udp_url())), "{text}");
    assert!(text.contains("block_response = \"nxdomain\"") && text.contains("# resolvers of the test"), "{text}");
    until("the new upstream answers", 10, || dig(d.dns, &["a.test", "A", "+short"]).contains("192.0.2.1")).await;
    until("the block answer", 10, || dig_status(&dig(d.dns, &["blocked.test", "A"])) == "NXDOMAIN").await;
    b.goto(&settings).await;
    let shown = b.js("return document.getElementById('dns-upstreams').value").await;
    assert_eq!(shown.as_str(), Some(up.udp_url().as_str()), "the form shows the file's value");

    // Export, a later change, then the export imported back: the change is undone.
    let export = b.js("return fetch('/settings/export').then(r => r.text())").await;
    let export = export.as_str().unwrap().to_string();
    assert!(export.contains("block_response = \"nxdomain\"") && !export.contains("[node]"), "{export}");
    let (code, _, err) = d.dnsctl(&["records", "add", "later.lan", "A", "10.9.9.9"]);
    assert_eq!(code, 0, "{err}");
    assert!(dig(d.dns, &["later.lan", "A", "+short"]).contains("10.9.9.9"));
    let file = d.dir.path().join("exported.toml");
    std::fs::write(&file, &export).unwrap();
    b.c.find(Locator::Id("config-file")).await.unwrap().send_keys(&file.display().to_string()).await.unwrap();
    b.click("#config-import button[type=submit]").await;
    b.wait_for(|t| t.contains("imported") && t.contains("removed"), "the import's answer").await;
    assert_eq!(dig_status(&dig(d.dns, &["later.lan", "A"])), "NXDOMAIN", "the later record is gone");
    let again = b.js("return fetch('/settings/export').then(r => r.text())").await;
    assert_eq!(again.as_str(), Some(export.as_str()), "export → import → export round-trips");

    // The Pi-hole archive: the dry run reports and writes nothing; apply imports.
    let before = std::fs::read(&d.config_path).unwrap();
    let zip = d.dir.path().join("pihole.zip");
    std::fs::write(&zip, archive()).unwrap();
    b.c.find(Locator::Id("pihole-file")).await.unwrap().send_keys(&zip.display().to_string()).await.unwrap();
    b.click("#pihole-import button[type=submit]").await;
    let t = b.wait_for(|t| t.contains("dry run, nothing written yet"), "the dry-run report").await;
    let report = text_of(&b, "#pihole-report").await;
    assert!(report.contains("entry") && report.contains("lease") && report.contains(&LEASES.to_string()), "{report}");
    assert!(t.contains("Apply the import"), "{t}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a dry run writes nothing");
    assert!(dig(d.dns, &["a.test", "A", "+short"]).contains("192.0.2.1"), "not blocked yet");
    b.check_page("settings with the report").await;
    b.click("#pihole-apply").await;
    b.wait_for(|t| t.contains(": imported"), "the applied report").await;
    until("a.test blocked", 10, || dig_status(&dig(d.dns, &["a.test", "A"])) == "NXDOMAIN").await;

    // The DHCP page: the first page only, a search over all, and "more".
    let t = {
        b.goto(&format!("{base}/dhcp")).await;
        b.wait_for(|t| t.contains(&format!("{LEASES} leases")), "the lease count").await
    };
    assert!(t.contains("h200") && !t.contains("h250"), "the first 200 by address: {t}");
    b.fill("lease-q", "H250").await;
    b.click("form.filters button[type=submit]").await;
    let t = b.wait_for(|t| t.contains("1 lease matches"), "the search").await;
    assert!(t.contains("h250") && t.contains("127.0.1.250") && !t.contains("h249"), "{t}");
    b.goto(&format!("{base}/dhcp")).await;
    b.click("#lease-more").await;
    b.wait_for(|t| t.contains("h250") && t.contains(&format!("{LEASES} shown")), "the next rows").await;
    check_both_widths(&b, &format!("{base}/dhcp?q=h2"), "dhcp-search").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_page_shows_a_takeover() {
    let Some(b) = Browser::start().await else { return };
    let keys = tempfile::tempdir().unwrap();
    let secret = keys.path().join("cluster.key");
    ravens_sync::generate_secret(&secret).unwrap();
    let free = |last: u8| UdpSocket::bind((Ipv4Addr::new(127, 0, 0, last), 0)).unwrap().local_addr().unwrap();
    let (ga, gb) = (free(51), free(52));
    let site = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n\n[[subnet]]\nname = \"loop\"\ncidr = \"127.0.0.0/24\"\n\
                pools = [\"127.0.0.100-127.0.0.199\"]\nrouter = \"127.0.0.2\"\nlease_time = \"1h\"\n";
    let node = |name: &str, g, dhcp: SocketAddr| {
        common::daemon::cluster_node(name, "uiset", g, &secret, &format!("dhcp_listen = \"{dhcp}\""), site)
    };
    let a = node("a", (ga, gb), free(51));
    let bn = node("b", (gb, ga), free(52));
    until("b serving", 30, || a.status()["cluster"]["peers"][0]["phase"] == "serving").await;
    set_password(&a, PASSWORD);
    let base = format!("http://{}", a.admin);
    assert!(b.login(&base, PASSWORD).await.contains("Log out"));
    b.goto(&format!("{base}/cluster")).await;
    let t = b.text().await;
    assert!(t.contains("No takeover since this node started") && t.contains("buckets owned"), "{t}");

    let stopped = bn.kill();
    until("the takeover in a's status", 20, || a.status()["cluster"]["takeovers"][0]["peer"] == "b").await;
    b.goto(&format!("{base}/cluster")).await;
    let t = b.wait_for(|t| t.contains("took over b's DHCP clients"), "the takeover on the page").await;
    assert!(t.contains("256 of 256"), "a owns every bucket now: {t}");
    check_both_widths(&b, &format!("{base}/cluster"), "cluster-takeover").await;

    // B back: once caught up it gets its buckets back, and the history says so, newest first.
    let _bn = stopped.restart();
    until("the hand-back in a's status", 30, || a.status()["cluster"]["takeovers"][0]["kind"] == "hand_back").await;
    b.goto(&format!("{base}/cluster")).await;
    let t = b.wait_for(|t| t.contains("gave b's DHCP clients back"), "the hand-back on the page").await;
    let (back, took) = (t.find("gave b's").unwrap(), t.find("took over b's").unwrap());
    assert!(back < took, "newest first: {t}");
}
