//! Processes of the namespace tests: [`Proc`] (any program, stopped by PID when dropped) and
//! [`Ravensd`] (the real daemon inside a namespace, its addresses read from its log).

use std::fs;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::harness::*;

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
