//! Running the gateway: admin endpoints, metrics, reload, shutdown, several
//! routes side by side.

use super::support::{FakeUpstream, Gateway, Handler, Seen, TOKEN, config, json_response, send};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn echo() -> Handler {
    Arc::new(|_, seen: Seen| json_response(200, &json!({"path": seen.uri.path(), "schemas": ["x"]})))
}

#[tokio::test]
async fn admin_endpoints_report_health_readiness_and_bounded_metrics() {
    let gw = Gateway::start(&config("memory:", &["okta-to-notion.toml"], "okta")).await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "A@B.com", "emails": [{"value": "A@B.com"}], "active": "True"});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(send(Method::GET, &gw.admin("/healthz"), None, None, &[]).await.status, StatusCode::OK);
    assert_eq!(send(Method::GET, &gw.admin("/readyz"), None, None, &[]).await.status, StatusCode::OK);
    let metrics = send(Method::GET, &gw.admin("/metrics"), None, None, &[]).await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    for name in [
        "scim_gateway_requests_total{method=\"POST\",resource=\"User\",route=\"default\",status=\"201\"} 1",
        "scim_gateway_request_duration_seconds_bucket",
        "scim_gateway_upstream_request_duration_seconds_bucket",
        "scim_gateway_upstream_up{route=\"default\"} 1",
        "scim_gateway_upstream_responses_total{class=\"2xx\",route=\"default\"} 1",
        "scim_gateway_mapping_rules_applied_total",
        "scim_gateway_normalizations_total{kind=\"string_boolean\"} 1",
        "scim_gateway_build_info{version=",
    ] {
        assert!(text.contains(name), "{name} missing from\n{text}");
    }
    assert!(!text.to_lowercase().contains("a@b.com"), "no user data in labels");
}

#[tokio::test]
async fn reload_swaps_a_good_config_and_refuses_a_bad_one() {
    let up = FakeUpstream::start(echo()).await;
    let base = config(&up.url(), &[], "generic");
    let gw = Gateway::start(&base).await;
    assert_eq!(gw.call(Method::GET, "/scim/v2/Users/1", None).await.status, StatusCode::OK);

    // A good config: a new base path and a second token in the file.
    let new_token = "rotated-token-0123456789";
    std::fs::write(gw.dir.path().join("tokens"), format!("idp:{TOKEN}\nnew:{new_token}\n")).unwrap();
    gw.rewrite_config(&base.replace("/scim/v2", "/scim/v3"));
    gw.handle.reload().unwrap();
    assert_eq!(gw.call(Method::GET, "/scim/v3/Users/1", None).await.status, StatusCode::OK);
    assert_eq!(gw.call(Method::GET, "/scim/v2/Users/1", None).await.status, StatusCode::NOT_FOUND);
    let rotated = send(Method::GET, &gw.url("/scim/v3/Users/1"), Some(new_token), None, &[]).await;
    assert_eq!(rotated.status, StatusCode::OK);

    // A bad config: refused, the previous one keeps serving.
    gw.rewrite_config(&format!("{base}\n[server.limits]\nmax_body_bytes = 0\nunknown_key = 1"));
    let err = gw.handle.reload().unwrap_err();
    assert!(err.contains("gateway.toml:"), "{err}");
    assert_eq!(gw.call(Method::GET, "/scim/v3/Users/1", None).await.status, StatusCode::OK);
    assert_eq!(gw.metric("scim_gateway_config_reloads_total{outcome=\"success\"}"), 1.0);
    assert_eq!(gw.metric("scim_gateway_config_reloads_total{outcome=\"failure\"}"), 1.0);
}

/// A GET of a user on one open connection, with `token`.
async fn get_on(sender: &mut SendRequest<Full<Bytes>>, token: &str) -> StatusCode {
    let req = http::Request::get("/scim/v2/Users/1")
        .header("host", "gateway")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    sender.send_request(req).await.unwrap().status()
}

