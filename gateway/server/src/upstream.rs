//! Where requests go after mapping: an HTTP(S) SCIM server or the embedded
//! store, behind one small interface.

mod connect;
mod http_client;
mod paced;
mod pool;

pub(crate) use connect::{ProxyConnector, tls_config, tls_for};
pub use http_client::HttpUpstream;
pub use paced::{Paced, retry_after};

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::future::Future;
use std::pin::Pin;

/// A request for the upstream. `path` is relative to the upstream's base
/// path (it starts with `/`) and already checked not to escape it.
#[derive(Debug, Clone)]
pub struct Forward {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// The upstream's answer, body fully read and decoded.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why there is no answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    /// No byte of the request reached the upstream.
    #[error("connection failed: {0}")]
    Connect(String),
    /// The exchange broke after it started; the outcome is unknown.
    #[error("the connection broke: {0}")]
    Broken(String),
    #[error("no answer in time")]
    Timeout,
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the answer's encoding could not be decoded: {0}")]
    Encoding(String),
    /// The route's own rate limit: nothing was sent; retry after this.
    #[error("the upstream rate limit is reached")]
    RateLimited(std::time::Duration),
}

/// A boxed future of an upstream answer.
pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Result<Reply, UpstreamError>> + Send + 'a>>;

/// An upstream SCIM service provider.
pub trait Upstream: Send + Sync + std::fmt::Debug {
    /// Sends one request and reads the whole answer.
    fn call(&self, request: Forward) -> ReplyFuture<'_>;

    /// The base URL that resources' `location`s start with, for rewriting
    /// them to the gateway's own URL.
    fn base_url(&self) -> &str;
}

/// Requests that may be sent twice: RFC 9110's idempotent methods. The
/// one answer to whether a request may be replayed (a POST never is).
fn idempotent(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS)
}
