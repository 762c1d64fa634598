//! The web UI's security and forms in a real headless Chromium against one real ravensd:
//! wrong password refused, then rate-limited per client; the right one accepted; a change
//! without the CSRF token refused; an invalid IP in the record form shows the API's reason
//! beside the form and leaves the config file byte-identical; a valid record answers `dig`;
//! the same UI over HTTPS on the same port gets a `Secure` cookie.

mod common;

use common::browser::{Browser, PASSWORD, set_password};
use common::client::dig;
use common::daemon::Daemon;

/// A raw login POST from this process (same client address as the browser: 127.0.0.1).
async fn post_login(base: &str, password: &str) -> u16 {
    let c = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    c.post(format!("{base}/login")).form(&[("password", password)]).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn login_limits_csrf_and_a_refused_change() {
    let Some(b) = Browser::start().await else { return };
    let d = Daemon::start("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\n");
    let base = format!("http://{}", d.admin);
    // No password yet: the login page says how to set one, and nothing logs in.
    b.goto(&format!("{base}/")).await;
    assert!(b.text().await.contains("dnsctl password set"));
    set_password(&d, PASSWORD);
    let hash = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(hash.contains("password_hash = \"$argon2id$") && !hash.contains(PASSWORD), "{hash}");

    // HTTPS on the same port (the self-signed certificate made at start): the cookie is Secure.
    let https = format!("https://{}", d.admin);
    let t = b.login(&https, PASSWORD).await;
    assert!(t.contains("Dashboard") && t.contains("Log out"), "{t}");
    let cookie = b.c.get_named_cookie("ravens_session").await.unwrap();
    assert_eq!(cookie.secure(), Some(true), "over HTTPS the cookie is Secure");
    b.goto(&format!("{https}/cluster")).await;
    assert!(b.text().await.contains("alone"), "pages work over HTTPS");
    assert!(d.dir.path().join("data/ui-cert.pem").exists());
    b.c.delete_all_cookies().await.unwrap();

    let t = b.login(&base, "not the password").await;
    assert!(t.contains("Wrong password"), "{t}");
    let t = b.login(&base, PASSWORD).await;
    assert!(t.contains("Dashboard") && t.contains("Log out"), "{t}");
    b.check_page("dashboard").await;

    // Four more failures from this address (five in all), then even the right password waits.
    for _ in 0..4 {
        assert_eq!(post_login(&base, "guess").await, 401);
    }
    assert_eq!(post_login(&base, PASSWORD).await, 429, "rate-limited after 5 failures");
    assert!(d.log().contains("UI login failed"), "failures are logged");

    // A change without the CSRF token is refused, and changes nothing.
    let before = std::fs::read(&d.config_path).unwrap();
    let code = b
        .js("return fetch('/ui/api/records', {method: 'POST', headers: {'Content-Type': 'application/json'}, \
             body: JSON.stringify({name: 'x.lan', type: 'A', value: '10.0.0.1'})}).then(r => r.status)")
        .await;
    assert_eq!(code, 403);
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before);

    // The record form: an invalid address is refused with the reason beside the form.
    b.goto(&format!("{base}/records")).await;
    b.check_page("records").await;
    b.fill("add-record-name", "nas.lan").await;
    b.fill("add-record-value", "10.0.0.300").await;
    b.click("#add-record button[type=submit]").await;
    let t = b.wait_for(|t| t.contains("not an IPv4 address"), "the refusal").await;
    assert!(t.contains("10.0.0.300"), "{t}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused change leaves the file byte-identical");

    // A valid one takes effect: dig answers it.
    b.fill("add-record-value", "10.0.0.30").await;
    b.click("#add-record button[type=submit]").await;
    b.wait_for(|t| t.contains("10.0.0.30") && !t.contains("not an IPv4"), "the new record listed").await;
    assert!(dig(d.dns, &["nas.lan", "A", "+short"]).contains("10.0.0.30"));
    b.check_page("records after add").await;

    // The session cookie is HttpOnly: the page's script cannot read it.
    assert_eq!(b.js("return document.cookie").await, serde_json::json!(""));
    let cookie = b.c.get_named_cookie("ravens_session").await.unwrap();
    assert_eq!((cookie.http_only(), cookie.secure()), (Some(true), Some(false)), "plain HTTP: not Secure");
}