#[tokio::test]
async fn a_token_a_reload_revokes_is_refused_on_the_connection_that_presented_it() {
    let up = FakeUpstream::start(echo()).await;
    let base = config(&up.url(), &[], "generic");
    let gw = Gateway::start(&base).await;
    let stream = tokio::net::TcpStream::connect(gw.handle.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    let new_token = "rotated-token-0123456789";
    for (token, status) in [(TOKEN, 200), (TOKEN, 200), (new_token, 401), (TOKEN, 200)] {
        assert_eq!(get_on(&mut sender, token).await, status, "before the reload");
    }
    std::fs::write(gw.dir.path().join("tokens"), format!("new:{new_token}\n")).unwrap();
    gw.rewrite_config(&base);
    gw.handle.reload().unwrap();
    for (token, status) in [(TOKEN, 401), (new_token, 200), (new_token, 200), (TOKEN, 401)] {
        assert_eq!(get_on(&mut sender, token).await, status, "after the reload, on the same connection");
    }
    assert_eq!(up.hits(), 5, "a refused request is not forwarded");
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_and_stops_accepting() {
    let up = FakeUpstream::start_delayed(echo(), Duration::from_millis(600)).await;
    let gw = Gateway::start(&config(&up.url(), &[], "generic")).await;
    let url = gw.url("/scim/v2/Users/1");
    let addr = gw.handle.addr;
    let in_flight = tokio::spawn(async move { send(Method::GET, &url, Some(TOKEN), None, &[]).await.status });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let Gateway { handle, dir: _dir, .. } = gw;
    handle.shutdown().await;
    assert_eq!(in_flight.await.unwrap(), StatusCode::OK, "the request in flight finished");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test]
async fn shutdown_closes_an_idle_keep_alive_connection_without_waiting_for_the_deadline() {
    let up = FakeUpstream::start(echo()).await;
    let gw = Gateway::start(&config(&up.url(), &[], "generic")).await;
    let stream = tokio::net::TcpStream::connect(gw.handle.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    let connection = tokio::spawn(connection);
    assert_eq!(get_on(&mut sender, TOKEN).await, StatusCode::OK);
    let Gateway { handle, dir: _dir, .. } = gw;
    let started = std::time::Instant::now();
    // The deadline is 10 s: an idle connection not told would hold the
    // shutdown that long.
    tokio::time::timeout(Duration::from_secs(5), handle.shutdown()).await.expect("shut down before the deadline");
    let closed = tokio::time::timeout(Duration::from_secs(5), connection).await.expect("the connection was closed");
    assert!(closed.unwrap().is_ok(), "closed cleanly");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn two_routes_with_their_own_tokens_presets_and_upstreams() {
    let okta_up = FakeUpstream::start(echo()).await;
    let entra_up = FakeUpstream::start(echo()).await;
    let text = format!(
        r#"
[[route]]
name = "okta"
base_path = "/okta/scim/v2"
auth = {{ tokens_file = "{{dir}}/tokens" }}
upstream = {{ url = "{}" }}
mapping = {{ files = ["{{mappings}}/okta-to-notion.toml"], preset = "okta" }}

[[route]]
name = "entra"
base_path = "/entra/scim/v2"
auth = {{ tokens_file = "{{dir}}/entra-tokens" }}
upstream = {{ url = "{}" }}
mapping = {{ files = ["{{mappings}}/entra-to-notion.toml"], preset = "entra" }}
"#,
        okta_up.url(),
        entra_up.url()
    );
    let dir = tempfile::tempdir().unwrap();
    let entra_token = "entra-only-token-0123456789";
    let gw = {
        let text = text.replace("{dir}/entra-tokens", &dir.path().join("entra").display().to_string());
        std::fs::write(dir.path().join("entra"), format!("{entra_token}\n")).unwrap();
        Gateway::start(&text).await
    };
    assert_eq!(gw.call(Method::GET, "/okta/scim/v2/Users/1", None).await.json["path"], "/v2/Users/1");
    assert_eq!(okta_up.hits(), 1);
    let r = send(Method::GET, &gw.url("/entra/scim/v2/Users/1"), Some(TOKEN), None, &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the Okta token is not valid on the Entra route");
    let r = send(Method::GET, &gw.url("/entra/scim/v2/Users/1"), Some(entra_token), None, &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(entra_up.hits(), 1);
}
