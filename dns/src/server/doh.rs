//! DNS over HTTPS listener (RFC 8484): HTTP/2 and HTTP/1.1 over TLS (ALPN), GET and POST
//! on `node.doh_path`, the same resolver (groups, ACL, rate limits and the query log see the
//! peer's address) and the same connection caps as DNS over TCP. A connection with no
//! request in flight for the idle timeout is closed, as is one whose handshake takes longer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::time::timeout;
use tokio_util::sync::CancellationToken;

use super::doh_request::{self, DNS_MESSAGE, MAX_MESSAGE, Refusal};
use super::tcp::{Limits, accept_loop};
use crate::pipeline::{Resolver, Step, Transport};

/// What every connection of one listener shares.
struct Site {
    resolver: Arc<Resolver>,
    path: String,
}

/// Accepts connections until cancelled.
pub async fn serve(
    listener: TcpListener,
    resolver: Arc<Resolver>,
    path: String,
    limits: Limits,
    tls: tokio_rustls::TlsAcceptor,
    cancel: CancellationToken,
) {
    let site = Arc::new(Site { resolver: Arc::clone(&resolver), path });
    accept_loop(listener, &resolver, limits, "dns-https", cancel, move |stream, src, cancel| {
        let (site, tls) = (Arc::clone(&site), tls.clone());
        async move {
            if let Some(stream) = super::tls::handshake(&tls, stream, src, limits.idle).await {
                connection(TokioIo::new(stream), src, site, limits.idle, cancel).await;
            }
        }
    })
    .await;
}

async fn connection<I>(io: I, src: SocketAddr, site: Arc<Site>, idle: Duration, cancel: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let busy = Arc::new(AtomicUsize::new(0));
    let svc_busy = Arc::clone(&busy);
    let service = hyper::service::service_fn(move |req| {
        let (site, busy) = (Arc::clone(&site), Arc::clone(&svc_busy));
        async move {
            busy.fetch_add(1, Ordering::Relaxed);
            let resp = answer(req, src, &site).await;
            busy.fetch_sub(1, Ordering::Relaxed);
            Ok::<_, Infallible>(resp)
        }
    });
    let mut http = auto::Builder::new(TokioExecutor::new());
    http.http1().timer(TokioTimer::new()).header_read_timeout(idle);
    http.http2().timer(TokioTimer::new()).max_concurrent_streams(32);
    let conn = http.serve_connection(io, service);
    let mut conn = std::pin::pin!(conn);
    let mut quiet = 0u32;
    let tick = idle / 4;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(client = %src, "DoH connection closed: {e}");
                }
                return;
            }
            _ = cancel.cancelled() => break,
            _ = tokio::time::sleep(tick) => {
                // Idle: no request in flight for four ticks in a row.
                quiet = if busy.load(Ordering::Relaxed) == 0 { quiet + 1 } else { 0 };
                if quiet >= 4 {
                    break;
                }
            }
        }
    }
    conn.as_mut().graceful_shutdown();
    let _ = timeout(idle, conn).await;
}

/// One HTTP request → its HTTP response.
async fn answer(req: Request<Incoming>, src: SocketAddr, site: &Site) -> Response<Full<Bytes>> {
    if req.uri().path() != site.path {
        return refused(Refusal { status: 404, why: "DNS queries are served on another path" });
    }
    let method = req.method().as_str().to_string();
    let query = req.uri().query().map(str::to_string);
    let ctype = req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = if method == "POST" {
        match Limited::new(req.into_body(), MAX_MESSAGE).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return refused(Refusal { status: 413, why: "the body is longer than any DNS message" }),
        }
    } else {
        Bytes::new()
    };
    let msg = match doh_request::decode(&method, query.as_deref(), ctype.as_deref(), &body) {
        Ok(m) => m,
        Err(r) => return refused(r),
    };
    let resolver = &site.resolver;
    let mut out = Vec::with_capacity(512);
    let reply = match resolver.handle(&msg, src, Transport::Tcp, &mut out) {
        Step::Reply => out,
        Step::Forward(p) => resolver.forward(p).await,
        // Malformed, a response, or over the rate limit with the drop action.
        Step::Drop => {
            return refused(Refusal { status: 400, why: "the query was dropped (malformed or rate-limited)" });
        }
    };
    let age = doh_request::max_age(&reply);
    let mut resp = Response::new(Full::new(Bytes::from(reply)));
    let h = resp.headers_mut();
    h.insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static(DNS_MESSAGE));
    h.insert(CACHE_CONTROL, format!("max-age={age}").parse().expect("digits are a valid header value"));
    resp
}

fn refused(r: Refusal) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(format!("{}\n", r.why))));
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    resp.headers_mut().insert(CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"));
    resp
}
