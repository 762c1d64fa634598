//! TLS for the web UI on the admin port: the listener peeks at each connection's first
//! byte (0x16 opens a TLS handshake) and serves TLS or plain HTTP on the one port, so the
//! bearer-token API and `dnsctl` keep working over plain HTTP. The certificate and key are
//! `data_dir/ui-cert.pem` and `data_dir/ui-key.pem`: made self-signed at first start, or
//! the operator's own put there (read at start).

use std::fs::File;
use std::io::{BufReader, Write as _};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use tokio_rustls::TlsAcceptor;

pub const CERT_FILE: &str = "ui-cert.pem";
pub const KEY_FILE: &str = "ui-key.pem";

/// The first byte of a TLS handshake record.
pub const HANDSHAKE: u8 = 0x16;

/// The acceptor for `data_dir`'s certificate, made first (self-signed for `names`) when
/// neither file exists.
pub fn acceptor(data_dir: &Path, names: Vec<String>) -> anyhow::Result<TlsAcceptor> {
    let (cert_path, key_path) = (data_dir.join(CERT_FILE), data_dir.join(KEY_FILE));
    if !cert_path.exists() && !key_path.exists() {
        let made = rcgen::generate_simple_self_signed(names).context("making a self-signed certificate")?;
        let mut key = std::fs::OpenOptions::new();
        std::os::unix::fs::OpenOptionsExt::mode(key.write(true).create_new(true), 0o600);
        key.open(&key_path)
            .and_then(|mut f| f.write_all(made.signing_key.serialize_pem().as_bytes()))
            .with_context(|| format!("writing {}", key_path.display()))?;
        std::fs::write(&cert_path, made.cert.pem()).with_context(|| format!("writing {}", cert_path.display()))?;
        tracing::info!(cert = %cert_path.display(), "made a self-signed certificate for the web UI (put your own in its place, with its key, and restart to use another)");
    }
    let certs = rustls_pemfile::certs(&mut BufReader::new(
        File::open(&cert_path).with_context(|| format!("reading {}", cert_path.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("reading {}", cert_path.display()))?;
    let key = rustls_pemfile::private_key(&mut BufReader::new(
        File::open(&key_path).with_context(|| format!("reading {}", key_path.display()))?,
    ))
    .with_context(|| format!("reading {}", key_path.display()))?
    .with_context(|| format!("no private key in {}", key_path.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .with_context(|| format!("the certificate {} and its key", cert_path.display()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(cfg)))
}
