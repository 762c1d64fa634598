//! Config-file edits and reloads on one real daemon (issue 10): an empty import refused, a
//! large import accepted, a symlinked config followed and kept, reloads of a file that keeps
//! changing, a reload error cleared by restoring the file, stale temp files removed at
//! start, SIGTERM stopping the daemon while an edit is stuck, and `dnsctl dns` setting,
//! showing and resetting `[dns]` options (a refused value changes nothing).

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::client::dig;
use common::daemon::{Daemon, node_section};

const SITE: &str = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]   # nothing answers there\nupstream_timeout = \"300ms\"\n\n\
                    [[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"10.9.0.10\"   # the NAS\n";

/// A config file in `dir` (at `rel`) with `[node]` for a test daemon and `site`.
fn write_config(dir: &Path, rel: &str, site: &str) -> std::path::PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, format!("{}\n{site}", node_section(dir, "127.0.0.1"))).unwrap();
    path
}

fn ok(d: &Daemon, args: &[&str]) -> String {
    let (code, out, err) = d.dnsctl(args);
    assert_eq!(code, 0, "dnsctl {args:?} failed: {err}\n{}", d.log());
    out
}

fn answer(d: &Daemon, name: &str) -> String {
    dig(d.dns, &[name, "A", "+short", "+tries=1", "+time=2"]).trim().to_string()
}

