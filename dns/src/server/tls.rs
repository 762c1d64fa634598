//! The certificate DoT and DoH serve (`node.tls_cert_file`, `node.tls_key_file`): loaded at
//! start, checked (the key matches, the certificate is valid now), and reloaded when either
//! file changes. A pair that fails those checks is refused with the reason and the one in
//! use keeps serving, so renewing a certificate by hand never takes encrypted DNS down.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use parking_lot::Mutex;
use ravens_config::TlsFiles;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

/// How often the files' modification times are looked at.
const POLL: Duration = Duration::from_secs(2);

/// Why a certificate and key were not used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {why}")]
    File { path: String, why: String },
    #[error("{0}: the private key does not belong to the certificate")]
    Mismatch(String),
    #[error("{path}: the certificate is not valid now (valid from {not_before} until {not_after})")]
    NotValidNow { path: String, not_before: String, not_after: String },
}

/// The certificate in use, and the files it is reloaded from.
#[derive(Debug)]
pub struct CertStore {
    files: TlsFiles,
    current: ArcSwap<CertifiedKey>,
    /// Why the files on disk are not the ones served (for status and the log).
    pub last_error: Mutex<Option<String>>,
    stamp: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl CertStore {
    /// Loads `files`; an unusable pair at start is an error (the daemon does not start).
    pub fn open(files: &TlsFiles) -> Result<Arc<CertStore>, TlsError> {
        let key = load(files)?;
        Ok(Arc::new(CertStore {
            files: files.clone(),
            current: ArcSwap::from_pointee(key),
            last_error: Mutex::new(None),
            stamp: Mutex::new(stamps(files)),
        }))
    }

    /// Loads the files again when either changed; keeps the old pair when the new one fails.
    pub fn reload_if_changed(&self) {
        let now = stamps(&self.files);
        {
            let mut stamp = self.stamp.lock();
            if *stamp == now {
                return;
            }
            *stamp = now;
        }
        match load(&self.files) {
            Ok(key) => {
                self.current.store(Arc::new(key));
                *self.last_error.lock() = None;
                tracing::info!(cert = %self.files.cert.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                tracing::error!("TLS certificate not reloaded, the previous one keeps serving: {e}");
                *self.last_error.lock() = Some(e.to_string());
            }
        }
    }

    /// Watches the files until cancelled.
    pub async fn watch(self: Arc<Self>, cancel: CancellationToken) {
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(POLL) => {}
            }
            let me = Arc::clone(&self);
            let _ = tokio::task::spawn_blocking(move || me.reload_if_changed()).await;
        }
    }

    /// A server config for `alpn` (`dot`; `h2` and `http/1.1`) that always serves the
    /// current certificate.
    pub fn server_config(self: &Arc<Self>, alpn: &[&[u8]]) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }
}

/// The TLS handshake of a DoT or DoH client: a client that does not finish it within `idle`
/// loses its slot like an idle one.
pub async fn handshake(
    tls: &tokio_rustls::TlsAcceptor,
    stream: tokio::net::TcpStream,
    src: std::net::SocketAddr,
    idle: Duration,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    match tokio::time::timeout(idle, tls.accept(stream)).await {
        Ok(Ok(stream)) => Some(stream),
        Ok(Err(e)) => {
            tracing::debug!(client = %src, "TLS handshake failed: {e}");
            None
        }
        Err(_) => {
            tracing::debug!(client = %src, "TLS handshake timed out");
            None
        }
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

fn stamps(f: &TlsFiles) -> (Option<SystemTime>, Option<SystemTime>) {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(&f.cert), m(&f.key))
}

/// Reads, parses and checks a certificate chain and its key.
fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let (cert_path, key_path) = (files.cert.display().to_string(), files.key.display().to_string());
    let file_err = |path: &str, why: String| TlsError::File { path: path.to_string(), why };
    let read = |p: &Path, path: &str| std::fs::read(p).map_err(|e| file_err(path, e.to_string()));
    let cert_pem = read(&files.cert, &cert_path)?;
    let chain = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(&cert_path, format!("not PEM: {e}")))?;
    let Some(leaf) = chain.first() else {
        return Err(file_err(&cert_path, "no CERTIFICATE block in the file".into()));
    };
    check_validity(leaf, &cert_path)?;
    let key_pem = read(&files.key, &key_path)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| file_err(&key_path, format!("not PEM: {e}")))?
        .ok_or_else(|| file_err(&key_path, "no PRIVATE KEY block in the file".into()))?;
    let signer = rustls::crypto::ring::sign::any_supported_type(&key)
        .map_err(|e| file_err(&key_path, format!("unusable private key: {e}")))?;
    let certified = CertifiedKey::new(chain, signer);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        // Keys whose public half rustls cannot extract are not compared; the handshake shows.
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(_) => Err(TlsError::Mismatch(key_path)),
    }
}

/// Refuses a certificate that is expired or not valid yet (clients would refuse it).
fn check_validity(leaf: &rustls::pki_types::CertificateDer<'_>, path: &str) -> Result<(), TlsError> {
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(leaf.as_ref())
        .map_err(|e| TlsError::File { path: path.to_string(), why: format!("not an X.509 certificate: {e}") })?;
    let v = cert.validity();
    if !v.is_valid() {
        return Err(TlsError::NotValidNow {
            path: path.to_string(),
            not_before: v.not_before.to_string(),
            not_after: v.not_after.to_string(),
        });
    }
    Ok(())
}
