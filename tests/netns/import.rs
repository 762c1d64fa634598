//! Issue 12 with a real client (root only; skips with a printed reason otherwise): a Pi-hole
//! archive whose lease file holds the client's MAC on 10.10.0.150 is imported with `dnsctl
//! import pihole`; the lease's name resolves at once (asked from the router), and `dhclient` on that MAC, through
//! `dhcrelay`, with no lease file of its own (DISCOVER), gets 10.10.0.150 back: not the
//! first free address of the pool (10.10.0.100), which it would get without the import.
//!
//! ```text
//! cli [cli0.10] == rtr [rtr-c.10 10.10.0.1/24 | rtr-s 10.99.0.1/24] -- srv [srv0 10.99.0.2/24]
//! ```

use std::time::Duration;

use crate::clients::{dhclient_get, write_hooks};
use crate::harness::{Lab, Ravensd, say, wait_for};
use crate::pihole;

const IMPORTED: &str = "10.10.0.150";

const PIHOLE_TOML: &str = r#"
[dns]
domain = "lan"
[dhcp]
active = true
start = "10.10.0.100"
end = "10.10.0.199"
router = "10.10.0.1"
netmask = "255.255.255.0"
leaseTime = "1h"
"#;

#[test]
fn import_pihole_lease_dhclient_gets_its_imported_address_through_dhcrelay() {
    let _serial = crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    skip_unless_lab!("netns_import", &["dhclient", "dhcrelay", "dig", "timeout"]);
    let mut lab = Lab::new("i");
    let cli = lab.add_ns("cli");
    let rtr = lab.add_ns("rtr");
    let srv = lab.add_ns("srv");
    lab.veth(&cli, "cli0.10", &rtr, "rtr-c.10", Some("10.10.0.1/24"));
    lab.veth(&srv, "srv0", &rtr, "rtr-s", Some("10.99.0.1/24"));
    lab.run(&srv, &["ip", "addr", "add", "10.99.0.2/24", "dev", "srv0"]);
    lab.run(&srv, &["ip", "route", "add", "10.10.0.0/24", "via", "10.99.0.1"]);
    lab.run(&rtr, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.wait_links_up();
    write_hooks(&lab);
    let config = "[node]\nname = \"imp\"\ndata_dir = \"@DATA@\"\ndns_listen = [\"10.99.0.2:53\"]\n\
         admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"0.0.0.0:67\"\ndhcp_interfaces = []\n\n\
         [dns]\nupstreams = [\"udp://127.0.0.1:9\"]\nupstream_timeout = \"300ms\"\nserve_networks = [\"10.0.0.0/8\"]\n\
         local_domain = \"lan\"\n\n[[subnet]]\nname = \"v10\"\ncidr = \"10.10.0.0/24\"\n\
         pools = [\"10.10.0.100-10.10.0.199\"]\nrouter = \"10.10.0.1\"\nlease_time = \"1h\"\n";
    let d = Ravensd::start(&lab, &srv, "ravensd", config);
    let _relay = lab.dhcrelay(&rtr, &["rtr-s"], &["rtr-c.10"], &["10.99.0.2"]);

    let mac = lab.mac(&cli, "cli0.10");
    let leases = format!("{} {mac} {IMPORTED} oldpc *\n", pihole::now() + 7200);
    let archive = lab.path("pihole.zip");
    std::fs::write(&archive, pihole::v6_zip(pihole::gravity(&[], &[]), PIHOLE_TOML, &leases)).unwrap();
    let (code, out, err) = d.dnsctl(&lab, &["--json", "import", "pihole", &archive.display().to_string()]);
    assert_eq!(code, 0, "import failed: {err}\n{}", d.proc.log_text());
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["kinds"]["lease"]["added"], 1, "{report:#}");
    let l = d.lease_on(&lab, IMPORTED).unwrap_or_else(|| panic!("imported lease not listed: {:?}", d.leases(&lab)));
    assert_eq!((l["mac"].as_str(), l["hostname"].as_str()), (Some(mac.as_str()), Some("oldpc")), "{l}");
    let name = wait_for(Duration::from_secs(5), || {
        (lab.dig_short(&rtr, "10.99.0.2", &["oldpc.lan", "A"]) == IMPORTED).then_some(())
    });
    assert!(name.is_some(), "oldpc.lan: {:?}", lab.dig_short(&rtr, "10.99.0.2", &["oldpc.lan", "A"]));

    let ev = dhclient_get(&lab, &cli, "cli0.10", "oldpc", &["BOUND"])
        .unwrap_or_else(|e| panic!("{e}\n{}", d.proc.log_text()));
    assert_eq!(ev.get("ip"), IMPORTED, "dhclient did not get its imported address: {ev:?}");
    assert_eq!(ev.get("server"), "10.99.0.2", "{ev:?}");
    let l = d.lease_on(&lab, IMPORTED).unwrap();
    assert_eq!(l["mac"], mac.as_str(), "{l}");
    say(&format!("import: dhclient {mac} got {IMPORTED} back through dhcrelay"));
}
