//! The test upstream stopped, several at once on 127.x, the background variant for blocking
//! tests, and its base64url.

use super::*;

#[tokio::test]
async fn stop_closes_everything() {
    let up = TestUpstream::start().await;
    let q = client::query("a.test", RecordType::A);
    // an open idle TCP connection is closed by stop too
    let mut idle = tokio::net::TcpStream::connect(up.tcp).await.unwrap();
    assert!(client::udp(up.udp, &q, T).await.is_ok());
    up.stop().await;
    assert!(up.is_stopped());
    assert!(client::udp(up.udp, &q, SHORT).await.is_err());
    for addr in [up.tcp, up.dot, up.doh] {
        let e = tokio::net::TcpStream::connect(addr).await;
        assert_eq!(e.unwrap_err().kind(), std::io::ErrorKind::ConnectionRefused, "{addr}");
    }
    let mut b = [0u8; 1];
    let n = tokio::time::timeout(T, idle.read(&mut b)).await.unwrap().unwrap_or(0);
    assert_eq!(n, 0, "idle connection closed");
    assert_eq!(up.queries().udp, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_upstreams_on_127_x() {
    let a = TestUpstream::start_at(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))).await;
    let b = TestUpstream::start_at(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3))).await;
    assert_eq!(a.udp.ip(), IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)));
    b.set_mode(Mode::Servfail);
    let q = client::query("a.test", RecordType::A);
    assert_eq!(client::udp(a.udp, &q, T).await.unwrap().metadata.response_code, ResponseCode::NoError);
    assert_eq!(client::udp(b.udp, &q, T).await.unwrap().metadata.response_code, ResponseCode::ServFail);
    // certificate carries the 127.x IP as a SAN
    let m = client::dot(a.dot, a.client_tls(&[]), "127.0.0.2", &q, T).await.unwrap();
    assert_eq!(a_addrs(&m).len(), 1);
    assert!(a.tls_url().starts_with("tls://127.0.0.2:"));
    assert!(a.https_url().starts_with("https://127.0.0.2:"));
    assert!(a.https_url_named().ends_with("/dns-query#127.0.0.2"));
    assert_eq!(a.udp_url(), format!("udp://{}", a.udp));
    assert_eq!(a.tcp_url(), format!("tcp://{}", SocketAddr::new(a.udp.ip(), a.udp.port())));
    // both CA files are distinct and exist
    assert_ne!(a.ca_file, b.ca_file);
    assert!(a.ca_file.exists() && b.ca_file.exists());
    let dir = a.dir().to_path_buf();
    drop(a);
    assert!(!dir.exists(), "temp dir removed on drop");
}

#[tokio::test]
async fn load_names_answer_fast() {
    let up = TestUpstream::start().await;
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.connect(up.udp).await.unwrap();
    let mut buf = vec![0u8; 2048];
    for i in (0..10_000).step_by(97) {
        let q = client::query(&format!("h{i:05}.test"), RecordType::A);
        sock.send(&q.to_vec().unwrap()).await.unwrap();
        let n = tokio::time::timeout(T, sock.recv(&mut buf)).await.unwrap().unwrap();
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.id, q.metadata.id);
        assert_eq!(a_addrs(&m), vec![common::upstream::zone::load_name_ip(i)]);
    }
}

/// A test without a runtime of its own: blocking std sockets against the background upstream.
#[test]
fn background_upstream_for_blocking_tests() {
    let up = TestUpstream::start_background(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4)));
    let q = client::query("multi.test", RecordType::A);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(T)).unwrap();
    sock.send_to(&q.to_vec().unwrap(), up.udp).unwrap();
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    let m = Message::from_vec(&buf[..n]).unwrap();
    assert_eq!(a_addrs(&m).len(), 2);
    assert_eq!(up.queries().udp, 1);
    up.stop_blocking();
    assert!(std::net::TcpStream::connect(up.tcp).is_err(), "closed after stop_blocking");
    sock.set_read_timeout(Some(SHORT)).unwrap();
    sock.send_to(&q.to_vec().unwrap(), up.udp).unwrap();
    assert!(sock.recv_from(&mut buf).is_err());
}

/// The background variant can be made from inside a runtime too, and dropped there.
#[tokio::test]
async fn background_upstream_inside_a_runtime() {
    let up = TestUpstream::start_background(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let m = client::tcp(up.tcp, &client::query("a.test", RecordType::A), T).await.unwrap();
    assert_eq!(a_addrs(&m).len(), 1);
    drop(up);
}

#[test]
fn base64url_round_trip() {
    use common::upstream::client::{base64url_decode, base64url_encode};
    for len in 0..40 {
        let data: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let e = base64url_encode(&data);
        assert!(!e.contains('=') && !e.contains('+') && !e.contains('/'));
        assert_eq!(base64url_decode(&e).unwrap(), data);
    }
    // RFC 8484 example query
    let q = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlA2NvbQAAAQAB";
    assert_eq!(base64url_decode(q).unwrap().len(), 33);
    assert!(base64url_decode("a").is_none());
}
