//! What each endpoint takes: a method it does not take is answered 405
//! with `Allow` and never forwarded; `/Me` is mapped as a User; the
//! embedded store's discovery serves every schema it stores; an answer
//! nothing maps goes back as the backend wrote it, its URLs made public.

use super::support::{FakeUpstream, Gateway, Handler, Seen, config, json_response};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

fn recording(log: Arc<Mutex<Vec<Seen>>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        log.lock().unwrap().push(seen.clone());
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(json!({}));
        json_response(200, &body)
    })
}

#[tokio::test]
async fn a_method_an_endpoint_does_not_take_is_answered_405_with_allow_and_never_forwarded() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = Gateway::start(&config(&up.url(), &["okta-to-notion.toml"], "okta")).await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@example.com"});
    for (method, path, allow) in [
        (Method::POST, "/Users/u1", "GET, PUT, PATCH, DELETE"),
        (Method::PUT, "/Users", "GET, POST"),
        (Method::PATCH, "/Groups", "GET, POST"),
        (Method::DELETE, "/Users", "GET, POST"),
        (Method::GET, "/Bulk", "POST"),
        (Method::GET, "/Users/.search", "POST"),
        (Method::POST, "/Schemas", "GET"),
    ] {
        let r = gw.call(method.clone(), &format!("/scim/v2{path}"), Some(user.clone())).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {:?}", r.json);
        assert_eq!(r.headers["allow"], allow, "{method} {path}");
        assert_eq!(r.json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
        assert_eq!(r.json["status"], "405");
    }
    assert!(log.lock().unwrap().is_empty(), "nothing reached the backend");
}

#[tokio::test]
async fn me_is_mapped_as_a_user() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = Gateway::start(&config(&up.url(), &["okta-to-notion.toml"], "okta")).await;
    let me = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Jane@Example.com",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"value": " Jane@Example.com ", "type": "work", "primary": true}], "password": "s3cret"
    });
    let r = gw.call(Method::PUT, "/scim/v2/Me", Some(me)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let sent: Value = serde_json::from_slice(&log.lock().unwrap().last().unwrap().body).unwrap();
    assert_eq!(sent["userName"], "jane@example.com", "the rules ran: {sent}");
    assert_eq!(sent["name"]["formatted"], "Jane Doe");
    assert!(sent.get("password").is_none(), "the password rule ran: {sent}");
    assert_eq!(log.lock().unwrap().last().unwrap().uri.path(), "/v2/Me");
}

#[tokio::test]
async fn the_embedded_store_serves_every_schema_it_stores() {
    let text = config("memory:", &[], "generic")
        .replace("preset = \"generic\"", "preset = \"generic\"\nschemas = [\"{mappings}/schemas/notion-user.json\"]");
    let gw = Gateway::start(&text).await;
    let r = gw.call(Method::GET, "/scim/v2/Schemas", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let ids: Vec<&str> = r.json["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    for urn in [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:notion:2.0:User",
    ] {
        assert!(ids.contains(&urn), "{urn} missing from {ids:?}");
    }
    let notion =
        gw.call(Method::GET, "/scim/v2/Schemas/urn:ietf:params:scim:schemas:extension:notion:2.0:User", None).await;
    assert_eq!(notion.status, StatusCode::OK, "{:?}", notion.json);
    assert_eq!(notion.json["attributes"][0]["name"], "role");
}

/// A user as a backend might write it: pretty-printed, an escaped
/// character, `meta.location` under the upstream's own URL.
fn pretty_user(base: &str) -> String {
    [
        "{",
        r#"  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],"#,
        r#"  "id": "u1", "userName": "b\u00e9a","#,
        r#"  "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "7"},"#,
        &format!(r#"  "meta": {{"location": "{base}/Users/u1"}}"#),
        "}",
    ]
    .join("\n")
}

#[tokio::test]
async fn an_answer_nothing_maps_goes_back_as_the_backend_wrote_it_with_public_urls() {
    let base = Arc::new(Mutex::new(String::new()));
    let seen = base.clone();
    let handler: Handler = Arc::new(move |_, _| {
        let text = pretty_user(&seen.lock().unwrap());
        let body = http_body_util::Full::new(bytes::Bytes::from(text));
        http::Response::builder().header("content-type", "application/scim+json").body(body).unwrap()
    });
    let up = FakeUpstream::start(handler).await;
    *base.lock().unwrap() = up.url();
    let gw = Gateway::start(&config(&up.url(), &["identity.toml"], "generic")).await;
    let r = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let public = gw.url("/scim/v2");
    assert_eq!(String::from_utf8(r.body.to_vec()).unwrap(), pretty_user(&public), "byte for byte but the URL");
    assert_eq!(r.headers["content-type"], "application/scim+json");

    // With a response rule the answer is mapped, and written anew.
    let gw = Gateway::start(&config(&up.url(), &["rename-roundtrip.toml"], "generic")).await;
    let r = gw.call(Method::GET, "/scim/v2/Users/u1", None).await;
    assert_eq!(r.json["externalId"], "7");
    assert_eq!(r.json["meta"]["location"], format!("{}/Users/u1", gw.url("/scim/v2")));
    assert!(!r.body.contains(&b'\n'), "mapped answers are written compactly");
}
