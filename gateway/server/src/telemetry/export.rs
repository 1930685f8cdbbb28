//! The OTLP exporter (opentelemetry-otlp, HTTP with protobuf) and the HTTP
//! client it posts with: hyper with rustls, through the same proxies as
//! the upstream calls. The SDK exports from its own thread, so each post is spawned on
//! the gateway's runtime and awaited from there.

use super::TelemetrySettings;
use crate::upstream::ProxyConnector;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, SpanExporter, WithExportConfig, WithHttpConfig};
use std::collections::HashMap;
use std::time::Duration;

/// Most bytes read of a collector's answer.
const MAX_ANSWER: usize = 64 * 1024;

/// The exporter posting to `settings.endpoint` with `headers`.
pub(super) fn exporter(
    settings: &TelemetrySettings,
    headers: HashMap<String, String>,
    runtime: tokio::runtime::Handle,
    proxies: Matcher,
) -> Result<SpanExporter, String> {
    let client = Poster::new(runtime, &settings.endpoint, settings.timeout, proxies)?;
    SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.to_string())
        .with_timeout(settings.timeout)
        .with_headers(headers)
        .with_http_client(client)
        .build()
        .map_err(|e| format!("the OTLP exporter: {e}"))
}

/// `key=value,key=value` (values percent-encoded), as the OTLP exporters'
/// `OTEL_EXPORTER_OTLP_HEADERS`: checked here, decoded by the exporter.
pub(super) fn parse_headers(text: &str) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').ok_or("write key=value pairs separated by commas")?;
        let decoded = percent_encoding::percent_decode_str(v.trim()).decode_utf8_lossy();
        let name = http::HeaderName::from_bytes(k.trim().as_bytes()).map_err(|_| "a header name is not valid")?;
        http::HeaderValue::from_str(&decoded)
            .map_err(|_| format!("the value of {name} is not a valid header value"))?;
        out.insert(name.to_string(), v.trim().to_owned());
    }
    Ok(out)
}

type Https = hyper_rustls::HttpsConnector<ProxyConnector>;

/// Posts the exporter's requests on the gateway's runtime.
#[derive(Debug, Clone)]
struct Poster {
    client: Client<Https, Full<Bytes>>,
    runtime: tokio::runtime::Handle,
    timeout: Duration,
}

impl Poster {
    fn new(
        runtime: tokio::runtime::Handle,
        endpoint: &http::Uri,
        timeout: Duration,
        proxies: Matcher,
    ) -> Result<Self, String> {
        let tls = crate::upstream::tls_for(endpoint, None)?;
        let http = ProxyConnector::new(proxies, timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let client = Client::builder(TokioExecutor::new()).build(https.enable_all_versions().wrap_connector(http));
        Ok(Self { client, runtime, timeout })
    }
}

#[async_trait::async_trait]
impl HttpClient for Poster {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (client, timeout) = (self.client.clone(), self.timeout);
        let post = async move {
            let answer = client.request(request.map(Full::new)).await?;
            let (parts, body) = answer.into_parts();
            let body = Limited::new(body, MAX_ANSWER).collect().await?.to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let posted = self.runtime.spawn(async move {
            tokio::time::timeout(timeout, post)
                .await
                .map_err(|_| HttpError::from("the collector did not answer in time"))?
        });
        posted.await.map_err(|e| HttpError::from(format!("the export task ended: {e}")))?
    }
}

#[cfg(test)]
mod tests {
    use super::parse_headers;

    #[test]
    fn collector_headers_are_read_as_otel_writes_them_and_bad_ones_refused() {
        let h = parse_headers("x-honeycomb-team=abc%3D%3D, authorization=Basic%20dTpw").unwrap();
        assert_eq!(h["x-honeycomb-team"], "abc%3D%3D", "the exporter decodes, once");
        assert_eq!(h["authorization"], "Basic%20dTpw");
        assert!(parse_headers("x=a%0Ab").is_err(), "a decoded newline is refused");
        assert!(parse_headers("").unwrap().is_empty());
        assert!(parse_headers("no-equals-sign").is_err());
        assert!(parse_headers("bad name=1").is_err());
    }
}
