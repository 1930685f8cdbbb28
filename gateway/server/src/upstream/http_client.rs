//! The HTTP(S) upstream: a pooled hyper client (HTTP/1.1 and HTTP/2 by ALPN),
//! bounded answers, decoded bodies, and retries only where safe.

use super::connect::{ProxyConnector, tls_for};
use super::pool::Pool;
use super::{Forward, Reply, ReplyFuture, Upstream, UpstreamError};
use crate::config::UpstreamSettings;
use crate::whole_body::Unread;
use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Uri};
use http_body_util::Full;
use hyper_util::client::proxy::matcher::Matcher;
use std::io::Read;
use std::time::Duration;

/// An HTTP(S) SCIM server.
#[derive(Debug, Clone)]
pub struct HttpUpstream {
    /// Connections, a set per worker thread, so that a request and the
    /// upstream connection it uses stay on one thread.
    pool: Pool,
    base: String,
    /// The base URL's path (without its trailing slash), read once: a
    /// request's target is put together from it.
    base_path: String,
    token: Option<HeaderValue>,
    timeout: Duration,
    retries: u32,
    max_response: usize,
}

impl HttpUpstream {
    /// A client for `settings`, with `token` as the bearer sent upstream,
    /// `proxies` deciding which connections go through a proxy, and a
    /// connection pool for each of `workers` threads.
    pub fn new(
        settings: &UpstreamSettings,
        base: &Uri,
        token: Option<&str>,
        proxies: Matcher,
        workers: usize,
    ) -> Result<Self, String> {
        let tls = tls_for(base, settings.ca_file.as_deref())?;
        let connector = ProxyConnector::new(proxies, settings.connect_timeout);
        let https = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls).https_or_http();
        let https = if settings.http2_only {
            https.enable_http2().wrap_connector(connector)
        } else {
            https.enable_all_versions().wrap_connector(connector)
        };
        let pool = Pool::new(https, base, settings.pool_idle_timeout, settings.http2_only, workers)?;
        let token = token
            .map(|t| {
                HeaderValue::from_str(&format!("Bearer {t}"))
                    .map_err(|_| "the upstream token holds characters a header cannot".to_owned())
            })
            .transpose()?
            .map(|mut v| {
                v.set_sensitive(true);
                v
            });
        Ok(Self {
            pool,
            base: base.to_string().trim_end_matches('/').to_owned(),
            base_path: base.path().trim_end_matches('/').to_owned(),
            token,
            timeout: settings.timeout,
            retries: settings.retries,
            max_response: settings.max_response_bytes,
        })
    }

    async fn send(&self, mut f: Forward) -> Result<Reply, UpstreamError> {
        // Set once for every attempt.
        f.headers.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        if let Some(token) = &self.token {
            f.headers.insert(AUTHORIZATION, token.clone());
        }
        let idempotent = super::idempotent(&f.method);
        let headers = if idempotent { Headers::Copied } else { Headers::Moved };
        let mut attempt = 0;
        loop {
            let once = self.once(&mut f, headers);
            let result = tokio::time::timeout(self.timeout, once).await.unwrap_or(Err(UpstreamError::Timeout));
            let retry = match &result {
                Err(UpstreamError::Connect(_)) => true,
                Err(UpstreamError::Broken(_)) => idempotent,
                _ => false,
            };
            // Headers that went with a request and did not come back (there
            // is always one: the Accept-Encoding above) send nothing again.
            if !retry || attempt >= self.retries || f.headers.is_empty() {
                return result;
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(50 << attempt.min(5))).await;
        }
    }

    /// The request target of `f`: see [`request_target`].
    fn uri(&self, f: &Forward) -> Result<Uri, UpstreamError> {
        request_target(&self.base_path, &f.path, f.query.as_deref()).map_err(UpstreamError::Connect)
    }

    /// One attempt. With [`Headers::Moved`], `f`'s headers go with the
    /// request, and come back into `f` only when not a byte of it was
    /// written (see [`super::pool::Unanswered`]).
    async fn once(&self, f: &mut Forward, headers: Headers) -> Result<Reply, UpstreamError> {
        let mut req = Request::new(Full::new(f.body.clone()));
        *req.method_mut() = f.method.clone();
        *req.uri_mut() = self.uri(f)?;
        *req.headers_mut() = match headers {
            Headers::Copied => f.headers.clone(),
            Headers::Moved => std::mem::take(&mut f.headers),
        };
        let (resp, lease) = self.pool.send(req).await.map_err(|unanswered| {
            if let Some(given) = unanswered.headers {
                f.headers = *given;
            }
            unanswered.error
        })?;
        let (mut parts, body) = resp.into_parts();
        let body = crate::whole_body::read(body, self.max_response).await.map_err(|e| match e {
            Unread::TooLarge => UpstreamError::TooLarge(self.max_response),
            Unread::Broken(e) => UpstreamError::Broken(e.to_string()),
        })?;
        lease.release();
        let body = decode(&mut parts.headers, body, self.max_response)?;
        Ok(Reply { status: parts.status, headers: parts.headers, body })
    }
}

