//! DNS over TLS and DNS over HTTPS for clients (issue 15 part 4), with real clients: `kdig
//! +tls` and `kdig +https` (knot-dnsutils), `curl --http2`. The certificate is made here
//! (rcgen) for `dns.test` and 127.0.0.1; the upstream is the in-process test upstream.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::daemon::Daemon;
use common::upstream::TestUpstream;

/// Blocked for everyone by an inline list.
const BLOCKED: &str = "ads.test";

struct Pki {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

/// A CA and a server certificate it signed, written as PEM under `dir` with `tag`.
fn make_pki(dir: &Path, tag: &str, expired: bool) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, format!("ravens test CA {tag}"));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(vec!["dns.test".to_string(), "127.0.0.1".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "dns.test");
    if expired {
        params.not_before = rcgen::date_time_ymd(2020, 1, 1);
        params.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let pki = Pki {
        ca: dir.join(format!("ca-{tag}.pem")),
        cert: dir.join(format!("cert-{tag}.pem")),
        key: dir.join(format!("key-{tag}.pem")),
    };
    std::fs::write(&pki.ca, ca.pem()).unwrap();
    std::fs::write(&pki.cert, cert.pem()).unwrap();
    std::fs::write(&pki.key, key.serialize_pem()).unwrap();
    pki
}

fn have(cmd: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {cmd}")).output().is_ok_and(|o| o.status.success())
}

struct Setup {
    _rt: tokio::runtime::Runtime,
    _up: TestUpstream,
    pki_dir: tempfile::TempDir,
    pki: Pki,
    d: Daemon,
    dot: String,
    doh: String,
}

fn setup(extra_dns: &str) -> Option<Setup> {
    if !have("kdig") || !have("curl") {
        eprintln!("SKIP: kdig (knot-dnsutils) or curl missing; scripts/install-test-deps installs them");
        return None;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let up = rt.block_on(TestUpstream::start());
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = make_pki(pki_dir.path(), "a", false);
    // The certificate files are copied to fixed names so the test can replace them.
    let (cert, key) = (pki_dir.path().join("server.pem"), pki_dir.path().join("server.key"));
    std::fs::copy(&pki.cert, &cert).unwrap();
    std::fs::copy(&pki.key, &key).unwrap();
    let node = format!(
        "dot_listen = [\"127.0.0.1:0\"]\ndoh_listen = [\"127.0.0.1:0\"]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let body = format!(
        "[dns]\nupstreams = [\"{}\"]\n{extra_dns}\n\n[[list]]\nname = \"deny\"\nkind = \"block\"\nentries = [\"{BLOCKED}\"]\n",
        up.udp_url()
    );
    let d = Daemon::start_full("127.0.0.1", &node, &body);
    let dot = d.addr_after("listening for DNS over TLS on ").to_string();
    let doh = d.addr_after("listening for DNS over HTTPS on ").to_string();
    Some(Setup { _rt: rt, _up: up, pki_dir, pki, d, dot, doh })
}

impl Setup {
    fn kdig(&self, mode: &str, ca: &Path, name: &str) -> String {
        let (host, port) = self.addr(if mode == "+https" { &self.doh } else { &self.dot });
        let out = Command::new("kdig")
            .args([&format!("@{host}"), "-p", port, mode, &format!("+tls-ca={}", ca.display())])
            .args(["+tls-hostname=dns.test", "+timeout=3", "+retry=0", name, "A"])
            .output()
            .unwrap();
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }

    fn addr<'a>(&self, a: &'a str) -> (&'a str, &'a str) {
        a.rsplit_once(':').unwrap()
    }

    fn curl(&self, args: &[&str]) -> (String, String) {
        let (_, port) = self.addr(&self.doh);
        let out = Command::new("curl")
            .args(["-sS", "--http2", "-o", "-", "-D", "/dev/stderr", "--max-time", "5"])
            .args(["--cacert", self.pki.ca.to_str().unwrap(), "--resolve", &format!("dns.test:{port}:127.0.0.1")])
            .args(args)
            .output()
            .unwrap();
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    }

    fn url(&self, rest: &str) -> String {
        format!("https://dns.test:{}{rest}", self.addr(&self.doh).1)
    }
}

#[test]
fn dot_and_doh_answer_with_the_group_policy() {
    let Some(s) = setup("") else { return };
    for mode in ["+tls", "+https"] {
        let out = s.kdig(mode, &s.pki.ca, "a.test");
        assert!(out.contains("192.0.2.1"), "{mode} answers a forwarded name: {out}");
        let out = s.kdig(mode, &s.pki.ca, BLOCKED);
        assert!(out.contains("0.0.0.0") || out.contains("NXDOMAIN"), "{mode} blocks {BLOCKED}: {out}");
        assert!(!out.contains("192.0.2."), "{mode}: {out}");
    }
    assert!(s.kdig("+tls", &s.pki.ca, "a.test").contains("TLS"), "kdig reports the TLS session");
}

#[test]
fn doh_get_and_post_over_http2_with_headers() {
    let Some(s) = setup("") else { return };
    // `a.test A`, id 0 (RFC 8484 asks for id 0 so replies cache well).
    let q: &[u8] = b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a\x04test\x00\x00\x01\x00\x01";
    let b64 = base64url(q);
    let (body, head) = s.curl(&[&s.url(&format!("/dns-query?dns={b64}"))]);
    assert!(head.starts_with("HTTP/2 200"), "GET over HTTP/2: {head}");
    assert!(head.to_ascii_lowercase().contains("content-type: application/dns-message"), "{head}");
    assert!(head.to_ascii_lowercase().contains("cache-control: max-age="), "{head}");
    assert!(body.len() > q.len(), "a DNS reply: {body:?}");
    let qfile = s.pki_dir.path().join("q.bin");
    std::fs::write(&qfile, q).unwrap();
    let data = format!("@{}", qfile.display());
    let post = ["-H", "content-type: application/dns-message", "--data-binary", &data];
    let (_, head) = s.curl(&[&post[..], &[s.url("/dns-query").as_str()]].concat());
    assert!(head.starts_with("HTTP/2 200"), "POST over HTTP/2: {head}");
    let (_, head) = s.curl(&["--http1.1", &s.url(&format!("/dns-query?dns={b64}"))]);
    assert!(head.starts_with("HTTP/1.1 200"), "HTTP/1.1 too: {head}");
}

#[test]
fn malformed_doh_requests_get_4xx_and_the_daemon_stays_up() {
    let Some(s) = setup("") else { return };
    let status = |args: &[&str]| s.curl(args).1.lines().next().unwrap_or("").to_string();
    assert!(status(&[&s.url("/dns-query?dns=!!notbase64!!")]).contains(" 400"));
    assert!(status(&[&s.url("/dns-query")]).contains(" 400"), "GET without dns=");
    assert!(status(&["-H", "content-type: text/plain", "--data", "x", &s.url("/dns-query")]).contains(" 415"));
    let big = s.pki_dir.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 70_000]).unwrap();
    let data = format!("@{}", big.display());
    let too_big = ["-H", "content-type: application/dns-message", "--data-binary", &data, &s.url("/dns-query")];
    assert!(status(&too_big).contains(" 413"));
    assert!(status(&[&s.url("/other")]).contains(" 404"));
    assert!(status(&["-X", "PUT", &s.url("/dns-query")]).contains(" 405"));
    assert!(s.kdig("+https", &s.pki.ca, "a.test").contains("192.0.2.1"), "still serving");
}

