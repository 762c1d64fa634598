//! Helpers of the service-integration tests (sd_notify, watchdog, node.user): start the real
//! ravensd with an environment of the test's choosing, read its log, read /proc.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Ravensd {
    pub child: Child,
    log: Arc<Mutex<String>>,
}

impl Ravensd {
    /// Starts ravensd on `config` with extra environment variables; does not wait.
    pub fn spawn(config: &Path, env: &[(&str, &str)]) -> Ravensd {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ravensd"));
        cmd.arg("--config").arg(config).env("RAVENS_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child =
            cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn ravensd");
        let log = Arc::new(Mutex::new(String::new()));
        let (stderr, log2) = (child.stderr.take().unwrap(), Arc::clone(&log));
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log2.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        Ravensd { child, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits until `needle` appears `n` times in the log (or the process exits).
    pub fn wait_log_count(&mut self, needle: &str, n: usize, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.log().matches(needle).count() >= n {
                return true;
            }
            if self.child.try_wait().ok().flatten().is_some() {
                std::thread::sleep(Duration::from_millis(100));
                return self.log().matches(needle).count() >= n;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits for the `n`-th "ready" line (a re-exec'd daemon logs its own).
    pub fn wait_ready(&mut self, n: usize) {
        assert!(self.wait_log_count(" ready\n", n, Duration::from_secs(30)), "ravensd not ready:\n{}", self.log());
    }

    /// The address logged after the last `prefix` (the re-exec'd image logs its own).
    pub fn addr_after(&self, prefix: &str) -> SocketAddr {
        let log = self.log();
        let at = log.rfind(prefix).unwrap_or_else(|| panic!("no '{prefix}' in log:\n{log}")) + prefix.len();
        let end = log[at..].find(char::is_whitespace).map_or(log.len(), |e| at + e);
        log[at..end].parse().unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal to this child (by its PID only).
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").arg(format!("-{sig}")).arg(self.pid().to_string()).status().unwrap();
        assert!(ok.success());
    }

    /// A field of /proc/PID/status (`Uid`, `CapEff`, ...), whitespace-trimmed.
    pub fn proc_status(&self, field: &str) -> String {
        proc_status(self.pid(), field)
    }
}

impl Drop for Ravensd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn proc_status(pid: u32, field: &str) -> String {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let prefix = format!("{field}:");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
        .trim()
        .to_string()
}

/// One A query for `name` to `server` over UDP, answered within 5 s; returns the first
/// address of the answer, if any.
pub fn resolve(server: SocketAddr, name: &str) -> Option<std::net::Ipv4Addr> {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::{Name, RData, RecordType};
    use std::str::FromStr as _;
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), RecordType::A));
    let s = std::net::UdpSocket::bind(if server.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(&m.to_vec().unwrap(), server).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    let reply = Message::from_vec(&buf[..n]).ok()?;
    reply.answers.iter().find_map(|r| match &r.data {
        RData::A(a) => Some(a.0),
        _ => None,
    })
}

/// Whether the test runs as root (the privilege tests need it).
pub fn is_root() -> bool {
    proc_status(std::process::id(), "Uid").split_whitespace().nth(1) == Some("0")
}
