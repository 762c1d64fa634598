//! Issue 10, defect 8 and the list-copy part of 9, on the real daemon: list files come only
//! from `node.list_dirs` (default: the config's directory and `data_dir/lists`), whether the
//! path arrives through `dnsctl lists add` or a hand edit, with `..` and symlinks resolved;
//! not a line of a file outside them comes back, not even as a rejected-line sample. The
//! stored copies of URL lists that are no longer configured are deleted, at start and when
//! the list is removed.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::daemon::{Daemon, node_section};
use common::http::ListServer;

const SECRET: &str = "TOP-SECRET password line, not a domain\nsecond:secret:line\n";

fn start() -> Daemon {
    Daemon::start("[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\n")
}

/// Runs a change that must be refused; returns stdout + stderr after checking the config
/// file did not change.
fn refused(d: &Daemon, args: &[&str]) -> String {
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, out, err) = d.dnsctl(args);
    assert_eq!(code, 1, "dnsctl {args:?} should fail:\n{out}{err}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused change touched the file");
    out + &err
}

fn lists_json(d: &Daemon) -> String {
    let (code, out, err) = d.dnsctl(&["--json", "lists"]);
    assert_eq!(code, 0, "{err}");
    out
}

fn wait(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn no_secret(text: &str) {
    assert!(!text.contains("TOP-SECRET") && !text.contains("secret:line"), "a line of the file leaked:\n{text}");
    // /etc/shadow's first line names root; nothing of it may come back either.
    assert!(!text.contains("root:"), "a line of /etc/shadow leaked:\n{text}");
}

#[test]
fn issue_10_defect_8_list_files_outside_list_dirs_are_refused() {
    let d = start();
    let dir = d.dir.path();
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    std::fs::write(&secret, SECRET).unwrap();

    let err = refused(&d, &["lists", "add", "pw", "/etc/shadow"]);
    assert!(err.contains("node.list_dirs") && err.contains("/etc/shadow"), "{err}");
    no_secret(&err);
    no_secret(&refused(&d, &["lists", "add", "pw", secret.to_str().unwrap()]));
    // `..` out of the config's directory, and a symlink in it, lead outside: refused too.
    let dotdot = dir.join("..").join(outside.path().file_name().unwrap()).join("secret.txt");
    no_secret(&refused(&d, &["lists", "add", "pw", dotdot.to_str().unwrap()]));
    std::os::unix::fs::symlink(&secret, dir.join("link.txt")).unwrap();
    no_secret(&refused(&d, &["lists", "add", "pw", dir.join("link.txt").to_str().unwrap()]));
    no_secret(&lists_json(&d));

    // A file in the config's directory is fine, and its rejected lines are shown.
    let mine = dir.join("mine.txt");
    std::fs::write(&mine, "ok.example\nnot a domain line\n").unwrap();
    let (code, _, err) = d.dnsctl(&["lists", "add", "mine", mine.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    wait("the rejected line", || lists_json(&d).contains("not a domain line"));
    // Replaced by a symlink to the secret after the check: the daemon does not read it.
    std::fs::remove_file(&mine).unwrap();
    std::os::unix::fs::symlink(&secret, &mine).unwrap();
    wait("the list to be refused", || lists_json(&d).contains("outside node.list_dirs"));
    let json = lists_json(&d);
    no_secret(&json);
    assert!(!json.contains("not a domain line"), "old samples are dropped too:\n{json}");
    let (_, table, _) = d.dnsctl(&["lists"]);
    no_secret(&table);
    let (_, explained, _) = d.dnsctl(&["query", "ok.example"]);
    no_secret(&explained);

    // A hand edit naming a file outside is refused the same way; the last good config serves.
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    std::fs::write(&d.config_path, format!("{text}\n[[list]]\nname = \"pw\"\npath = \"/etc/shadow\"\n")).unwrap();
    wait("the reload error", || d.status()["config"]["last_error"].as_str().is_some_and(|e| e.contains("list_dirs")));
    no_secret(&lists_json(&d));
    assert!(!lists_json(&d).contains("\"pw\""));
}

#[test]
fn issue_10_defect_8_node_list_dirs_allows_other_directories() {
    let lists = tempfile::tempdir().unwrap();
    let node_extra = format!("list_dirs = [\"{}\"]", lists.path().display());
    let d = Daemon::start_full("127.0.0.1", &node_extra, "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n");
    let file = lists.path().join("sub").join("ads.txt");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, "ads.example\n").unwrap();
    let (code, _, err) = d.dnsctl(&["lists", "add", "ads", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    // The key replaces the defaults: the config's own directory is no longer allowed.
    let here = d.dir.path().join("here.txt");
    assert!(refused(&d, &["lists", "add", "here", here.to_str().unwrap()]).contains("node.list_dirs"));
}

fn copies(lists: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(lists)
        .map(|r| r.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn issue_10_copies_of_removed_lists_are_deleted_at_start_and_on_removal() {
    let server = ListServer::start("||urlblocked.test^\n");
    let dir = tempfile::tempdir().unwrap();
    let lists = dir.path().join("data").join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    // Left behind by a list removed while the node was down, and an admin's own file.
    for f in ["old-0badc0de.list", "old-0badc0de.meta", "old-0badc0de.part"] {
        std::fs::write(lists.join(f), "x\n").unwrap();
    }
    std::fs::write(lists.join("my-own.txt"), "mine.example\n").unwrap();
    let config_path = dir.path().join("ravens.toml");
    let node = node_section(dir.path(), "127.0.0.1");
    std::fs::write(&config_path, format!("{node}[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n")).unwrap();
    let d = Daemon::start_with_file(dir, config_path);
    assert_eq!(copies(&lists), ["my-own.txt"], "stale copies are gone once the node is ready");

    let (code, _, err) = d.dnsctl(&["lists", "add", "remote", &server.url()]);
    assert_eq!(code, 0, "{err}");
    wait("the downloaded copy", || copies(&lists).iter().any(|f| f.starts_with("remote-") && f.ends_with(".meta")));
    let (code, _, err) = d.dnsctl(&["lists", "remove", "remote"]);
    assert_eq!(code, 0, "{err}");
    wait("the copy to go", || copies(&lists) == ["my-own.txt"]);
}
