//! Headers across the proxy: hop-by-hop ones dropped, the IdP's credentials
//! never passed on, forwarding headers set by the gateway.

use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderName, HeaderValue};

/// The request id header.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The SCIM media type.
pub const SCIM_JSON: HeaderValue = HeaderValue::from_static("application/scim+json");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Hop-by-hop headers (RFC 9110, 7.6.1), with the two older ones proxies
/// still drop (`keep-alive`, `proxy-connection`).
fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Not sent upstream beside the hop-by-hop ones: the IdP's token, Host,
/// length, encoding wishes and forwarding headers (the gateway sets its own).
fn not_upstream(name: &str) -> bool {
    matches!(
        name,
        "authorization"
            | "host"
            | "content-length"
            | "accept-encoding"
            | "forwarded"
            | "x-forwarded-for"
            | "x-forwarded-proto"
            | "x-forwarded-host"
            | "x-real-ip"
    )
}

/// Not sent with the gateway's own read, beside [`not_upstream`]'s.
fn not_read(name: &str) -> bool {
    not_upstream(name) || matches!(name, "if-match" | "if-none-match" | "content-type")
}

/// Not sent back beside the hop-by-hop ones: the length (recomputed), the
/// upstream's encoding and cookies.
fn not_downstream(name: &str) -> bool {
    matches!(name, "content-length" | "content-encoding" | "set-cookie")
}

/// Whether a header name (lower case, as a header's is) is never passed
/// on: a hop-by-hop one or one of the `dropped` names.
fn left_out(name: &str, dropped: fn(&str) -> bool) -> bool {
    hop_by_hop(name) || dropped(name)
}

/// A copy of `h` without hop-by-hop headers (those the Connection header
/// names among them) and without those `dropped` names: one pass, names
/// compared by their text (a header name is lower case), and the
/// Connection header's names parsed only when there is one.
fn copy_without(h: &HeaderMap, dropped: fn(&str) -> bool) -> HeaderMap {
    let mut out = HeaderMap::with_capacity(h.len() + 3);
    let mut connection = false;
    for (name, value) in h {
        connection |= *name == CONNECTION;
        if !left_out(name.as_str(), dropped) {
            out.append(name.clone(), value.clone());
        }
    }
    if connection {
        for name in connection_listed(h, dropped) {
            out.remove(name);
        }
    }
    out
}

/// `h` without hop-by-hop headers (those the Connection header names
/// among them) and without those `dropped` names, as [`copy_without`]
/// gives, but in place: no map made, no header kept hashed again. A
/// repeated header's values keep their order; headers of different names
/// may not (HTTP gives that order no meaning).
fn strip(h: &mut HeaderMap, dropped: fn(&str) -> bool) {
    // Owned names: the map changes as they go. Most answers list none
    // that is not left out already (`keep-alive`): nothing is made then.
    let listed: Vec<HeaderName> =
        connection_listed(h, dropped).filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok()).collect();
    for name in listed {
        h.remove(name);
    }
    while let Some(name) = h.keys().find(|name| left_out(name.as_str(), dropped)).cloned() {
        h.remove(name);
    }
}

/// The names `h`'s Connection headers list that are not left out anyway,
/// each as it is written (in any case), none made. A value is split by
/// its bytes: a listed text outside ASCII names no header, and leaves the
/// other names listed beside it to go. Nothing when there is no
/// Connection header.
fn connection_listed(h: &HeaderMap, dropped: fn(&str) -> bool) -> impl Iterator<Item = &str> {
    let pieces = h.get_all(CONNECTION).into_iter().flat_map(|v| v.as_bytes().split(|&b| b == b','));
    let named = pieces.filter_map(|piece| std::str::from_utf8(piece).ok());
    // A name left out already (`keep-alive` as a rule) is not looked up.
    let gone = move |name: &str| !name.bytes().any(|b| b.is_ascii_uppercase()) && left_out(name, dropped);
    named.map(str::trim).filter(move |name| !gone(name))
}

/// What an upstream request is, for the IdP's headers it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// The IdP's request, forwarded (mapped or not).
    Forward,
    /// The gateway's own read of a resource (a GET with no body): the
    /// IdP's preconditions and Content-Type are left out too.
    Read,
}

/// The headers to send upstream: the IdP's, without hop-by-hop ones, its
/// token, Host, length, encoding wishes and forwarding headers (the gateway
/// sets its own: `forwarded_for` when there is one, and the scheme the IdP
/// used), and for a [`Sending::Read`] without its preconditions and
/// Content-Type.
pub fn upstream_request(
    incoming: &HeaderMap,
    request_id: &HeaderValue,
    forwarded_for: Option<&HeaderValue>,
    proto: Proto,
    sending: Sending,
) -> HeaderMap {
    let dropped = match sending {
        Sending::Forward => not_upstream,
        Sending::Read => not_read,
    };
    let mut h = copy_without(incoming, dropped);
    h.insert(REQUEST_ID, request_id.clone());
    if let Some(v) = forwarded_for {
        h.insert(X_FORWARDED_FOR, v.clone());
    }
    h.insert(X_FORWARDED_PROTO, proto.header());
    h
}

