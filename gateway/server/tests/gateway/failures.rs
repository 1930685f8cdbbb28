//! What the IdP gets when something is wrong: auth, bad bodies, limits,
//! mapping errors, and upstreams that fail, stall, gzip or send HTML.

use super::support::{FakeUpstream, Gateway, Handler, Seen, TOKEN, config, json_response, send};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

fn user(id: &str, etag: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": id, "userName": "jane@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
        "emails": [{"value": "jane@example.com", "type": "work", "primary": true}], "active": true,
        "meta": {"resourceType": "User", "version": etag}
    })
}

/// An upstream that records requests and answers GETs with a user, writes
/// with their body.
fn recording(log: Arc<Mutex<Vec<Seen>>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        log.lock().unwrap().push(seen.clone());
        match seen.method {
            Method::GET if seen.uri.path().ends_with("/Users") => {
                json_response(200, &json!({"schemas": [LIST], "totalResults": 0, "Resources": []}))
            }
            Method::GET => json_response(200, &user("u1", "W/\"1\"")),
            Method::DELETE => http::Response::builder().status(204).body(Full::new(Bytes::new())).unwrap(),
            _ => json_response(200, &serde_json::from_slice::<Value>(&seen.body).unwrap_or(json!({}))),
        }
    })
}

async fn okta_gateway(upstream: &FakeUpstream, extra: &str) -> Gateway {
    Gateway::start(&format!("{}\n{extra}", config(&upstream.url(), &["okta-to-notion.toml"], "okta"))).await
}

#[tokio::test]
async fn requests_without_a_valid_token_get_401_and_never_reach_the_upstream() {
    let up = FakeUpstream::start(recording(Arc::default())).await;
    let gw = okta_gateway(&up, "").await;
    for token in [None, Some("wrong-token-0123456789"), Some(&TOKEN[..10])] {
        let r = send(Method::GET, &gw.url("/scim/v2/Users"), token, None, &[]).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers["www-authenticate"].to_str().unwrap().split(' ').next(), Some("Bearer"));
        assert_eq!(r.json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(r.json["status"], "401");
        assert!(!String::from_utf8_lossy(&r.body).contains("wrong-token"), "the token is not echoed");
    }
    let basic =
        send(Method::GET, &gw.url("/scim/v2/Users"), None, None, &[("authorization", &format!("Basic {TOKEN}"))]).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(up.hits(), 0);
    assert_eq!(gw.metric("scim_gateway_auth_failures_total"), 4.0);
}

#[tokio::test]
async fn the_idp_token_is_replaced_and_relevant_headers_pass_both_ways() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = okta_gateway(&up, "").await;
    let headers =
        [("if-none-match", "W/\"9\""), ("x-request-id", "rid-42"), ("connection", "keep-alive, x-hop"), ("x-hop", "1")];
    let r = send(Method::GET, &gw.url("/scim/v2/Users/u1"), Some(TOKEN), None, &headers).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-request-id"], "rid-42");
    let seen = log.lock().unwrap()[0].clone();
    assert_eq!(seen.headers["authorization"], format!("Bearer {}", super::support::UPSTREAM_TOKEN));
    assert_eq!(seen.headers["if-none-match"], "W/\"9\"");
    assert_eq!(seen.headers["x-request-id"], "rid-42");
    assert_eq!(seen.headers["accept-encoding"], "identity");
    assert!(!seen.headers.contains_key("x-hop"));
    let fresh = send(Method::GET, &gw.url("/scim/v2/Users/u1"), Some(TOKEN), None, &[]).await;
    assert_eq!(fresh.headers["x-request-id"].len(), 36, "a request id is generated");
}

#[tokio::test]
async fn bad_bodies_get_scim_errors_and_are_not_forwarded() {
    let up = FakeUpstream::start(recording(Arc::default())).await;
    let gw = okta_gateway(&up, "[server.limits]\nmax_body_bytes = 2048\nmax_json_depth = 16").await;
    let url = gw.url("/scim/v2/Users");
    let cases: Vec<Case> = vec![
        (Bytes::from_static(b"{\"userName\": "), vec![], 400),
        (Bytes::from_static(b"[1, 2]"), vec![], 400),
        (Bytes::from(format!("{{\"a\":{}{}}}", "[".repeat(20), "]".repeat(20))), vec![], 400),
        (Bytes::from(format!("{{\"userName\":\"{}\"}}", "x".repeat(4000))), vec![], 413),
        (Bytes::from_static(b"{}"), vec![("content-type", "text/plain")], 415),
        (Bytes::from_static(b"{}"), vec![("content-type", "application/json"), ("content-type", "text/html")], 415),
        (gzip(b"{\"userName\":\"a@b.c\"}"), vec![("content-encoding", "gzip")], 415),
    ];
    for (body, headers, status) in cases {
        let r = send(Method::POST, &url, Some(TOKEN), Some(body), &headers).await;
        assert_eq!(r.status.as_u16(), status, "{:?}", r.json);
        assert_eq!(r.json["status"], status.to_string());
        assert_eq!(r.headers["content-type"], "application/scim+json");
        if status == 400 {
            assert_eq!(r.json["scimType"], "invalidSyntax");
        }
    }
    assert_eq!(up.hits(), 0);
}

