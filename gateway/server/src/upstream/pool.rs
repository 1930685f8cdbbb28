//! The upstream connection pool, over `hyper::client::conn`: one per worker
//! thread, so a request and its connection stay on one thread.
//!
//! A request takes the most recently used idle connection of its worker, or
//! opens one: it never races a new connection against the pool (hyper-util's
//! client does, and keeps the loser), so a worker holds no more connections
//! than it had requests in flight at once. An HTTP/1 connection goes back
//! to the pool only once its answer has been read whole ([`Lease::release`]);
//! one dropped before that is closed. An HTTP/2 connection (negotiated by
//! ALPN, or `http2_only`) is shared by all the worker's requests.
//!
//! Replay safety: a request is sent again only when hyper hands it back
//! unsent (a pooled connection that closed before it was written); a
//! request that failed once written is never resent here.

use super::UpstreamError;
use super::connect::ProxyConnector;
use super::http_client::source_chain;
use bytes::Bytes;
use http::header::HOST;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::Connection;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tower_service::Service;

type Body = Full<Bytes>;
type H1 = http1::SendRequest<Body>;
type H2 = http2::SendRequest<Body>;

/// HTTP/1 requests go out as one buffer (head and body copied together),
/// one write per request: cheaper than vectored writes for SCIM's small
/// bodies.
const WRITEV: bool = false;
/// The reaper's shortest period, whatever `pool_idle_timeout_ms` says.
const MIN_REAP_EVERY: Duration = Duration::from_millis(10);

/// Connections to one upstream, a set per worker; clones share them.
#[derive(Debug, Clone)]
pub(super) struct Pool {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    connector: Connector,
    /// The upstream's scheme and authority, what connections are made to.
    target: Uri,
    /// `Host` for HTTP/1 requests: the upstream's host, and its port unless
    /// it is the scheme's default.
    host: HeaderValue,
    idle_timeout: Duration,
    http2_only: bool,
    /// One set per worker, and one (the last) for callers outside them.
    slots: Vec<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    /// Idle HTTP/1 connections, the most recently used last, with when each
    /// became idle.
    idle: Vec<(H1, Instant)>,
    /// The HTTP/2 connection, with when a request last took it.
    shared: Option<(H2, Instant)>,
    /// Whether the task closing connections idle too long runs (it ends
    /// when there is none left).
    reaping: bool,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("idle", &self.idle.len()).field("shared", &self.shared.is_some()).finish()
    }
}

struct Connector(HttpsConnector<ProxyConnector>);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector")
    }
}

/// What a request is sent on.
enum Conn {
    H1(H1),
    H2(H2),
}

/// A connection in use: hand it back with [`Lease::release`] once the
/// answer is read whole; dropped, an HTTP/1 connection is closed. An
/// HTTP/2 request holds nothing (its connection stays shared).
#[must_use]
pub(super) struct Lease(Option<Held>);

/// An HTTP/1 connection in use, and the worker set it goes back to.
struct Held {
    pool: Weak<Inner>,
    slot: usize,
    h1: H1,
}

