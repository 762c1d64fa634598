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

fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|e| panic!("bad DNS name {s:?}: {e}"));
    n.set_fqdn(true);
    n
}

fn key(n: &Name) -> String {
    let mut s = n.to_lowercase().to_ascii();
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

fn zone_apex() -> Name {
    name("test.")
}

/// The `hNNNNN.test` address of load name `i`.
pub fn load_name_ip(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 18, ((i / 250) % 256) as u8, (i % 250 + 1) as u8)
}

fn initial_zone() -> HashMap<String, Vec<Record>> {
    let mut z: HashMap<String, Vec<Record>> = HashMap::new();
    let mut add = |owner: &str, ttl: u32, data: RData| {
        let n = name(owner);
        z.entry(key(&n)).or_default().push(Record::from_rdata(n, ttl, data));
    };
    add("test.", 300, RData::NS(NS(name("ns.test."))));
    add("ns.test.", 300, RData::A(A(Ipv4Addr::LOCALHOST)));
    add("a.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 1))));
    add("multi.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 2))));
    add("multi.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 3))));
    add("v6.test.", 300, RData::AAAA(AAAA(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))));
    add("txt.test.", 300, RData::TXT(TXT::new(vec!["hello world".to_string()])));
    add("mx.test.", 300, RData::MX(MX::new(10, name("mail.test."))));
    add("mail.test.", 300, RData::A(A(Ipv4Addr::new(192, 0, 2, 25))));
    add("srv.test.", 300, RData::SRV(SRV::new(10, 5, 5060, name("a.test."))));
    add("cname.test.", 300, RData::CNAME(CNAME(name("a.test."))));
    add("short.test.", 2, RData::A(A(Ipv4Addr::new(192, 0, 2, 9))));
    for i in 0..24 {
        let text = format!("{i:02}-{}", "x".repeat(97));
        add("big.test.", 300, RData::TXT(TXT::new(vec![text])));
    }
    z
}

fn soa_record() -> Record {
    Record::from_rdata(
        zone_apex(),
        SOA_TTL,
        RData::SOA(SOA::new(name("ns.test."), name("hostmaster.test."), 1, 3600, 600, 86400, SOA_TTL)),
    )
}

/// `hNNNNN.test.` with NNNNN < 10000 -> its index.
fn load_index(k: &str) -> Option<u32> {
    let digits = k.strip_prefix('h')?.strip_suffix(".test.")?;
    if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|i| *i < LOAD_NAMES)
}

impl Shared {
    fn lookup(&self, n: &Name) -> Option<Vec<Record>> {
        let k = key(n);
        if k == "test." {
            let mut v = self.zone.lock().unwrap().get(&k).cloned().unwrap_or_default();
            v.push(self.soa.clone());
            return Some(v);
        }
        if let Some(v) = self.zone.lock().unwrap().get(&k) {
            return Some(v.clone());
        }
        load_index(&k).map(|i| vec![Record::from_rdata(n.clone(), 86400, RData::A(A(load_name_ip(i))))])
    }

    /// Fills answers/authorities and the rcode for one question.
    fn resolve(&self, q: &Query, resp: &mut Message) {
        let apex = zone_apex();
        // Outside `test.` only the names a test gave records (a forward zone's PTRs) exist.
        if !apex.zone_of(q.name()) && !self.zone.lock().unwrap().contains_key(&key(q.name())) {
            resp.metadata.response_code = ResponseCode::Refused;
            resp.metadata.authoritative = false;
            return;
        }
        let qtype = q.query_type();
        let mut current = q.name().clone();
        for hop in 0..8 {
            let Some(rrs) = self.lookup(&current) else {
                resp.metadata.response_code = ResponseCode::NXDomain;
                resp.authorities.push(self.soa.clone());
                return;
            };
            let matching: Vec<Record> = rrs
                .iter()
                .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                .map(|r| {
                    // owner as asked (case and all), as servers do
                    let mut r = r.clone();
                    r.name = current.clone();
                    r
                })
                .collect();
            if !matching.is_empty() {
                resp.answers.extend(matching);
                return;
            }
            let cname = rrs.iter().find_map(|r| match &r.data {
                RData::CNAME(c) => Some((r.clone(), c.0.clone())),
                _ => None,
            });
            match cname {
                Some((mut rec, target)) if hop < 7 => {
                    rec.name = current.clone();
                    resp.answers.push(rec);
                    if !apex.zone_of(&target) {
                        return;
                    }
                    current = target;
                }
                _ => {
                    resp.authorities.push(self.soa.clone());
                    return;
                }
            }
        }
    }

    /// Builds the answer to one wire query, or `None` to send nothing. Over UDP (`udp`),
    /// answers over 512 bytes, or over the query's EDNS payload size, are truncated (TC=1).
    fn answer(&self, query: &[u8], transport: Transport, udp: bool) -> Option<Vec<u8>> {
        if self.stopped.load(Ordering::SeqCst) {
            return None;
        }
        self.counts[transport as usize].fetch_add(1, Ordering::Relaxed);
        let req = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) => {
                if query.len() < 12 {
                    return None;
                }
                // FORMERR with the ID and opcode copied
                let mut out = query[..12].to_vec();
                out[2] = (out[2] & 0x78) | 0x80;
                out[3] = 1;
                out[4..12].fill(0);
                return Some(out);
            }
        };
        if req.metadata.message_type != MessageType::Query {
            return None;
        }
        {
            let mut log = self.log.lock().unwrap();
            if log.len() >= LOG_CAP {
                log.pop_front();
            }
            let q = req.queries.first();
            log.push_back(Received {
                transport,
                id: req.metadata.id,
                name: q.map(|q| q.name().to_ascii()).unwrap_or_default(),
                qtype: q.map(|q| q.query_type()).unwrap_or(RecordType::Unknown(0)),
                edns_payload: req.edns.as_ref().map(|e| e.max_payload()),
                dnssec_ok: req.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
                recursion_desired: req.metadata.recursion_desired,
            });
        }
        let mode = *self.mode.lock().unwrap();
        if mode == Mode::Drop {
            return None;
        }
        let mut resp = Message::response(req.metadata.id, req.metadata.op_code);
        resp.metadata.authoritative = true;
        resp.metadata.recursion_desired = req.metadata.recursion_desired;
        resp.metadata.checking_disabled = req.metadata.checking_disabled;
        resp.queries = req.queries.clone();
        if req.edns.is_some() {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            resp.set_edns(e);
        }
        if req.metadata.op_code != OpCode::Query {
            resp.metadata.response_code = ResponseCode::NotImp;
        } else if req.queries.len() != 1 {
            resp.metadata.response_code = ResponseCode::FormErr;
        } else if req.queries[0].query_class() == DNSClass::CH {
            // Tells its identity to any CH query, as a BIND or an unbound left at defaults does.
            let mut r =
                Record::from_rdata(req.queries[0].name().clone(), 0, RData::TXT(TXT::new(vec![CH_IDENTITY.into()])));
            r.dns_class = DNSClass::CH;
            resp.answers.push(r);
        } else if req.queries[0].query_class() != DNSClass::IN {
            resp.metadata.response_code = ResponseCode::Refused;
        } else if mode == Mode::Servfail {
            resp.metadata.response_code = ResponseCode::ServFail;
        } else {
            self.resolve(&req.queries[0], &mut resp);
        }
        match mode {
            Mode::WrongId => resp.metadata.id = req.metadata.id.wrapping_add(1),
            Mode::WrongQuestion => {
                let qt = req.queries.first().map(|q| q.query_type()).unwrap_or(RecordType::A);
                resp.queries = vec![Query::query(name("wrong-question.test."), qt)];
            }
            _ => {}
        }
        let mut out = resp.to_vec().ok()?;
        if udp {
            let limit = req.edns.as_ref().map(|e| e.max_payload().max(512)).unwrap_or(512) as usize;
            if out.len() > limit {
                resp.answers.clear();
                resp.authorities.clear();
                resp.additionals.clear();
                resp.metadata.truncation = true;
                out = resp.to_vec().ok()?;
            }
        }
        Some(out)
    }

    fn delay(&self) -> Duration {
        Duration::from_millis(self.delay_ms.load(Ordering::Relaxed))
    }
}