#[test]
fn a_bad_certificate_file_is_refused_and_the_old_one_keeps_serving() {
    let Some(s) = setup("") else { return };
    let (cert, key) = (s.pki_dir.path().join("server.pem"), s.pki_dir.path().join("server.key"));
    // A key that does not belong to the certificate.
    let other = make_pki(s.pki_dir.path(), "b", false);
    std::fs::copy(&other.key, &key).unwrap();
    assert!(s.d.wait_log("does not belong to the certificate", Duration::from_secs(10)), "{}", s.d.log());
    assert!(s.kdig("+tls", &s.pki.ca, "a.test").contains("192.0.2.1"), "old certificate still served");
    // An expired pair.
    let old = make_pki(s.pki_dir.path(), "c", true);
    std::fs::copy(&old.cert, &cert).unwrap();
    std::fs::copy(&old.key, &key).unwrap();
    assert!(s.d.wait_log("is not valid now", Duration::from_secs(10)), "{}", s.d.log());
    assert!(s.kdig("+tls", &s.pki.ca, "a.test").contains("192.0.2.1"), "old certificate still served");
    // A good new pair from another CA takes over.
    std::fs::copy(&other.cert, &cert).unwrap();
    std::fs::copy(&other.key, &key).unwrap();
    assert!(s.d.wait_log("TLS certificate reloaded", Duration::from_secs(10)), "{}", s.d.log());
    assert!(s.kdig("+tls", &other.ca, "a.test").contains("192.0.2.1"), "new certificate served");
}

#[test]
fn connections_over_the_cap_are_refused_cleanly() {
    let Some(s) = setup("tcp_max_connections = 2\ntcp_max_connections_per_client = 2\n") else { return };
    let held: Vec<_> = (0..2).map(|_| std::net::TcpStream::connect(&s.dot).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    let out = s.kdig("+tls", &s.pki.ca, "a.test");
    assert!(!out.contains("192.0.2.1"), "a third connection is not served: {out}");
    drop(held);
    std::thread::sleep(Duration::from_millis(300));
    assert!(s.kdig("+tls", &s.pki.ca, "a.test").contains("192.0.2.1"), "served again once slots free");
}

#[test]
fn an_expired_certificate_at_start_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path(), "x", true);
    let cfg = dir.path().join("ravens.toml");
    let node = common::daemon::node_section(dir.path(), "127.0.0.1");
    let text = format!(
        "{node}dot_listen = [\"127.0.0.1:0\"]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n\n[dns]\nupstreams = [\"udp://127.0.0.1:9\"]\n",
        pki.cert.display(),
        pki.key.display()
    );
    std::fs::write(&cfg, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ravensd")).arg("--config").arg(&cfg).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("is not valid now"), "{err}");
}

fn base64url(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