impl Pool {
    /// A pool for `base` (its scheme and authority), connecting with
    /// `connector`, for `workers` worker threads.
    pub(super) fn new(
        connector: HttpsConnector<ProxyConnector>,
        base: &Uri,
        idle_timeout: Duration,
        http2_only: bool,
        workers: usize,
    ) -> Result<Self, String> {
        let target = target_of(base)?;
        let host = host_header(&target)?;
        let slots = (0..=workers.max(1)).map(|_| Mutex::new(Slot::default())).collect();
        let inner = Inner { connector: Connector(connector), target, host, idle_timeout, http2_only, slots };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// Sends `req` (its URI in origin form or absolute: each connection
    /// puts it in the form its protocol sends) and returns the answer's
    /// head, with the connection to release once the body is read. A
    /// request a pooled connection hands back unsent (not a byte written)
    /// goes once more, on a new connection. When no answer comes and not a
    /// byte was written, the request's headers come back as they were
    /// given ([`Unanswered`]).
    pub(super) async fn send(&self, mut req: Request<Body>) -> Result<(Response<Incoming>, Lease), Unanswered> {
        let slot = self.inner.slot();
        let host_given = req.headers().contains_key(HOST);
        if let Some(conn) = self.inner.take(slot) {
            match self.inner.send_on(conn, req, slot).await {
                // Its URI in either form: the next connection puts it in its own.
                Sent::Unsent(back, _) => req = given(back, host_given),
                sent => return sent.outcome(host_given),
            }
        }
        // Boxed: connecting (TLS and HTTP/2 handshakes) is rare, and its
        // state would make every request's future several kilobytes larger.
        match Box::pin(self.inner.connect(slot)).await {
            Ok(conn) => self.inner.send_on(conn, req, slot).await.outcome(host_given),
            Err(error) => Err(Unanswered { error, headers: Some(Box::new(req.into_parts().0.headers)) }),
        }
    }
}

/// Why a request got no answer, and its headers as they were given when
/// not a byte of it was written: a caller may send it again with them
/// (boxed: the answer's `Result` stays small on the way that answers).
#[derive(Debug)]
pub(super) struct Unanswered {
    pub(super) error: UpstreamError,
    pub(super) headers: Option<Box<http::HeaderMap>>,
}

/// A request handed back unsent, as it was given: without the Host header
/// a pooled HTTP/1 connection added (`host_given`: it had one before;
/// HTTP/2 names the host in the URI).
fn given(mut back: Request<Body>, host_given: bool) -> Request<Body> {
    if !host_given {
        back.headers_mut().remove(HOST);
    }
    back
}

impl Lease {
    /// Puts an HTTP/1 connection back in its worker's pool once hyper says
    /// it can take another request (at once, or from a task of its own if
    /// the connection is still finishing the answer).
    pub(super) fn release(self) {
        let Some(Held { pool, slot, h1 }) = self.0 else { return };
        if h1.is_ready() {
            checkin(&pool, slot, h1);
            return;
        }
        drop(tokio::spawn(async move {
            let mut h1 = h1;
            if h1.ready().await.is_ok() {
                checkin(&pool, slot, h1);
            }
        }));
    }
}

fn checkin(pool: &Weak<Inner>, slot: usize, h1: H1) {
    let Some(pool) = pool.upgrade() else { return };
    if let Some(mut s) = pool.slots.get(slot).and_then(|s| s.lock().ok()) {
        s.idle.push((h1, Instant::now()));
        pool.reap_later(slot, &mut s);
    }
}

/// Whether a worker has idle connections left to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Left {
    Some,
    Nothing,
}

enum Sent {
    Answered(Response<Incoming>, Lease),
    /// hyper handed the request back: not a byte of it was written.
    Unsent(Request<Body>, hyper::Error),
    Failed(hyper::Error),
}

impl Sent {
    /// The answer, or why there is none: a request written and then failed
    /// is `Broken` (never resent here), one not written could not connect
    /// and gives its headers back as they were given (see [`given`]).
    fn outcome(self, host_given: bool) -> Result<(Response<Incoming>, Lease), Unanswered> {
        match self {
            Sent::Answered(resp, lease) => Ok((resp, lease)),
            Sent::Failed(e) => Err(Unanswered { error: UpstreamError::Broken(source_chain(&e)), headers: None }),
            Sent::Unsent(back, e) => {
                let headers = Some(Box::new(given(back, host_given).into_parts().0.headers));
                Err(Unanswered { error: UpstreamError::Connect(source_chain(&e)), headers })
            }
        }
    }
}

impl Inner {
    fn slot(&self) -> usize {
        let outside = self.slots.len().saturating_sub(1);
        crate::workers::current().map_or(outside, |n| n % outside.max(1))
    }

    /// The worker's HTTP/2 connection, else its most recently used idle
    /// HTTP/1 one that is still open and not idle too long.
    fn take(&self, slot: usize) -> Option<Conn> {
        let mut s = self.slots.get(slot)?.lock().ok()?;
        if let Some((h2, used)) = s.shared.as_mut() {
            if !h2.is_closed() {
                *used = Instant::now();
                return Some(Conn::H2(h2.clone()));
            }
            s.shared = None;
        }
        while let Some((h1, since)) = s.idle.pop() {
            if h1.is_ready() && since.elapsed() < self.idle_timeout {
                return Some(Conn::H1(h1));
            }
        }
        None
    }

