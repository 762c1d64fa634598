//! The pair behind a real relay (issue 5, root only; skips with a printed reason otherwise):
//! two ravensd nodes in their own namespaces, `dhcrelay` forwarding every request to both,
//! real `dhclient` clients.
//!
//! ```text
//! cli [cli0.10, cli0.20] == rtr [rtr-c.10 10.10.0.1/24, rtr-c.20 10.20.0.1/24 | rtr-sa 10.99.0.1/24 | rtr-sb 10.98.0.1/24]
//!                                 -- sa [srv0 10.99.0.2/24]  ravensd "a"
//!                                 -- sb [srv0 10.98.0.3/24]  ravensd "b"     (gossip a <-> b routed through rtr)
//! ```
//! - Both live: a client of A's RFC 3074 bucket (its MAC chosen so) gets its lease from A; B
//!   lists it.
//! - `kill -9` of A, then at once a new client of A's bucket starts: it gets a lease from B
//!   (server id 10.98.0.3, an address of B's slice); time from the kill to BOUND, 5 runs, A
//!   restarted on its journal between runs (and handed its buckets back). B answers the
//!   client's first DISCOVER, held while A was only silent, at the takeover.
//! - A's first client runs dhclient again on its lease file (INIT-REBOOT) while A is down: B
//!   ACKs the same address.

use std::time::{Duration, Instant};

use crate::clients::{dhclient_get, dhclient_lease_file, write_hooks};
use crate::harness::{Lab, Proc, Ravensd, say, wait_for};
use ravens_dhcp::failover::buckets::{bucket_of, bucket_owner};

fn config(name: &str, ip: &str, peer: &str, secret: &str) -> String {
    let subnets = "[[subnet]]\nname = \"v10\"\ncidr = \"10.10.0.0/24\"\npools = [\"10.10.0.100-10.10.0.199\"]\nrouter = \"10.10.0.1\"\nlease_time = \"1h\"\n\n\
         [[subnet]]\nname = \"v20\"\ncidr = \"10.20.0.0/24\"\npools = [\"10.20.0.100-10.20.0.199\"]\nrouter = \"10.20.0.1\"\nlease_time = \"1h\"\n";
    Lab::pair_config("nsfail", name, ip, peer, secret, subnets)
}

