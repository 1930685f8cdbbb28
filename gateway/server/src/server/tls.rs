//! Inbound TLS: the certificate chain and key, read at start and on reload.

use crate::config::TlsFiles;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor for `files` (HTTP/2 and HTTP/1.1 offered by ALPN).
pub fn acceptor(files: &TlsFiles) -> Result<TlsAcceptor, String> {
    let at = |p: &std::path::Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
        .map_err(|e| at(&files.cert_file, &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| at(&files.cert_file, &e))?;
    if certs.is_empty() {
        return Err(at(&files.cert_file, &"no certificate found"));
    }
    let key = PrivateKeyDer::from_pem_file(&files.key_file).map_err(|e| at(&files.key_file, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("{}: {e}", files.cert_file.display()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
