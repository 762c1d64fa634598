//! A node of the pair restarted behind a real relay (issue 5, root only; skips with a printed
//! reason otherwise): two ravensd nodes in their own namespaces, `dhcrelay` forwarding every
//! request to both, real clients (`dhclient` and busybox `udhcpc`), each in its own namespace
//! on one bridged LAN.
//!
//! ```text
//! c1..c4, n1, n2 [<ns>.10] -- rtr [br10 10.10.0.1/24 | rtr-sa 10.99.0.1/24 | rtr-sb 10.98.0.1/24]
//!                                  -- sa [srv0 10.99.0.2/24]  ravensd "a"
//!                                  -- sb [srv0 10.98.0.3/24]  ravensd "b"  (gossip routed through rtr)
//! ```
//! c1 (dhclient) and c3 (udhcpc) are in A's RFC 3074 bucket, so A grants their leases; c2 and
//! c4 are in B's. Once all four hold leases, A is killed with SIGKILL and B takes A's buckets
//! over; then A starts again on the same config file:
//! - on its journal: within 5 s both nodes list the same leases as before the kill, each the
//!   address its client has configured; names resolve at A; once B hands the buckets back, A's
//!   clients renew with A (udhcpc: unicast RENEWING; dhclient: INIT-REBOOT through the relay)
//!   and keep their addresses;
//! - on an emptied data_dir: A takes back from B the leases it had granted and B's (the same
//!   set as before the kill, expiries included, within 5 s; names resolve at A's DNS), renews
//!   its clients in place, and the new clients of its bucket (n1 dhclient, n2 udhcpc) never get
//!   an address another client holds. Each node's slice has 8 addresses and a fresh pool
//!   allocates in ascending order, so an A that forgot its leases would offer c1's address
//!   again first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crate::clients::{Event, Udhcpc, dhclient_hold, events, write_hooks};
use crate::harness::{Lab, Proc, Ravensd, say, wait_for};
use anyhow::{Context as _, anyhow, ensure};
use ravens_dhcp::failover::buckets::{bucket_of, bucket_owner};

const A_IP: &str = "10.99.0.2";
const B_IP: &str = "10.98.0.3";
/// Issue 5 asks that the cluster converges after a restart; "a few seconds" here.
const CONVERGE_WITHIN: Duration = Duration::from_secs(5);
/// Lifetime of each udhcpc session (ended by `timeout`): well past the end of a test.
const SESSION_SECS: u32 = 240;
/// B's log when it owns every bucket: the owners line is what the answer filter follows.
/// ("taking over the peer's DHCP clients" was often missing before `observe_since` compared
/// against the stored phase; tests/netns/failover.rs now counts it.)
const TAKEOVER: &str = "owners=[\"b\"]";
const HANDBACK: &str = "handing DHCP clients back";

/// 16 addresses: A's slice is .100-.107, B's .108-.115.
const SUBNET: &str = "[[subnet]]\nname = \"v10\"\ncidr = \"10.10.0.0/24\"\npools = [\"10.10.0.100-10.10.0.115\"]\n\
                      router = \"10.10.0.1\"\nlease_time = \"1h\"\n";

fn server_ip(node: &str) -> &'static str {
    if node == "a" { A_IP } else { B_IP }
}

/// A locally administered MAC in `owner`'s bucket both as a chaddr (dhclient sends no
/// client-id) and as busybox udhcpc's default client-id (type 1 + MAC), so either client
/// behaves alike.
fn mac_of(owner: &str, seed: u8) -> String {
    let owned = |id: &[u8]| bucket_owner(bucket_of(id), &["a", "b"]) == Some(owner);
    let mac = (0..=255u8)
        .map(|i| [0x02, 0x5c, 0, seed, 0, i])
        .find(|m| owned(m) && owned(&[&[1u8][..], m].concat()))
        .expect("some MAC of 256 falls in the bucket");
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Dhclient,
    Udhcpc,
}

struct Client {
    ns: String,
    iface: String,
    host: String,
    mac: String,
    /// The node whose bucket the client is in.
    owner: &'static str,
    kind: Kind,
    /// A udhcpc client's running session (USR1 renews).
    session: Option<Udhcpc>,
}

