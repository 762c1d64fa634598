//! The README's first command runs ravensd on its embedded default config (no file). Such a
//! node cannot store `dnsctl password set`'s hash, so it makes a UI password once in
//! `ravens-data/ui-password`; the login page names that file, the password logs in, a wrong
//! one does not. Runs the real binary on the default's fixed loopback ports (127.0.0.1:5353,
//! :6767, :8053), so it skips with a message when one of them is taken.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::child::KillOnDrop;
use common::wait::wait_for;

fn ports_free() -> bool {
    TcpListener::bind("127.0.0.1:8053").is_ok()
        && TcpListener::bind("127.0.0.1:5353").is_ok()
        && UdpSocket::bind("127.0.0.1:5353").is_ok()
        && UdpSocket::bind("127.0.0.1:6767").is_ok()
}

/// `curl` against the admin port: (status code, headers and body).
fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = text.lines().last().and_then(|l| l.trim().parse().ok()).unwrap_or(0);
    (code, text)
}

#[test]
fn the_embedded_default_makes_a_ui_password_and_names_its_file() {
    if !ports_free() {
        eprintln!("SKIP: a port of the embedded default (127.0.0.1:5353, :6767, :8053) is taken");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ravensd.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_ravensd"))
        .current_dir(dir.path())
        .stdout(Stdio::from(out.try_clone().unwrap()))
        .stderr(Stdio::from(out))
        .spawn()
        .unwrap();
    let _guard = KillOnDrop(child);
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    let text = wait_for(Duration::from_secs(30), || Some(read()).filter(|t| t.contains("ready"))).unwrap_or_else(read);
    assert!(text.contains("ready"), "ravensd did not start:\n{text}");
    assert!(text.contains("ui-password"), "the log names the password file:\n{text}");

    let (code, page) = curl(&["http://127.0.0.1:8053/login"]);
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("ravens-data/ui-password"), "the login page names the file: {page}");
    let password = std::fs::read_to_string(dir.path().join("ravens-data/ui-password")).unwrap();
    let password = password.trim();
    assert!(password.len() >= 16, "{password:?}");
    assert!(!page.contains(password), "the page never shows the password itself");

    let (code, _) = curl(&["-d", "password=not-the-password", "http://127.0.0.1:8053/login"]);
    assert_eq!(code, 401, "a wrong password is refused");
    let (code, head) = curl(&["-d", &format!("password={password}"), "http://127.0.0.1:8053/login"]);
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no session cookie: {head}"))
        .to_string();
    let (code, dash) = curl(&["-b", &cookie, "http://127.0.0.1:8053/"]);
    assert_eq!(code, 200, "{dash}");
    assert!(dash.contains("Dashboard"), "{dash}");
}
