//! A split brain behind a real relay (issue 5, root only; skips with a printed reason otherwise):
//! two ravensd nodes in their own namespaces, `dhcrelay` forwarding every request to both, six
//! real clients (three `dhclient`, three busybox `udhcpc`), each in its own namespace on one
//! bridged LAN. The gossip path between the nodes is cut with nftables for 60 s while the
//! clients join, renew and leave; then it heals.
//!
//! ```text
//! c1..c6 [cN.10] -- rtr [br10 10.10.0.1/24 | rtr-sa 10.99.0.1/24 | rtr-sb 10.98.0.1/24]
//!                        -- sa [srv0 10.99.0.2/24]  ravensd "a"
//!                        -- sb [srv0 10.98.0.3/24]  ravensd "b"   (gossip a <-> b routed through rtr,
//!                                                                 cut there by an nftables forward drop)
//! ```
//! The pool is small (12 addresses, 6 per node's slice, for 6 clients), so released addresses
//! are handed out again during the partition. Guarantees checked:
//! - sampled every ~250 ms through the whole partition: no address is configured on two
//!   clients' interfaces at once, and no address is held by two clients in the union of the
//!   leases each node itself granted (from both nodes' `/api/v1/leases`, via `dnsctl`);
//! - both nodes serve while partitioned (each takes over the other's buckets);
//! - after healing, both nodes list the same lease set within 5 s, and every address a client
//!   holds is in it under that client's MAC.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::clients::{Event, Udhcpc, dhclient_hold, dhclient_release, events, write_hooks};
use crate::harness::{Lab, Proc, Ravensd, say, wait_for};

const PARTITION: Duration = Duration::from_secs(60);
/// Upper bound on client operations per client thread during the partition.
const MAX_OPS: usize = 300;
const SAMPLE_EVERY: Duration = Duration::from_millis(250);
const CONVERGE_WITHIN: Duration = Duration::from_secs(5);
const A_IP: &str = "10.99.0.2";
const B_IP: &str = "10.98.0.3";

fn config(name: &str, ip: &str, peer: &str, secret: &str) -> String {
    let subnet = "[[subnet]]\nname = \"v10\"\ncidr = \"10.10.0.0/24\"\npools = [\"10.10.0.100-10.10.0.111\"]\n\
                  router = \"10.10.0.1\"\nlease_time = \"1h\"\n";
    Lab::pair_config("nspart", name, ip, peer, secret, subnet)
}

/// xorshift64: the client schedule is reproducible from the printed seed
/// (`RAVENS_PARTITION_SEED=N`).
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Client {
    ns: String,
    iface: String,
    mac: String,
}

/// The IPv4 addresses configured on a client's interface, or None when `ip` could not run.
fn client_addrs(lab: &Lab, c: &Client) -> Option<Vec<String>> {
    let out = lab.output(&c.ns, &["ip", "-4", "-o", "addr", "show", "dev", &c.iface]);
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(
        text.split_whitespace()
            .skip_while(|w| *w != "inet")
            .nth(1)
            .map(|a| a.split('/').next().unwrap_or_default().to_string())
            .into_iter()
            .collect(),
    )
}

/// `dnsctl --json leases` of `d` as (ip, mac, granting node, expiry), or None on a failed call.
fn lease_set(lab: &Lab, d: &Ravensd) -> Option<BTreeSet<(String, String, String, u64)>> {
    let (code, out, _) = d.dnsctl(lab, &["--json", "leases"]);
    if code != 0 {
        return None;
    }
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).ok()?;
    Some(
        v.iter()
            .map(|l| {
                let s = |k: &str| l[k].as_str().unwrap_or_default().to_string();
                (s("ip"), s("mac"), s("node"), l["expires"].as_u64().unwrap_or(0))
            })
            .collect(),
    )
}

