//! Starting the DNS-over-TLS and DNS-over-HTTPS listeners (`node.dot_listen`,
//! `node.doh_listen`) with the certificate of `node.tls_cert_file`/`tls_key_file`.

use std::sync::Arc;

use ravens_config::Config;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::DnsError;
use crate::pipeline::Resolver;
use crate::server::tls::CertStore;
use crate::server::{doh, tcp};

/// Binds and serves the encrypted listeners; the certificate store when there are any (it
/// reloads the files when they change, until `cancel`).
pub(super) fn start(
    config: &Config,
    resolver: &Arc<Resolver>,
    limits: tcp::Limits,
    cancel: &CancellationToken,
) -> Result<Option<Arc<CertStore>>, DnsError> {
    let enc = &config.node.encrypted;
    let Some(files) = enc.tls.as_ref().filter(|_| !(enc.dot_listen.is_empty() && enc.doh_listen.is_empty())) else {
        return Ok(None);
    };
    let store = CertStore::open(files)?;
    tokio::spawn(Arc::clone(&store).watch(cancel.clone()));
    let dot = TlsAcceptor::from(store.server_config(&[b"dot"]));
    for &addr in &enc.dot_listen {
        let listener = tcp::bind(addr).map_err(|source| DnsError::BindTcp { addr, source })?;
        let bound = listener.local_addr().map_err(|source| DnsError::BindTcp { addr, source })?;
        tracing::info!("listening for DNS over TLS on {bound}");
        tokio::spawn(tcp::serve(listener, Arc::clone(resolver), limits, Some(dot.clone()), cancel.clone()));
    }
    let https = TlsAcceptor::from(store.server_config(&[b"h2", b"http/1.1"]));
    for &addr in &enc.doh_listen {
        let listener = tcp::bind(addr).map_err(|source| DnsError::BindTcp { addr, source })?;
        let bound = listener.local_addr().map_err(|source| DnsError::BindTcp { addr, source })?;
        tracing::info!("listening for DNS over HTTPS on {bound} (path {})", enc.doh_path);
        let (resolver, path) = (Arc::clone(resolver), enc.doh_path.clone());
        tokio::spawn(doh::serve(listener, resolver, path, limits, https.clone(), cancel.clone()));
    }
    Ok(Some(store))
}
