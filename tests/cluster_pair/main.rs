//! The pair on loopback (issue 5), real ravensd processes on 127.0.0.x, no root: a lease
//! granted on A is listed and resolvable on B within 2 s; B stays silent for A's clients while
//! A is live and renews one in place when it has been trying (secs ≥ 3); new addresses come
//! from each node's slice; forged, bit-flipped and garbage gossip datagrams change nothing;
//! three nodes replicate the same way.

#[path = "../common/mod.rs"]
mod common;
mod support;

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use dhcproto::v4::MessageType;
use support::*;

#[test]
fn cluster_pair_lease_on_a_is_seen_resolved_and_renewed_on_b() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let specs = [NodeSpec::new("a", 21), NodeSpec::new("b", 22)];
    let nodes = start_cluster(&specs, relay.port(), &secret);
    wait_mesh(&nodes);
    let (a, b) = (&nodes[0], &nodes[1]);
    let (a_dhcp, b_dhcp) = (specs[0].dhcp_addr(), specs[1].dhcp_addr());

    // A client of A's bucket gets an address of A's slice (127.0.0.100-149) from A.
    let mac = mac_owned_by("a", &["a", "b"], 1);
    let ip = relay.dora(a_dhcp, 0x100, mac, "laptop");
    assert!((100..150).contains(&ip.octets()[3]), "A's slice: {ip}");
    let lag = wait_lease(b, ip, Duration::from_secs(2), |l| l["node"] == "a" && l["hostname"] == "laptop");
    println!("lease granted on A listed on B after {lag:?}");
    assert!(lag.is_some(), "B does not list A's lease within 2 s: {:?}\n{}", leases(b), b.log());
    let out = wait_dig(b, &["laptop.lan", "A"], &ip.to_string());
    assert!(out.contains(&ip.to_string()), "A's client resolves on B: {out}");
    // Both report the subnet's use alike; each its own slice (A's has the lease).
    let (pa, pb) = (a.status()["dhcp"]["pools"][0].clone(), b.status()["dhcp"]["pools"][0].clone());
    assert_eq!((&pa["used"], &pa["total"]), (&pb["used"], &pb["total"]), "{pa} vs {pb}");
    assert_eq!(pa["used"], 1, "{pa}");
    assert_eq!(
        pa["slice"].as_u64().unwrap() + pb["slice"].as_u64().unwrap(),
        pa["total"].as_u64().unwrap(),
        "{pa} {pb}"
    );
    assert_eq!(pa["slice_free"].as_u64().unwrap() + 1, pa["slice"].as_u64().unwrap(), "{pa}");
    assert_eq!(pb["slice_free"], pb["slice"], "{pb}");

    // While A is live, B stays silent for A's client (and for a DISCOVER of A's bucket)...
    assert!(relay.rebind(b_dhcp, 0x200, mac, ip, 0).is_none(), "B answered A's client while A is live");
    let d = msg(MessageType::Discover, 0x210, mac_owned_by("a", &["a", "b"], 2), 0, vec![]);
    assert!(relay.exchange(b_dhcp, &d, Duration::from_millis(700)).is_none(), "B offered to A's bucket");
    // ...but a client that has been trying for 3 s is renewed in place by B.
    let ack = relay.rebind(b_dhcp, 0x300, mac, ip, 3).expect("B renews A's client in place");
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip, "same address");
    assert!(
        wait_lease(a, ip, Duration::from_secs(2), |l| l["node"] == "b").is_some(),
        "A sees B's renewal: {:?}",
        leases(a)
    );
    assert_eq!(leases(a).len(), 1, "one client, one lease: {:?}", leases(a));
    // The client releases at B: A drops it too (B's release is newer than A's own entry).
    let mut rel = msg(MessageType::Release, 0x350, mac, 0, vec![]);
    rel.set_ciaddr(ip);
    assert!(relay.exchange(b_dhcp, &rel, Duration::from_millis(200)).is_none());
    let t0 = Instant::now();
    while leases(a).iter().any(|l| l["ip"] == ip.to_string()) && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(leases(a).is_empty() && leases(b).is_empty(), "release not replicated: {:?}", leases(a));

    // A client of B's bucket gets an address of B's slice (127.0.0.150-199) from B, seen on A.
    let ip_b = relay.dora(b_dhcp, 0x400, mac_owned_by("b", &["a", "b"], 3), "phone");
    assert!((150..200).contains(&ip_b.octets()[3]), "B's slice: {ip_b}");
    assert!(wait_lease(a, ip_b, Duration::from_secs(2), |l| l["node"] == "b").is_some());
    assert!(wait_dig(a, &["phone.lan", "A"], &ip_b.to_string()).contains(&ip_b.to_string()));

    // `dnsctl --all`: both nodes list both leases; the merged list names each lease once, and
    // the lists come back per node.
    let ip_a2 = relay.dora(a_dhcp, 0x500, mac_owned_by("a", &["a", "b"], 4), "tablet");
    assert!(wait_lease(b, ip_a2, Duration::from_secs(2), |l| l["node"] == "a").is_some());
    let t0 = Instant::now();
    while !nodes.iter().all(|d| d.status()["cluster"]["admin"].as_object().is_some_and(|m| m.len() == 2)) {
        assert!(t0.elapsed() < Duration::from_secs(10), "admin addresses not gossiped: {}", a.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, out, err) = a.dnsctl(&["--all", "--json", "leases"]);
    assert_eq!(code, 0, "{err}");
    let merged: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut ips: Vec<String> = merged.iter().map(|l| l["ip"].as_str().unwrap().to_owned()).collect();
    ips.sort();
    let mut want = vec![ip_b.to_string(), ip_a2.to_string()];
    want.sort();
    assert_eq!(ips, want, "each lease once: {out}");
    let tablet = merged.iter().find(|l| l["ip"] == ip_a2.to_string()).unwrap();
    assert_eq!((tablet["node"].as_str(), tablet["hostname"].as_str()), (Some("a"), Some("tablet")), "{out}");
    let (code, out, err) = b.dnsctl(&["--all", "--json", "lists"]);
    assert_eq!(code, 0, "{err}");
    let per_node: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let mut names: Vec<&str> = per_node.iter().map(|n| n["node"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["a", "b"], "{out}");
    assert!(per_node.iter().all(|n| n["lists"].is_array()), "{out}");
    let (code, table, err) = a.dnsctl(&["--all", "leases"]);
    assert_eq!(code, 0, "{err}");
    assert!(table.contains("tablet") && table.contains("phone"), "{table}");
}

#[test]
fn cluster_pair_hostile_gossip_datagrams_change_nothing() {
    use ravens_sync::seal::{FragHeader, Keyring};
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let specs = [NodeSpec::new("a", 23), NodeSpec::new("b", 24)];
    let nodes = start_cluster(&specs, relay.port(), &secret);
    wait_mesh(&nodes);
    let (a, b) = (&nodes[0], &nodes[1]);
    let ip = relay.dora(specs[0].dhcp_addr(), 0x100, mac_owned_by("a", &["a", "b"], 4), "tv");
    assert!(wait_lease(b, ip, Duration::from_secs(2), |_| true).is_some());
    let before = (leases(a), leases(b));

    let attacker = UdpSocket::bind("127.0.0.25:0").unwrap();
    let real = ravens_sync::load_secret(&secret).unwrap();
    let good = Keyring::new(&real, None, "looptest");
    let forger = Keyring::new(b"not-the-cluster-secret-at-all", None, "looptest");
    let now = ravens_sync::transport::wall_ms();
    for i in 0..40u8 {
        for target in [specs[0].gossip_addr(), specs[1].gossip_addr()] {
            let sealed = good.seal(&[i; 300], FragHeader::WHOLE, now);
            for pos in [0, 3, 17, 40, sealed.len() - 1] {
                let mut f = sealed.clone();
                f[pos] ^= 1 << (i % 8); // bit flip
                attacker.send_to(&f, target).unwrap();
            }
            attacker.send_to(&forger.seal(&[i; 200], FragHeader::WHOLE, now), target).unwrap(); // forged
            attacker.send_to(&vec![i; usize::from(i) * 9], target).unwrap(); // garbage
            attacker.send_to(&good.seal(&[i; 100], FragHeader::WHOLE, now - 120_000), target).unwrap(); // stale
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!((leases(a), leases(b)), before, "hostile datagrams changed the lease sets");
    // The pair still replicates.
    let ip2 = relay.dora(specs[1].dhcp_addr(), 0x200, mac_owned_by("b", &["a", "b"], 5), "radio");
    assert!(wait_lease(a, ip2, Duration::from_secs(2), |_| true).is_some(), "replication after the attack");
    for d in &nodes {
        assert!(!d.log().contains("peer down"), "a peer went down during the attack:\n{}", d.log());
    }
}

#[test]
fn cluster_three_nodes_replicate_and_split_the_pool() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let specs = [NodeSpec::new("a", 26), NodeSpec::new("b", 27), NodeSpec::new("c", 28)];
    let nodes = start_cluster(&specs, relay.port(), &secret);
    wait_mesh(&nodes);
    let all = ["a", "b", "c"];
    // Slices of 100 addresses over a, b, c: 100-133, 134-166, 167-199.
    let ranges = [100..134u8, 134..167, 167..200];
    for (i, s) in specs.iter().enumerate() {
        let ip = relay.dora(s.dhcp_addr(), 0x100 * (i as u32 + 1), mac_owned_by(s.name, &all, 10 + i as u8), "h");
        assert!(ranges[i].contains(&ip.octets()[3]), "{} handed out {ip} outside its slice", s.name);
        for (j, other) in nodes.iter().enumerate().filter(|(j, _)| *j != i) {
            let lag = wait_lease(other, ip, Duration::from_secs(2), |l| l["node"] == s.name);
            assert!(lag.is_some(), "{}'s lease not on {}", s.name, specs[j].name);
        }
    }
}

/// kill -9 of A: B takes over A's buckets (a new client of A's bucket gets a lease from B's
/// slice, A's client rebinds to B and keeps its address); median of 5 runs. Then A restarts on
/// its journal and gets its buckets back once caught up.
#[test]
fn cluster_pair_failover_after_kill_9() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let mut times = Vec::new();
    let mut last = None;
    for round in 0..5u8 {
        let specs = [NodeSpec::new("a", 31), NodeSpec::new("b", 32)];
        let nodes = start_cluster(&specs, relay.port(), &secret);
        wait_mesh(&nodes);
        let b_dhcp = specs[1].dhcp_addr();
        let mac_old = mac_owned_by("a", &["a", "b"], 20 + round);
        let ip_old = relay.dora(specs[0].dhcp_addr(), 0x100, mac_old, "old");
        assert!(wait_lease(&nodes[1], ip_old, Duration::from_secs(2), |_| true).is_some());
        let mac_new = mac_owned_by("a", &["a", "b"], 40 + round);
        nodes[0].signal("KILL");
        let t0 = Instant::now();
        let ip_new = lease_when_answered(&relay, b_dhcp, mac_new, Duration::from_secs(5));
        let took = t0.elapsed();
        let ip_new = ip_new.unwrap_or_else(|| panic!("B never took over:\n{}", nodes[1].log()));
        println!("round {round}: kill -9 of A → new client holds a lease from B after {took:?}");
        assert!((150..200).contains(&ip_new.octets()[3]), "new address from B's slice: {ip_new}");
        let ack = relay.rebind(b_dhcp, 0x500, mac_old, ip_old, 0).expect("A's client rebinds to B");
        assert_eq!(ack.yiaddr(), ip_old, "keeps its address");
        // The DISCOVERs sent while A was only silent were held and answered at the takeover.
        let replayed = nodes[1].status()["dhcp"]["counters"]["held_replayed"].as_u64();
        assert!(replayed.is_some_and(|n| n >= 1), "no held DISCOVER replayed: {}", nodes[1].status());
        times.push(took);
        last = Some((specs, nodes, mac_old, ip_old));
    }
    times.sort();
    println!("failover kill -9 → lease from the survivor: median {:?} (runs {times:?})", times[2]);
    // Issue 5's ≤ 2 s is measured (BENCHMARKS.md), not asserted: this is a regression bound.
    assert!(times[2] <= Duration::from_secs(4), "median failover {:?}", times[2]);

    // Hand-back: A restarts on its journal, catches up, and B leaves A's bucket to A again.
    let (specs, mut nodes, mac_old, ip_old) = last.unwrap();
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap().kill_and_restart();
    assert!(b.wait_log("handing DHCP clients back", Duration::from_secs(10)), "no hand-back:\n{}", b.log());
    assert!(wait_lease(&a, ip_old, Duration::from_secs(2), |l| l["node"] == "b").is_some(), "A learns B's renewal");
    let d = msg(MessageType::Discover, 0x700, mac_owned_by("a", &["a", "b"], 60), 0, vec![]);
    assert!(
        relay.exchange(specs[1].dhcp_addr(), &d, Duration::from_millis(700)).is_none(),
        "B still answers A's bucket"
    );
    let ack = relay.rebind(specs[0].dhcp_addr(), 0x800, mac_old, ip_old, 0).expect("A answers its client again");
    assert_eq!(ack.yiaddr(), ip_old);
}

/// Both nodes lose their replicas: B restarts while A is down (its journal has only its own
/// leases, so it lists none of A's and keeps to its own slice), then A restarts on its journal
/// and republishes: B lists A's lease again.
#[test]
fn cluster_pair_restarted_node_republishes_its_journal() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let specs = [NodeSpec::new("a", 33), NodeSpec::new("b", 34)];
    let mut nodes = start_cluster(&specs, relay.port(), &secret);
    wait_mesh(&nodes);
    let ip = relay.dora(specs[0].dhcp_addr(), 0x100, mac_owned_by("a", &["a", "b"], 70), "keeper");
    assert!(wait_lease(&nodes[1], ip, Duration::from_secs(2), |_| true).is_some());
    let b = nodes.pop().unwrap();
    let a = nodes.pop().unwrap();
    a.signal("KILL");
    let b = b.kill_and_restart();
    std::thread::sleep(Duration::from_millis(500));
    assert!(leases(&b).is_empty(), "B kept no copy of A's lease: {:?}", leases(&b));
    // While alone, B still allocates only from its own slice (node ids persisted).
    let ip_b = relay.dora(specs[1].dhcp_addr(), 0x200, mac_owned_by("b", &["a", "b"], 71), "other");
    assert!((150..200).contains(&ip_b.octets()[3]), "{ip_b}");
    let a = a.kill_and_restart();
    let lag = wait_lease(&b, ip, Duration::from_secs(5), |l| l["node"] == "a" && l["hostname"] == "keeper");
    println!("A's journal lease back on B {lag:?} after A's restart");
    assert!(lag.is_some(), "A did not republish:\n{}", a.log());
    assert!(wait_lease(&a, ip_b, Duration::from_secs(2), |l| l["node"] == "b").is_some());
}