/// A locally administered MAC whose bucket (dhclient sends no client-id) belongs to `owner`.
fn mac_of_bucket(owner: &str, seed: u8) -> String {
    let mac = (0..=255u8)
        .map(|i| [0x02, 0x5a, 0, seed, 0, i])
        .find(|m| bucket_owner(bucket_of(m), &["a", "b"]) == Some(owner))
        .unwrap();
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn set_mac(lab: &Lab, ns: &str, dev: &str, mac: &str) {
    lab.run(ns, &["ip", "link", "set", dev, "down"]);
    lab.run(ns, &["ip", "link", "set", dev, "address", mac]);
    lab.run(ns, &["ip", "link", "set", dev, "up"]);
    lab.run(ns, &["ip", "-4", "addr", "flush", "dev", dev]);
}

fn wait_log(d: &Ravensd, needle: &str, n: usize, secs: u64) -> bool {
    wait_for(Duration::from_secs(secs), || (d.proc.log_text().matches(needle).count() >= n).then_some(())).is_some()
}

#[test]
fn netns_pair_kill_9_failover_and_rebind() {
    // One lab at a time: the tests of this program share the host's namespaces and nftables.
    let _serial = crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    skip_unless_lab!("netns_failover", &["dhclient", "dhcrelay", "timeout"]);
    let mut lab = Lab::new("f");
    let cli = lab.add_ns("cli");
    let rtr = lab.add_ns("rtr");
    let (sa, sb) = lab.pair_servers(&rtr);
    for v in [10, 20] {
        lab.veth(&cli, &format!("cli0.{v}"), &rtr, &format!("rtr-c.{v}"), Some(&format!("10.{v}.0.1/24")));
    }
    lab.wait_links_up();
    write_hooks(&lab);
    let secret = lab.cluster_secret();
    let mut a = Ravensd::start(&lab, &sa, "a", &config("a", "10.99.0.2", "10.98.0.3", &secret));
    let b = Ravensd::start(&lab, &sb, "b", &config("b", "10.98.0.3", "10.99.0.2", &secret));
    assert!(wait_log(&a, "peer up", 1, 10) && wait_log(&b, "peer up", 1, 10), "no mesh:\n{}", b.proc.log_text());
    let pf = lab.path("dhcrelay.pid").display().to_string();
    let args = [
        "dhcrelay",
        "-4",
        "-d",
        "-a",
        "-D",
        "-iu",
        "rtr-sa",
        "-iu",
        "rtr-sb",
        "-id",
        "rtr-c.10",
        "-id",
        "rtr-c.20",
        "-pf",
        &pf,
        "10.99.0.2",
        "10.98.0.3",
    ];
    let mut relay = Proc::spawn("dhcrelay", lab.cmd(&rtr, &args), lab.path("dhcrelay.log"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(relay.exited().is_none(), "dhcrelay did not start:\n{}", relay.log_text());

    // A's client, both nodes live: served by A, listed on B.
    set_mac(&lab, &cli, "cli0.10", &mac_of_bucket("a", 1));
    let ev = dhclient_get(&lab, &cli, "cli0.10", "old", &["BOUND"]).unwrap();
    let old_ip = ev.get("ip").to_string();
    assert_eq!(ev.get("server"), "10.99.0.2", "A answers its bucket: {ev:?}");
    assert!(wait_for(Duration::from_secs(2), || b.lease_on(&lab, &old_ip)).is_some(), "B lists A's lease");

    let mut times = Vec::new();
    for run in 0..5u8 {
        set_mac(&lab, &cli, "cli0.20", &mac_of_bucket("a", 10 + run));
        let _ = std::fs::remove_file(dhclient_lease_file(&lab, "cli0.20"));
        a.proc.kill9();
        let t0 = Instant::now();
        let ev = dhclient_get(&lab, &cli, "cli0.20", &format!("new{run}"), &["BOUND"]).unwrap();
        let took = t0.elapsed();
        say(&format!(
            "netns_failover run {run}: kill -9 of A → new client BOUND from {} ({}) after {took:.2?}",
            ev.get("server"),
            ev.get("ip")
        ));
        assert_eq!(ev.get("server"), "10.98.0.3", "the survivor answered: {ev:?}");
        let last: u8 = ev.get("ip").rsplit('.').next().unwrap().parse().unwrap();
        assert!((150..200).contains(&last), "an address of B's slice: {ev:?}");
        times.push(took);
        // RAVENS_FAILOVER_DEBUG=1: the client's DISCOVERs and B's cluster log lines per run.
        if std::env::var("RAVENS_FAILOVER_DEBUG").is_ok() {
            let mut logs: Vec<_> = std::fs::read_dir(lab.dir.path())
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().unwrap().to_string_lossy().starts_with("dhclient-cli0.20-")
                        && p.extension().is_some_and(|e| e == "log")
                })
                .collect();
            logs.sort_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap());
            say(&std::fs::read_to_string(logs.last().unwrap()).unwrap());
            let bl = b.proc.log_text();
            say(&bl
                .lines()
                .filter(|l| l.contains("ravens::cluster") || l.contains("slice"))
                .collect::<Vec<_>>()
                .join("\n"));
            say(&format!("kill at {:?}", std::time::SystemTime::now() - took));
        }
        if run == 0 {
            // A's client comes back (INIT-REBOOT on its lease file) while A is down: B keeps it.
            let ev = dhclient_get(&lab, &cli, "cli0.10", "old", &["REBOOT", "BOUND"]).unwrap();
            assert_eq!(ev.get("ip"), old_ip, "A's client keeps its address through B: {ev:?}");
            assert_eq!(ev.get("server"), "10.98.0.3", "{ev:?}");
        }
        // A returns on its journal and gets its buckets back once caught up.
        let handbacks = b.proc.log_text().matches("handing DHCP clients back").count();
        a = a.kill9_and_restart(&lab, u32::from(run) + 1);
        assert!(wait_log(&b, "handing DHCP clients back", handbacks + 1, 15), "no hand-back:\n{}", b.proc.log_text());
    }
    times.sort();
    say(&format!(
        "netns_failover: kill -9 → new client BOUND from the survivor: median {:.2?} (runs {times:.2?})",
        times[2]
    ));
    // The new client's first DISCOVER reaches B while A is only silent; B holds it and offers
    // at the takeover instead of waiting for dhclient's retransmission 1-2 s later.
    assert!(
        b.proc.log_text().contains("answered DISCOVERs held while the owner was silent"),
        "B never answered a held DISCOVER at takeover:\n{}",
        b.proc.log_text()
    );
    // Every kill is reported as a takeover (a status read once swallowed the first one).
    let takeovers = b.proc.log_text().matches("taking over the peer's DHCP clients").count();
    assert!(takeovers >= 5, "{takeovers} takeovers logged for 5 kills:\n{}", b.proc.log_text());
    // Issue 5 asks ≤ 2 s (measured here, see BENCHMARKS.md); only a regression bound.
    assert!(times[2] <= Duration::from_secs(4), "median failover {:.2?}", times[2]);
    relay.stop();
}