    /// Opens a connection: HTTP/2 where ALPN chose it or `http2_only`
    /// says so (and then shared by the worker), else HTTP/1.
    async fn connect(self: &Arc<Self>, slot: usize) -> Result<Conn, UpstreamError> {
        let mut connector = self.connector.0.clone();
        let io = connector.call(self.target.clone()).await.map_err(|e| UpstreamError::Connect(source_chain(&*e)))?;
        let failed = |e: hyper::Error| UpstreamError::Connect(source_chain(&e));
        if self.http2_only || io.connected().is_negotiated_h2() {
            let mut b = http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new());
            let (h2, conn) = b.handshake(io).await.map_err(failed)?;
            drop(tokio::spawn(conn));
            return Ok(Conn::H2(self.share(slot, h2)));
        }
        let (h1, conn) = http1::Builder::new().writev(WRITEV).handshake(io).await.map_err(failed)?;
        drop(tokio::spawn(conn));
        Ok(Conn::H1(h1))
    }

    async fn send_on(self: &Arc<Self>, conn: Conn, mut req: Request<Body>, slot: usize) -> Sent {
        let (result, lease) = match conn {
            Conn::H2(mut h2) => {
                absolute_form(req.uri_mut(), &self.target);
                (h2.try_send_request(req).await, Lease(None))
            }
            Conn::H1(mut h1) => {
                origin_form(req.uri_mut());
                req.headers_mut().entry(HOST).or_insert_with(|| self.host.clone());
                let result = h1.try_send_request(req).await;
                (result, Lease(Some(Held { pool: Arc::downgrade(self), slot, h1 })))
            }
        };
        match result {
            Ok(resp) => Sent::Answered(resp, lease),
            Err(mut e) => match e.take_message() {
                Some(back) => Sent::Unsent(back, e.into_error()),
                None => Sent::Failed(e.into_error()),
            },
        }
    }

    /// The worker's HTTP/2 connection: `h2` if it has none open, else the
    /// one it has (several first requests at once each opened one; the
    /// others close once their request is done).
    fn share(self: &Arc<Self>, slot: usize, h2: H2) -> H2 {
        let Some(mut s) = self.slots.get(slot).and_then(|s| s.lock().ok()) else { return h2 };
        match s.shared.as_ref() {
            Some((open, _)) if !open.is_closed() => open.clone(),
            _ => {
                s.shared = Some((h2.clone(), Instant::now()));
                self.reap_later(slot, &mut s);
                h2
            }
        }
    }

    /// Starts the task that closes the worker's connections idle longer
    /// than `idle_timeout`, unless it runs; it ends when the worker has no
    /// idle connection left, or with the pool. `s` is the worker's locked
    /// slot.
    fn reap_later(self: &Arc<Self>, slot: usize, s: &mut Slot) {
        if s.reaping {
            return;
        }
        s.reaping = true;
        let pool = Arc::downgrade(self);
        let every = (self.idle_timeout / 2).max(MIN_REAP_EVERY);
        drop(tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(pool) = pool.upgrade() else { return };
                if pool.close_idle(slot) == Left::Nothing {
                    return;
                }
            }
        }));
    }

    /// Closes the worker's connections idle longer than `idle_timeout`, and
    /// forgets the closed ones. With none left, the reaper stops (under the
    /// same lock that a check-in takes to start it).
    fn close_idle(&self, slot: usize) -> Left {
        let Some(mut s) = self.slots.get(slot).and_then(|s| s.lock().ok()) else { return Left::Nothing };
        let timeout = self.idle_timeout;
        s.idle.retain(|(h1, since)| since.elapsed() < timeout && !h1.is_closed());
        if s.shared.as_ref().is_some_and(|(h2, used)| used.elapsed() >= timeout || h2.is_closed()) {
            s.shared = None;
        }
        if s.idle.is_empty() && s.shared.is_none() {
            s.reaping = false;
            return Left::Nothing;
        }
        Left::Some
    }
}

/// The pool's target: `base`'s scheme and authority, and the root path.
pub(super) fn target_of(base: &Uri) -> Result<Uri, String> {
    under(base, PathAndQuery::from_static("/")).map_err(|e| format!("the upstream URL: {e}"))
}

/// `pq` under `base`'s scheme and authority.
fn under(base: &Uri, pq: PathAndQuery) -> Result<Uri, http::uri::InvalidUriParts> {
    let mut parts = http::uri::Parts::default();
    parts.scheme = base.scheme().cloned();
    parts.authority = base.authority().cloned();
    parts.path_and_query = Some(pq);
    Uri::from_parts(parts)
}

/// `/path?query` in place of an absolute URI: what HTTP/1 sends to a
/// server (the connection already names the host). A request is given
/// in this form; only one an HTTP/2 connection handed back unsent is
/// absolute.
pub(super) fn origin_form(uri: &mut Uri) {
    if uri.scheme().is_some() {
        let pq = uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
        *uri = Uri::from(pq);
    }
}

/// The target's scheme and authority added to a URI in origin form: what
/// HTTP/2 sends (`:scheme`, `:authority`). One absolute already is left.
pub(super) fn absolute_form(uri: &mut Uri, target: &Uri) {
    if uri.scheme().is_some() {
        return;
    }
    let pq = uri.path_and_query().cloned().unwrap_or_else(|| PathAndQuery::from_static("/"));
    if let Ok(absolute) = under(target, pq) {
        *uri = absolute;
    }
}

fn host_header(target: &Uri) -> Result<HeaderValue, String> {
    let host = target.host().ok_or("the upstream URL has no host")?;
    let default =
        matches!((target.scheme_str(), target.port_u16()), (Some("https"), Some(443)) | (Some("http"), Some(80)));
    let value = match target.port_u16() {
        Some(port) if !default => format!("{host}:{port}"),
        _ => host.to_owned(),
    };
    HeaderValue::from_str(&value).map_err(|_| "the upstream host cannot be a Host header".to_owned())
}