/// The scheme the IdP reached the gateway with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    Http,
    Https,
}

impl Proto {
    /// The scheme's name, as in a URL.
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Http => "http",
            Proto::Https => "https",
        }
    }

    /// The scheme as the `X-Forwarded-Proto` value.
    fn header(self) -> HeaderValue {
        match self {
            Proto::Http => HeaderValue::from_static("http"),
            Proto::Https => HeaderValue::from_static("https"),
        }
    }
}

/// The headers to send back with `body`: the upstream's (`h`, changed in
/// place by [`strip`]) without hop-by-hop ones, length (recomputed),
/// encoding and cookies; the SCIM media type on any body; the request id.
pub fn downstream_response(mut h: HeaderMap, request_id: &HeaderValue, body: Option<&Bytes>) -> HeaderMap {
    strip(&mut h, not_downstream);
    match body {
        Some(_) => h.insert(CONTENT_TYPE, SCIM_JSON),
        None => h.remove(CONTENT_TYPE),
    };
    h.insert(REQUEST_ID, request_id.clone());
    h
}

/// Whether the IdP's If-Match (if it sent one) names `etag`: `*`, or one
/// of its listed tags, compared by their quoted text, without the weak
/// `W/` mark (SCIM servers give weak tags and IdPs send them back as they
/// got them). A backend without versions (`etag` is `None`) ignores
/// If-Match, so it holds.
pub fn if_match_holds(incoming: &HeaderMap, etag: Option<&HeaderValue>) -> bool {
    let Some(current) = etag.and_then(|e| e.to_str().ok()) else { return true };
    let current = quoted(current).next().unwrap_or(current);
    let mut sent = incoming.get_all(http::header::IF_MATCH).iter().filter_map(|v| v.to_str().ok()).peekable();
    if sent.peek().is_none() {
        return true;
    }
    sent.any(|v| v.trim() == "*" || quoted(v).any(|tag| tag == current))
}

/// The quoted parts of an entity-tag list (`W/"a,b", "c"` gives `a,b`, `c`).
fn quoted(list: &str) -> impl Iterator<Item = &str> {
    list.split('"').skip(1).step_by(2)
}

