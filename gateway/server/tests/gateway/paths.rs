//! A request path can never escape the upstream base path: every escape
//! spelling is refused with 400 before anything is forwarded.

use super::support::{FakeUpstream, Gateway, Handler, TOKEN, config, json_response};
use serde_json::json;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a raw request line (no client normalizes it) and returns the status.
async fn raw_status(gw: &Gateway, target: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(gw.handle.addr).await.unwrap();
    let req =
        format!("GET {target} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
}

#[tokio::test]
async fn every_escape_spelling_is_refused_and_not_forwarded() {
    let ok: Handler = Arc::new(|_, _| json_response(200, &json!({"ok": true})));
    let up = FakeUpstream::start(ok).await;
    let gw = Gateway::start(&config(&up.url(), &[], "generic")).await;
    for target in [
        "/scim/v2/../admin",
        "/scim/v2/Users/../../admin",
        "/scim/v2/%2e%2e/admin",
        "/scim/v2/%2E%2E/admin",
        "/scim/v2/.%2e/admin",
        "/scim/v2/Users/./x",
        "/scim/v2//Users",
        "/scim/v2/Users//x",
        "/scim/v2/Users%2f..%2f..%2fadmin",
        "/scim/v2/Users%2Fx",
        "/scim/v2/Users%5c..%5cadmin",
        "/scim/v2/Users\\..\\admin",
        "/scim/v2/Users/%00",
    ] {
        let status = raw_status(&gw, target).await;
        assert_eq!(status, 400, "{target}");
    }
    assert_eq!(up.hits(), 0, "nothing was forwarded");
}

#[tokio::test]
async fn paths_outside_every_route_are_404_and_a_trailing_slash_is_dropped() {
    let ok: Handler = Arc::new(|_, seen| json_response(200, &json!({"path": seen.uri.path()})));
    let up = FakeUpstream::start(ok).await;
    let gw = Gateway::start(&config(&up.url(), &[], "generic")).await;
    assert_eq!(raw_status(&gw, "/scim/v2x/Users").await, 404);
    assert_eq!(raw_status(&gw, "/other").await, 404);
    assert_eq!(up.hits(), 0);
    let r = gw.call(http::Method::GET, "/scim/v2/ServiceProviderConfig/", None).await;
    assert_eq!(r.json["path"], "/v2/ServiceProviderConfig");
}
