//! Real DHCP clients for the namespace tests: ISC `dhclient` and busybox `udhcpc`, each with the
//! test's own hook script, which records what the client received in
//! `<lab dir>/events-<interface>.log` and configures only the address and a default route
//! inside the test's own client namespace (never /etc/resolv.conf, never the host).

#![allow(dead_code)]

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{Lab, Proc, wait_for};

/// One hook invocation: `reason` plus what the client received (`ip`, `mask`, `router`,
/// `dns` comma-separated, `server`, `domain`, `lease`).
#[derive(Debug, Clone)]
pub struct Event(pub HashMap<String, String>);

impl Event {
    pub fn get(&self, k: &str) -> &str {
        self.0.get(k).map_or("", String::as_str)
    }
    pub fn reason(&self) -> &str {
        self.get("reason")
    }
}

/// Writes both hook scripts into the lab dir.
pub fn write_hooks(lab: &Lab) {
    let dir = lab.dir.path().display().to_string();
    // The default route gets a metric per interface (its VLAN number), so two interfaces of one
    // namespace can hold one each and losing one address does not take the other's route.
    let route = r#"r=${ROUTER%% *}; [ -n "$r" ] && ip route replace default via "$r" dev "$interface" metric "${interface##*.}""#;
    let dhclient = format!(
        r#"#!/bin/sh
# ravens netns test hook for dhclient: record, configure the address only.
ROUTER="$new_routers"
echo "reason=$reason iface=$interface ip=$new_ip_address mask=$new_subnet_mask router=$(echo $new_routers | tr ' ' ,) dns=$(echo $new_domain_name_servers | tr ' ' ,) server=$new_dhcp_server_identifier domain=$new_domain_name lease=$new_dhcp_lease_time" >> "{dir}/events-$interface.log"
case "$reason" in
  PREINIT) ip link set "$interface" up ;;
  BOUND|RENEW|REBIND|REBOOT)
     ip -4 addr flush dev "$interface"
     ip addr add "$new_ip_address/$new_subnet_mask" dev "$interface"
     {route} ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" ;;
  TIMEOUT) exit 1 ;;
esac
exit 0
"#
    );
    let udhcpc = format!(
        r#"#!/bin/sh
# ravens netns test hook for busybox udhcpc: record, configure the address only.
ROUTER="$router"
echo "reason=$1 iface=$interface ip=$ip mask=$mask router=$(echo $router | tr ' ' ,) dns=$(echo $dns | tr ' ' ,) server=$serverid domain=$domain lease=$lease" >> "{dir}/events-$interface.log"
case "$1" in
  deconfig) ip -4 addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
     ip -4 addr flush dev "$interface"
     ip addr add "$ip/$mask" dev "$interface"
     {route} ;;
