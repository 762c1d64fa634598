//! A DNS client for tests: hickory-proto messages over real UDP/TCP sockets, and `dig`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::Command;
use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};

/// A query message; `edns` = advertised UDP size.
pub fn query(name: &str, qtype: RecordType, edns: Option<u16>) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_str(name).unwrap(), qtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m
}

/// Sends raw bytes over UDP from `from` (an IP to bind) and waits for one reply.
pub fn udp_raw(server: SocketAddr, from: &str, bytes: &[u8], timeout: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind(format!("{from}:0")).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.send_to(bytes, server).unwrap();
    let mut buf = vec![0u8; 65_535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// One UDP exchange from 127.0.0.1; panics on timeout.
pub fn udp(server: SocketAddr, m: &Message) -> Message {
    udp_from(server, "127.0.0.1", m).expect("no UDP reply")
}

pub fn udp_from(server: SocketAddr, from: &str, m: &Message) -> Option<Message> {
    let reply = udp_raw(server, from, &m.to_vec().unwrap(), Duration::from_secs(5))?;
    Some(Message::from_vec(&reply).expect("reply decodes"))
}

/// One TCP exchange.
pub fn tcp(server: SocketAddr, m: &Message) -> Message {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let bytes = m.to_vec().unwrap();
    s.write_all(&(bytes.len() as u16).to_be_bytes()).unwrap();
    s.write_all(&bytes).unwrap();
    let mut len = [0u8; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).unwrap()
}

/// Runs `dig @server -p port ARGS +tries=1 +time=5`; returns stdout.
pub fn dig(server: SocketAddr, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.ip()))
        .arg("-p")
        .arg(server.port().to_string())
        .args(["+tries=1", "+time=5"])
        .args(args)
        .output()
        .expect("dig is installed (scripts/test installs bind9-dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The status word of dig's header line (NOERROR, NXDOMAIN, ...).
pub fn dig_status(out: &str) -> String {
    out.split("status: ").nth(1).and_then(|s| s.split(',').next()).unwrap_or("NONE").to_string()
}