/// How an attempt sends the request's headers: a copy (a request that may
/// go again after failing mid-way), or the headers themselves (one that
/// goes again only when not a byte of it was written, and then gets them
/// back).
#[derive(Debug, Clone, Copy)]
enum Headers {
    Copied,
    Moved,
}

/// The target of a request for `path` and `query` under the base URL
/// whose path (without its trailing slash) is `base_path`, in origin form
/// (path and query): what formatting the whole URL and parsing it gave,
/// less its scheme and authority, which the connection names (HTTP/1) or
/// the pool adds (HTTP/2). An empty path is the root, as a parsed URL's is.
fn request_target(base_path: &str, path: &str, query: Option<&str>) -> Result<Uri, String> {
    let mut text = String::with_capacity(base_path.len() + path.len() + query.map_or(1, |q| q.len() + 1));
    text.push_str(base_path);
    text.push_str(path);
    if text.is_empty() {
        text.push('/');
    }
    if let Some(q) = query {
        text.push('?');
        text.push_str(q);
    }
    PathAndQuery::try_from(text).map(Uri::from).map_err(|e| e.to_string())
}

impl Upstream for HttpUpstream {
    fn call(&self, request: Forward) -> ReplyFuture<'_> {
        crate::pinned_in_place(|| self.send(request))
    }

    fn base_url(&self) -> &str {
        &self.base
    }
}

pub(super) fn source_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

/// Undoes a `Content-Encoding` the upstream applied although asked not to.
fn decode(headers: &mut http::HeaderMap, body: Bytes, max: usize) -> Result<Bytes, UpstreamError> {
    let Some(enc) = headers.get(CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::to_ascii_lowercase) else {
        return Ok(body);
    };
    let reader: Box<dyn Read> = match enc.trim() {
        "identity" => Box::new(&body[..]),
        "gzip" | "x-gzip" => Box::new(flate2::read::GzDecoder::new(&body[..])),
        "deflate" => Box::new(flate2::read::ZlibDecoder::new(&body[..])),
        other => return Err(UpstreamError::Encoding(format!("unsupported content-encoding {other}"))),
    };
    let mut out = Vec::new();
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    reader.take(limit).read_to_end(&mut out).map_err(|e| UpstreamError::Encoding(e.to_string()))?;
    if out.len() > max {
        return Err(UpstreamError::TooLarge(max));
    }
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_target_made_absolute_is_what_the_whole_url_formatted_and_parsed_gave() {
        let bases = ["http://h:8080", "http://h:8080/", "https://h/v2", "http://[::1]:9/scim/v2/", "http://u@h/v2"];
        let paths = ["", "/", "/Users", "/Users/a%20b", "/Groups/x/", "/.search"];
        for base in bases {
            let url: Uri = base.parse().unwrap();
            let pool_target = super::super::pool::target_of(&url).unwrap();
            let base_path = url.path().trim_end_matches('/');
            let trimmed = base.trim_end_matches('/');
            for path in paths {
                for query in [None, Some("filter=userName%20eq%20%22a%22"), Some("")] {
                    let whole = match query {
                        Some(q) => format!("{trimmed}{path}?{q}"),
                        None => format!("{trimmed}{path}"),
                    };
                    let old: Uri = whole.parse().unwrap();
                    let mut new = request_target(base_path, path, query).unwrap();
                    assert_eq!(new.scheme(), None, "origin form: {base} + {path} + {query:?}");
                    assert_eq!((new.path(), new.query()), (old.path(), old.query()), "{base} + {path} + {query:?}");
                    super::super::pool::absolute_form(&mut new, &pool_target);
                    assert_eq!(new, old, "{base} + {path} + {query:?}");
                    let target = |u: &Uri| (u.to_string(), u.path().to_owned(), u.query().map(str::to_owned));
                    assert_eq!(target(&new), target(&old), "what is sent: {base} + {path} + {query:?}");
                    let absolute = new.clone();
                    super::super::pool::absolute_form(&mut new, &pool_target);
                    assert_eq!(new, absolute, "made absolute once: {base} + {path} + {query:?}");
                    super::super::pool::origin_form(&mut new);
                    assert_eq!(new, request_target(base_path, path, query).unwrap(), "and back: {base} + {path}");
                }
            }
        }
    }
}
