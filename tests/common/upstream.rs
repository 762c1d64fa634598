//! In-process authoritative DNS server used as the upstream of integration tests.
//!
//! [`TestUpstream`] serves the made-up zone `test.` over UDP and TCP (one shared port), DoT
//! (RFC 7858) and DoH (RFC 8484, HTTP/2 over TLS, POST and GET) on loopback, with a test CA
//! generated at start whose PEM is written to [`TestUpstream::ca_file`]. It runs as tasks of
//! the caller's tokio runtime and has knobs to misbehave ([`Mode`], [`TestUpstream::set_delay`],
//! [`TestUpstream::stop`]) so that forwarders can be tested against it.
//!
//! ```ignore
//! let up = TestUpstream::start().await;
//! let cfg = format!("[dns]\nupstreams = [\"{}\"]\nupstream_ca_file = \"{}\"\n",
//!                   up.tls_url(), up.ca_file.display());
//! // ... start ravensd, query it ...
//! assert_eq!(up.queries().dot, 1);
//! up.set_mode(Mode::Servfail);
//! up.stop().await;
//! ```
//!
//! Zone `test.` (SOA `ns.test. hostmaster.test. 1 3600 600 86400 60`, TTL 60):
//!
//! | name | records |
//! |---|---|
//! | `a.test` | A 192.0.2.1, TTL 300 |
//! | `multi.test` | A 192.0.2.2, A 192.0.2.3 |
//! | `v6.test` | AAAA 2001:db8::1 |
//! | `txt.test` | TXT "hello world" |
//! | `mx.test` | MX 10 mail.test (`mail.test` A 192.0.2.25) |
//! | `srv.test` | SRV 10 5 5060 a.test |
//! | `cname.test` | CNAME a.test (answers carry the chain) |
//! | `big.test` | 24 TXT records, about 2.7 KB in all: over 1500 bytes, truncated over UDP |
//! | `short.test` | A 192.0.2.9, TTL 2 |
//! | `h00000.test` .. `h09999.test` | A 198.18.(i/250).(i%250+1), TTL 86400 (as the bench zone) |
//!
//! Unknown names under `test.` get NXDOMAIN with the SOA in authority; existing names asked
//! for another type get NODATA (NOERROR, SOA in authority); names outside `test.` get REFUSED
//! unless the test gave them records (`set_records`: a forward zone's names and PTRs).
//! Any class CH query gets TXT [`CH_IDENTITY`] (as an unhidden BIND or unbound would).
//! Every answer has AA set; RD is copied; RA is clear.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, SRV, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub mod client;
mod pki;
mod serve;
pub mod zone;

use client::{base64url_decode, client_tls_for};
use pki::*;
use serve::*;
use zone::*;

/// DNS name of the test server in its certificate (the IP it listens on is a SAN too).
pub const TLS_NAME: &str = "dns.test";
/// DoH request path.
pub const DOH_PATH: &str = "/dns-query";
/// Negative TTL: SOA TTL and SOA minimum.
pub const SOA_TTL: u32 = 60;
/// The TXT it answers to every class CH query (`version.bind`, `id.server`, ...).
pub const CH_IDENTITY: &str = "test-upstream";
/// Number of the `hNNNNN.test` load names.
pub const LOAD_NAMES: u32 = 10_000;

/// How the server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Correct answers.
    #[default]
    Normal,
    /// SERVFAIL to every query (question echoed, no records).
    Servfail,
    /// Counts the query and never answers (TCP/DoT connections stay open, DoH streams hang).
    Drop,
    /// Correct answer with the message ID plus one.
    WrongId,
    /// Correct records, but the question section names `wrong-question.test.`.
    WrongQuestion,
}

/// Transport a query arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Udp,
    Tcp,
    Dot,
    Doh,
}

/// Queries received per transport (counted on receipt, whatever the mode; not after stop).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryCounts {
    pub udp: u64,
    pub tcp: u64,
    pub dot: u64,
    pub doh: u64,
}

impl QueryCounts {
    pub fn total(&self) -> u64 {
        self.udp + self.tcp + self.dot + self.doh
    }
}

/// One received query, as logged (the last [`LOG_CAP`] are kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub transport: Transport,
    pub id: u16,
    /// Question name as sent (case preserved), e.g. `a.test.`.
    pub name: String,
    pub qtype: RecordType,
    /// EDNS payload size, if the query had an OPT record.
    pub edns_payload: Option<u16>,
    pub dnssec_ok: bool,
    pub recursion_desired: bool,
}

