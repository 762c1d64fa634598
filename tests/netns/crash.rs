//! Crash safety of DHCP under load (root only; skips with a printed reason otherwise): the
//! project's C load client (`scripts/bench/dhcp-blaster.c`, compiled here with gcc) runs
//! relayed DORA at a bounded rate and logs every ACK it receives; ravensd is killed with
//! SIGKILL twice mid-run and restarted on the same data dir each time; afterwards every ACKed
//! (MAC, address) must be in `dnsctl --json leases`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::dhcp::{DNS_SECTION, lock};
use crate::harness::{Lab, Proc, Ravensd, must, say};

/// Load-client settings of the crash test: bounded in count (distinct clients) and time.
const LOAD_SECS: u64 = 6;
const LOAD_RATE: u32 = 4000;
const LOAD_WINDOW: u32 = 64;
const LOAD_CLIENTS: u32 = 40_000;
const KILLS_AT_MS: [u64; 2] = [1500, 3500];

#[test]
fn kill_9_under_load_loses_no_acked_lease() {
    let _serial = lock();
    skip_unless_lab!("netns_dhcp kill -9", &["gcc", "timeout"]);
    let started = Instant::now();
    let mut lab = Lab::new("k");
    let pc = lab.add_ns("pc");
    let srv = lab.add_ns("srv");
    lab.veth(&pc, "pc0", &srv, "srv0", Some("10.100.0.2/16"));
    lab.run(&pc, &["ip", "addr", "add", "10.100.0.1/16", "dev", "pc0"]);
    lab.wait_links_up();
    let blaster = lab.path("dhcp-blaster");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/bench/dhcp-blaster.c");
    must(std::process::Command::new("gcc").args(["-O2", "-o"]).arg(&blaster).arg(src));
    let config = format!(
        "[node]\nname = \"crash\"\ndata_dir = \"@DATA@\"\ndns_listen = [\"10.100.0.2:53\"]\n\
         admin_listen = \"127.0.0.1:0\"\ndhcp_listen = \"0.0.0.0:67\"\n\n{DNS_SECTION}\n\
         [[subnet]]\nname = \"load\"\ncidr = \"10.100.0.0/16\"\npools = [\"10.100.1.0-10.100.255.254\"]\nlease_time = \"1h\"\n"
    );
    let mut d = Ravensd::start(&lab, &srv, "ravensd", &config);
    let acklog = lab.path("acks.log");
    let args: Vec<String> = vec![
        "timeout".into(),
        "-k".into(),
        "3".into(),
        (LOAD_SECS + 20).to_string(),
        blaster.display().to_string(),
        "10.100.0.1".into(),
        "10.100.0.2".into(),
        LOAD_SECS.to_string(),
        LOAD_RATE.to_string(),
        LOAD_WINDOW.to_string(),
        LOAD_CLIENTS.to_string(),
        acklog.display().to_string(),
    ];
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let mut load = Proc::spawn("dhcp-blaster", lab.cmd(&pc, &argv), lab.path("blaster.out"));
    let mut restarts = Vec::new();
    for (i, at) in KILLS_AT_MS.iter().enumerate() {
        std::thread::sleep(Duration::from_millis(*at).saturating_sub(t0.elapsed()));
        let killed_at = t0.elapsed();
        d = d.kill9_and_restart(&lab, u32::try_from(i).unwrap() + 1);
        restarts.push((killed_at, t0.elapsed()));
    }
    let status = load.wait_exit(Duration::from_secs(LOAD_SECS + 25));
    assert!(status.is_some_and(|s| s.success()), "load client failed ({status:?}): {}", load.log_text());
    let summary = load.log_text();

    // Every ACK the client saw must be a lease of that client after two kill -9s.
    let leases: HashMap<String, String> = d
        .leases(&lab)
        .into_iter()
        .map(|l| (l["ip"].as_str().unwrap().to_string(), l["mac"].as_str().unwrap().to_string()))
        .collect();
    let text = std::fs::read_to_string(&acklog).unwrap();
    let mut acked = 0usize;
    let mut before_first_kill = 0usize;
    let mut after_last_restart = 0usize;
    let mut lost = Vec::new();
    let first_kill_ms = restarts[0].0.as_millis();
    let last_up_ms = restarts[restarts.len() - 1].1.as_millis();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (Some(ms), Some(mac), Some(ip)) = (f.next(), f.next(), f.next()) else {
            panic!("bad ACK log line {line:?}")
        };
        let ms: u128 = ms.parse().unwrap();
        acked += 1;
        before_first_kill += usize::from(ms < first_kill_ms);
        after_last_restart += usize::from(ms > last_up_ms);
        if leases.get(ip).map(String::as_str) != Some(mac) {
            lost.push(format!("{ms} ms {mac} {ip} -> {:?}", leases.get(ip)));
        }
    }
    say(&format!(
        "crash: {acked} ACKs seen ({before_first_kill} before the first kill -9), {} leases after {} restarts at {:?}; load: {}",
        leases.len(),
        restarts.len(),
        restarts.iter().map(|(k, u)| format!("{}->{} ms", k.as_millis(), u.as_millis())).collect::<Vec<_>>(),
        summary.trim()
    ));
    assert!(
        lost.is_empty(),
        "{} ACKed leases lost after kill -9 (first 20): {:#?}",
        lost.len(),
        &lost[..lost.len().min(20)]
    );
    assert!(before_first_kill >= 200, "the first kill must hit a loaded server ({before_first_kill} ACKs before it)");
    assert!(after_last_restart > 0, "the restarted server served the load again");
    assert!(started.elapsed() < Duration::from_secs(60), "crash test took {:?}", started.elapsed());
}
