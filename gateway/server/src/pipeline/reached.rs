//! How the IdP reached the gateway: the scheme it used, the X-Forwarded-For
//! to send upstream and the public base URL the IdP sees. Forwarding
//! headers count only from a trusted proxy.

use crate::gateway::{Gateway, RouteRuntime};
use crate::proxy::headers::{Proto, X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use http::HeaderValue;
use http::header::HOST;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// The connection a request came on.
#[derive(Debug, Clone)]
pub struct Conn {
    pub peer: SocketAddr,
    pub tls: bool,
    /// The peer's address as a header value, made once per connection.
    pub peer_ip: Option<HeaderValue>,
    /// The Host its requests name, checked once while it stays the same.
    hosts: Arc<Hosts>,
}

impl Conn {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        let peer_ip = HeaderValue::from_str(&peer.ip().to_string()).ok();
        Self { peer, tls, peer_ip, hosts: Arc::default() }
    }
}

/// The last Host a connection's requests named that was an authority (its
/// own copy): an IdP's keep-alive connection names the same host in every
/// request, and its grammar is checked (the check copies it) only when it
/// changes.
#[derive(Debug, Default)]
struct Hosts {
    last: Mutex<Option<HeaderValue>>,
}

impl Hosts {
    /// Whether the Host `value` (as `text`) is an authority.
    fn is_authority(&self, value: &HeaderValue, text: &str) -> bool {
        // A lock poisoned by a panic elsewhere only costs the memo.
        let Ok(mut last) = self.last.lock() else { return is_authority(text) };
        if last.as_ref() == Some(value) {
            return true;
        }
        let valid = is_authority(text);
        if valid {
            // A copy: the request's value is a slice of the connection's
            // read buffer, which it would hold for as long as the
            // connection lasts.
            *last = HeaderValue::from_bytes(value.as_bytes()).ok();
        }
        valid
    }
}

/// Whether `host` is a URI's authority (host and port), as a public base
/// URL needs it.
fn is_authority(host: &str) -> bool {
    host.parse::<http::uri::Authority>().is_ok()
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
        let host = public_host(forwarded(X_FORWARDED_HOST), conn, parts);
        let (scheme, path) = (proto.as_str(), route.base_path.as_str());
        let mut base = String::with_capacity(scheme.len() + 3 + host.len() + path.len());
        [scheme, "://", host, path].iter().for_each(|part| base.push_str(part));
        base
    });
    Reached { proto, forwarded_for, public_base }
}

/// The host the IdP named: a trusted proxy's `forwarded` one, else the
/// request's Host, else its URI's authority; the first found, when it is
/// an authority, else `localhost`.
fn public_host<'a>(forwarded: Option<&'a str>, conn: &Conn, parts: &'a http::request::Parts) -> &'a str {
    let named = match forwarded {
        Some(host) => Some((host, is_authority(host))),
        None => match parts.headers.get(HOST).and_then(|v| Some((v, v.to_str().ok()?))) {
            Some((value, host)) => Some((host, conn.hosts.is_authority(value, host))),
            // The URI's authority is one.
            None => parts.uri.authority().map(|a| (a.as_str(), true)),
        },
    };
    named.filter(|&(_, authority)| authority).map_or("localhost", |(host, _)| host)
}

#[cfg(test)]
mod tests;