/// The request id to use: the IdP's when it is short and printable,
/// otherwise a new one (a random UUID, lower case, hyphenated; written
/// into a buffer, not through the formatting machinery).
pub fn request_id(incoming: &HeaderMap) -> HeaderValue {
    incoming
        .get(REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.as_bytes().iter().all(|b| b.is_ascii_graphic()))
        .cloned()
        .unwrap_or_else(|| {
            let mut id = [0_u8; uuid::fmt::Hyphenated::LENGTH];
            uuid::Uuid::new_v4().hyphenated().encode_lower(&mut id);
            // The value owns its text: its copies (upstream, in the answer)
            // share it, and none is made a shared one first.
            HeaderValue::from_maybe_shared(Bytes::from_owner(id)).unwrap_or(HeaderValue::from_static("-"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{
        ACCEPT_ENCODING, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, FORWARDED, HOST, PROXY_AUTHENTICATE,
        PROXY_AUTHORIZATION, SET_COOKIE, TE, TRAILER, TRANSFER_ENCODING, UPGRADE,
    };

    /// A map of these headers, in order, a name given twice kept twice.
    fn map_of(headers: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for &(name, value) in headers {
            h.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn the_dropped_names_are_the_headers_names_as_http_spells_them() {
        let hop = [CONNECTION, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE, TRAILER, TRANSFER_ENCODING, UPGRADE];
        let hop = hop.into_iter().chain(["keep-alive", "proxy-connection"].map(HeaderName::from_static));
        let up = [AUTHORIZATION, HOST, CONTENT_LENGTH, ACCEPT_ENCODING, FORWARDED, X_FORWARDED_FOR, X_FORWARDED_PROTO];
        let up = up.into_iter().chain(["x-forwarded-host", "x-real-ip"].map(HeaderName::from_static));
        let down = [CONTENT_LENGTH, CONTENT_ENCODING, SET_COOKIE];
        hop.for_each(|n| assert!(hop_by_hop(n.as_str()), "{n}"));
        up.for_each(|n| assert!(not_upstream(n.as_str()) && !hop_by_hop(n.as_str()), "{n}"));
        down.into_iter().for_each(|n| assert!(not_downstream(n.as_str()), "{n}"));
        for kept in [CONTENT_TYPE, http::header::IF_MATCH, http::header::ETAG, http::header::ACCEPT, REQUEST_ID] {
            let name = kept.as_str();
            assert!(!hop_by_hop(name) && !not_upstream(name) && !not_downstream(name), "{kept}");
        }
    }

    #[test]
    fn if_match_holds_for_star_a_listed_tag_or_no_header() {
        let etag = HeaderValue::from_static("W/\"7\"");
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(http::header::IF_MATCH, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(if_match_holds(&HeaderMap::new(), Some(&etag)));
        assert!(if_match_holds(&with("W/\"7\""), Some(&etag)));
        assert!(if_match_holds(&with("\"7\""), Some(&etag)), "weak comparison");
        assert!(if_match_holds(&with("W/\"6\", W/\"7\""), Some(&etag)));
        assert!(if_match_holds(&with("*"), None));
        assert!(!if_match_holds(&with("W/\"6\""), Some(&etag)));
        assert!(if_match_holds(&with("W/\"6\""), None), "a backend without versions ignores If-Match");
        let comma = HeaderValue::from_static("W/\"a,b\"");
        assert!(if_match_holds(&with("W/\"a,b\""), Some(&comma)), "a comma inside a tag");
        assert!(!if_match_holds(&with("W/\"a\", \"b\""), Some(&comma)));
    }

    #[test]
    fn upstream_gets_no_credentials_hop_by_hop_or_spoofed_forwarding() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer idp-secret"));
        h.insert(CONNECTION, HeaderValue::from_static("close, X-Custom-Hop , not a name"));
        h.insert("x-custom-hop", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        h.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
        h.insert("x-forwarded-proto", HeaderValue::from_static("http"));
        h.append("x-request-id", HeaderValue::from_static("idp-1"));
        h.append("x-request-id", HeaderValue::from_static("idp-2"));
        h.insert("if-match", HeaderValue::from_static("W/\"3\""));
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
        let peer = HeaderValue::from_static("10.0.0.1");
        let out = upstream_request(&h, &HeaderValue::from_static("rid"), Some(&peer), Proto::Https, Sending::Forward);
        for gone in ["authorization", "connection", "x-custom-hop", "keep-alive"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
        assert_eq!(out["x-forwarded-for"], "10.0.0.1");
        assert_eq!(out["x-forwarded-proto"], "https");
        assert_eq!(out["if-match"], "W/\"3\"");
        assert_eq!(out["content-type"], "application/scim+json");
        assert_eq!(out["x-request-id"], "rid");
        for set in ["x-forwarded-for", "x-forwarded-proto", "x-request-id"] {
            assert_eq!(out.get_all(set).iter().count(), 1, "the gateway's {set} only, once");
        }
        let read = upstream_request(&h, &HeaderValue::from_static("rid"), Some(&peer), Proto::Https, Sending::Read);
        for gone in ["authorization", "connection", "x-custom-hop", "keep-alive", "if-match", "content-type"] {
            assert!(!read.contains_key(gone), "the gateway's own read carries no {gone}");
        }
        assert_eq!((&read["x-forwarded-for"], &read["x-request-id"]), (&peer, &HeaderValue::from_static("rid")));
    }

    #[test]
    fn a_name_the_connection_header_lists_goes_in_any_case_and_at_any_length_and_no_other_with_it() {
        let long = format!("x-{}", "hop".repeat(30));
        let (long_upper, long_other) = (long.to_ascii_uppercase(), format!("x-{}", "hoq".repeat(30)));
        let broken = format!("x {}", "hoq".repeat(30));
        let mut h = HeaderMap::new();
        let listed = format!("{long_upper}, {broken}, not a name, ");
        h.insert(CONNECTION, HeaderValue::from_str(&listed).unwrap());
        for name in [&long, &long_other] {
            h.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_static("1"));
        }
        h.insert("not", HeaderValue::from_static("1"));
        let out = upstream_request(&h, &HeaderValue::from_static("rid"), None, Proto::Http, Sending::Forward);
        assert!(!out.contains_key(long.as_str()), "a long name listed in capitals goes");
        assert!(out.contains_key(long_other.as_str()), "a name of the same length not listed stays");
        assert!(out.contains_key("not"), "a listed text that is no name removes nothing");
    }

    #[test]
    fn the_idp_gets_no_cookies_lengths_encodings_or_hop_by_hop_and_every_value_of_the_rest() {
        let h = map_of(&[
            ("set-cookie", "session=backend"),
            ("content-length", "99"),
            ("content-encoding", "gzip"),
            ("transfer-encoding", "chunked"),
            ("connection", "keep-alive, x-hop"),
            ("x-hop", "1"),
            ("etag", "W/\"3\""),
            ("link", "<a>; rel=a"),
            ("link", "<b>; rel=b"),
        ]);
        let body = Bytes::from_static(b"{}");
        let out = downstream_response(h.clone(), &HeaderValue::from_static("rid"), Some(&body));
        for gone in ["set-cookie", "content-length", "content-encoding", "transfer-encoding", "connection", "x-hop"] {
            assert!(!out.contains_key(gone), "{gone}");
        }
        assert_eq!(out["etag"], "W/\"3\"");
        assert_eq!(out.get_all("link").iter().count(), 2, "every value of a repeated header");
        assert_eq!(out[CONTENT_TYPE], "application/scim+json");
        assert!(!downstream_response(h.clone(), &HeaderValue::from_static("rid"), None).contains_key(CONTENT_TYPE));
    }

    #[test]
    fn names_listed_by_every_connection_header_go_both_ways_and_the_rest_stay_in_their_order() {
        let h = map_of(&[
            ("connection", "x-first"),
            ("x-first", "1"),
            ("link", "<a>"),
            ("connection", "X-Second, close"),
            ("x-second", "2"),
            ("link", "<b>"),
            ("x-third", "3"),
        ]);
        let rid = HeaderValue::from_static("rid");
        let up = upstream_request(&h, &rid, None, Proto::Http, Sending::Forward);
        let down = downstream_response(h.clone(), &rid, None);
        for out in [up, down] {
            for gone in ["connection", "x-first", "x-second"] {
                assert!(!out.contains_key(gone), "{gone}");
            }
            let links: Vec<_> = out.get_all("link").iter().collect();
            assert_eq!(links, ["<a>", "<b>"], "a repeated header's values in their order");
            assert_eq!(out["x-third"], "3");
        }
    }

    #[test]
    fn a_name_listed_beside_text_outside_ascii_goes_too() {
        let mut h = HeaderMap::new();
        h.insert(CONNECTION, HeaderValue::from_bytes(b"x-hop, caf\xe9, x-other").unwrap());
        h.insert("x-hop", HeaderValue::from_static("1"));
        h.insert("x-other", HeaderValue::from_static("2"));
        h.insert("x-kept", HeaderValue::from_static("3"));
        let up = upstream_request(&h, &HeaderValue::from_static("rid"), None, Proto::Http, Sending::Forward);
        let down = downstream_response(h.clone(), &HeaderValue::from_static("rid"), None);
        for out in [up, down] {
            assert!(!out.contains_key("x-hop") && !out.contains_key("x-other"), "{out:?}");
            assert_eq!(out["x-kept"], "3");
        }
    }

    /// Each name's values in their order, the names sorted.
    fn by_name(h: &HeaderMap) -> Vec<(String, Vec<HeaderValue>)> {
        let mut names: Vec<_> = h.keys().map(|n| (n.to_string(), h.get_all(n).iter().cloned().collect())).collect();
        names.sort_by(|a: &(String, Vec<_>), b| a.0.cmp(&b.0));
        names
    }

    #[test]
    fn stripping_in_place_leaves_each_header_and_value_the_copy_keeps() {
        let maps = [
            map_of(&[("content-length", "9"), ("connection", "keep-alive"), ("etag", "W/\"1\""), ("date", "x")]),
            map_of(&[("connection", "close, X-Hop"), ("x-hop", "1"), ("link", "<a>"), ("link", "<b>")]),
            map_of(&[("set-cookie", "a"), ("set-cookie", "b"), ("transfer-encoding", "chunked"), ("te", "x")]),
            map_of(&[("connection", "x-first"), ("x-first", "1"), ("connection", "X-Second"), ("x-second", "2")]),
            map_of(&[("authorization", "Bearer t"), ("host", "h"), ("x-real-ip", "1"), ("if-match", "*")]),
            map_of(&[("keep-alive", "timeout=5"), ("proxy-connection", "x"), ("upgrade", "h2c"), ("trailer", "x")]),
            HeaderMap::new(),
        ];
        let dropped: [fn(&str) -> bool; 3] = [not_upstream, not_read, not_downstream];
        for h in &maps {
            for drop in dropped {
                let mut stripped = h.clone();
                strip(&mut stripped, drop);
                assert_eq!(by_name(&stripped), by_name(&copy_without(h, drop)), "{h:?}");
            }
        }
    }

    #[test]
    fn request_ids_are_kept_when_sane() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&h), "abc-123");
        h.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_ne!(request_id(&h), "has space");
        let fresh = request_id(&HeaderMap::new());
        let parsed = uuid::Uuid::parse_str(fresh.to_str().unwrap()).unwrap();
        assert_eq!(parsed.get_version_num(), 4);
        assert_eq!(fresh, parsed.hyphenated().to_string().as_str(), "lower case, hyphenated");
        assert_ne!(fresh, request_id(&HeaderMap::new()), "each one new");
    }
}
