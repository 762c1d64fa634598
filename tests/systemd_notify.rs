//! Issue 14: the systemd protocol of ravensd, with the test in systemd's place: it owns the
//! `$NOTIFY_SOCKET` datagram socket and sets `WATCHDOG_USEC`, as systemd does for
//! `Type=notify` + `WatchdogSec=`. ravensd says READY=1 only once it answers, pings the
//! watchdog while idle, withholds the pings while its DNS listener thread is frozen with a
//! query waiting (one thread frozen with ptrace, the rest of the process running), resumes
//! when it thaws, wraps SIGHUP in RELOADING=1/READY=1, and says STOPPING=1 on SIGTERM.
//! (The whole service under a real systemd: scripts/test-systemd.)

mod sd;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use nix::sys::ptrace;
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;

/// Watchdog timeout given to ravensd: it checks its loops every quarter of it.
const WATCHDOG_USEC: &str = "1000000";

struct Notify(UnixDatagram);

impl Notify {
    /// The next message, if one comes within `wait`.
    fn next(&self, wait: Duration) -> Option<String> {
        self.0.set_read_timeout(Some(wait)).unwrap();
        let mut buf = [0u8; 4096];
        let n = self.0.recv(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    /// Reads messages until one holds `line`; returns it (panics after `wait`).
    fn expect(&self, line: &str, wait: Duration) -> String {
        let end = Instant::now() + wait;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.next(left) {
                Some(m) if m.lines().any(|l| l == line) => return m,
                Some(_) => {}
                None => break,
            }
        }
        panic!("no {line} within {wait:?}");
    }

    /// Drops whatever is queued.
    fn drain(&self) {
        while self.next(Duration::from_millis(1)).is_some() {}
    }
}

/// The thread of `pid` named `name` (from /proc/PID/task/*/comm).
fn thread_named(pid: u32, name: &str) -> Pid {
    for e in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let e = e.unwrap();
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            return Pid::from_raw(e.file_name().to_string_lossy().parse().unwrap());
        }
    }
    panic!("no thread {name} in {pid}");
}

#[test]
fn issue14_notify_ready_reload_stopping_and_watchdog_on_a_frozen_listener() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let notify = Notify(UnixDatagram::bind(&sock_path).unwrap());
    let config = dir.path().join("ravens.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"sd\"\ndata_dir = \"{}\"\ndns_listen = [\"127.0.0.1:0\"]\nadmin_listen = \"127.0.0.1:0\"\n\n\
             [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nudp_sockets = 1\n\n\
             [[record]]\nname = \"here.lan\"\ntype = \"A\"\nvalue = \"10.1.2.3\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut d = sd::Ravensd::spawn(
        &config,
        &[("NOTIFY_SOCKET", sock_path.to_str().unwrap()), ("WATCHDOG_USEC", WATCHDOG_USEC)],
    );

    // READY=1 comes after the listeners are bound: the first query right after it answers.
    let ready = notify.expect("READY=1", Duration::from_secs(30));
    assert!(ready.contains("STATUS=udp+tcp 127.0.0.1:"), "status names the listeners: {ready}");
    d.wait_ready(1);
    let dns = d.addr_after("listening for UDP on ");
    assert_eq!(sd::resolve(dns, "here.lan"), Some("10.1.2.3".parse().unwrap()));

    // Idle (nothing waits in the socket): pings keep coming.
    for _ in 0..3 {
        notify.expect("WATCHDOG=1", Duration::from_secs(5));
    }

    // Freeze the one listener thread, then give it a query to take.
    let tid = thread_named(d.pid(), "dns-udp-0");
    ptrace::seize(tid, ptrace::Options::empty()).expect("ptrace the listener thread");
    ptrace::interrupt(tid).unwrap();
    waitpid(tid, Some(WaitPidFlag::__WALL)).unwrap();
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let query = {
        use hickory_proto::op::{Message, Query};
        use hickory_proto::rr::{Name, RecordType};
        use std::str::FromStr as _;
        let mut m = Message::query();
        m.add_query(Query::query(Name::from_str("here.lan").unwrap(), RecordType::A));
        m.to_vec().unwrap()
    };
    client.send_to(&query, dns).unwrap();
    assert!(d.wait_log_count("serving loop stuck", 1, Duration::from_secs(10)), "the stall is seen:\n{}", d.log());
    notify.drain();
    // Three timeouts' worth of silence: systemd would have restarted the service by now.
    let mut pings = 0;
    let end = Instant::now() + Duration::from_secs(3);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if notify.next(left).is_some_and(|m| m.lines().any(|l| l == "WATCHDOG=1")) {
            pings += 1;
        }
    }
    assert_eq!(pings, 0, "no watchdog ping while the listener is stuck");

    // Thawed, the thread answers the waiting query and the pings resume.
    ptrace::detach(tid, None).unwrap();
    client.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    assert!(client.recv(&mut buf).is_ok(), "the query that waited is answered");
    notify.expect("WATCHDOG=1", Duration::from_secs(5));
    // The line is written before the ping, but the test reads the daemon's stderr on another
    // thread, which may not have it yet (this failed at random on a loaded machine).
    assert!(d.wait_log_count("watchdog pings resume", 1, Duration::from_secs(5)), "{}", d.log());

    // SIGHUP: RELOADING=1 (with the monotonic time systemd asks for), then READY=1.
    d.signal("HUP");
    let reloading = notify.expect("RELOADING=1", Duration::from_secs(5));
    assert!(reloading.contains("MONOTONIC_USEC="), "{reloading}");
    notify.expect("READY=1", Duration::from_secs(5));

    // SIGTERM: STOPPING=1, then a clean exit.
    d.signal("TERM");
    notify.expect("STOPPING=1", Duration::from_secs(5));
    let status = d.child.wait().unwrap();
    assert!(status.success(), "{status:?}\n{}", d.log());
}

#[test]
fn issue14_no_notify_socket_no_messages_and_no_watchdog() {
    // Without NOTIFY_SOCKET (not under systemd) nothing is sent and no watchdog runs, even
    // with a stray WATCHDOG_USEC inherited from somewhere.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ravens.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"plain\"\ndata_dir = \"{}\"\ndns_listen = [\"127.0.0.1:0\"]\nadmin_listen = \"127.0.0.1:0\"\n\n\
             [[record]]\nname = \"here.lan\"\ntype = \"A\"\nvalue = \"10.1.2.4\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut d = sd::Ravensd::spawn(&config, &[("WATCHDOG_USEC", WATCHDOG_USEC)]);
    d.wait_ready(1);
    let dns = d.addr_after("listening for UDP on ");
    assert_eq!(sd::resolve(dns, "here.lan"), Some("10.1.2.4".parse().unwrap()));
    assert!(!d.log().contains("sd_notify") && !d.log().contains("watchdog"), "{}", d.log());
    d.signal("TERM");
    assert!(d.child.wait().unwrap().success(), "{}", d.log());
}
