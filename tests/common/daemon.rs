//! Starts the real `ravensd` binary on loopback with a config written by the test, reads
//! the addresses it bound from its stable startup lines, and kills it on drop.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Daemon {
    child: Child,
    pub dns: SocketAddr,
    pub admin: SocketAddr,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
    log: Arc<Mutex<String>>,
}

/// `[node]` for a test daemon: port 0 everywhere, data in the temp dir.
pub fn node_section(dir: &std::path::Path, listen_ip: &str) -> String {
    format!(
        "[node]\nname = \"test\"\ndata_dir = \"{}\"\ndns_listen = [\"{listen_ip}:0\"]\nadmin_listen = \"127.0.0.1:0\"\n\n",
        dir.join("data").display()
    )
}

impl Daemon {
    /// Starts ravensd with `body` (everything after `[node]`) on 127.0.0.1.
    pub fn start(body: &str) -> Daemon {
        Self::start_on("127.0.0.1", body)
    }

    pub fn start_on(listen_ip: &str, body: &str) -> Daemon {
        Self::start_full(listen_ip, "", body)
    }

    /// `node_extra` lines go into `[node]` (e.g. `dhcp_listen = ...`).
    pub fn start_full(listen_ip: &str, node_extra: &str, body: &str) -> Daemon {
        let (dir, config_path) = Self::write_config(listen_ip, node_extra, body);
        Self::start_with_file(dir, config_path)
    }

    /// Like [`Daemon::start`], with ravensd under `prlimit --nofile=N:N`: soft and hard limit
    /// both `nofile`, so raising the soft limit at start gains nothing.
    pub fn start_with_nofile(body: &str, nofile: u64) -> Daemon {
        let (dir, config_path) = Self::write_config("127.0.0.1", "", body);
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={nofile}:{nofile}")).arg("--").arg(env!("CARGO_BIN_EXE_ravensd"));
        Self::spawn(cmd, dir, config_path)
    }

    fn write_config(listen_ip: &str, node_extra: &str, body: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("ravens.toml");
        let node = node_section(dir.path(), listen_ip);
        std::fs::write(&config_path, format!("{}\n{node_extra}\n\n{body}", node.trim_end())).unwrap();
        (dir, config_path)
    }

    /// Starts ravensd on an existing config file.
    pub fn start_with_file(dir: tempfile::TempDir, config_path: PathBuf) -> Daemon {
        Self::spawn(Command::new(env!("CARGO_BIN_EXE_ravensd")), dir, config_path)
    }

    /// Runs `cmd` (ravensd, or a wrapper that execs it) on the config file.
    fn spawn(mut cmd: Command, dir: tempfile::TempDir, config_path: PathBuf) -> Daemon {
        let mut child = cmd
            .arg("--config")
            .arg(&config_path)
            .env("RAVENS_LOG", "info,ravens_dns=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ravensd");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().unwrap();
        let log2 = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let mut d = Daemon {
            child,
            dns: "0.0.0.0:0".parse().unwrap(),
            admin: "0.0.0.0:0".parse().unwrap(),
            dir,
            config_path,
            log,
        };
        let end = Instant::now() + Duration::from_secs(20);
        // The line ends with "ready" (an error such as "Address already in use" must not count).
        while !d.log().lines().any(|l| l.trim_end().ends_with(" ready")) {
            if Instant::now() > end || d.child.try_wait().ok().flatten().is_some() {
                std::thread::sleep(Duration::from_millis(100)); // let the reader thread catch up
                panic!("ravensd did not start:\n{}", d.log());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        d.dns = d.addr_after("listening for UDP on ");
        d.admin = d.addr_after("admin API on http://");
        d
    }

    /// The address the log names right after `prefix` (the first such line).
    pub fn addr_after(&self, prefix: &str) -> SocketAddr {
        let log = self.log();
        let at = log.find(prefix).unwrap_or_else(|| panic!("no '{prefix}' in log:\n{log}")) + prefix.len();
        let end = log[at..].find(|c: char| c.is_whitespace()).map_or(log.len(), |e| at + e);
        log[at..end].parse().unwrap()
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        self.wait_log_count(needle, 1, timeout)
    }

    /// Waits until `needle` appears at least `n` times in the log.
    pub fn wait_log_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().matches(needle).count() >= n {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn token_file(&self) -> PathBuf {
        self.dir.path().join("data").join("admin.token")
    }

    /// Runs dnsctl against this daemon; returns (exit code, stdout, stderr).
    pub fn dnsctl(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_dnsctl"))
            .arg("--config")
            .arg(&self.config_path)
            .arg("--node")
            .arg(self.admin.to_string())
            .arg("--token-file")
            .arg(self.token_file())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }

    /// `dnsctl --json status` parsed.
    pub fn status(&self) -> serde_json::Value {
        let (code, out, err) = self.dnsctl(&["--json", "status"]);
        assert_eq!(code, 0, "dnsctl status failed: {err}");
        serde_json::from_str(&out).unwrap()
    }

    /// Kills the process (SIGKILL: no chance to flush anything) and starts it again on the
    /// same config file and data dir.
    pub fn kill_and_restart(self) -> Daemon {
        self.kill().restart()
    }

    /// Kills the process (SIGKILL) and keeps its directory, to start it again later.
    pub fn kill(mut self) -> Stopped {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Move the TempDir guard out of `self` without deleting the directory.
        let dir = std::mem::replace(&mut self.dir, tempfile::TempDir::new().unwrap());
        Stopped { dir, config_path: self.config_path.clone() }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by PID (only to the child this test started).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap().success();
        assert!(ok);
    }

    /// Waits for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// A killed daemon's directory and config, to start again.
pub struct Stopped {
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

impl Stopped {
    pub fn restart(self) -> Daemon {
        Daemon::start_with_file(self.dir, self.config_path)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts node `name` of cluster `cluster`, gossiping on `gossip` with `peer`, on loopback
/// ports chosen by the kernel; `node_extra` lines go into `[node]`, `site` follows the
/// `[cluster]` section.
pub fn cluster_node(
    name: &str,
    cluster: &str,
    (gossip, peer): (SocketAddr, SocketAddr),
    secret: &std::path::Path,
    node_extra: &str,
    site: &str,
) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[node]\nname = \"{name}\"\ndata_dir = \"{data}\"\ndns_listen = [\"127.0.0.1:0\"]\nadmin_listen = \"127.0.0.1:0\"\n{node_extra}\n\n\
         [cluster]\nname = \"{cluster}\"\ngossip_listen = \"{gossip}\"\npeers = [\"{peer}\"]\nsecret_file = \"{secret}\"\n\n{site}",
        data = dir.path().join("data").display(),
        secret = secret.display(),
    );
    let path = dir.path().join("ravens.toml");
    std::fs::write(&path, text).unwrap();
    Daemon::start_with_file(dir, path)
}
