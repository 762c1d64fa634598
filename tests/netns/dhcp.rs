//! DHCP through network namespaces with real clients and relay (root only; every test skips
//! with a printed reason and passes when not root, when `ip netns` is missing, or when a client
//! tool is not installed).
//!
//! Topologies (one veth pair per VLAN named like 802.1Q sub-interfaces, because this kernel has
//! no 8021q; every config and check would be the same on real sub-interfaces):
//! ```text
//! direct : cli [cli0.10, cli0.20] == srv [srv0.10 10.10.0.1/24, srv0.20 10.20.0.1/24]   ravensd serves both directly
//! relay  : cli [cli0.10, cli0.20] == rtr [rtr-c.10 10.10.0.1/24, rtr-c.20 10.20.0.1/24 | rtr-s 10.99.0.1/24]
//!                                      -- srv [srv0 10.99.0.2/24]        dhcrelay in rtr, ravensd in srv
//! crash  : pc [pc0 10.100.0.1/16] -- srv [srv0 10.100.0.2/16]          relay-mode load client in pc
//! ```
//! Per VLAN (one VLAN after the other), in both the direct and the relayed topology:
//! - `dhclient -d -1` (fresh lease file, `send host-name`): the address is from that VLAN's pool,
//!   router, DNS servers, server id, domain and lease time are as configured; `dnsctl leases`
//!   holds the address with the interface's MAC and the hostname; `<host>.lan` A and PTR resolve
//!   through ravensd's DNS from the client namespace; a second run on the same lease file
//!   (INIT-REBOOT) is ACKed with the same address; `dhclient -r` releases it: the lease leaves
//!   `dnsctl leases` and the name becomes NXDOMAIN.
//! - `busybox udhcpc -f -q -n -t 5 -T 2 -x hostname:..`: the same checks; then a long-running
//!   udhcpc asking for that address gets it, renews it on SIGUSR1 (RENEWING: unicast REQUEST with
//!   ciaddr), and releases it on SIGUSR2: the lease and the name go away.
//! - relayed only: dhcrelay's log shows `BOOTREPLY giaddr: 10.v.0.1` and the server id is the
//!   server's own address. dhcrelay runs with `-a -D`: it adds option 82 (circuit id = the
//!   downstream interface) to every request, strips it from replies and, with `-D`, drops a
//!   reply whose option 82 names another relay, so a mangled echo would lose the lease (that a
//!   reply with no option 82 at all is dropped too was not verified here).
//!
//! Crash safety under load is in `crash.rs`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::clients::{Udhcpc, dhclient_get, dhclient_release, events, udhcpc_once, write_hooks};
use crate::harness::{Lab, Proc, Ravensd, say, wait_for};

const VLANS: [u8; 2] = [10, 20];

/// What a client on VLAN `v` must receive, and where names are checked.
struct Expect {
    /// Server identifier per VLAN.
    server_id: HashMap<u8, String>,
    /// Option 6 per VLAN, comma-separated.
    dns: HashMap<u8, String>,
    /// ravensd's DNS address as seen from the client namespace, per VLAN.
    dns_addr: HashMap<u8, String>,
    /// Namespace that checks names are gone (the client may have no address left by then).
    probe_ns: String,
    cli: String,
}

pub(crate) fn lock() -> std::sync::MutexGuard<'static, ()> {
    crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn check_received(who: &str, ev: &crate::clients::Event, v: u8, exp: &Expect) -> String {
    let ip = ev.get("ip").to_string();
    let last: Option<u8> = ip.strip_prefix(&format!("10.{v}.0.")).and_then(|s| s.parse().ok());
    assert!(last.is_some_and(|o| (100..=199).contains(&o)), "{who}: address {ip} is not in VLAN {v}'s pool: {ev:?}");
    assert_eq!(ev.get("router"), format!("10.{v}.0.1"), "{who}: router: {ev:?}");
    assert_eq!(ev.get("dns"), exp.dns[&v], "{who}: DNS servers: {ev:?}");
    assert_eq!(ev.get("server"), exp.server_id[&v], "{who}: server identifier: {ev:?}");
    assert_eq!(ev.get("domain"), "lan", "{who}: domain name: {ev:?}");
    assert_eq!(ev.get("lease"), "3600", "{who}: lease time: {ev:?}");
    ip
}

