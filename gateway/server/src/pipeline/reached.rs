//! How the IdP reached the gateway: the scheme it used, the X-Forwarded-For
//! to send upstream and the public base URL the IdP sees. Forwarding
//! headers count only from a trusted proxy.

use crate::gateway::{Gateway, RouteRuntime};
use crate::proxy::headers::{Proto, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use http::HeaderValue;
use http::header::HOST;
use std::net::SocketAddr;

/// The connection a request came on.
#[derive(Debug, Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The peer's address as a header value, made once per connection.
    pub peer_ip: Option<HeaderValue>,
}

impl Conn {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        Self { peer, tls, peer_ip: HeaderValue::from_str(&peer.ip().to_string()).ok() }
    }
}

/// What [`reached`] tells.
pub(super) struct Reached {
    pub proto: Proto,
    pub forwarded_for: Option<HeaderValue>,
    pub public_base: String,
}

/// How the request on `conn` reached the gateway.
pub(super) fn reached(gw: &Gateway, route: &RouteRuntime, conn: &Conn, parts: &http::request::Parts) -> Reached {
    let trusted = gw.trusted_proxies.iter().any(|c| c.contains(conn.peer.ip()));
    // An untrusted peer's forwarding headers are not even looked at.
    let forwarded = |n| trusted.then(|| parts.headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim)).flatten();
    let proto = match forwarded(X_FORWARDED_PROTO) {
        Some(p) if p.eq_ignore_ascii_case("https") => Proto::Https,
        Some(p) if p.eq_ignore_ascii_case("http") => Proto::Http,
        _ if conn.tls => Proto::Https,
        _ => Proto::Http,
    };
    let forwarded_for = match forwarded(X_FORWARDED_FOR) {
        Some(chain) => HeaderValue::from_str(&format!("{chain}, {}", conn.peer.ip())).ok(),
        None => conn.peer_ip.clone(),
    };
    let public_base = route.public_url.clone().unwrap_or_else(|| {
        let host = forwarded(X_FORWARDED_HOST)
            .or_else(|| parts.headers.get(HOST).and_then(|v| v.to_str().ok()))
            .or_else(|| parts.uri.authority().map(http::uri::Authority::as_str))
            .filter(|h| h.parse::<http::uri::Authority>().is_ok())
            .unwrap_or("localhost");
        let (scheme, path) = (proto.as_str(), route.base_path.as_str());
        let mut base = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
        [scheme, "://", host, path].iter().for_each(|part| base.push_str(part));
        base
    });
    Reached { proto, forwarded_for, public_base }
}