/// A body, extra headers and the status it must get.
type Case = (Bytes, Vec<(&'static str, &'static str)>, u16);

fn gzip(data: &[u8]) -> Bytes {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    Bytes::from(e.finish().unwrap())
}

#[tokio::test]
async fn a_mapping_error_is_a_400_naming_the_rule_and_nothing_is_forwarded() {
    let up = FakeUpstream::start(recording(Arc::default())).await;
    let gw = okta_gateway(&up, "").await;
    let no_email = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jdoe", "name": {"givenName": "J"}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(no_email)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert!(r.json["detail"].as_str().unwrap().contains("username_from_email"), "{:?}", r.json);
    assert_eq!(up.hits(), 0);
    let counted = "scim_gateway_requests_total{method=\"POST\",resource=\"User\",route=\"default\",status=\"400\"}";
    assert_eq!(gw.metric(counted), 1.0);
}

#[tokio::test]
async fn a_deactivation_goes_through_even_when_a_rule_fails() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = okta_gateway(&up, "").await;
    let leaver = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "jdoe", "active": false});
    let r = gw.call(Method::PUT, "/scim/v2/Users/u1", Some(leaver)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let sent =
        log.lock().unwrap().iter().find(|s| s.method == Method::PUT).cloned().expect("the PUT reached the upstream");
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["active"], false);
    assert!(gw.metric("scim_gateway_deprovision_failed_targets_total") >= 1.0);
    let r = gw.call(Method::DELETE, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn a_patch_that_maps_to_nothing_is_answered_without_the_upstream() {
    let up = FakeUpstream::start(recording(Arc::default())).await;
    let gw = okta_gateway(&up, "").await;
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "password", "value": "n3w"}]});
    let r = gw.call(Method::PATCH, "/scim/v2/Users/u1", Some(ops)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(up.hits(), 0);
}

#[tokio::test]
async fn a_patch_needing_the_current_resource_writes_with_if_match_and_retries_a_412() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let writes = Arc::new(Mutex::new(0));
    let (l, w) = (log.clone(), writes.clone());
    let handler: Handler = Arc::new(move |n, seen: Seen| {
        l.lock().unwrap().push(seen.clone());
        if seen.method == Method::GET {
            let etag = format!("W/\"{n}\"");
            let mut r = json_response(200, &user("u1", &etag));
            r.headers_mut().insert("etag", etag.parse().unwrap());
            return r;
        }
        let mut count = w.lock().unwrap();
        *count += 1;
        if *count == 1 {
            json_response(412, &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "412"}))
        } else {
            json_response(200, &user("u1", "W/\"9\""))
        }
    });
    let up = FakeUpstream::start(handler).await;
    let gw = okta_gateway(&up, "").await;
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "name.givenName", "value": "Janet"}]});
    let r = gw.call(Method::PATCH, "/scim/v2/Users/u1", Some(ops)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let log = log.lock().unwrap();
    let methods: Vec<&Method> = log.iter().map(|s| &s.method).collect();
    assert_eq!(methods, [&Method::GET, &Method::PATCH, &Method::GET, &Method::PATCH]);
    assert_eq!(log[1].headers["if-match"], "W/\"0\"");
    assert_eq!(log[3].headers["if-match"], "W/\"2\"");
    let body: Value = serde_json::from_slice(&log[3].body).unwrap();
    assert!(body.to_string().contains("Janet Doe"), "the full name is recomputed from the stored family name: {body}");
    assert_eq!(gw.metric("scim_gateway_etag_retries_total"), 1.0);
}

#[tokio::test]
async fn filters_are_rewritten_and_a_bad_filter_never_reaches_the_upstream() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = okta_gateway(&up, "").await;
    let r = gw
        .call(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22Jane.Doe%40Example.com%20%22&count=10", None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let query = log.lock().unwrap()[0].uri.query().unwrap().to_owned();
    let decoded = scim_core::normalize::form_decode(&query);
    assert!(decoded.contains("userName eq \"jane.doe@example.com\""), "{decoded}");
    assert!(decoded.contains("count=10"), "{decoded}");
    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20eq", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["scimType"], "invalidFilter");
    assert_eq!(up.hits(), 1);
}

