//! Issue 10, defect 3: TCP clients that pipeline queries and never read the replies must not
//! hold the DNS TCP slots for good. A reply that waits longer than `tcp_idle_timeout` for the
//! client closes the connection, and one client address gets only its share of the slots.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::client::query;
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{RData, RecordType};
use socket2::{Domain, Socket, Type};

/// Queries one slow reader sends at most (bounds the loop; it stops sooner, as soon as the
/// server stops taking them).
const MAX_PIPELINED: usize = 20_000;

fn setup(extra: &str) -> (tokio::runtime::Runtime, TestUpstream, Daemon) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    // Replies of ~6 KB fill the buffers between server and client after a few hundred queries.
    let txt = (0..24).map(|i| RData::TXT(TXT::new(vec![format!("{i:02}{}", "x".repeat(240))]))).collect();
    up.set_records("big.test.", RecordType::TXT, txt, 3600);
    let d = Daemon::start(&format!("[dns]\nupstreams = [\"{}\"]\n{extra}\n", up.udp_url()));
    (rt, up, d)
}

fn framed(m: &Message) -> Vec<u8> {
    let b = m.to_vec().unwrap();
    let mut out = (b.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(&b);
    out
}

/// A client from `from` with small socket buffers that sends queries for the big answer until
/// the server stops taking them, and never reads. Returns the open connection.
fn slow_reader(server: SocketAddr, from: &str) -> TcpStream {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.set_send_buffer_size(4096).unwrap();
    s.bind(&format!("{from}:0").parse::<SocketAddr>().unwrap().into()).unwrap();
    s.connect(&server.into()).unwrap();
    let mut s: TcpStream = s.into();
    s.set_write_timeout(Some(Duration::from_millis(500))).unwrap();
    let q = framed(&query("big.test.", RecordType::TXT, Some(4096)));
    for _ in 0..MAX_PIPELINED {
        match s.write_all(&q) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return s,
            // Closed by the server already (the fixed server may do so once the write stalls).
            Err(_) => return s,
        }
    }
    panic!("the server kept taking queries from a client that never reads ({MAX_PIPELINED} sent)");
}

/// One TCP exchange from 127.0.0.1; `None` if the connection is closed or reset first.
fn try_tcp(server: SocketAddr) -> Option<Message> {
    let mut s = TcpStream::connect(server).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(&framed(&query("a.test.", RecordType::A, None))).ok()?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).ok()?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).ok()?;
    Some(Message::from_vec(&buf).unwrap())
}

#[test]
fn issue10_defect3_slow_readers_lose_their_slots_to_the_write_timeout() {
    let (_rt, _up, d) = setup("tcp_max_connections = 4\ntcp_idle_timeout = \"1s\"");
    // Four addresses, so the cap per client address does not keep any of them out.
    let readers: Vec<TcpStream> = (2..6).map(|i| slow_reader(d.dns, &format!("127.0.0.{i}"))).collect();
    // Their replies wait for longer than the 1 s timeout: then the slots are free again.
    // Bounded: 30 tries, each a fresh connection.
    let mut answered = None;
    for _ in 0..30 {
        if let Some(m) = try_tcp(d.dns) {
            answered = Some(m);
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let m = answered.expect("a new TCP client is answered while four slow readers stay connected");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(d.wait_log("does not read its replies", Duration::from_secs(10)), "{}", d.log());
    drop(readers);
}

#[test]
fn issue10_defect3_one_address_gets_a_share_of_the_slots() {
    // A long timeout: only the cap per client address can leave a slot for the new client.
    let (_rt, _up, d) = setup("tcp_max_connections = 4\ntcp_idle_timeout = \"60s\"");
    let _readers: Vec<TcpStream> = (0..4).map(|_| slow_reader(d.dns, "127.0.0.2")).collect();
    let m = try_tcp(d.dns).expect("a client from another address is answered at once");
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(d.status()["queries"]["tcp_rejected"].as_u64().unwrap() >= 3, "three of the four were refused");
}
