//! Connections to the upstream: TCP, through an HTTP CONNECT proxy when
//! `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` say so (`NO_PROXY` honoured), then
//! TLS with rustls (system roots plus an optional extra CA file).

use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// TCP connections, tunnelled through a proxy where the matcher says so.
#[derive(Clone)]
pub(crate) struct ProxyConnector {
    http: HttpConnector,
    proxies: Arc<Matcher>,
}

impl std::fmt::Debug for ProxyConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConnector").finish_non_exhaustive()
    }
}

impl ProxyConnector {
    pub(crate) fn new(proxies: Matcher, connect_timeout: Duration) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        Self { http, proxies: Arc::new(proxies) }
    }
}

impl Service<http::Uri> for ProxyConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.http.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: http::Uri) -> Self::Future {
        match self.proxies.intercept(&dst) {
            Some(proxy) => {
                let mut tunnel = Tunnel::new(proxy.uri().clone(), self.http.clone());
                if let Some(auth) = proxy.basic_auth() {
                    tunnel = tunnel.with_auth(auth.clone());
                }
                Box::pin(async move { tunnel.call(dst).await.map_err(Into::into) })
            }
            None => {
                let fut = self.http.call(dst);
                Box::pin(async move { fut.await.map_err(Into::into) })
            }
        }
    }
}

/// TLS for a client of `target`: [`tls_config`]; a plain `http://`
/// target does without roots when the system has none (no TLS is made).
pub(crate) fn tls_for(target: &http::Uri, extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    match tls_config(extra_ca) {
        Ok(c) => Ok(c),
        Err(e) if target.scheme_str() == Some("https") => Err(e),
        Err(_) => {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            Ok(rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(RootCertStore::empty())
                .with_no_client_auth())
        }
    }
}

/// A rustls client config: the system's roots, plus `extra_ca` (PEM).
pub(crate) fn tls_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = extra_ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("{}: no certificate found", path.display()));
        }
        let (ok, _) = roots.add_parsable_certificates(certs);
        if ok == 0 {
            return Err(format!("{}: no usable certificate", path.display()));
        }
    } else if added == 0 {
        return Err("no system root certificates found; set ca_file".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}
