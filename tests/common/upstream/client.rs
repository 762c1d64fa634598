//! Small DNS clients for tests (of this server or of ravensd). Every call is bounded by
//! `timeout` and returns an error rather than hanging.

use super::*;

pub(super) const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5), as DoH GET uses.
pub fn base64url_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url, padding optional; `None` if malformed.
pub fn base64url_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = B64URL.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (bits < 6).then_some(out)
}

pub(super) fn client_tls_for(ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.clone()).expect("add test CA");
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// A query for `name`/`qtype` with RD set and a random ID.
pub fn query(qname: &str, qtype: RecordType) -> Message {
    let mut m = Message::query();
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(qname), qtype));
    m
}

/// The same with an EDNS OPT record advertising `payload`.
pub fn query_edns(qname: &str, qtype: RecordType, payload: u16) -> Message {
    let mut m = query(qname, qtype);
    let mut e = Edns::new();
    e.set_max_payload(payload);
    m.set_edns(e);
    m
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "DNS query timed out")
}

fn decode(b: &[u8]) -> io::Result<Message> {
    Message::from_vec(b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

fn encode(m: &Message) -> io::Result<Vec<u8>> {
    m.to_vec().map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

/// One UDP exchange; returns the first datagram received, whatever its ID (so tests can
/// see wrong IDs).
pub async fn udp(server: SocketAddr, m: &Message, timeout: Duration) -> io::Result<Message> {
    let bind = if server.is_ipv4() { "127.0.0.1:0" } else { "[::1]:0" };
    let s = UdpSocket::bind(bind).await?;
    s.connect(server).await?;
    s.send(&encode(m)?).await?;
    let mut buf = vec![0u8; 65535];
    let n = tokio::time::timeout(timeout, s.recv(&mut buf)).await.map_err(|_| timed_out())??;
    decode(&buf[..n])
}

async fn stream_exchange<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, m: &Message) -> io::Result<Message> {
    let q = encode(m)?;
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    s.write_all(&framed).await?;
    s.flush().await?;
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await?;
    decode(&buf)
}

/// One TCP exchange on a new connection.
pub async fn tcp(server: SocketAddr, m: &Message, timeout: Duration) -> io::Result<Message> {
    tokio::time::timeout(timeout, async {
        let mut s = TcpStream::connect(server).await?;
        stream_exchange(&mut s, m).await
    })
    .await
    .map_err(|_| timed_out())?
}

/// One DoT exchange on a new connection; `tls_name` is checked against the certificate.
pub async fn dot(
    server: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    tls_name: &str,
    m: &Message,
    timeout: Duration,
) -> io::Result<Message> {
    let sni = ServerName::try_from(tls_name.to_string()).map_err(|e| io::Error::other(e.to_string()))?;
    tokio::time::timeout(timeout, async {
        let tcp = TcpStream::connect(server).await?;
        let mut s = TlsConnector::from(tls).connect(sni, tcp).await?;
        stream_exchange(&mut s, m).await
    })
    .await
    .map_err(|_| timed_out())?
}

/// One DoH exchange (HTTP/2) on a new connection, POST or GET; returns the HTTP status
/// and, for 200, the decoded answer.
pub async fn doh(
    server: SocketAddr,
    tls: Arc<rustls::ClientConfig>,
    tls_name: &str,
    m: &Message,
    get: bool,
    timeout: Duration,
) -> io::Result<(u16, Option<Message>)> {
    let sni = ServerName::try_from(tls_name.to_string()).map_err(|e| io::Error::other(e.to_string()))?;
    let q = encode(m)?;
    let h2err = |e: h2::Error| io::Error::other(e.to_string());
    tokio::time::timeout(timeout, async {
        let tcp = TcpStream::connect(server).await?;
        let s = TlsConnector::from(tls).connect(sni, tcp).await?;
        let (mut h2c, conn) = h2::client::handshake(s).await.map_err(h2err)?;
        let driver = tokio::spawn(async move {
            let _ = conn.await;
        });
        let authority = format!("{tls_name}:{}", server.port());
        let builder = http::Request::builder().header(http::header::ACCEPT, "application/dns-message");
        let req = if get {
            builder
                .method(http::Method::GET)
                .uri(format!("https://{authority}{DOH_PATH}?dns={}", base64url_encode(&q)))
                .body(())
        } else {
            builder
                .method(http::Method::POST)
                .uri(format!("https://{authority}{DOH_PATH}"))
                .header(http::header::CONTENT_TYPE, "application/dns-message")
                .body(())
        }
        .map_err(|e| io::Error::other(e.to_string()))?;
        let (resp, mut send) = h2c.send_request(req, get).map_err(h2err)?;
        if !get {
            send.send_data(Bytes::from(q), true).map_err(h2err)?;
        }
        let resp = resp.await.map_err(h2err)?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.map_err(h2err)?;
            let _ = body.flow_control().release_capacity(chunk.len());
            buf.extend_from_slice(&chunk);
        }
        driver.abort();
        let msg = if status == 200 { Some(decode(&buf)?) } else { None };
        Ok((status, msg))
    })
    .await
    .map_err(|_| timed_out())?
}