/// How many [`Received`] entries are kept.
pub const LOG_CAP: usize = 4096;

struct Shared {
    zone: Mutex<HashMap<String, Vec<Record>>>,
    counts: [AtomicU64; 4],
    mode: Mutex<Mode>,
    delay_ms: AtomicU64,
    stopped: AtomicBool,
    log: Mutex<VecDeque<Received>>,
    soa: Record,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

/// The in-process upstream. Dropping it stops it (without waiting) and removes its temp dir.
pub struct TestUpstream {
    /// UDP address.
    pub udp: SocketAddr,
    /// TCP address: the same IP and port as `udp`, as a forwarder's TC fallback expects.
    pub tcp: SocketAddr,
    /// DNS over TLS address.
    pub dot: SocketAddr,
    /// DNS over HTTPS address (path [`DOH_PATH`]).
    pub doh: SocketAddr,
    /// PEM file of the test CA that signed the server certificate (for `upstream_ca_file`).
    pub ca_file: PathBuf,
    /// The same CA certificate, PEM text.
    pub ca_pem: String,
    /// The same CA certificate, DER.
    pub ca_der: CertificateDer<'static>,
    dir: PathBuf,
    shared: Arc<Shared>,
    /// Own runtime of an upstream made by [`TestUpstream::start_background`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for TestUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestUpstream")
            .field("udp", &self.udp)
            .field("dot", &self.dot)
            .field("doh", &self.doh)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl TestUpstream {
    /// Starts on 127.0.0.1 (ephemeral ports).
    pub async fn start() -> TestUpstream {
        Self::start_at(IpAddr::V4(Ipv4Addr::LOCALHOST)).await
    }

    /// Starts on `ip` (any 127.x address works on Linux without setup), ephemeral ports.
    /// Panics if it cannot bind.
    pub async fn start_at(ip: IpAddr) -> TestUpstream {
        let dir = tmp_dir();
        let pki = make_pki(ip);
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, &pki.ca_pem).expect("write CA file");

        let (udp, tcp) = bind_udp_tcp(ip).await.expect("bind UDP+TCP");
        let dot = TcpListener::bind(SocketAddr::new(ip, 0)).await.expect("bind DoT");
        let doh = TcpListener::bind(SocketAddr::new(ip, 0)).await.expect("bind DoH");
        let shared = Arc::new(Shared {
            zone: Mutex::new(initial_zone()),
            counts: Default::default(),
            mode: Mutex::new(Mode::Normal),
            delay_ms: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            log: Mutex::new(VecDeque::new()),
            soa: soa_record(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        });
        let up = TestUpstream {
            udp: udp.local_addr().unwrap(),
            tcp: tcp.local_addr().unwrap(),
            dot: dot.local_addr().unwrap(),
            doh: doh.local_addr().unwrap(),
            ca_file,
            ca_pem: pki.ca_pem.clone(),
            ca_der: pki.ca_der.clone(),
            dir,
            shared: shared.clone(),
            runtime: None,
        };
        let t = &shared.tracker;
        t.spawn(udp_loop(Arc::new(udp), shared.clone()));
        t.spawn(stream_accept_loop(tcp, None, Transport::Tcp, shared.clone()));
        t.spawn(stream_accept_loop(
            dot,
            Some(TlsAcceptor::from(server_tls(&pki, &[]))),
            Transport::Dot,
            shared.clone(),
        ));
        t.spawn(doh_accept_loop(doh, TlsAcceptor::from(server_tls(&pki, &[b"h2"])), shared.clone()));
        up
    }

    /// `udp://IP:PORT`
    pub fn udp_url(&self) -> String {
        format!("udp://{}", self.udp)
    }
    /// `tcp://IP:PORT`
    pub fn tcp_url(&self) -> String {
        format!("tcp://{}", self.tcp)
    }
    /// `tls://IP:PORT#dns.test`
    pub fn tls_url(&self) -> String {
        format!("tls://{}#{TLS_NAME}", self.dot)
    }
    /// `https://IP:PORT/dns-query` (the certificate has the IP as a SAN).
    pub fn https_url(&self) -> String {
        format!("https://{}{DOH_PATH}", self.doh)
    }
    /// `https://dns.test:PORT/dns-query#IP` (name checked against the certificate, IP bootstrap).
    pub fn https_url_named(&self) -> String {
        format!("https://{TLS_NAME}:{}{DOH_PATH}#{}", self.doh.port(), self.doh.ip())
    }

    /// Queries received so far, per transport.
    pub fn queries(&self) -> QueryCounts {
        let c = &self.shared.counts;
        QueryCounts {
            udp: c[Transport::Udp as usize].load(Ordering::Relaxed),
            tcp: c[Transport::Tcp as usize].load(Ordering::Relaxed),
            dot: c[Transport::Dot as usize].load(Ordering::Relaxed),
            doh: c[Transport::Doh as usize].load(Ordering::Relaxed),
        }
    }

    /// Sets every counter back to 0 and clears the log.
    pub fn reset_queries(&self) {
        for c in &self.shared.counts {
            c.store(0, Ordering::Relaxed);
        }
        self.shared.log.lock().unwrap().clear();
    }

    /// The last [`LOG_CAP`] queries received, oldest first.
    pub fn received(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().iter().cloned().collect()
    }

    /// Delays every answer by `d` (per query; other queries are not held up).
    pub fn set_delay(&self, d: Duration) {
        self.shared.delay_ms.store(d.as_millis() as u64, Ordering::Relaxed);
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn mode(&self) -> Mode {
        *self.shared.mode.lock().unwrap()
    }

    /// Replaces the A records of `name` (e.g. `"new.test"`) with one A record.
    pub fn set_a(&self, name: &str, ip: Ipv4Addr, ttl: u32) {
        self.set_records(name, RecordType::A, vec![RData::A(A(ip))], ttl);
    }

    /// Replaces the AAAA records of `name` with one AAAA record.
    pub fn set_aaaa(&self, name: &str, ip: Ipv6Addr, ttl: u32) {
        self.set_records(name, RecordType::AAAA, vec![RData::AAAA(AAAA(ip))], ttl);
    }

    /// Makes `name` a CNAME to `target` (its other records are removed).
    pub fn set_cname(&self, name: &str, target: &str, ttl: u32) {
        self.remove(name);
        self.set_records(name, RecordType::CNAME, vec![RData::CNAME(CNAME(self::name(target)))], ttl);
    }

    /// Replaces the records of type `rtype` at `name` with `data` (empty: removes that type).
    pub fn set_records(&self, owner: &str, rtype: RecordType, data: Vec<RData>, ttl: u32) {
        let n = name(owner);
        let mut z = self.shared.zone.lock().unwrap();
        let v = z.entry(key(&n)).or_default();
        v.retain(|r| r.record_type() != rtype);
        v.extend(data.into_iter().map(|d| Record::from_rdata(n.clone(), ttl, d)));
        if v.is_empty() {
            z.remove(&key(&n));
        }
    }

    /// Adds one record (any type) to the zone.
    pub fn add_record(&self, record: Record) {
        let mut z = self.shared.zone.lock().unwrap();
        z.entry(key(&record.name)).or_default().push(record);
    }

    /// Removes every record of `name` (it then gets NXDOMAIN, unless it is a load name).
    pub fn remove(&self, owner: &str) {
        self.shared.zone.lock().unwrap().remove(&key(&name(owner)));
    }

    /// Stops answering at once and closes every listener and connection; returns when all
    /// sockets are closed (connections then get "refused", UDP queries go unanswered).
    pub async fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        self.shared.tracker.wait().await;
    }

    /// [`TestUpstream::stop`] for synchronous code (e.g. with [`TestUpstream::start_background`]):
    /// stops answering at once, then waits up to 5 s for every socket to close. Do not call it
    /// from a current-thread runtime that runs the server (its tasks could not run).
    pub fn stop_blocking(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.cancel.cancel();
        self.shared.tracker.close();
        let end = std::time::Instant::now() + Duration::from_secs(5);
        while !self.shared.tracker.is_empty() && std::time::Instant::now() < end {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Starts on `ip` in a runtime of its own (one worker thread), for tests that block their
    /// thread (std sockets, `std::process`) or have no runtime. May be called from anywhere,
    /// including inside another runtime. The runtime is shut down on drop.
    pub fn start_background(ip: IpAddr) -> TestUpstream {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("test-upstream")
                .enable_all()
                .build()
                .expect("test upstream runtime");
            let mut up = rt.block_on(Self::start_at(ip));
            up.runtime = Some(rt);
            up
        })
        .join()
        .expect("start test upstream")
    }

    /// True once [`TestUpstream::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::SeqCst)
    }

    /// A rustls client config trusting the test CA (ALPN set to `alpn`, e.g. `&[b"h2"]`).
    pub fn client_tls(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        client_tls_for(&self.ca_der, alpn)
    }

    /// Directory holding `ca.pem` (removed on drop).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for TestUpstream {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.cancel.cancel();
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