fn check_lease(lab: &Lab, d: &Ravensd, who: &str, ip: &str, mac: &str, host: &str, v: u8) {
    let l = d.lease_on(lab, ip).unwrap_or_else(|| panic!("{who}: {ip} not in dnsctl leases: {:?}", d.leases(lab)));
    assert_eq!(l["mac"], mac, "{who}: lease MAC: {l}");
    assert_eq!(l["hostname"], host, "{who}: lease hostname: {l}");
    assert_eq!(l["subnet"], format!("v{v}"), "{who}: lease subnet: {l}");
}

fn check_lease_gone(lab: &Lab, d: &Ravensd, who: &str, ip: &str) {
    let gone = wait_for(Duration::from_secs(5), || d.lease_on(lab, ip).is_none().then_some(()));
    if gone.is_none() {
        let (_, status, _) = d.dnsctl(lab, &["--json", "status"]);
        let status: serde_json::Value = serde_json::from_str(&status).unwrap_or_default();
        let client_logs: Vec<String> = std::fs::read_dir(lab.dir.path())
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().contains("release")))
            .map(|p| format!("{}:\n{}", p.display(), std::fs::read_to_string(&p).unwrap_or_default()))
            .collect();
        panic!(
            "{who}: {ip} still in dnsctl leases after release: {:?}\nravensd DHCP status: {}\n{}\nravensd log:\n{}",
            d.lease_on(lab, ip),
            status["dhcp"],
            client_logs.join("\n"),
            d.proc.log_text()
        );
    }
}

/// `<host>.lan` A and its PTR resolve through ravensd's DNS, queried with dig from the client
/// namespace.
fn check_names(lab: &Lab, exp: &Expect, who: &str, v: u8, host: &str, ip: &str) {
    let fqdn = format!("{host}.lan");
    let server = &exp.dns_addr[&v];
    let a = wait_for(Duration::from_secs(5), || {
        let out = lab.dig_short(&exp.cli, server, &[&fqdn, "A"]);
        (out == ip).then_some(out)
    });
    assert!(a.is_some(), "{who}: {fqdn} A: {:?}, want {ip}", lab.dig_short(&exp.cli, server, &[&fqdn, "A"]));
    let ptr = lab.dig_short(&exp.cli, server, &["-x", ip]);
    assert_eq!(ptr, format!("{fqdn}."), "{who}: PTR of {ip}");
}

fn check_name_gone(lab: &Lab, exp: &Expect, who: &str, v: u8, host: &str) {
    let fqdn = format!("{host}.lan");
    let server = &exp.dns_addr[&v];
    let nx = wait_for(Duration::from_secs(5), || {
        (lab.dig_status(&exp.probe_ns, server, &[&fqdn, "A"]) == "NXDOMAIN").then_some(())
    });
    assert!(
        nx.is_some(),
        "{who}: {fqdn} still resolves after release: {}",
        lab.dig_short(&exp.probe_ns, server, &[&fqdn, "A"])
    );
}