/// Polls `cond` every 100 ms for up to `secs` (a hang guard, not a performance bound).
fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// Replaces `path` the way editors do: a new file renamed over it.
fn replace_file(path: &Path, text: &str) {
    let tmp = path.with_extension("edit-tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

fn last_error(d: &Daemon) -> serde_json::Value {
    d.status()["config"]["last_error"].clone()
}

#[test]
fn issue_10_defect_5_an_import_without_site_items_is_refused_unless_replace_all() {
    let d = Daemon::start(SITE);
    ok(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    let empty = d.dir.path().join("empty.toml");
    std::fs::write(&empty, "").unwrap();
    let before = std::fs::read(&d.config_path).unwrap();
    let (code, _, err) = d.dnsctl(&["config", "import", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "an empty import must be refused: {err}");
    assert_eq!(std::fs::read(&d.config_path).unwrap(), before, "a refused import touched the file");
    assert!(err.contains("409") && err.contains("--replace-all"), "{err}");
    assert!(
        err.contains(
            "would remove 3 site items: the [dns] settings, 2 records (nas.lan A 10.9.0.10, printer.lan A 10.9.0.20)"
        ),
        "the refusal lists what would go: {err}"
    );
    assert_eq!(answer(&d, "printer.lan"), "10.9.0.20");
    // Only node-local sections: no site item either.
    std::fs::write(&empty, "[node]\nname = \"x\"\n").unwrap();
    let (code, _, err) = d.dnsctl(&["config", "import", empty.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");

    let out = ok(&d, &["config", "import", "--replace-all", empty.to_str().unwrap()]);
    assert!(out.contains("imported 0 site records") && out.contains("removed 3 site items"), "{out}");
    let file = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(!file.contains("[[record]]") && !file.contains("[dns]") && file.contains("[node]"), "{file}");
    assert!(ok(&d, &["records"]).contains("no local records"));
}

#[test]
fn issue_10_defect_5_a_config_larger_than_2_mb_imports() {
    let d = Daemon::start(SITE);
    let mut big = String::from(SITE);
    for i in 0..40_000u32 {
        big.push_str(&format!(
            "\n[[record]]\nname = \"h{i}.big.lan\"\ntype = \"A\"\nvalue = \"10.{}.{}.{}\"\n",
            i >> 16,
            (i >> 8) & 255,
            i & 255
        ));
    }
    assert!(big.len() > 2 << 20, "{} bytes", big.len());
    let path = d.dir.path().join("big.toml");
    std::fs::write(&path, &big).unwrap();
    let out = ok(&d, &["config", "import", path.to_str().unwrap()]);
    assert!(out.contains("imported 40002 site records (40000 added, 0 changed, 0 removed)"), "{out}");
    assert_eq!(answer(&d, "h39999.big.lan"), "10.0.156.63");
    assert!(std::fs::read_to_string(&d.config_path).unwrap().contains("# the NAS"));
}

#[test]
fn issue_10_defect_6_a_symlinked_config_is_followed_and_stays_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let target = write_config(dir.path(), "real/ravens.toml", SITE);
    let link = dir.path().join("ravens.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let d = Daemon::start_with_file(dir, link.clone());

    // The target edited by hand (as an editor does, by rename): reloaded.
    let text = std::fs::read_to_string(&target).unwrap();
    replace_file(&target, &format!("{text}\n[[record]]\nname = \"hand.lan\"\ntype = \"A\"\nvalue = \"10.9.0.30\"\n"));
    assert!(
        eventually(10, || answer(&d, "hand.lan") == "10.9.0.30"),
        "an edit of the target was not seen:\n{}",
        d.log()
    );

    // A dnsctl edit writes the target and keeps the link.
    ok(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced by a file");
    assert_eq!(std::fs::read_link(&link).unwrap(), target);
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(
        written.contains("printer.lan") && written.contains("hand.lan") && written.contains("# the NAS"),
        "{written}"
    );
    assert_eq!(answer(&d, "printer.lan"), "10.9.0.20");
}

#[test]
fn issue_10_defect_9_a_file_rewritten_every_100ms_is_still_reloaded() {
    let d = Daemon::start(SITE);
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    let reloads = |d: &Daemon| d.log().matches("config reloaded").count();
    assert_eq!(reloads(&d), 0);
    // 5 s of changes 100 ms apart: never quiet for the debounce.
    for i in 0..50 {
        replace_file(
            &d.config_path,
            &format!("{text}\n[[record]]\nname = \"burst.lan\"\ntype = \"A\"\nvalue = \"10.9.1.{i}\"\n"),
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(reloads(&d) >= 1, "no reload while the file kept changing:\n{}", d.log());
    assert!(eventually(10, || answer(&d, "burst.lan") == "10.9.1.49"), "the last version was not loaded:\n{}", d.log());
}

#[test]
fn issue_10_defect_9_restoring_the_file_clears_the_reload_error() {
    let d = Daemon::start(SITE);
    let good = std::fs::read_to_string(&d.config_path).unwrap();
    replace_file(
        &d.config_path,
        &format!("{good}\n[[record]]\nname = \"bad.lan\"\ntype = \"A\"\nvalue = \"10.9.0.999\"\n"),
    );
    assert!(eventually(10, || last_error(&d).is_string()), "the bad file was not reported:\n{}", d.log());
    replace_file(&d.config_path, &good);
    assert!(eventually(10, || last_error(&d).is_null()), "restoring the file left {}:\n{}", last_error(&d), d.log());
    assert_eq!(answer(&d, "nas.lan"), "10.9.0.10");
}

#[test]
fn issue_10_defect_9_a_stale_temp_file_is_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "ravens.toml", SITE);
    let stale = dir.path().join(".ravens.toml.ravens-tmp");
    std::fs::write(&stale, "half of an edit").unwrap();
    let d = Daemon::start_with_file(dir, path);
    assert!(!stale.exists(), "the temp file of an interrupted edit is still there:\n{}", d.log());
    // And edits still work (they use the same temp name).
    ok(&d, &["records", "add", "printer.lan", "A", "10.9.0.20"]);
    assert!(!stale.exists());
}

#[test]
fn issue_10_defect_4_sigterm_stops_the_daemon_while_an_edit_is_stuck() {
    // A large config (the edit writes megabytes) and a temp file that is a FIFO nobody
    // reads: the edit blocks in its write for as long as the test wants, like a hung disk.
    let mut site = String::from(SITE);
    for i in 0..20_000u32 {
        site.push_str(&format!(
            "\n[[record]]\nname = \"h{i}.lan\"\ntype = \"A\"\nvalue = \"10.8.{}.{}\"\n",
            i >> 8,
            i & 255
        ));
    }
    let mut d = Daemon::start(&site);
    let fifo = d.config_path.with_file_name(".ravens.toml.ravens-tmp");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (node, token, config) = (d.admin.to_string(), d.token_file(), d.config_path.clone());
    let edit = std::thread::spawn(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_dnsctl"))
            .args(["--config", config.to_str().unwrap(), "--node", &node, "--token-file", token.to_str().unwrap()])
            .args(["records", "add", "printer.lan", "A", "10.9.0.20"])
            .output()
            .unwrap()
    });
    // Opening the FIFO's read end returns once the edit opened it to write; the edit then
    // blocks as soon as the pipe is full (never read).
    let (tx, rx) = std::sync::mpsc::channel();
    let reader_path = fifo.clone();
    std::thread::spawn(move || tx.send(std::fs::File::open(reader_path).unwrap()).unwrap());
    let _reader = rx.recv_timeout(Duration::from_secs(60)).expect("the edit never reached its write");
    d.signal("TERM");
    let code = d.wait_exit(Duration::from_secs(30));
    assert_eq!(code, Some(0), "SIGTERM did not stop the daemon during an edit:\n{}", d.log());
    assert!(d.log().contains("stopped"), "{}", d.log());
    let out = edit.join().unwrap();
    assert!(!out.status.success(), "the edit cannot have finished: {}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn dnsctl_dns_sets_shows_and_resets_options_and_a_refused_value_changes_nothing() {
    let d = Daemon::start(SITE);
    ok(&d, &["dns", "set", "cache_size=1MiB", "prefetch=false", "rate_limit_exempt=[\"10.0.0.0/8\"]"]);
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    for want in
        ["cache_size = \"1MiB\"", "prefetch = false", "rate_limit_exempt = [\"10.0.0.0/8\"]", "# nothing answers there"]
    {
        assert!(text.contains(want), "{want:?} missing:\n{text}");
    }
    let shown = ok(&d, &["dns"]);
    assert!(shown.contains("cache_size = \"1MiB\"") && shown.contains("prefetch = false"), "{shown}");

    let (code, _, err) = d.dnsctl(&["dns", "set", "cache_size=lots"]);
    assert_eq!(code, 1);
    assert!(err.contains("dns.cache_size") && err.contains("lots"), "the reason names the key: {err}");
    let (code, _, err) = d.dnsctl(&["dns", "set", "no_such_option=1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no_such_option"), "{err}");
    assert_eq!(std::fs::read_to_string(&d.config_path).unwrap(), text, "refused values change nothing");

    ok(&d, &["dns", "reset", "prefetch", "cache_size"]);
    let text = std::fs::read_to_string(&d.config_path).unwrap();
    assert!(!text.contains("prefetch") && !text.contains("cache_size") && text.contains("rate_limit_exempt"), "{text}");
    assert_eq!(d.status()["config"]["last_error"], serde_json::Value::Null);
}
