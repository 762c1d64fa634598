//! The test upstream's listeners: UDP, TCP and DoT streams, DoH over HTTP/2.

use super::*;

pub(super) async fn udp_loop(sock: Arc<UdpSocket>, sh: Arc<Shared>) {
    let mut buf = vec![0u8; 65535];
    loop {
        let (n, peer) = tokio::select! {
            _ = sh.cancel.cancelled() => return,
            r = sock.recv_from(&mut buf) => match r {
                Ok(v) => v,
                Err(_) => continue, // e.g. ICMP errors surfacing on Linux
            },
        };
        let delay = sh.delay();
        if delay.is_zero() {
            if let Some(out) = sh.answer(&buf[..n], Transport::Udp, true) {
                let _ = sock.send_to(&out, peer).await;
            }
        } else {
            let (sock, sh2, q) = (sock.clone(), sh.clone(), buf[..n].to_vec());
            sh.tracker.spawn(async move {
                let Some(out) = sh2.answer(&q, Transport::Udp, true) else { return };
                tokio::select! {
                    _ = sh2.cancel.cancelled() => {}
                    _ = tokio::time::sleep(delay) => {
                        if !sh2.stopped.load(Ordering::SeqCst) {
                            let _ = sock.send_to(&out, peer).await;
                        }
                    }
                }
            });
        }
    }
}

pub(super) async fn stream_accept_loop(
    l: TcpListener,
    tls: Option<TlsAcceptor>,
    transport: Transport,
    sh: Arc<Shared>,
) {
    loop {
        let (s, _) = tokio::select! {
            _ = sh.cancel.cancelled() => return,
            r = l.accept() => match r { Ok(v) => v, Err(_) => continue },
        };
        let sh2 = sh.clone();
        let tls = tls.clone();
        sh.tracker.spawn(async move {
            let _ = s.set_nodelay(true);
            match tls {
                None => serve_stream(s, transport, sh2).await,
                Some(acc) => {
                    let hs = tokio::select! {
                        _ = sh2.cancel.cancelled() => return,
                        r = tokio::time::timeout(Duration::from_secs(10), acc.accept(s)) => r,
                    };
                    if let Ok(Ok(t)) = hs {
                        serve_stream(t, transport, sh2).await;
                    }
                }
            }
        });
    }
}

/// RFC 7766 / 7858 framing; queries answered concurrently (out of order when delayed).
pub(super) async fn serve_stream<S>(s: S, transport: Transport, sh: Arc<Shared>)
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(s);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let cancel = sh.cancel.clone();
    let writer = async move {
        while let Some(m) = rx.recv().await {
            let mut framed = Vec::with_capacity(m.len() + 2);
            framed.extend_from_slice(&(m.len() as u16).to_be_bytes());
            framed.extend_from_slice(&m);
            if wr.write_all(&framed).await.is_err() {
                break;
            }
        }
        let _ = wr.shutdown().await;
    };
    let sh_r = sh.clone();
    let reader = async move {
        loop {
            let mut len = [0u8; 2];
            if rd.read_exact(&mut len).await.is_err() {
                break;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if rd.read_exact(&mut q).await.is_err() {
                break;
            }
            let delay = sh_r.delay();
            if delay.is_zero() {
                if let Some(out) = sh_r.answer(&q, transport, false) {
                    let _ = tx.send(out);
                }
            } else {
                let (tx, sh3) = (tx.clone(), sh_r.clone());
                sh_r.tracker.spawn(async move {
                    let Some(out) = sh3.answer(&q, transport, false) else { return };
                    tokio::select! {
                        _ = sh3.cancel.cancelled() => {}
                        _ = tokio::time::sleep(delay) => { let _ = tx.send(out); }
                    }
                });
            }
        }
        // client closed its side: keep the writer until pending (delayed) answers are out
        drop(tx);
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = cancel.cancelled() => {}
        _ = writer => {}
        _ = reader => {}
    }
}

pub(super) async fn doh_accept_loop(l: TcpListener, acc: TlsAcceptor, sh: Arc<Shared>) {
    loop {
        let (s, _) = tokio::select! {
            _ = sh.cancel.cancelled() => return,
            r = l.accept() => match r { Ok(v) => v, Err(_) => continue },
        };
        let (sh2, acc) = (sh.clone(), acc.clone());
        sh.tracker.spawn(async move {
            let _ = s.set_nodelay(true);
            let cancel = sh2.cancel.clone();
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = serve_h2(s, acc, sh2) => {}
            }
        });
    }
}

pub(super) async fn serve_h2(s: TcpStream, acc: TlsAcceptor, sh: Arc<Shared>) {
    let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acc.accept(s)).await else { return };
    let Ok(mut conn) = h2::server::handshake(tls).await else { return };
    while let Some(req) = conn.accept().await {
        let Ok((req, respond)) = req else { break };
        let sh2 = sh.clone();
        sh.tracker.spawn(async move {
            let cancel = sh2.cancel.clone();
            tokio::select! {
                _ = cancel.cancelled() => {}
                _ = doh_request(req, respond, sh2) => {}
            }
        });
    }
}

pub(super) fn doh_status(mut respond: h2::server::SendResponse<Bytes>, status: u16) {
    let resp = http::Response::builder().status(status).body(()).unwrap();
    let _ = respond.send_response(resp, true);
}

pub(super) async fn doh_request(
    req: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    sh: Arc<Shared>,
) {
    let (parts, mut body) = req.into_parts();
    if parts.uri.path() != DOH_PATH {
        return doh_status(respond, 404);
    }
    let query = match parts.method {
        http::Method::POST => {
            let ct = parts.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
            if ct != Some("application/dns-message") {
                return doh_status(respond, 415);
            }
            let mut buf = Vec::new();
            while let Some(chunk) = body.data().await {
                let Ok(chunk) = chunk else { return };
                let _ = body.flow_control().release_capacity(chunk.len());
                buf.extend_from_slice(&chunk);
                if buf.len() > 65535 {
                    return doh_status(respond, 413);
                }
            }
            buf
        }
        http::Method::GET => {
            let param = parts
                .uri
                .query()
                .unwrap_or("")
                .split('&')
                .find_map(|kv| kv.strip_prefix("dns="))
                .and_then(base64url_decode);
            match param {
                Some(q) => q,
                None => return doh_status(respond, 400),
            }
        }
        _ => return doh_status(respond, 405),
    };
    let Some(out) = sh.answer(&query, Transport::Doh, false) else {
        // Mode::Drop: leave the stream hanging until stop
        sh.cancel.cancelled().await;
        drop(respond);
        return;
    };
    let delay = sh.delay();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let resp = http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/dns-message")
        .header(http::header::CONTENT_LENGTH, out.len())
        .body(())
        .unwrap();
    if let Ok(mut send) = respond.send_response(resp, false) {
        let _ = send.send_data(Bytes::from(out), true);
    }
}
