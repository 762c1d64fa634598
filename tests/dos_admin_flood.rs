//! Issue 10, defect 2: idle or trickling connections to the admin port, which need no token,
//! must not starve DNS of file descriptors. ravensd runs here under a limit of 256 open files
//! (soft and hard, so raising the soft limit at start gains nothing): the admin listener then
//! takes at most 32 connections, 8 per client address, and closes a connection that sends no
//! full request head within 10 s.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::client::{self, query};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use socket2::{Domain, Socket, Type};

const NOFILE: u64 = 256;
/// Flood connections: more than the daemon's whole descriptor limit.
const FLOOD: usize = 300;

fn setup() -> (tokio::runtime::Runtime, TestUpstream, Daemon) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start_with_nofile(&format!("[dns]\nupstreams = [\"{}\"]\n", up.udp_url()), NOFILE);
    (rt, up, d)
}

/// A TCP connection from `from` to `to` that sends nothing (or only what the test writes).
fn connect_from(from: &str, to: SocketAddr) -> Option<TcpStream> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    s.connect_timeout(&to.into(), Duration::from_secs(2)).ok()?;
    Some(s.into())
}

/// Opens [`FLOOD`] idle connections from the addresses `from` yields in turn.
fn flood(admin: SocketAddr, from: impl Fn(usize) -> String) -> Vec<TcpStream> {
    (0..FLOOD).filter_map(|i| connect_from(&from(i), admin)).collect()
}

/// Whether the server closed `s`: waits up to `within` for EOF or a reset.
fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let end = Instant::now() + within;
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A forwarded query (a name never asked before, so not cached) answered over UDP.
fn forwarded_answers(d: &Daemon, i: u32) {
    let name = format!("h{i:05}.test.");
    let m = client::udp(d.dns, &query(&name, RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "forwarded {name} during the flood\n{}", d.log());
    assert_eq!(m.answers.len(), 1);
}

fn tcp_answers(d: &Daemon) {
    let m = client::tcp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

#[test]
fn issue10_defect2_admin_flood_from_one_address_leaves_dns_and_api_working() {
    let (_rt, _up, d) = setup();
    let held = flood(d.admin, |_| "127.0.0.2".to_string());
    assert!(held.len() >= FLOOD / 2, "flood connections opened: {}", held.len());
    for i in 0..20 {
        forwarded_answers(&d, i);
    }
    tcp_answers(&d);
    // From another address the API answers: one address holds only its share.
    let status = d.status();
    assert_eq!(status["node"], "test");
    assert!(d.log().contains("admin connection refused"), "{}", d.log());
    drop(held);
}

#[test]
fn issue10_defect2_admin_flood_from_many_addresses_leaves_dns_working() {
    let (_rt, _up, d) = setup();
    // 60 addresses, 5 connections each: under the cap per address, far over the total.
    let mut held = flood(d.admin, |i| format!("127.0.1.{}", i % 60 + 1));
    assert!(held.len() >= FLOOD / 2, "flood connections opened: {}", held.len());
    for i in 100..120 {
        forwarded_answers(&d, i);
    }
    tcp_answers(&d);
    // All admin slots are taken: one more connection is closed (at once; the bound leaves
    // room for the header timeout in case the flood's connections have timed out already).
    let mut extra = connect_from("127.0.0.3", d.admin).expect("connect");
    assert!(closed_within(&mut extra, Duration::from_secs(15)), "a connection over the cap is closed");
    // Every flood connection is closed: those over the cap at once, the admitted ones (which
    // never send a request) by the header timeout.
    let end = Instant::now() + Duration::from_secs(40);
    for (i, s) in held.iter_mut().enumerate() {
        let left = end.saturating_duration_since(Instant::now()).max(Duration::from_millis(200));
        assert!(closed_within(s, left), "flood connection {i} is still open");
    }
    for i in 200..210 {
        forwarded_answers(&d, i);
    }
}

#[test]
fn issue10_defect2_trickled_request_head_is_cut_off() {
    let (_rt, _up, d) = setup();
    let mut s = connect_from("127.0.0.1", d.admin).expect("connect");
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    // One header byte a second, for at most 40 s: the 10 s header timeout must cut it off.
    let mut closed = false;
    let mut buf = [0u8; 512];
    for _ in 0..40 {
        if s.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(_) => {} // an error response (408) before the close is fine
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(900));
    }
    assert!(closed, "a request head trickled for 40 s was still being read");
    // The API itself still answers.
    assert_eq!(d.status()["node"], "test");
}

#[test]
fn issue10_defect2_accept_backs_off_when_out_of_descriptors() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    // So few descriptors (about 17 in use at start) that what the caps admit (5 DNS TCP and
    // 4 admin connections) exhausts them: accept then fails with EMFILE.
    // A local name, so the check at the end needs no upstream socket.
    let body = format!(
        "[dns]\nupstreams = [\"{}\"]\nudp_sockets = 1\n\n[[record]]\nname = \"nas.lan\"\ntype = \"A\"\nvalue = \"192.0.2.10\"\n",
        up.udp_url()
    );
    let d = Daemon::start_with_nofile(&body, 20);
    let held: Vec<TcpStream> = (1..=20)
        .flat_map(|i| [connect_from(&format!("127.0.3.{i}"), d.dns), connect_from(&format!("127.0.3.{i}"), d.admin)])
        .flatten()
        .collect();
    assert!(d.wait_log("cannot accept connections", Duration::from_secs(10)), "{}", d.log());
    let warned = |what: &str| {
        d.log().lines().filter(|l| l.contains("WARN") && l.contains("cannot accept") && l.contains(what)).count()
    };
    std::thread::sleep(Duration::from_secs(1)); // ten retries: still one warning per listener
    assert!(warned("dns-tcp") <= 1 && warned("\"admin\"") <= 1, "{}", d.log());
    drop(held);
    // Descriptors free again: the listeners take connections again.
    let m = client::tcp(d.dns, &query("nas.lan.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(d.status()["node"], "test");
}