#[test]
fn cluster_pair_node_restarted_with_an_empty_disk_reseeds_from_its_peer() {
    let keys = tempfile::tempdir().unwrap();
    let secret = secret(keys.path());
    let relay = Relay::new();
    let specs = [NodeSpec::new("a", 35), NodeSpec::new("b", 36)];
    let mut nodes = start_cluster(&specs, relay.port(), &secret);
    wait_mesh(&nodes);
    let mine = relay.dora(specs[0].dhcp_addr(), 0x100, mac_owned_by("a", &["a", "b"], 80), "mine");
    let theirs = relay.dora(specs[1].dhcp_addr(), 0x200, mac_owned_by("b", &["a", "b"], 81), "theirs");
    assert!(wait_lease(&nodes[1], mine, Duration::from_secs(2), |_| true).is_some());
    assert!(wait_lease(&nodes[0], theirs, Duration::from_secs(2), |_| true).is_some());
    let a = nodes.remove(0).kill();
    std::fs::remove_dir_all(a.dir.path().join("data")).unwrap();
    let a = a.restart();
    let lag = wait_lease(&a, theirs, Duration::from_secs(5), |l| l["node"] == "b" && l["hostname"] == "theirs");
    println!("B's lease on the emptied A after {lag:?}");
    assert!(lag.is_some(), "A did not re-seed B's lease: {:?}\n{}", leases(&a), a.log());
    let lag = wait_lease(&a, mine, Duration::from_secs(5), |l| l["hostname"] == "mine");
    println!("A's own lease back on the emptied A after {lag:?}");
    assert!(lag.is_some(), "A lost the lease it granted before its disk was emptied: {:?}\n{}", leases(&a), a.log());
    assert!(wait_dig(&a, &["mine.lan", "A"], &mine.to_string()).contains(&mine.to_string()));
    // The way back was A's `r/a` request: B re-published the one lease A had granted.
    let b_log = nodes[0].log();
    assert!(
        b_log.contains("peer restarted without its leases; sent them back peer=\"a\" leases=1"),
        "B did not answer A's r/a request with A's lease:\n{b_log}"
    );
}