/// One sample: the violations found (empty when safe), or None when a probe failed.
fn sample(lab: &Lab, clients: &[Client], nodes: &[(&str, &Ravensd)]) -> Option<(Vec<String>, usize)> {
    let mut bad = Vec::new();
    let mut on_iface: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for c in clients {
        for ip in client_addrs(lab, c)? {
            on_iface.entry(ip).or_default().push(&c.ns);
        }
    }
    for (ip, holders) in &on_iface {
        if holders.len() > 1 {
            bad.push(format!("{ip} is configured on {holders:?}"));
        }
    }
    // Each node's own grants are what it publishes; their union must give an address to one
    // client only. (A node's copy of its peer's leases is stale while partitioned, by design:
    // e.g. a release at A is not seen by B; that is counted, not a violation.)
    let mut granted: BTreeMap<String, BTreeSet<(String, &str)>> = BTreeMap::new();
    let mut views = Vec::new();
    for (name, d) in nodes {
        let set = lease_set(lab, d)?;
        for (ip, mac, node, _) in &set {
            if node == name {
                granted.entry(ip.clone()).or_default().insert((mac.clone(), name));
            }
        }
        views.push(set.into_iter().map(|(ip, mac, ..)| (ip, mac)).collect::<BTreeSet<_>>());
    }
    for (ip, holders) in &granted {
        let macs: BTreeSet<&String> = holders.iter().map(|(m, _)| m).collect();
        if macs.len() > 1 {
            bad.push(format!("{ip} granted to two clients: {holders:?}"));
        }
    }
    let stale = views[0].symmetric_difference(&views[1]).count();
    Some((bad, stale))
}

/// What the client threads did.
#[derive(Default, Debug)]
struct Tally {
    joins: usize,
    renews: usize,
    leaves: usize,
    failures: Vec<String>,
    /// Server identifier → leases (BOUND, REBOOT, renew) from it.
    servers: BTreeMap<String, usize>,
}

impl Tally {
    fn bound(&mut self, ev: &Event) {
        *self.servers.entry(ev.get("server").to_string()).or_default() += 1;
    }
}

fn set_mac(lab: &Lab, ns: &str, dev: &str, mac: &str) {
    lab.run(ns, &["ip", "link", "set", dev, "down"]);
    lab.run(ns, &["ip", "link", "set", dev, "address", mac]);
    lab.run(ns, &["ip", "link", "set", dev, "up"]);
}

fn wait_log(d: &Ravensd, needle: &str, n: usize, secs: u64) -> bool {
    wait_for(Duration::from_secs(secs), || (d.proc.log_text().matches(needle).count() >= n).then_some(())).is_some()
}

/// The dhclient clients: join (DISCOVER on a fresh run, INIT-REBOOT on its lease file later),
/// re-confirm (INIT-REBOOT while holding) and leave (RELEASE), picked at random, one at a time.
fn dhclient_ops(lab: &Lab, clients: &[Client], seed: u64, until: Instant, tally: &Mutex<Tally>) {
    let mut rng = Rng(seed | 1);
    let mut held = vec![true; clients.len()];
    for _ in 0..MAX_OPS {
        if Instant::now() >= until {
            return;
        }
        let i = rng.below(clients.len());
        let c = &clients[i];
        let host = c.ns.rsplit('-').next().unwrap_or("h").to_string();
        if held[i] && rng.below(2) == 0 {
            match dhclient_release(lab, &c.ns, &c.iface, &host) {
                Ok(_) => {
                    held[i] = false;
                    tally.lock().unwrap().leaves += 1;
                }
                Err(e) => tally.lock().unwrap().failures.push(e),
            }
        } else {
            let was = held[i];
            match dhclient_hold(lab, &c.ns, &c.iface, &host, &["BOUND", "REBOOT"]) {
                Ok(ev) => {
                    held[i] = true;
                    let mut t = tally.lock().unwrap();
                    if was {
                        t.renews += 1
                    } else {
                        t.joins += 1
                    }
                    t.bound(&ev);
                }
                Err(e) => tally.lock().unwrap().failures.push(e),
            }
        }
    }
}