/// The clients' LAN, the relay and the two server namespaces. Fields drop in order: client
/// sessions and the relay stop before the lab removes the namespaces.
struct Lan {
    clients: Vec<Client>,
    _relay: Proc,
    rtr: String,
    sa: String,
    sb: String,
    lab: Lab,
}

impl Lan {
    fn new(tag: &str, specs: &[(&str, Kind, &'static str)]) -> Lan {
        let mut lab = Lab::new(tag);
        let rtr = lab.add_ns("rtr");
        lab.run(&rtr, &["ip", "link", "add", "br10", "type", "bridge"]);
        lab.run(&rtr, &["ip", "addr", "add", "10.10.0.1/24", "dev", "br10"]);
        lab.run(&rtr, &["ip", "link", "set", "br10", "up"]);
        let mut clients = Vec::new();
        for (seed, &(name, kind, owner)) in (1u8..).zip(specs) {
            let ns = lab.add_ns(name);
            let (iface, port) = (format!("{name}.10"), format!("r-{name}"));
            lab.veth(&ns, &iface, &rtr, &port, None);
            lab.run(&rtr, &["ip", "link", "set", &port, "master", "br10"]);
            let mac = mac_of(owner, seed);
            lab.run(&ns, &["ip", "link", "set", &iface, "down"]);
            lab.run(&ns, &["ip", "link", "set", &iface, "address", &mac]);
            lab.run(&ns, &["ip", "link", "set", &iface, "up"]);
            clients.push(Client { ns, iface, host: name.to_string(), mac, owner, kind, session: None });
        }
        let (sa, sb) = lab.pair_servers(&rtr);
        lab.wait_links_up();
        write_hooks(&lab);
        let relay = lab.dhcrelay(&rtr, &["rtr-sa", "rtr-sb"], &["br10"], &[A_IP, B_IP]);
        Lan { clients, _relay: relay, rtr, sa, sb, lab }
    }

    /// Starts both nodes and waits until they see each other.
    fn start_nodes(&self) -> anyhow::Result<(Ravensd, Ravensd)> {
        let secret = self.lab.cluster_secret();
        let config = |name, ip, peer| Lab::pair_config("nsrestart", name, ip, peer, &secret, SUBNET);
        let a = Ravensd::start(&self.lab, &self.sa, "a", &config("a", A_IP, B_IP));
        let b = Ravensd::start(&self.lab, &self.sb, "b", &config("b", B_IP, A_IP));
        let within = Duration::from_secs(10);
        ensure!(
            a.wait_log("peer up", 1, within) && b.wait_log("peer up", 1, within),
            "no mesh:\n{}",
            b.proc.log_text()
        );
        Ok((a, b))
    }

    /// Client `i` gets its first lease (dhclient keeps the address after it is stopped; a
    /// udhcpc session stays up). Its bucket's owner must have answered.
    fn join(&mut self, i: usize) -> anyhow::Result<Event> {
        let lab = &self.lab;
        let c = &mut self.clients[i];
        let ev = match c.kind {
            Kind::Dhclient => dhclient_hold(lab, &c.ns, &c.iface, &c.host, &["BOUND"]).map_err(|e| anyhow!(e))?,
            Kind::Udhcpc => {
                let mut s = Udhcpc::start_for(lab, &c.ns, &c.iface, &c.host, SESSION_SECS);
                let ev = s.wait(lab, 0, &["bound"]).map_err(|e| anyhow!(e));
                c.session = Some(s);
                ev?
            }
        };
        ensure!(ev.get("server") == server_ip(c.owner), "{} is in {}'s bucket: {ev:?}", c.host, c.owner);
        Ok(ev)
    }

    /// Client `i` confirms its lease: udhcpc renews by unicast to the server that granted it
    /// (USR1), dhclient runs again on its lease file (INIT-REBOOT, broadcast through the relay
    /// to both nodes, answered by the bucket's owner).
    fn renew(&mut self, i: usize) -> anyhow::Result<Event> {
        let lab = &self.lab;
        let c = &mut self.clients[i];
        match c.kind {
            Kind::Dhclient => {
                dhclient_hold(lab, &c.ns, &c.iface, &c.host, &["REBOOT", "BOUND"]).map_err(|e| anyhow!(e))
            }
            Kind::Udhcpc => {
                let s = c.session.as_mut().context("udhcpc client renewed before it joined")?;
                let skip = events(lab, &c.iface).len();
                s.signal("USR1");
                s.wait(lab, skip, &["renew", "bound"]).map_err(|e| anyhow!(e))
            }
        }
    }

    /// Address → MAC of what the clients have configured on their interfaces; an address on
    /// two clients is an error.
    fn held(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut held = BTreeMap::new();
        for c in &self.clients {
            for ip in self.lab.ipv4_addrs(&c.ns, &c.iface).context("ip addr show failed")? {
                if let Some(other) = held.insert(ip.clone(), c.mac.clone()) {
                    anyhow::bail!("{ip} is configured on {} and on the client with MAC {other}", c.ns);
                }
            }
        }
        Ok(held)
    }
}

/// One lease as a node lists it (`dnsctl --json leases`): ip, mac, granting node, hostname,
/// expiry (unix seconds).
type Row = (String, String, String, String, u64);

fn lease_rows(lab: &Lab, d: &Ravensd) -> Option<BTreeSet<Row>> {
    let (code, out, _) = d.dnsctl(lab, &["--json", "leases"]);
    if code != 0 {
        return None;
    }
    let v: Vec<serde_json::Value> = serde_json::from_str(&out).ok()?;
    let s = |l: &serde_json::Value, k: &str| l[k].as_str().unwrap_or_default().to_string();
    Some(
        v.iter()
            .map(|l| (s(l, "ip"), s(l, "mac"), s(l, "node"), s(l, "hostname"), l["expires"].as_u64().unwrap_or(0)))
            .collect(),
    )
}

/// (ip, mac, node, hostname): a row without its expiry, which a renewal moves.
fn who(rows: &BTreeSet<Row>) -> BTreeSet<(String, String, String, String)> {
    rows.iter().map(|(ip, mac, node, host, _)| (ip.clone(), mac.clone(), node.clone(), host.clone())).collect()
}

/// Waits (max [`CONVERGE_WITHIN`]) until both nodes list the same leases, which are exactly
/// the addresses the clients have configured, each under its client's MAC. Returns the set
/// and how long it took.
fn converge(lan: &Lan, a: &Ravensd, b: &Ravensd) -> anyhow::Result<(BTreeSet<Row>, Duration)> {
    let t0 = Instant::now();
    let mut last = None;
    let got = wait_for(CONVERGE_WITHIN, || {
        let (la, lb, held) = (lease_rows(&lan.lab, a)?, lease_rows(&lan.lab, b)?, lan.held().ok()?);
        let listed: BTreeMap<String, String> = la.iter().map(|(ip, mac, ..)| (ip.clone(), mac.clone())).collect();
        let ok = la == lb && listed.len() == la.len() && listed == held;
        last = Some((la.clone(), lb, held));
        ok.then_some(la)
    });
    let took = t0.elapsed();
    got.map(|rows| (rows, took))
        .ok_or_else(|| anyhow!("no convergence within {CONVERGE_WITHIN:?}; last (A, B, held by clients): {last:#?}"))
}

/// Every listed lease's `<hostname>.lan` resolves to its address at `server` (max 3 s each),
/// asked from the router namespace.
fn names_resolve(lan: &Lan, server: &str, rows: &BTreeSet<Row>) -> anyhow::Result<()> {
    for (ip, _, _, host, _) in rows {
        let fqdn = format!("{host}.lan");
        let got = wait_for(Duration::from_secs(3), || {
            (lan.lab.dig_short(&lan.rtr, server, &[&fqdn, "A"]) == *ip).then_some(())
        });
        ensure!(
            got.is_some(),
            "{fqdn} A at {server}: {:?}, want {ip}",
            lan.lab.dig_short(&lan.rtr, server, &[&fqdn, "A"])
        );
    }
    Ok(())
}

/// `kill -9` of A, then (with `wipe`) its data_dir is deleted, and once B has taken A's
/// buckets over (the state a crash leaves behind) A starts again on its config file.
fn crash_and_restart(lan: &Lan, a: Ravensd, b: &Ravensd, wipe: bool) -> anyhow::Result<Ravensd> {
    let takeovers = b.proc.log_text().matches(TAKEOVER).count();
    let mut a = a;
    a.proc.kill9();
    let t0 = Instant::now();
    ensure!(b.wait_log(TAKEOVER, takeovers + 1, Duration::from_secs(5)), "B did not take over:\n{}", b.proc.log_text());
    say(&format!("netns_restart: B took A's buckets over {:.2?} after the kill", t0.elapsed()));
    if wipe {
        std::fs::remove_dir_all(&a.data_dir).with_context(|| format!("removing {}", a.data_dir.display()))?;
    }
    let t1 = Instant::now();
    let a = a.restart(&lan.lab, 1);
    say(&format!("netns_restart: A ready {:.2?} after its restart began", t1.elapsed()));
    Ok(a)
}

/// RAVENS_RESTART_DEBUG=1 (with e.g. RAVENS_NETNS_LOG=info,ravens::cluster=debug) prints
/// both logs right after the restart: when A learned B, got its slice, imported leases.
fn debug_logs(a: &Ravensd, b: &Ravensd) {
    if std::env::var("RAVENS_RESTART_DEBUG").is_ok() {
        say(&format!("A:\n{}\nB:\n{}", a.proc.log_text(), b.proc.log_text()));
    }
}

/// Waits (max 15 s) for B's `n`-th hand-back of A's buckets; how long it took from `t0`.
fn handed_back(b: &Ravensd, n: usize, t0: Instant) -> anyhow::Result<Duration> {
    ensure!(
        b.wait_log(HANDBACK, n, Duration::from_secs(15)),
        "B did not hand A's buckets back:\n{}",
        b.proc.log_text()
    );
    Ok(t0.elapsed())
}

/// Every client confirms its lease with the node whose bucket it is in and keeps its address.
fn renew_all(lan: &mut Lan, before: &BTreeSet<Row>) -> anyhow::Result<()> {
    let ip_of: BTreeMap<&str, &str> = before.iter().map(|(ip, mac, ..)| (mac.as_str(), ip.as_str())).collect();
    for i in 0..lan.clients.len() {
        let Some(&ip) = ip_of.get(lan.clients[i].mac.as_str()) else { continue };
        let ev = lan.renew(i)?;
        let c = &lan.clients[i];
        say(&format!(
            "netns_restart: {} ({:?}) {} {} from {}",
            c.host,
            c.kind,
            ev.reason(),
            ev.get("ip"),
            ev.get("server")
        ));
        ensure!(ev.get("ip") == ip, "{} kept its address {ip}: {ev:?}", c.host);
        ensure!(ev.get("server") == server_ip(c.owner), "{} renewed with {}: {ev:?}", c.host, c.owner);
    }
    Ok(())
}

const CLIENTS: [(&str, Kind, &str); 4] =
    [("c1", Kind::Dhclient, "a"), ("c2", Kind::Dhclient, "b"), ("c3", Kind::Udhcpc, "a"), ("c4", Kind::Udhcpc, "b")];

/// The four clients hold leases and both nodes list them; the set.
fn all_bound(lan: &mut Lan, a: &Ravensd, b: &Ravensd) -> anyhow::Result<BTreeSet<Row>> {
    for i in 0..CLIENTS.len() {
        lan.join(i)?;
    }
    let (before, took) = converge(lan, a, b).context("before the kill")?;
    ensure!(before.len() == CLIENTS.len(), "{before:?}");
    say(&format!("netns_restart: 4 clients bound, both nodes list them ({took:.2?})"));
    Ok(before)
}

/// Both nodes up, the first four clients bound, A crashed and restarted (on an emptied
/// data_dir with `wipe`); then within [`CONVERGE_WITHIN`] both nodes list the leases of before
/// the crash (same addresses, clients, granting nodes, names, expiries), which resolve at A's
/// DNS, and B hands A's buckets back. Returns the nodes and those leases.
fn through_a_restart(lan: &mut Lan, wipe: bool) -> anyhow::Result<(Ravensd, Ravensd, BTreeSet<Row>)> {
    let how = if wipe { "empty disk" } else { "journal" };
    let (a, b) = lan.start_nodes()?;
    let before = all_bound(lan, &a, &b)?;
    let handbacks = b.proc.log_text().matches(HANDBACK).count();
    let a = crash_and_restart(lan, a, &b, wipe)?;
    let t0 = Instant::now();
    let converged = converge(lan, &a, &b).with_context(|| format!("after A's restart on its {how}"));
    debug_logs(&a, &b);
    let (after, took) = converged?;
    say(&format!(
        "netns_restart ({how}): both nodes list the same {} leases {took:.2?} after A was ready",
        after.len()
    ));
    ensure!(after == before, "the lease set changed across A's restart:\nbefore {before:#?}\nafter {after:#?}");
    names_resolve(lan, A_IP, &after)?;
    let back = handed_back(&b, handbacks + 1, t0)?;
    say(&format!("netns_restart ({how}): B handed A's buckets back {back:.2?} after A was ready"));
    Ok((a, b, before))
}

fn restart_on_journal() -> anyhow::Result<()> {
    let mut lan = Lan::new("rj", &CLIENTS);
    let (a, b, before) = through_a_restart(&mut lan, false)?;
    renew_all(&mut lan, &before)?;
    let (renewed, _) = converge(&lan, &a, &b).context("after the renewals")?;
    ensure!(who(&renewed) == who(&before), "renewals changed who holds what:\n{renewed:#?}\n{before:#?}");
    Ok(())
}

fn restart_on_empty_disk() -> anyhow::Result<()> {
    let specs = [&CLIENTS[..], &[("n1", Kind::Dhclient, "a"), ("n2", Kind::Udhcpc, "a")]].concat();
    let mut lan = Lan::new("re", &specs);
    let (a, b, before) = through_a_restart(&mut lan, true)?;
    // New clients of A's bucket, served by the re-seeded A: never an address another holds.
    for i in CLIENTS.len()..specs.len() {
        let held = lan.held()?;
        let ev = lan.join(i)?;
        let ip = ev.get("ip");
        say(&format!(
            "netns_restart (empty disk): new client {} got {ip} from {}",
            lan.clients[i].host,
            ev.get("server")
        ));
        ensure!(!held.contains_key(ip), "A gave {ip}, held by {}, to {}", held[ip], lan.clients[i].host);
        let last: u8 = ip.rsplit('.').next().and_then(|o| o.parse().ok()).context("bad address")?;
        ensure!((100..108).contains(&last), "a new address from A's slice: {ev:?}");
    }
    renew_all(&mut lan, &before)?;
    let (end, _) = converge(&lan, &a, &b).context("after the new clients and the renewals")?;
    ensure!(end.len() == specs.len(), "{end:#?}");
    ensure!(who(&before).is_subset(&who(&end)), "renewals changed who holds what:\n{end:#?}\n{before:#?}");
    Ok(())
}

#[test]
fn netns_restart_with_journal_leases_return() {
    // Serial from the start: the lab probe in `skip_unless_lab` uses one namespace name per process.
    let _serial = crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    skip_unless_lab!("netns_restart journal", &["dhclient", "dhcrelay", "busybox", "dig", "timeout"]);
    restart_on_journal().unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn netns_restart_with_empty_disk_reseeds_from_peer() {
    // Serial from the start: the lab probe in `skip_unless_lab` uses one namespace name per process.
    let _serial = crate::harness::SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    skip_unless_lab!("netns_restart empty disk", &["dhclient", "dhcrelay", "busybox", "dig", "timeout"]);
    restart_on_empty_disk().unwrap_or_else(|e| panic!("{e:#}"));
}
