//! A real headless Chromium driven over WebDriver (fantoccini) for the web UI tests. The
//! test starts `/usr/bin/chromedriver` itself on a free loopback port; Chromium runs with a
//! fresh profile and without its background network services (this machine is offline and
//! Chromium hangs waiting on them otherwise). Missing chromedriver → `None`: the caller
//! skips with a message (`scripts/install-test-deps` installs it).

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use std::io::Write as _;

use super::daemon::Daemon;
use serde_json::json;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

pub struct Browser {
    pub c: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Where the screenshots go: `target/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&d).unwrap();
    d
}

impl Browser {
    pub async fn start() -> Option<Browser> {
        if !std::path::Path::new(CHROMEDRIVER).exists() {
            eprintln!("SKIP: {CHROMEDRIVER} missing (install chromium and chromium-driver: scripts/install-test-deps)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        // The UI's HTTPS certificate is self-signed.
        let caps = json!({ "acceptInsecureCerts": true, "goog:chromeOptions": { "args": args, "binary": "/usr/bin/chromium" } });
        let serde_json::Value::Object(caps) = caps else { unreachable!() };
        let url = format!("http://127.0.0.1:{port}");
        let end = Instant::now() + Duration::from_secs(30);
        let c = loop {
            let conn = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(conn).capabilities(caps.clone()).connect(&url).await {
                Ok(c) => break c,
                Err(e) if Instant::now() < end => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("chromedriver session: {e}"),
            }
        };
        Some(Browser { c, driver, _profile: profile })
    }

    pub async fn goto(&self, url: &str) {
        self.c.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.c.execute(script, vec![]).await.unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    pub async fn text(&self) -> String {
        self.js("return document.body.innerText").await.as_str().unwrap_or_default().to_string()
    }

    /// Logs in at `base` with `password`; returns the page text after the form is sent.
    pub async fn login(&self, base: &str, password: &str) -> String {
        self.goto(&format!("{base}/login")).await;
        let field = self.c.find(Locator::Id("password")).await.unwrap();
        field.send_keys(password).await.unwrap();
        self.c.find(Locator::Css("form.login button")).await.unwrap().click().await.unwrap();
        self.wait_for(|t| !t.contains("Log in") || t.contains("Wrong") || t.contains("Too many"), "the login answer")
            .await
    }

    /// Polls the page text until `f` holds (at most 15 s); returns it.
    pub async fn wait_for(&self, f: impl Fn(&str) -> bool, what: &str) -> String {
        let end = Instant::now() + Duration::from_secs(15);
        loop {
            let t = self.text().await;
            if f(&t) {
                return t;
            }
            assert!(Instant::now() < end, "timed out waiting for {what}; page:\n{t}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The checks every page must pass: no script errors, a label on every control, no
    /// horizontal scroll at the current width.
    pub async fn check_page(&self, what: &str) {
        let errors = self.js("return window.ravensErrors || ['app.js did not run']").await;
        assert_eq!(errors, json!([]), "{what}: JavaScript errors");
        let unlabeled = self
            .js("return [...document.querySelectorAll('input,select,textarea')].filter(e => e.type !== 'hidden' && e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.outerHTML)")
            .await;
        assert_eq!(unlabeled, json!([]), "{what}: form controls without a label");
        let scroll = self.js("return [document.documentElement.scrollWidth, window.innerWidth]").await;
        let (sw, iw) = (scroll[0].as_u64().unwrap(), scroll[1].as_u64().unwrap());
        assert!(sw <= iw, "{what}: horizontal scroll ({sw} > {iw})");
    }

    pub async fn screenshot(&self, name: &str) {
        let png = self.c.screenshot().await.unwrap();
        std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("find {css}: {e}")).click().await.unwrap();
    }

    /// Fills the field `id` with `text` (cleared first).
    pub async fn fill(&self, id: &str, text: &str) {
        let f = self.c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("find #{id}: {e}"));
        f.clear().await.unwrap();
        f.send_keys(text).await.unwrap();
    }
}

pub const PASSWORD: &str = "correct horse battery";

/// `dnsctl password set` with the password on stdin, against `d`.
pub fn set_password(d: &Daemon, password: &str) {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dnsctl"))
        .arg("--node")
        .arg(d.admin.to_string())
        .arg("--token-file")
        .arg(d.token_file())
        .args(["password", "set"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "dnsctl password set: {}", String::from_utf8_lossy(&out.stderr));
}

/// Waits until `f` holds, for at most 20 s.
pub async fn until(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Submits form `id` (already filled), which the API must refuse: the reason shows in the
/// form and `d`'s config file stays byte for byte the same.
pub async fn refused(b: &Browser, d: &Daemon, id: &str, reason: &str) {
    let before = std::fs::read(&d.config_path).unwrap();
    b.click(&format!("#{id} button[type=submit]")).await;
    let out = format!("return document.querySelector('#{id} output.error').textContent");
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let shown = b.js(&out).await;
        if shown.as_str().is_some_and(|s| s.contains(reason)) {
            break;
        }
        assert!(Instant::now() < end, "#{id}: no '{reason}' beside the form, shown: {shown}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "#{id}: a refused change moved the file");
}

/// Opens `path` at desktop and phone width, checks it at each and saves both screenshots.
pub async fn check_widths(b: &Browser, base: &str, path: &str, name: &str) {
    for (w, h, suffix) in [(1280, 900, "desktop"), (390, 844, "phone")] {
        b.c.set_window_size(w, h).await.unwrap();
        b.goto(&format!("{base}{path}")).await;
        b.check_page(&format!("{path} ({suffix})")).await;
        b.screenshot(&format!("{name}-{suffix}")).await;
    }
    b.c.set_window_size(1280, 900).await.unwrap();
}
