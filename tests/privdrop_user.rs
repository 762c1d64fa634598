//! Issue 14: `node.user` gives ravensd started as root the least privilege the systemd unit
//! gives it: it runs as that user with CAP_NET_BIND_SERVICE only (effective, ambient,
//! bounding), serves on port 53, writes its data_dir and its config file (dnsctl changes),
//! and after the re-exec that starts DHCP (a node gaining its first subnet) it binds ports
//! 53 and 67 again as that user. Root only: skips with a message otherwise.

mod sd;

use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `nobody` on Debian.
const USER: &str = "nobody";
const UID: u32 = 65534;
/// CAP_NET_BIND_SERVICE (bit 10) alone, as /proc/PID/status prints a capability set.
const NET_BIND_ONLY: &str = "0000000000000400";

/// A loopback address of this test's own, so port 53 and 67 are free whatever else runs.
fn own_loopback() -> Ipv4Addr {
    let n = std::process::id();
    Ipv4Addr::new(127, 100 + (n % 100) as u8, (n / 100 % 250) as u8 + 1, 53)
}

fn config(dir: &Path, ip: Ipv4Addr, extra: &str) -> String {
    format!(
        "[node]\nname = \"dropped\"\nuser = \"{USER}\"\ndata_dir = \"{}\"\ndns_listen = [\"{ip}:53\"]\n\
         admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"{ip}:67\"\n\n\
         [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n\n\
         [[record]]\nname = \"here.lan\"\ntype = \"A\"\nvalue = \"10.9.8.7\"\n{extra}",
        dir.join("data").display()
    )
}

fn assert_dropped(d: &sd::Ravensd) {
    assert_eq!(d.proc_status("Uid"), format!("{UID}\t{UID}\t{UID}\t{UID}"));
    assert_eq!(d.proc_status("Gid").split_whitespace().next(), Some("65534"));
    assert_eq!(d.proc_status("CapEff"), NET_BIND_ONLY);
    assert_eq!(d.proc_status("CapPrm"), NET_BIND_ONLY);
    assert_eq!(d.proc_status("CapAmb"), NET_BIND_ONLY, "ambient: kept across the re-exec");
    assert_eq!(d.proc_status("CapBnd"), NET_BIND_ONLY);
    assert_eq!(d.proc_status("NoNewPrivs"), "1");
}

#[test]
fn issue14_node_user_drops_to_the_user_serves_writes_and_survives_the_dhcp_reexec() {
    if !sd::is_root() {
        eprintln!("SKIP issue14_node_user...: needs root (switching users, binding port 53)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The directory is the user's, as /etc/ravens is the ravens user's in the package; the
    // data_dir does not exist yet: ravensd creates it for the user.
    std::os::unix::fs::chown(dir.path(), Some(UID), Some(UID)).unwrap();
    let ip = own_loopback();
    let path = dir.path().join("ravens.toml");
    std::fs::write(&path, config(dir.path(), ip, "")).unwrap();
    std::os::unix::fs::chown(&path, Some(UID), Some(UID)).unwrap();

    let mut d = sd::Ravensd::spawn(&path, &[]);
    d.wait_ready(1);
    let dns = d.addr_after("listening for UDP on ");
    assert_eq!(dns.port(), 53);
    assert_eq!(sd::resolve(dns, "here.lan"), Some("10.9.8.7".parse().unwrap()));
    assert_dropped(&d);
    assert!(d.log().contains("running as nobody with CAP_NET_BIND_SERVICE only"), "{}", d.log());
    let data = dir.path().join("data");
    assert_eq!(std::fs::metadata(&data).unwrap().uid(), UID, "data_dir created for the user");
    assert_eq!(std::fs::metadata(data.join("admin.token")).unwrap().uid(), UID);

    // A dnsctl change: the daemon, as the user, rewrites its config file.
    let admin = d.addr_after("admin API on http://");
    let out = Command::new(env!("CARGO_BIN_EXE_dnsctl"))
        .arg("--node")
        .arg(admin.to_string())
        .arg("--token-file")
        .arg(data.join("admin.token"))
        .args(["records", "add", "new.lan", "A", "10.9.8.6"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("new.lan"), "{text}");
    assert_eq!(std::fs::metadata(&path).unwrap().uid(), UID);
    assert_eq!(sd::resolve(dns, "new.lan"), Some("10.9.8.6".parse().unwrap()));

    // The first subnet: ravensd re-executes itself (same PID) to start DHCP, and the new image
    // binds port 53 and 67 as the user, thanks to the ambient capability.
    let pid = d.pid();
    let subnet =
        "\n[[subnet]]\nname = \"lab\"\ncidr = \"192.168.79.0/24\"\npools = [\"192.168.79.100-192.168.79.199\"]\n";
    std::fs::write(&path, format!("{text}{subnet}")).unwrap();
    d.wait_ready(2);
    assert_eq!(d.pid(), pid);
    assert!(d.log().contains(&format!("listening for DHCP on {ip}:67")), "{}", d.log());
    assert_eq!(sd::resolve(dns, "here.lan"), Some("10.9.8.7".parse().unwrap()));
    assert_dropped(&d);
    d.signal("TERM");
    assert!(d.child.wait().unwrap().success(), "{}", d.log());
}

#[test]
fn issue14_node_user_unknown_is_a_clear_error() {
    if !sd::is_root() {
        eprintln!("SKIP issue14_node_user_unknown...: needs root");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ravens.toml");
    let text = config(dir.path(), Ipv4Addr::LOCALHOST, "").replace("user = \"nobody\"", "user = \"no-such-user-14\"");
    std::fs::write(&path, text).unwrap();
    let mut d = sd::Ravensd::spawn(&path, &[]);
    let status = d.child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(status.code(), Some(1));
    assert!(d.log().contains("node.user: there is no user \"no-such-user-14\""), "{}", d.log());
}