fn tmp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "ravens-test-upstream-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("create temp dir");
    d
}

struct Pki {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn make_pki(ip: IpAddr) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "ravens test CA");
    ca_params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut sans = vec![TLS_NAME.to_string(), "127.0.0.1".to_string()];
    if ip != IpAddr::V4(Ipv4Addr::LOCALHOST) {
        sans.push(ip.to_string());
    }
    let mut params = CertificateParams::new(sans).unwrap();
    params.distinguished_name.push(DnType::CommonName, TLS_NAME);
    params.use_authority_key_identifier_extension = true;
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    Pki {
        ca_pem: ca_cert.pem(),
        ca_der: ca_cert.der().clone(),
        chain: vec![cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn server_tls(pki: &Pki, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
        .expect("server certificate");
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(cfg)
}

/// Binds UDP on `ip:0` and TCP on the same port.
async fn bind_udp_tcp(ip: IpAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no port")))
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

async fn udp_loop(sock: Arc<UdpSocket>, sh: Arc<Shared>) {
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

async fn stream_accept_loop(l: TcpListener, tls: Option<TlsAcceptor>, transport: Transport, sh: Arc<Shared>) {
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
async fn serve_stream<S>(s: S, transport: Transport, sh: Arc<Shared>)
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

async fn doh_accept_loop(l: TcpListener, acc: TlsAcceptor, sh: Arc<Shared>) {
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

async fn serve_h2(s: TcpStream, acc: TlsAcceptor, sh: Arc<Shared>) {
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

fn doh_status(mut respond: h2::server::SendResponse<Bytes>, status: u16) {
    let resp = http::Response::builder().status(status).body(()).unwrap();
    let _ = respond.send_response(resp, true);
}

async fn doh_request(
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

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

fn client_tls_for(ca: &CertificateDer<'static>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
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

/// Small DNS clients for tests (of this server or of ravensd). Every call is bounded by
/// `timeout` and returns an error rather than hanging.
pub mod client {
    use super::*;

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
}
