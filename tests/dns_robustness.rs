//! Malformed input against the real ravensd: every bad message gets FORMERR or is dropped,
//! is counted, and the server keeps answering everyone else.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::client::{self, query, udp_raw};
use common::daemon::Daemon;
use common::upstream::TestUpstream;
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

fn setup(extra: &str) -> (tokio::runtime::Runtime, TestUpstream, Daemon) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let d = Daemon::start(&format!("[dns]\nupstreams = [\"{}\"]\n{extra}\n", up.udp_url()));
    (rt, up, d)
}

fn still_answers(d: &Daemon) {
    let m = client::udp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
}

fn good_query() -> Vec<u8> {
    query("a.test.", RecordType::A, Some(1232)).to_vec().unwrap()
}

fn rcode_of(reply: &[u8]) -> u8 {
    reply[3] & 0x0F
}

#[test]
fn truncated_header_is_dropped_and_counted() {
    let (_rt, _up, d) = setup("");
    assert!(udp_raw(d.dns, "127.0.0.1", &[0x12, 0x34, 0x01], Duration::from_millis(300)).is_none());
    assert!(udp_raw(d.dns, "127.0.0.1", &[], Duration::from_millis(300)).is_none());
    still_answers(&d);
    assert!(d.status()["queries"]["dropped"].as_u64().unwrap() >= 1);
}

#[test]
fn compression_loop_and_lying_counts_get_formerr() {
    let (_rt, _up, d) = setup("");
    let mut looped = good_query();
    looped[12] = 0xC0;
    looped[13] = 12;
    let r = udp_raw(d.dns, "127.0.0.1", &looped, Duration::from_secs(2)).expect("FORMERR reply");
    assert_eq!(rcode_of(&r), 1);
    assert_eq!(&r[..2], &looped[..2], "same ID");
    let mut lying = good_query();
    lying[7] = 5; // ANCOUNT = 5, no answers follow
    assert_eq!(rcode_of(&udp_raw(d.dns, "127.0.0.1", &lying, Duration::from_secs(2)).unwrap()), 1);
    let mut two_questions = good_query();
    two_questions[5] = 2;
    assert_eq!(rcode_of(&udp_raw(d.dns, "127.0.0.1", &two_questions, Duration::from_secs(2)).unwrap()), 1);
    let mut truncated = good_query();
    truncated.truncate(20);
    assert_eq!(rcode_of(&udp_raw(d.dns, "127.0.0.1", &truncated, Duration::from_secs(2)).unwrap()), 1);
    still_answers(&d);
    assert!(d.status()["queries"]["formerr"].as_u64().unwrap() >= 4);
}

#[test]
fn responses_and_unknown_opcodes() {
    let (_rt, _up, d) = setup("");
    let mut response = good_query();
    response[2] |= 0x80;
    assert!(udp_raw(d.dns, "127.0.0.1", &response, Duration::from_millis(300)).is_none(), "never answer a response");
    let mut notify = good_query();
    notify[2] = (notify[2] & 0x87) | (4 << 3); // opcode NOTIFY
    assert_eq!(rcode_of(&udp_raw(d.dns, "127.0.0.1", &notify, Duration::from_secs(2)).unwrap()), 4, "NOTIMP");
    let mut badvers = query("a.test.", RecordType::A, Some(1232));
    badvers.edns.as_mut().unwrap().set_version(1);
    let r =
        Message::from_vec(&udp_raw(d.dns, "127.0.0.1", &badvers.to_vec().unwrap(), Duration::from_secs(2)).unwrap())
            .unwrap();
    assert_eq!(r.edns.unwrap().rcode_high(), 1, "BADVERS");
    still_answers(&d);
}

#[test]
fn random_garbage_over_udp() {
    let (_rt, _up, d) = setup("");
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let base = good_query();
    for i in 0..3000 {
        // xorshift: deterministic cases, half fully random, half mutated valid queries.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 600) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|j| (x.rotate_left(j as u32 % 64) >> (j % 8)) as u8).collect();
        if i % 2 == 0 {
            pkt = base.clone();
            let at = (x as usize) % pkt.len();
            pkt[at] ^= (x >> 32) as u8 | 1;
        }
        let _ = sock.send_to(&pkt, d.dns);
    }
    std::thread::sleep(Duration::from_millis(500));
    still_answers(&d);
    let s = d.status();
    let q = &s["queries"];
    assert!(q["queries"].as_u64().unwrap() >= 3000, "{q}");
    assert!(q["formerr"].as_u64().unwrap() + q["dropped"].as_u64().unwrap() > 100, "{q}");
}

#[test]
fn garbage_and_slow_clients_over_tcp() {
    let (_rt, _up, d) = setup("tcp_idle_timeout = \"1s\"");
    // 64 KiB of garbage as one framed message.
    let mut s = TcpStream::connect(d.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let garbage: Vec<u8> = (0..65_535u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    s.write_all(&[0xFF, 0xFF]).unwrap();
    s.write_all(&garbage).unwrap();
    let mut len = [0u8; 2];
    if s.read_exact(&mut len).is_ok() {
        let mut reply = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(rcode_of(&reply), 1, "garbage with a header gets FORMERR");
    }
    // A slow client: two bytes of a length, then nothing. Others are served meanwhile,
    // and the slow one is cut off by the idle timeout.
    let mut slow = TcpStream::connect(d.dns).unwrap();
    slow.write_all(&[0x00]).unwrap();
    let t = Instant::now();
    still_answers(&d);
    let m = client::tcp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    slow.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 1];
    let n = slow.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "slow client's connection is closed");
    assert!(t.elapsed() < Duration::from_secs(4));
}

#[test]
fn pipelined_tcp_queries() {
    let (_rt, _up, d) = setup("");
    let mut s = TcpStream::connect(d.dns).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        let mut m = query(&format!("h{i:05}.test."), RecordType::A, None);
        m.metadata.id = 1000 + i;
        ids.push(1000 + i);
        let b = m.to_vec().unwrap();
        s.write_all(&(b.len() as u16).to_be_bytes()).unwrap();
        s.write_all(&b).unwrap();
    }
    let mut got = Vec::new();
    for _ in 0..20 {
        let mut len = [0u8; 2];
        s.read_exact(&mut len).unwrap();
        let mut b = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut b).unwrap();
        let m = Message::from_vec(&b).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        got.push(m.metadata.id);
    }
    got.sort_unstable();
    assert_eq!(got, ids);
}

#[test]
fn tcp_connection_cap() {
    let (_rt, _up, d) = setup("tcp_max_connections = 2");
    let a = TcpStream::connect(d.dns).unwrap();
    let b = TcpStream::connect(d.dns).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let mut c = TcpStream::connect(d.dns).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0, "over the cap: closed at once");
    drop((a, b));
    std::thread::sleep(Duration::from_millis(200));
    let m = client::tcp(d.dns, &query("a.test.", RecordType::A, None));
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "slots free again");
    assert!(d.status()["queries"]["tcp_rejected"].as_u64().unwrap() >= 1);
}