esac
exit 0
"#
    );
    for (name, text) in [("dhclient-hook", dhclient), ("udhcpc-hook", udhcpc)] {
        let p = lab.path(name);
        fs::write(&p, text).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// All hook events recorded for `iface` so far.
pub fn events(lab: &Lab, iface: &str) -> Vec<Event> {
    let text = fs::read_to_string(lab.path(&format!("events-{iface}.log"))).unwrap_or_default();
    text.lines()
        .map(|l| {
            Event(
                l.split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// Waits for the first event after the first `skip` ones whose reason is in `want`.
pub fn wait_event(lab: &Lab, iface: &str, skip: usize, want: &[&str], proc: &mut Proc, secs: u64) -> Option<Event> {
    wait_for(Duration::from_secs(secs), || {
        if let Some(e) = events(lab, iface).into_iter().skip(skip).find(|e| want.contains(&e.reason())) {
            return Some(Some(e));
        }
        // The client gave up (or crashed): no point in waiting longer.
        proc.exited().map(|_| None)
    })
    .flatten()
}

/// A per-run `dhclient.conf` that sends `hostname`.
fn dhclient_conf(lab: &Lab, iface: &str, hostname: &str) -> PathBuf {
    let p = lab.path(&format!("dhclient-{iface}.conf"));
    fs::write(
        &p,
        format!(
            "timeout 20;\nretry 5;\ninitial-interval 1;\nsend host-name \"{hostname}\";\n\
             request subnet-mask, routers, domain-name-servers, domain-name;\n"
        ),
    )
    .unwrap();
    p
}

/// The lease file of `dhclient` on `iface` (kept across runs for INIT-REBOOT and release).
pub fn dhclient_lease_file(lab: &Lab, iface: &str) -> PathBuf {
    lab.path(&format!("dhclient-{iface}.leases"))
}

fn dhclient_cmd(lab: &Lab, ns: &str, iface: &str, hostname: &str, extra: &[&str]) -> std::process::Command {
    let conf = dhclient_conf(lab, iface, hostname).display().to_string();
    let lf = dhclient_lease_file(lab, iface).display().to_string();
    let hook = lab.path("dhclient-hook").display().to_string();
    let mut args = vec!["timeout", "-k", "3", "40", "dhclient", "-4", "-d", "-v", "--no-pid"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-cf", &conf, "-lf", &lf, "-sf", &hook, iface]);
    lab.cmd(ns, &args)
}

/// Runs `dhclient -d -1` on `iface` until its hook reports one of `want` (BOUND for a fresh lease
/// file, REBOOT for a second run on the same one), then stops it. The lease file is kept.
pub fn dhclient_get(lab: &Lab, ns: &str, iface: &str, hostname: &str, want: &[&str]) -> Result<Event, String> {
    dhclient_until(lab, ns, iface, hostname, want, false)
}

/// Like [`dhclient_get`], but the client keeps its address afterwards, as a client that stays up
/// would: dhclient is ended with SIGKILL (TERM makes it run its STOP hook, which removes the
/// address). Every dhclient in `ns` is killed, so `ns` must hold this one client only.
pub fn dhclient_hold(lab: &Lab, ns: &str, iface: &str, hostname: &str, want: &[&str]) -> Result<Event, String> {
    dhclient_until(lab, ns, iface, hostname, want, true)
}

fn dhclient_until(
    lab: &Lab,
    ns: &str,
    iface: &str,
    hostname: &str,
    want: &[&str],
    hold: bool,
) -> Result<Event, String> {
    let skip = events(lab, iface).len();
    let run = format!("dhclient-{iface}-{skip}");
    let mut p = Proc::spawn(&run, dhclient_cmd(lab, ns, iface, hostname, &["-1"]), lab.path(&format!("{run}.log")));
    let got = wait_event(lab, iface, skip, want, &mut p, 40);
    let mut unwritten = None;
    if let Some(ev) = &got {
        // dhclient runs the hook before it writes the lease file: wait for the file, or the next
        // run (INIT-REBOOT) would find no lease and start from DISCOVER.
        let line = format!("fixed-address {};", ev.get("ip"));
        let lf = dhclient_lease_file(lab, iface);
        let written =
            wait_for(Duration::from_secs(5), || fs::read_to_string(&lf).ok().filter(|t| t.contains(&line)).map(|_| ()));
        if written.is_none() {
            unwritten = Some(format!("dhclient on {iface} wrote no lease for {} to {}", ev.get("ip"), lf.display()));
        }
    }
    if hold {
        lab.kill9_in(ns, &["dhclient", "timeout"]);
    }
    p.stop();
    if let Some(e) = unwritten {
        return Err(e);
    }
    let ev = got.ok_or_else(|| {
        format!("dhclient on {iface}: no {want:?} event; log:\n{}\nevents: {:?}", p.log_text(), events(lab, iface))
    })?;
    if ev.reason() != want[0] && !hold {
        crate::harness::say(&format!(
            "dhclient on {iface}: {} instead of {}; its log:\n{}",
            ev.reason(),
            want[0],
            p.log_text()
        ));
    }
    Ok(ev)
}

/// `dhclient -r` with the lease file of the earlier runs: sends a RELEASE and exits.
pub fn dhclient_release(lab: &Lab, ns: &str, iface: &str, hostname: &str) -> Result<Event, String> {
    let skip = events(lab, iface).len();
    // A client releases while it still holds its address: dhclient_get ended the earlier run
    // with TERM, whose STOP hook flushed it, and without it the RELEASE (unicast to the
    // server) failed with "Network is unreachable". Put the lease's address and route back.
    if let Some(b) = events(lab, iface).into_iter().rev().find(|e| ["BOUND", "REBOOT", "RENEW"].contains(&e.reason())) {
        let _ = lab
            .cmd(ns, &["ip", "addr", "replace", &format!("{}/{}", b.get("ip"), b.get("mask")), "dev", iface])
            .status();
        // And its route to the server (a relayed server is reached through the router).
        let router = b.get("router").split(',').next().unwrap_or_default().to_string();
        let metric = iface.rsplit('.').next().unwrap_or("0");
        if !router.is_empty() {
            let args = ["ip", "route", "replace", "default", "via", &router, "dev", iface, "metric", metric];
            let _ = lab.cmd(ns, &args).status();
        }
    }
    let run = format!("dhclient-{iface}-release");
    let mut p = Proc::spawn(&run, dhclient_cmd(lab, ns, iface, hostname, &["-r"]), lab.path(&format!("{run}.log")));
    let status = p.wait_exit(Duration::from_secs(45));
    let got = events(lab, iface).into_iter().skip(skip).find(|e| e.reason() == "RELEASE");
    got.ok_or_else(|| format!("dhclient -r on {iface} ({status:?}): no RELEASE event; log:\n{}", p.log_text()))
}

fn udhcpc_cmd(lab: &Lab, ns: &str, iface: &str, hostname: &str, extra: &[&str]) -> std::process::Command {
    udhcpc_cmd_for(lab, ns, iface, hostname, extra, 40)
}

fn udhcpc_cmd_for(
    lab: &Lab,
    ns: &str,
    iface: &str,
    hostname: &str,
    extra: &[&str],
    secs: u32,
) -> std::process::Command {
    let hook = lab.path("udhcpc-hook").display().to_string();
    let x = format!("hostname:{hostname}");
    let secs = secs.to_string();
    let mut args =
        vec!["timeout", "-k", "3", &secs, "busybox", "udhcpc", "-i", iface, "-f", "-n", "-t", "5", "-T", "2"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-s", &hook, "-x", &x]);
    lab.cmd(ns, &args)
}

/// `udhcpc -f -q -n -t 5 -T 2`: one lease, then it exits.
pub fn udhcpc_once(lab: &Lab, ns: &str, iface: &str, hostname: &str) -> Result<Event, String> {
    let skip = events(lab, iface).len();
    let run = format!("udhcpc-{iface}-{skip}");
    let mut p = Proc::spawn(&run, udhcpc_cmd(lab, ns, iface, hostname, &["-q"]), lab.path(&format!("{run}.log")));
    let status = p.wait_exit(Duration::from_secs(45));
    let got = events(lab, iface).into_iter().skip(skip).find(|e| e.reason() == "bound");
    got.ok_or_else(|| format!("udhcpc on {iface} ({status:?}): no bound event; log:\n{}", p.log_text()))
}

/// A long-running `udhcpc` (no `-q`) that asks for `ip` (`-r`): USR1 renews, USR2 releases.
pub struct Udhcpc {
    pub proc: Proc,
    pidfile: PathBuf,
    iface: String,
}

impl Udhcpc {
    pub fn start(lab: &Lab, ns: &str, iface: &str, hostname: &str, ip: &str) -> Udhcpc {
        Self::session(lab, ns, iface, hostname, &["-r", ip], 40)
    }

    /// A session asking for no particular address, ended by `timeout` after `secs`.
    pub fn start_for(lab: &Lab, ns: &str, iface: &str, hostname: &str, secs: u32) -> Udhcpc {
        Self::session(lab, ns, iface, hostname, &[], secs)
    }

    fn session(lab: &Lab, ns: &str, iface: &str, hostname: &str, extra: &[&str], secs: u32) -> Udhcpc {
        let pidfile = lab.path(&format!("udhcpc-{iface}.pid"));
        let _ = fs::remove_file(&pidfile);
        let pf = pidfile.display().to_string();
        let run = format!("udhcpc-{iface}-session");
        let mut args = vec!["-p", pf.as_str()];
        args.extend_from_slice(extra);
        let proc =
            Proc::spawn(&run, udhcpc_cmd_for(lab, ns, iface, hostname, &args, secs), lab.path(&format!("{run}.log")));
        Udhcpc { proc, pidfile, iface: iface.to_string() }
    }

    /// Signals udhcpc itself (its PID from its own pidfile: `timeout` does not pass USR1/USR2 on).
    pub fn signal(&self, sig: &str) {
        let pid = wait_for(Duration::from_secs(5), || {
            fs::read_to_string(&self.pidfile).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
        })
        .expect("udhcpc wrote no pidfile");
        let ok = std::process::Command::new("kill").arg(format!("-{sig}")).arg(&pid).status().unwrap().success();
        assert!(ok, "kill -{sig} {pid} failed");
    }

    pub fn wait(&mut self, lab: &Lab, skip: usize, want: &[&str]) -> Result<Event, String> {
        wait_event(lab, &self.iface, skip, want, &mut self.proc, 30)
            .ok_or_else(|| format!("udhcpc on {}: no {want:?} event; log:\n{}", self.iface, self.proc.log_text()))
    }
}
