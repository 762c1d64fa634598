//! The namespace lab for the root-only DHCP tests: private network namespaces joined by veth
//! pairs created directly inside them, processes guarded by PID, and the real `ravensd` running
//! inside a namespace. Everything a test creates is removed when its guards drop, panics
//! included.
//!
//! Safety rules (the same as the shared recipes'): every namespace is named
//! `rv<pid % 1000><tag>-<role>` and made by the test; every link is a veth created inside those
//! namespaces, so no traffic can reach the host's interfaces; every process is started by the
//! test and stopped by its PID (TERM, then KILL); every client runs under `timeout`.

#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::Duration;

pub use crate::procs::{Proc, Ravensd};
pub use wait::wait_for;

#[path = "../common/wait.rs"]
mod wait;

/// Serialises the tests of this binary: they share CPU with the load test, and timing-based
/// client retries are more reliable one at a time.
pub static SERIAL: Mutex<()> = Mutex::new(());

/// Prints a line that is visible even when the test harness captures output.
pub fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

/// Why this test cannot run here (not root, no `ip netns`, a missing tool), or None.
pub fn skip_reason(tools: &[&str]) -> Option<String> {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2));
    if euid != Some("0") {
        return Some(format!("needs root (effective uid {})", euid.unwrap_or("unknown")));
    }
    if !Command::new("ip").args(["netns", "list"]).output().is_ok_and(|o| o.status.success()) {
        return Some("`ip netns` is not available".into());
    }
    for t in tools {
        if which(t).is_none() {
            return Some(format!("`{t}` is not installed"));
        }
    }
    // Creating a namespace can still be refused (e.g. in a restricted container).
    let probe = format!("rv{}probe", std::process::id() % 1000);
    let _ = quiet(Command::new("ip").args(["netns", "del", &probe]));
    if !quiet(Command::new("ip").args(["netns", "add", &probe])) {
        return Some("cannot create a network namespace (`ip netns add` failed)".into());
    }
    let _ = quiet(Command::new("ip").args(["netns", "del", &probe]));
    None
}

/// Skips the calling test (it passes) with a printed reason when the lab cannot run here.
#[macro_export]
macro_rules! skip_unless_lab {
    ($test:expr, $tools:expr) => {
        if let Some(why) = $crate::harness::skip_reason($tools) {
            $crate::harness::say(&format!("SKIPPED {}: {why}", $test));
            return;
        }
    };
}

/// Finds a command in PATH, /usr/sbin or /sbin.
pub fn which(cmd: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(cmd))
        .find(|p| p.is_file())
}