/// The udhcpc sessions: renew (USR1 while bound: a unicast RENEWING request), leave (USR2:
/// RELEASE), join again (USR1 after a release: DISCOVER).
fn udhcpc_ops(lab: &Lab, sessions: &mut [(Udhcpc, &Client)], seed: u64, until: Instant, tally: &Mutex<Tally>) {
    let mut rng = Rng(seed.rotate_left(17) | 1);
    let mut held = vec![true; sessions.len()];
    for _ in 0..MAX_OPS {
        if Instant::now() >= until {
            return;
        }
        let i = rng.below(sessions.len());
        let (s, c) = &mut sessions[i];
        let skip = events(lab, &c.iface).len();
        let leave = held[i] && rng.below(2) == 0;
        s.signal(if leave { "USR2" } else { "USR1" });
        let want: &[&str] = if leave { &["deconfig"] } else { &["bound", "renew"] };
        match s.wait(lab, skip, want) {
            Ok(ev) => {
                let mut t = tally.lock().unwrap();
                match (leave, held[i]) {
                    (true, _) => t.leaves += 1,
                    (false, true) => t.renews += 1,
                    (false, false) => t.joins += 1,
                }
                if !leave {
                    t.bound(&ev);
                }
                held[i] = !leave;
            }
            Err(e) => tally.lock().unwrap().failures.push(e),
        }
        // udhcpc answers USR1/USR2 only from its main loop; give it a moment between signals.
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn cut(lab: &Lab, rtr: &str) {
    lab.run(rtr, &["nft", "add", "table", "inet", "rvcut"]);
    lab.run(
        rtr,
        &[
            "nft",
            "add",
            "chain",
            "inet",
            "rvcut",
            "gossipcut",
            "{ type filter hook forward priority 0 ; policy accept ; }",
        ],
    );
    for (s, d) in [(A_IP, B_IP), (B_IP, A_IP)] {
        lab.run(rtr, &["nft", "add", "rule", "inet", "rvcut", "gossipcut", "ip", "saddr", s, "ip", "daddr", d, "drop"]);
    }
}

#[test]
fn netns_partition_60s_no_address_twice_then_converge() {
    // One lab at a time: the tests of this program share the host's namespaces and nftables.
    let _serial = crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    skip_unless_lab!("netns_partition", &["dhclient", "dhcrelay", "busybox", "nft", "timeout"]);
    let seed = std::env::var("RAVENS_PARTITION_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs());
    say(&format!("netns_partition: seed {seed} (RAVENS_PARTITION_SEED={seed} repeats the client schedule)"));
    let mut lab = Lab::new("p");
    let rtr = lab.add_ns("rtr");
    lab.run(&rtr, &["ip", "link", "add", "br10", "type", "bridge"]);
    lab.run(&rtr, &["ip", "addr", "add", "10.10.0.1/24", "dev", "br10"]);
    lab.run(&rtr, &["ip", "link", "set", "br10", "up"]);
    let mut clients = Vec::new();
    for n in 1..=6u8 {
        let ns = lab.add_ns(&format!("c{n}"));
        let iface = format!("c{n}.10");
        lab.veth(&ns, &iface, &rtr, &format!("r{n}"), None);
        lab.run(&rtr, &["ip", "link", "set", &format!("r{n}"), "master", "br10"]);
        let mac = format!("02:5b:00:00:00:{n:02x}");
        set_mac(&lab, &ns, &iface, &mac);
        clients.push(Client { ns, iface, mac });
    }
    let (sa, sb) = lab.pair_servers(&rtr);
    lab.wait_links_up();
    write_hooks(&lab);
    let secret = lab.cluster_secret();
    let a = Ravensd::start(&lab, &sa, "a", &config("a", A_IP, B_IP, &secret));
    let b = Ravensd::start(&lab, &sb, "b", &config("b", B_IP, A_IP, &secret));
    assert!(wait_log(&a, "peer up", 1, 10) && wait_log(&b, "peer up", 1, 10), "no mesh:\n{}", b.proc.log_text());
    let pf = lab.path("dhcrelay.pid").display().to_string();
    let args =
        ["dhcrelay", "-4", "-d", "-a", "-D", "-iu", "rtr-sa", "-iu", "rtr-sb", "-id", "br10", "-pf", &pf, A_IP, B_IP];
    let mut relay = Proc::spawn("dhcrelay", lab.cmd(&rtr, &args), lab.path("dhcrelay.log"));
    std::thread::sleep(Duration::from_millis(500));
    assert!(relay.exited().is_none(), "dhcrelay did not start:\n{}", relay.log_text());

    // Every client holds a lease before the cut, known to both nodes.
    let (dh, ud) = clients.split_at(3);
    for c in dh {
        let host = c.ns.rsplit('-').next().unwrap().to_string();
        dhclient_hold(&lab, &c.ns, &c.iface, &host, &["BOUND"]).unwrap();
    }
    // Sessions end by themselves well after the test (bounded): setup + partition + healing.
    let budget = u32::try_from(PARTITION.as_secs()).unwrap() + 120;
    let mut sessions: Vec<(Udhcpc, &Client)> = ud
        .iter()
        .map(|c| (Udhcpc::start_for(&lab, &c.ns, &c.iface, c.ns.rsplit('-').next().unwrap(), budget), c))
        .collect();
    for (s, c) in &mut sessions {
        s.wait(&lab, 0, &["bound"]).unwrap_or_else(|e| panic!("{} got no first lease: {e}", c.ns));
    }
    let all_known = wait_for(Duration::from_secs(3), || {
        let (la, lb) = (lease_set(&lab, &a)?, lease_set(&lab, &b)?);
        (la.len() == 6 && la == lb).then_some(())
    });
    assert!(all_known.is_some(), "both nodes list the 6 leases: {:?} / {:?}", lease_set(&lab, &a), lease_set(&lab, &b));

    // The split brain: each side takes over the other's buckets.
    let alone = |d: &Ravensd, me: &str| d.proc.log_text().matches(&format!("owners=[\"{me}\"]")).count();
    let takeovers = (alone(&a, "a"), alone(&b, "b"));
    cut(&lab, &rtr);
    let t_cut = Instant::now();
    let until = t_cut + PARTITION;
    let stop = AtomicBool::new(false);
    let tally = Mutex::new(Tally::default());
    let nodes = [("a", &a), ("b", &b)];
    let (violations, samples, stale_max) = std::thread::scope(|sc| {
        let sampler = sc.spawn(|| {
            let (mut bad, mut n, mut stale_max) = (Vec::new(), 0usize, 0usize);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                if let Some((v, stale)) = sample(&lab, &clients, &nodes) {
                    n += 1;
                    stale_max = stale_max.max(stale);
                    bad.extend(v.into_iter().map(|v| format!("{:.1?} after the cut: {v}", t_cut.elapsed())));
                }
                std::thread::sleep(SAMPLE_EVERY.saturating_sub(t.elapsed()));
            }
            (bad, n, stale_max)
        });
        let d = sc.spawn(|| dhclient_ops(&lab, dh, seed, until, &tally));
        udhcpc_ops(&lab, &mut sessions, seed, until, &tally);
        d.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        sampler.join().unwrap()
    });
    let tally = tally.into_inner().unwrap();
    say(&format!(
        "netns_partition: {:.1?} partitioned; {} joins, {} renews, {} leaves, leases by server {:?}; {samples} samples, \
         up to {stale_max} (ip, mac) entries differing between the nodes' views",
        t_cut.elapsed(),
        tally.joins,
        tally.renews,
        tally.leaves,
        tally.servers
    ));
    assert!(
        alone(&a, "a") > takeovers.0 && alone(&b, "b") > takeovers.1,
        "each side owns every bucket while partitioned:\n{}",
        b.proc.log_text()
    );
    let (ta, tb) = (a.proc.log_text(), b.proc.log_text());
    assert!(violations.is_empty(), "one address held twice:\n{}", violations.join("\n"));
    assert!(tally.failures.is_empty(), "client operations failed:\n{}", tally.failures.join("\n---\n"));
    assert!(samples >= 100, "only {samples} samples in {PARTITION:?}");
    assert!(tally.joins > 0 && tally.renews > 0 && tally.leaves > 0, "{tally:?}");
    assert!(
        tally.servers.get(A_IP).is_some_and(|n| *n > 0) && tally.servers.get(B_IP).is_some_and(|n| *n > 0),
        "both nodes served during the partition: {:?}",
        tally.servers
    );

    // Heal: both nodes converge on one lease set.
    let ups = (ta.matches("peer up").count(), tb.matches("peer up").count());
    lab.run(&rtr, &["nft", "delete", "table", "inet", "rvcut"]);
    let t_heal = Instant::now();
    let converged = wait_for(CONVERGE_WITHIN, || {
        let (la, lb) = (lease_set(&lab, &a)?, lease_set(&lab, &b)?);
        (la == lb).then_some(la)
    });
    let took = t_heal.elapsed();
    let la = converged.unwrap_or_else(|| {
        panic!(
            "no convergence within {CONVERGE_WITHIN:?} of healing:\na: {:?}\nb: {:?}",
            lease_set(&lab, &a),
            lease_set(&lab, &b)
        )
    });
    say(&format!("netns_partition: both nodes list the same {} leases {took:.2?} after healing", la.len()));
    assert!(wait_log(&a, "peer up", ups.0 + 1, 5) && wait_log(&b, "peer up", ups.1 + 1, 5), "no peer up after healing");
    // What the clients hold is what the cluster lists, and no client is listed twice.
    let listed: BTreeMap<&str, &str> = la.iter().map(|(ip, mac, ..)| (ip.as_str(), mac.as_str())).collect();
    let macs: BTreeSet<&str> = la.iter().map(|(_, mac, ..)| mac.as_str()).collect();
    assert_eq!(macs.len(), la.len(), "a client listed twice: {la:?}");
    for c in &clients {
        for ip in client_addrs(&lab, c).unwrap() {
            assert_eq!(listed.get(ip.as_str()), Some(&c.mac.as_str()), "{} holds {ip}; cluster lists {la:?}", c.ns);
        }
    }
    drop(sessions);
    relay.stop();
}
