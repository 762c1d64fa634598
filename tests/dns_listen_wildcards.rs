//! Issue 14 (found by the package test): the packaged config listens on `0.0.0.0:53` and
//! `[::]:53`; the IPv6 TCP listener was dual-stack, took the IPv4 port as well, and ravensd
//! failed with "binding TCP [::]:53: Address already in use". Both wildcards on one port must
//! serve, over UDP and TCP, on IPv4 and IPv6.

mod sd;

use std::net::SocketAddr;

#[test]
fn issue14_ipv4_and_ipv6_wildcards_share_a_port() {
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        eprintln!("SKIP issue14_ipv4_and_ipv6_wildcards_share_a_port: no IPv6 on loopback");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // A port free for both families and both protocols right now (probed one at a time: a
    // std socket on `::` is dual-stack and would collide with the IPv4 probe).
    let port = (0..100)
        .map(|_| std::net::UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port())
        .find(|&p| {
            std::net::UdpSocket::bind(("::", p)).is_ok()
                && std::net::UdpSocket::bind(("0.0.0.0", p)).is_ok()
                && std::net::TcpListener::bind(("::", p)).is_ok()
                && std::net::TcpListener::bind(("0.0.0.0", p)).is_ok()
        })
        .expect("a free port");
    let config = dir.path().join("ravens.toml");
    std::fs::write(
        &config,
        format!(
            "[node]\nname = \"both\"\ndata_dir = \"{}\"\ndns_listen = [\"0.0.0.0:{port}\", \"[::]:{port}\"]\n\
             admin_listen = \"127.0.0.1:0\"\n\n[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n\n\
             [[record]]\nname = \"both.lan\"\ntype = \"A\"\nvalue = \"10.4.6.0\"\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let mut d = sd::Ravensd::spawn(&config, &[]);
    d.wait_ready(1);
    for server in [SocketAddr::from(([127, 0, 0, 1], port)), format!("[::1]:{port}").parse().unwrap()] {
        assert_eq!(sd::resolve(server, "both.lan"), Some("10.4.6.0".parse().unwrap()), "UDP {server}");
        let out = std::process::Command::new("dig")
            .arg(format!("@{}", server.ip()))
            .args(["-p", &port.to_string(), "+tcp", "+short", "+tries=1", "+time=5", "both.lan", "A"])
            .output()
            .expect("dig is installed (scripts/install-test-deps)");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10.4.6.0", "TCP {server}");
    }
}