#[tokio::test]
async fn a_list_404_becomes_an_empty_list_and_counts_become_integers() {
    let handler: Handler = Arc::new(|_, seen: Seen| {
        if seen.uri.query().is_some_and(|q| q.contains("filter")) {
            return json_response(404, &json!({"detail": "not found"}));
        }
        json_response(
            200,
            &json!({"schemas": [LIST], "totalResults": "1", "startIndex": "1", "Resources": [user("u1", "W/\"1\"")]}),
        )
    });
    let up = FakeUpstream::start(handler).await;
    let gw = okta_gateway(&up, "").await;
    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22x%40y.z%22", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["totalResults"], 0);
    assert_eq!(r.json["Resources"], json!([]));
    let r = gw.call(Method::GET, "/scim/v2/Users", None).await;
    assert_eq!(
        (r.json["totalResults"].as_u64(), r.json["startIndex"].as_u64(), r.json["itemsPerPage"].as_u64()),
        (Some(1), Some(1), Some(1))
    );
}

#[tokio::test]
async fn upstream_errors_keep_their_status_and_become_scim_errors() {
    let handler: Handler = Arc::new(|n, _| match n {
        0 => http::Response::builder()
            .status(503)
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from_static(b"<html>down</html>")))
            .unwrap(),
        _ => http::Response::builder()
            .status(429)
            .header("retry-after", "7")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{\"message\":\"slow down\"}")))
            .unwrap(),
    });
    let up = FakeUpstream::start(handler).await;
    let gw = okta_gateway(&up, "").await;
    let r = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.json["status"], "503");
    assert_eq!(r.headers["content-type"], "application/scim+json");
    let r = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "7");
    assert_eq!(r.json["detail"], "the upstream answered 429: slow down");
}

#[tokio::test]
async fn a_gzipping_upstream_is_decoded_and_mapped() {
    let handler: Handler = Arc::new(|_, _| {
        let body = json!({"schemas": [LIST], "totalResults": 1, "Resources": [user("u1", "W/\"1\"")]});
        http::Response::builder()
            .header("content-type", "application/scim+json")
            .header("content-encoding", "gzip")
            .body(Full::new(gzip(body.to_string().as_bytes())))
            .unwrap()
    });
    let up = FakeUpstream::start(handler).await;
    let gw = okta_gateway(&up, "").await;
    let r = gw.call(Method::GET, "/scim/v2/Users", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.json["Resources"][0]["id"], "u1");
    assert!(!r.headers.contains_key("content-encoding"));
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_502_and_a_slow_one_a_504() {
    let port = super::support::free_port();
    let gw = Gateway::start(
        &config(&format!("http://127.0.0.1:{port}/v2"), &[], "generic")
            .replace("timeout_ms = 5000", "timeout_ms = 300\nretries = 1"),
    )
    .await;
    let r = gw.call(Method::GET, "/scim/v2/Users", None).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.json["status"], "502");
    assert_eq!(gw.metric("scim_gateway_upstream_up"), 0.0);
    assert_eq!(
        gw.metric("scim_gateway_upstream_responses_total{class=\"error\""),
        1.0,
        "an exchange without an answer"
    );

    let slow = FakeUpstream::start_delayed(recording(Arc::default()), Duration::from_secs(3)).await;
    let gw =
        Gateway::start(&config(&slow.url(), &[], "generic").replace("timeout_ms = 5000", "timeout_ms = 300")).await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(json!({"userName": "a"}))).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(r.json["detail"].as_str().unwrap().contains("unknown"), "a 504 says the outcome is unknown");
    assert_eq!(slow.hits(), 1, "a POST is never replayed");
}

#[tokio::test]
async fn the_concurrency_limit_answers_503_with_retry_after() {
    let slow = FakeUpstream::start_delayed(recording(Arc::default()), Duration::from_millis(800)).await;
    let gw = Gateway::start(&format!(
        "{}\n[server.limits]\nmax_concurrent_requests = 1",
        config(&slow.url(), &[], "generic")
    ))
    .await;
    let url = gw.url("/scim/v2/Users/u1");
    let first = tokio::spawn(async move { send(Method::GET, &url, Some(TOKEN), None, &[]).await.status });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(second.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(second.headers["retry-after"], "1");
    assert_eq!(first.await.unwrap(), StatusCode::OK);
}

#[tokio::test]
async fn the_request_timeout_answers_504() {
    let slow = FakeUpstream::start_delayed(recording(Arc::default()), Duration::from_secs(3)).await;
    let gw =
        Gateway::start(&format!("{}\n[server.limits]\nrequest_timeout_ms = 200", config(&slow.url(), &[], "generic")))
            .await;
    let r = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT);
}
