//! The admin console's files, embedded in the binary: it works offline (no
//! CDN, no external fonts). The page itself holds nothing secret: it asks
//! for the admin token and every piece of data comes from the admin API.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

const INDEX: &str = include_str!("../../../console/index.html");
const SCRIPT: &str = include_str!("../../../console/app.js");
const STYLE: &str = include_str!("../../../console/app.css");

/// Everything the page loads comes from here; nothing else may run.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub(super) fn asset(path: &str) -> Response<Full<Bytes>> {
    let (body, kind) = match path {
        "/admin" | "/admin/" | "/admin/index.html" => (INDEX, "text/html; charset=utf-8"),
        "/admin/app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "/admin/app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => ("not found\n", "text/plain; charset=utf-8"),
    };
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    if body == "not found\n" {
        *r.status_mut() = StatusCode::NOT_FOUND;
    }
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}
