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
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

fn quiet(cmd: &mut Command) -> bool {
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

/// Polls `f` every 50 ms until it returns Some, or None after `timeout`.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() > end {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// A process started by a test: output to a log file, stopped by PID (TERM, then KILL after
/// 3 s) when dropped.
pub struct Proc {
    pub name: String,
    child: Child,
    pub log: PathBuf,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command, log: PathBuf) -> Proc {
        let f = fs::File::create(&log).unwrap();
        cmd.stdin(Stdio::null()).stdout(f.try_clone().unwrap()).stderr(f);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        Proc { name: name.to_string(), child, log }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `sig` (e.g. "USR1") to this process.
    pub fn signal(&self, sig: &str) -> bool {
        quiet(Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()))
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_for(timeout, || self.exited())
    }

    /// SIGKILL, no grace.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// TERM, wait up to 3 s, then KILL.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        self.signal("TERM");
        if self.wait_exit(Duration::from_secs(3)).is_none() {
            self.kill9();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The real `ravensd` running inside a namespace.
pub struct Ravensd {
    pub proc: Proc,
    pub ns: String,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    pub admin: SocketAddr,
    pub dns: Vec<SocketAddr>,
}

impl Ravensd {
    /// Writes `config_body` (with `data_dir` substituted for `@DATA@`) and starts ravensd on it.
    pub fn start(lab: &Lab, ns: &str, name: &str, config_body: &str) -> Ravensd {
        let data_dir = lab.path(&format!("{name}-data"));
        fs::create_dir_all(&data_dir).unwrap();
        let config = lab.path(&format!("{name}.toml"));
        fs::write(&config, config_body.replace("@DATA@", &data_dir.display().to_string())).unwrap();
        Self::spawn(lab, ns, name, config, data_dir, 0)
    }

    fn spawn(lab: &Lab, ns: &str, name: &str, config: PathBuf, data_dir: PathBuf, generation: u32) -> Ravensd {
        let mut cmd = lab.cmd(ns, &[env!("CARGO_BIN_EXE_ravensd"), "--config", &config.display().to_string()]);
        // RAVENS_NETNS_LOG overrides the daemon's log filter (e.g. `info,ravens_dhcp=trace`).
        cmd.env("RAVENS_LOG", std::env::var("RAVENS_NETNS_LOG").unwrap_or_else(|_| "info".into()));
        let proc = Proc::spawn(name, cmd, lab.path(&format!("{name}.{generation}.log")));
        let mut d = Ravensd {
            proc,
            ns: ns.to_string(),
            config,
            data_dir,
            admin: "0.0.0.0:0".parse().unwrap(),
            dns: Vec::new(),
        };
        let ready = wait_for(Duration::from_secs(20), || {
            if d.proc.exited().is_some() {
                return Some(false);
            }
            d.proc.log_text().contains("ready").then_some(true)
        });
        assert_eq!(ready, Some(true), "ravensd did not start in {ns}:\n{}", d.proc.log_text());
        let log = d.proc.log_text();
        d.admin = addrs_after(&log, "admin API on http://")[0];
        d.dns = addrs_after(&log, "listening for UDP on ");
        assert!(log.contains("listening for DHCP on"), "{log}");
        d
    }

    /// `kill -9`, then start again on the same config and data dir.
    pub fn kill9_and_restart(self, lab: &Lab, generation: u32) -> Ravensd {
        self.restart(lab, generation)
    }

    /// Starts again on the same config and data dir (whatever is left of it: a test may have
    /// emptied it while the process was down), after a `kill -9` if it is still running;
    /// `generation` names the new log file.
    pub fn restart(mut self, lab: &Lab, generation: u32) -> Ravensd {
        self.proc.kill9();
        let name = self.proc.name.clone();
        let (ns, config, data_dir) = (self.ns.clone(), self.config.clone(), self.data_dir.clone());
        drop(self);
        Self::spawn(lab, &ns, &name, config, data_dir, generation)
    }

    /// Waits (max `within`) until this daemon's log holds `needle` at least `n` times.
    pub fn wait_log(&self, needle: &str, n: usize, within: Duration) -> bool {
        wait_for(within, || (self.proc.log_text().matches(needle).count() >= n).then_some(())).is_some()
    }

    /// Runs `dnsctl` inside the daemon's namespace: (exit code, stdout, stderr).
    pub fn dnsctl(&self, lab: &Lab, args: &[&str]) -> (i32, String, String) {
        let token = self.data_dir.join("admin.token").display().to_string();
        let node = self.admin.to_string();
        let mut a = vec![env!("CARGO_BIN_EXE_dnsctl"), "--node", &node, "--token-file", &token];
        a.extend_from_slice(args);
        let out = lab.output(&self.ns, &a);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// `dnsctl --json leases`, parsed.
    pub fn leases(&self, lab: &Lab) -> Vec<serde_json::Value> {
        let (code, out, err) = self.dnsctl(lab, &["--json", "leases"]);
        assert_eq!(code, 0, "dnsctl leases failed: {err}\n{}", self.proc.log_text());
        serde_json::from_str::<Vec<serde_json::Value>>(&out).unwrap_or_else(|e| panic!("bad leases JSON ({e}): {out}"))
    }

    /// The bound lease on `ip`, if any.
    pub fn lease_on(&self, lab: &Lab, ip: &str) -> Option<serde_json::Value> {
        self.leases(lab).into_iter().find(|l| l["ip"] == ip)
    }
}

/// Every socket address that follows `prefix` in `log`.
fn addrs_after(log: &str, prefix: &str) -> Vec<SocketAddr> {
    let v: Vec<SocketAddr> = log
        .match_indices(prefix)
        .filter_map(|(at, _)| {
            let rest = &log[at + prefix.len()..];
            rest.split(|c: char| c.is_whitespace()).next()?.parse().ok()
        })
        .collect();
    assert!(!v.is_empty(), "no '{prefix}' in the ravensd log:\n{log}");
    v
}