/// dhclient then udhcpc on VLAN `v`: lease, names, renew, release.
fn vlan_flow(lab: &Lab, d: &Ravensd, exp: &Expect, v: u8, tag: &str) {
    let iface = format!("cli0.{v}");
    let cli = &exp.cli;
    let mac = lab.mac(cli, &iface);

    // --- dhclient: fresh lease, INIT-REBOOT on the same lease file, release.
    let host = format!("{tag}dhc{v}");
    let who = format!("dhclient vlan {v}");
    let ev = dhclient_get(lab, cli, &iface, &host, &["BOUND"]).unwrap_or_else(|e| panic!("{e}\n{}", d.proc.log_text()));
    let ip = check_received(&who, &ev, v, exp);
    check_lease(lab, d, &who, &ip, &mac, &host, v);
    check_names(lab, exp, &who, v, &host, &ip);
    let again = dhclient_get(lab, cli, &iface, &host, &["REBOOT", "BOUND"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.reason(), "REBOOT", "{who}: the INIT-REBOOT REQUEST was not ACKed: {again:?}");
    assert_eq!(again.get("ip"), ip, "{who}: INIT-REBOOT gave another address");
    check_lease(lab, d, &who, &ip, &mac, &host, v);
    dhclient_release(lab, cli, &iface, &host).unwrap_or_else(|e| panic!("{e}"));
    check_lease_gone(lab, d, &who, &ip);
    check_name_gone(lab, exp, &who, v, &host);

    // --- udhcpc: one lease (-q); then a session asking for it: bound, renew (USR1), release (USR2).
    let host = format!("{tag}udh{v}");
    let who = format!("udhcpc vlan {v}");
    let ev = udhcpc_once(lab, cli, &iface, &host).unwrap_or_else(|e| panic!("{e}\n{}", d.proc.log_text()));
    let ip = check_received(&who, &ev, v, exp);
    check_lease(lab, d, &who, &ip, &mac, &host, v);
    check_names(lab, exp, &who, v, &host, &ip);
    let expires0 = d.lease_on(lab, &ip).unwrap()["expires"].as_u64().unwrap();
    let n = events(lab, &iface).len();
    let mut s = Udhcpc::start(lab, cli, &iface, &host, &ip);
    let ev = s.wait(lab, n, &["bound"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(check_received(&who, &ev, v, exp), ip, "{who}: asked for its current address, got another");
    std::thread::sleep(Duration::from_millis(1100)); // so a renewal moves the expiry
    let n = events(lab, &iface).len();
    s.signal("USR1");
    let ev = s.wait(lab, n, &["renew", "bound"]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ev.reason(), "renew", "{who}: RENEWING did not end in a renewal: {ev:?}");
    assert_eq!(check_received(&who, &ev, v, exp), ip, "{who}: renewal changed the address");
    let expires1 =
        d.lease_on(lab, &ip).unwrap_or_else(|| panic!("{who}: lease gone after renew"))["expires"].as_u64().unwrap();
    assert!(expires1 > expires0, "{who}: renewal did not extend the lease ({expires0} -> {expires1})");
    let n = events(lab, &iface).len();
    s.signal("USR2");
    s.wait(lab, n, &["deconfig"]).unwrap_or_else(|e| panic!("{e}"));
    check_lease_gone(lab, d, &who, &ip);
    check_name_gone(lab, exp, &who, v, &host);
    s.proc.stop();
    let trail: Vec<String> = events(lab, &iface).iter().map(|e| format!("{} {}", e.reason(), e.get("ip"))).collect();
    say(&format!("  vlan {v} ({mac}): hook events {trail:?}"));
}

/// The VLAN flows one after the other. `RAVENS_NETNS_PARALLEL=1` runs both VLANs at once; that
/// intermittently (about 1 run in 2 to 8) leaves one VLAN's lease bound after `dhclient -r`, with
/// ravensd counting the RELEASE and tracing one RELEASE as `Silent` (cause not yet found).
fn run_vlans(lab: &Lab, d: &Ravensd, exp: &Expect, tag: &str) {
    if std::env::var("RAVENS_NETNS_PARALLEL").is_ok_and(|v| v == "1") {
        std::thread::scope(|s| {
            for v in VLANS {
                s.spawn(move || vlan_flow(lab, d, exp, v, tag));
            }
        });
    } else {
        for v in VLANS {
            vlan_flow(lab, d, exp, v, tag);
        }
    }
}

fn subnets(dns10: &str) -> String {
    // v10 lists its DNS servers; v20 has none, so it gets the answering node's own address.
    format!(
        r#"
[[subnet]]
name = "v10"
cidr = "10.10.0.0/24"
pools = ["10.10.0.100-10.10.0.199"]
router = "10.10.0.1"
dns = [{dns10}]
lease_time = "1h"

[[subnet]]
name = "v20"
cidr = "10.20.0.0/24"
pools = ["10.20.0.100-10.20.0.199"]
router = "10.20.0.1"
lease_time = "1h"
"#
    )
}

pub(crate) const DNS_SECTION: &str = "[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nserve_networks = [\"10.0.0.0/8\"]\nlocal_domain = \"lan\"\n";

#[test]
fn direct_two_vlans_dhclient_udhcpc_lease_names_renew_release() {
    let _serial = lock();
    skip_unless_lab!("netns_dhcp direct", &["dhclient", "busybox", "dig", "timeout"]);
    let started = Instant::now();
    let mut lab = Lab::new("d");
    let cli = lab.add_ns("cli");
    let srv = lab.add_ns("srv");
    for v in VLANS {
        lab.veth(&cli, &format!("cli0.{v}"), &srv, &format!("srv0.{v}"), Some(&format!("10.{v}.0.1/24")));
    }
    lab.wait_links_up();
    write_hooks(&lab);
    let config = format!(
        "[node]\nname = \"direct\"\ndata_dir = \"@DATA@\"\ndns_listen = [\"10.10.0.1:53\", \"10.20.0.1:53\"]\n\
         admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"0.0.0.0:67\"\ndhcp_interfaces = [\"srv0.10\", \"srv0.20\"]\n\n{DNS_SECTION}{}",
        subnets("\"10.10.0.1\", \"10.10.0.53\"")
    );
    let d = Ravensd::start(&lab, &srv, "ravensd", &config);
    let exp = Expect {
        server_id: HashMap::from([(10, "10.10.0.1".into()), (20, "10.20.0.1".into())]),
        dns: HashMap::from([(10, "10.10.0.1,10.10.0.53".into()), (20, "10.20.0.1".into())]),
        dns_addr: HashMap::from([(10, "10.10.0.1".into()), (20, "10.20.0.1".into())]),
        probe_ns: srv.clone(),
        cli: cli.clone(),
    };
    run_vlans(&lab, &d, &exp, "d");
    assert!(d.leases(&lab).is_empty(), "every lease was released: {:?}", d.leases(&lab));
    say(&format!("direct: 2 VLANs x (dhclient, udhcpc) passed in {:.1} s", started.elapsed().as_secs_f64()));
}

#[test]
fn relayed_two_vlans_through_dhcrelay_lease_names_renew_release() {
    let _serial = lock();
    skip_unless_lab!("netns_dhcp relayed", &["dhclient", "busybox", "dhcrelay", "dig", "timeout"]);
    let started = Instant::now();
    let mut lab = Lab::new("r");
    let cli = lab.add_ns("cli");
    let rtr = lab.add_ns("rtr");
    let srv = lab.add_ns("srv");
    for v in VLANS {
        lab.veth(&cli, &format!("cli0.{v}"), &rtr, &format!("rtr-c.{v}"), Some(&format!("10.{v}.0.1/24")));
    }
    lab.veth(&srv, "srv0", &rtr, "rtr-s", Some("10.99.0.1/24"));
    lab.run(&srv, &["ip", "addr", "add", "10.99.0.2/24", "dev", "srv0"]);
    for v in VLANS {
        lab.run(&srv, &["ip", "route", "add", &format!("10.{v}.0.0/24"), "via", "10.99.0.1"]);
    }
    lab.run(&rtr, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.wait_links_up();
    write_hooks(&lab);
    let config = format!(
        "[node]\nname = \"relayed\"\ndata_dir = \"@DATA@\"\ndns_listen = [\"10.99.0.2:53\"]\n\
         admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"0.0.0.0:67\"\ndhcp_interfaces = []\n\n{DNS_SECTION}{}",
        subnets("\"10.99.0.2\", \"10.99.0.53\"")
    );
    let d = Ravensd::start(&lab, &srv, "ravensd", &config);
    let pf = lab.path("dhcrelay.pid").display().to_string();
    let mut relay = Proc::spawn(
        "dhcrelay",
        lab.cmd(
            &rtr,
            &[
                "dhcrelay",
                "-4",
                "-d",
                "-a",
                "-D",
                "-iu",
                "rtr-s",
                "-id",
                "rtr-c.10",
                "-id",
                "rtr-c.20",
                "-pf",
                &pf,
                "10.99.0.2",
            ],
        ),
        lab.path("dhcrelay.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert!(relay.exited().is_none(), "dhcrelay did not start:\n{}", relay.log_text());
    let exp = Expect {
        server_id: HashMap::from([(10, "10.99.0.2".into()), (20, "10.99.0.2".into())]),
        dns: HashMap::from([(10, "10.99.0.2,10.99.0.53".into()), (20, "10.99.0.2".into())]),
        dns_addr: HashMap::from([(10, "10.99.0.2".into()), (20, "10.99.0.2".into())]),
        probe_ns: rtr.clone(),
        cli: cli.clone(),
    };
    run_vlans(&lab, &d, &exp, "r");
    let relay_log = relay.log_text();
    for v in VLANS {
        assert!(
            relay_log.contains(&format!("BOOTREPLY giaddr: 10.{v}.0.1")),
            "dhcrelay relayed no reply for VLAN {v}:\n{relay_log}"
        );
    }
    assert!(d.leases(&lab).is_empty(), "every lease was released: {:?}", d.leases(&lab));
    relay.stop();
    say(&format!(
        "relayed: 2 VLANs x (dhclient, udhcpc) through dhcrelay passed in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
}