pub(crate) fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs a command and panics with its output when it fails.
pub fn must(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A set of network namespaces owned by one test, and its temp dir. Dropping it ends any
/// process still inside those namespaces (all started by this test) and deletes them.
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    pub dir: tempfile::TempDir,
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let dir = tempfile::Builder::new().prefix(&format!("rv-netns-{tag}-")).tempdir().unwrap();
        Lab { prefix: format!("rv{}{tag}", std::process::id() % 1000), namespaces: Vec::new(), dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The namespace name for `role`.
    pub fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.prefix)
    }

    /// Creates namespace `role` (loopback up, IPv6 off so no autoconf chatter) and returns its name.
    pub fn add_ns(&mut self, role: &str) -> String {
        let ns = self.name(role);
        if Path::new("/run/netns").join(&ns).exists() {
            // A leftover of an earlier run of this binary that was killed before cleaning up.
            say(&format!("removing stale namespace {ns}"));
            let _ = quiet(Command::new("ip").args(["netns", "del", &ns]));
        }
        must(Command::new("ip").args(["netns", "add", &ns]));
        self.namespaces.push(ns.clone());
        self.run(&ns, &["ip", "link", "set", "lo", "up"]);
        self.run(&ns, &["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1"]);
        ns
    }

    /// A veth pair created directly inside the two namespaces, optionally with an address on
    /// the `b` end, both ends up.
    pub fn veth(&self, ns_a: &str, dev_a: &str, ns_b: &str, dev_b: &str, addr_b: Option<&str>) {
        must(
            Command::new("ip")
                .args(["link", "add", dev_a, "netns", ns_a, "type", "veth", "peer", "name", dev_b, "netns", ns_b]),
        );
        if let Some(a) = addr_b {
            self.run(ns_b, &["ip", "addr", "add", a, "dev", dev_b]);
        }
        self.run(ns_a, &["ip", "link", "set", dev_a, "up"]);
        self.run(ns_b, &["ip", "link", "set", dev_b, "up"]);
    }

    /// Runs `args` inside `ns`; panics on failure; returns stdout.
    pub fn run(&self, ns: &str, args: &[&str]) -> String {
        must(&mut self.cmd(ns, args))
    }

    /// Runs `args` inside `ns` and returns its output, whatever the exit status.
    pub fn output(&self, ns: &str, args: &[&str]) -> Output {
        self.cmd(ns, args).output().unwrap()
    }

    /// A command running `args` inside `ns` (`ip netns exec` execs, so the PID is the command's).
    pub fn cmd(&self, ns: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", ns]).args(args);
        c
    }

    /// SIGKILL, by PID, to the processes inside `ns` (one of this lab's namespaces, so every one
    /// of them was started by this test) whose command name is in `comms`; waits (max 2 s) until
    /// none is left. Other commands in `ns` (e.g. a concurrent `ip addr` probe) are left alone.
    pub fn kill9_in(&self, ns: &str, comms: &[&str]) {
        assert!(self.namespaces.iter().any(|n| n == ns), "{ns} is not a namespace of this lab");
        let pids = || {
            let out = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
            String::from_utf8_lossy(&out)
                .split_whitespace()
                .filter(|pid| {
                    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                    comms.contains(&comm.trim())
                })
                .map(String::from)
                .collect::<Vec<_>>()
        };
        for pid in pids() {
            let _ = quiet(Command::new("kill").args(["-KILL", &pid]));
        }
        let _ = wait_for(Duration::from_secs(2), || pids().is_empty().then_some(()));
    }

    /// The two server namespaces of the pair tests, `sa` (srv0 10.99.0.2/24) and `sb` (srv0
    /// 10.98.0.3/24), each behind its own port of router namespace `rtr` (rtr-sa 10.99.0.1,
    /// rtr-sb 10.98.0.1, forwarding on), so gossip between them is routed through `rtr`.
    pub fn pair_servers(&mut self, rtr: &str) -> (String, String) {
        let sa = self.add_ns("sa");
        let sb = self.add_ns("sb");
        for (ns, port, net, me) in [(&sa, "rtr-sa", "99", "2"), (&sb, "rtr-sb", "98", "3")] {
            self.veth(ns, "srv0", rtr, port, Some(&format!("10.{net}.0.1/24")));
            self.run(ns, &["ip", "addr", "add", &format!("10.{net}.0.{me}/24"), "dev", "srv0"]);
            self.run(ns, &["ip", "route", "add", "10.0.0.0/8", "via", &format!("10.{net}.0.1")]);
        }
        self.run(rtr, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        (sa, sb)
    }

    /// The config of pair node `name` on `ip` (DNS on ip:53, DHCP on 0.0.0.0:67 for relays,
    /// gossip on ip:7946 with `peer`), cluster `cluster`, followed by `subnets` (TOML).
    pub fn pair_config(cluster: &str, name: &str, ip: &str, peer: &str, secret: &str, subnets: &str) -> String {
        format!(
            "[node]\nname = \"{name}\"\ndata_dir = \"@DATA@\"\ndns_listen = [\"{ip}:53\"]\nadmin_listen = \"127.0.0.1:0\"\n\
             dhcp_listen = \"0.0.0.0:67\"\ndhcp_interfaces = []\n\n\
             [cluster]\nname = \"{cluster}\"\ngossip_listen = \"{ip}:7946\"\npeers = [\"{peer}:7946\"]\nsecret_file = \"{secret}\"\n\n\
             [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nserve_networks = [\"10.0.0.0/8\"]\n\
             local_domain = \"lan\"\n\n{subnets}"
        )
    }

    /// `dhcrelay` in `rtr`, relaying requests heard on the `down` interfaces to every one of
    /// `servers` through the `up` ones (option 82 added and checked: `-a -D`); fails the test
    /// when it has not stayed up for 500 ms.
    pub fn dhcrelay(&self, rtr: &str, up: &[&str], down: &[&str], servers: &[&str]) -> Proc {
        let pf = self.path("dhcrelay.pid").display().to_string();
        let mut args = vec!["dhcrelay", "-4", "-d", "-a", "-D", "-pf", &pf];
        args.extend(up.iter().flat_map(|i| ["-iu", *i]));
        args.extend(down.iter().flat_map(|i| ["-id", *i]));
        args.extend_from_slice(servers);
        let mut relay = Proc::spawn("dhcrelay", self.cmd(rtr, &args), self.path("dhcrelay.log"));
        std::thread::sleep(Duration::from_millis(500));
        assert!(relay.exited().is_none(), "dhcrelay did not start:\n{}", relay.log_text());
        relay
    }

    /// The IPv4 addresses configured on `dev` in `ns` (what a client really holds), or None
    /// when `ip` could not run.
    pub fn ipv4_addrs(&self, ns: &str, dev: &str) -> Option<Vec<String>> {
        let out = self.output(ns, &["ip", "-4", "-o", "addr", "show", "dev", dev]);
        if !out.status.success() {
            return None;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let words: Vec<&str> = text.split_whitespace().collect();
        Some(
            words
                .windows(2)
                .filter(|w| w[0] == "inet")
                .map(|w| w[1].split('/').next().unwrap_or_default().to_string())
                .collect(),
        )
    }

    /// A fresh cluster secret in the lab dir; its path.
    pub fn cluster_secret(&self) -> String {
        let secret = self.path("cluster.key");
        ravens_sync::generate_secret(&secret).unwrap();
        secret.display().to_string()
    }

    /// Waits (max 5 s) until every non-loopback link of the lab is operationally up.
    pub fn wait_links_up(&self) {
        let ok = wait_for(Duration::from_secs(5), || {
            let all_up = self.namespaces.iter().all(|ns| {
                self.run(ns, &["ip", "-o", "link", "show"])
                    .lines()
                    .filter(|l| !l.contains(": lo:"))
                    .all(|l| l.contains("state UP"))
            });
            all_up.then_some(())
        });
        if ok.is_none() {
            say("warning: some lab links are not up after 5 s");
        }
    }

    /// The MAC address of `dev` in `ns`.
    pub fn mac(&self, ns: &str, dev: &str) -> String {
        self.run(ns, &["cat", &format!("/sys/class/net/{dev}/address")]).trim().to_string()
    }

    /// `dig +short` inside `ns`; the answer lines (empty on no answer).
    pub fn dig_short(&self, ns: &str, server: &str, args: &[&str]) -> String {
        let mut a = vec!["dig", "+short", "+time=1", "+tries=2", "-p", "53"];
        let at = format!("@{server}");
        a.push(&at);
        a.extend_from_slice(args);
        String::from_utf8_lossy(&self.output(ns, &a).stdout).trim().to_string()
    }

    /// The rcode of a query (`NOERROR`, `NXDOMAIN`, ...) sent from `ns`.
    pub fn dig_status(&self, ns: &str, server: &str, args: &[&str]) -> String {
        let at = format!("@{server}");
        let mut a = vec!["dig", "+time=1", "+tries=2", &at];
        a.extend_from_slice(args);
        let out = String::from_utf8_lossy(&self.output(ns, &a).stdout).into_owned();
        out.split("status: ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("no answer").to_string()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            // Anything still running in our own namespaces was started by this test.
            let pids = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| o.stdout).unwrap_or_default();
            for pid in String::from_utf8_lossy(&pids).split_whitespace() {
                say(&format!("namespace {ns}: ending leftover pid {pid}"));
                let _ = quiet(Command::new("kill").args(["-KILL", pid]));
            }
            if !quiet(Command::new("ip").args(["netns", "del", ns])) {
                say(&format!("warning: could not delete namespace {ns}"));
            }
        }
    }
}
