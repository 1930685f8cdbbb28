//! Members of a request body nothing on the request's way reads or changes
//! go upstream as the IdP's own text (issue 22's raw-text document), and
//! are built like the rest wherever something could (here: the audit
//! trail, which records the whole body).

use super::support::{FakeUpstream, Gateway, Handler, Seen, TOKEN, config, config_with, json_response, send};
use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// An Okta create with its phone numbers pretty-printed, as an IdP may
/// send them.
const PHONES: &str = "[\n    { \"value\" : \"+1 555 0100\", \"type\" : \"work\", \"primary\" : true }\n  ]";

fn body() -> String {
    format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"jo@example.com",
  "name":{{"givenName":"Jo","familyName":"Doe"}},"title":"Boss","password":"secret",
  "emails":[{{"value":" Jo@Example.com ","primary":true}}],"phoneNumbers" : {PHONES},"active":true}}"#
    )
}

/// A fake upstream that keeps every body it is sent and answers 201.
async fn recording() -> (FakeUpstream, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let handler: Handler = Arc::new(move |_, seen: Seen| {
        kept.lock().unwrap().push(seen.body.clone());
        json_response(201, &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1"}))
    });
    (FakeUpstream::start(handler).await, bodies)
}

async fn post_through(gw: &Gateway, bodies: &Mutex<Vec<Bytes>>) -> Bytes {
    write_through(gw, bodies, Method::POST, "/scim/v2/Users", body()).await
}

/// What the upstream got for one write of `text`.
async fn write_through(gw: &Gateway, bodies: &Mutex<Vec<Bytes>>, method: Method, path: &str, text: String) -> Bytes {
    let r = send(method, &gw.url(path), Some(TOKEN), Some(Bytes::from(text)), &[]).await;
    assert!(r.status.is_success(), "{} {:?}", r.status, r.json);
    bodies.lock().unwrap().pop().expect("the write reached the upstream")
}

/// What the okta-to-notion mapping makes of the body, whichever way.
fn expected() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jo@example.com",
        "name": {"givenName": "Jo", "familyName": "Doe", "formatted": "Jo Doe"},
        "displayName": "Jo Doe",
        "title": "Boss",
        "emails": [{"value": "jo@example.com", "primary": true}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work", "primary": true}],
        "active": true
    })
}

#[tokio::test]
async fn members_no_rule_touches_reach_the_upstream_as_the_idp_wrote_them_after_the_mapped_ones() {
    let (upstream, bodies) = recording().await;
    let gw = Gateway::start(&config(&upstream.url(), &["okta-to-notion.toml"], "okta")).await;
    let sent = post_through(&gw, &bodies).await;
    let text = String::from_utf8(sent.to_vec()).unwrap();
    // Each member as the body holds it, from its key's quote to its
    // value's end: the spaces around the colon too.
    assert!(text.contains(&format!("\"phoneNumbers\" : {PHONES}")), "the IdP's own text: {text}");
    assert!(text.ends_with(&format!(",\"title\":\"Boss\",\"phoneNumbers\" : {PHONES}}}")), "after the rest: {text}");
    assert_eq!(serde_json::from_slice::<Value>(&sent).unwrap(), expected());
}

#[tokio::test]
async fn with_the_audit_trail_on_every_member_is_built_and_the_upstream_gets_the_same() {
    let (upstream, bodies) = recording().await;
    let audit = "\n[audit]\nurl = \"sqlite://{dir}/audit.db\"\nmax_wait_ms = 300\n";
    let gw = Gateway::start(&format!("{}{audit}", config(&upstream.url(), &["okta-to-notion.toml"], "okta"))).await;
    let sent = post_through(&gw, &bodies).await;
    let text = String::from_utf8(sent.to_vec()).unwrap();
    assert!(!text.contains('\n'), "written whole, compact: {text}");
    assert_eq!(serde_json::from_slice::<Value>(&sent).unwrap(), expected());
}

#[tokio::test]
async fn a_put_sent_as_it_is_keeps_members_as_text_and_a_patch_is_built_whole() {
    let (upstream, bodies) = recording().await;
    let gw = Gateway::start(&config(&upstream.url(), &["okta-to-notion.toml"], "okta")).await;
    let put = write_through(&gw, &bodies, Method::PUT, "/scim/v2/Users/u1", body()).await;
    let text = String::from_utf8(put.to_vec()).unwrap();
    assert!(text.ends_with(&format!(",\"title\":\"Boss\",\"phoneNumbers\" : {PHONES}}}")), "{text}");
    assert_eq!(serde_json::from_slice::<Value>(&put).unwrap(), expected());
    let patch = format!(
        "{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":[\n  {{\"op\":\"replace\",\"path\":\"phoneNumbers\",\"value\":{PHONES}}}]}}"
    );
    let sent = write_through(&gw, &bodies, Method::PATCH, "/scim/v2/Users/u1", patch).await;
    let text = String::from_utf8(sent.to_vec()).unwrap();
    assert!(!text.contains('\n') && text.contains("\"phoneNumbers\""), "a PATCH is built and written whole: {text}");
}

/// A backend holding `stored` (compact, its own key order) that keeps the
/// bodies of the writes it is sent.
async fn holding(stored: Value) -> (FakeUpstream, Arc<Mutex<Vec<Bytes>>>) {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let handler: Handler = Arc::new(move |_, seen: Seen| match seen.method {
        Method::GET => json_response(200, &stored),
        _ => {
            kept.lock().unwrap().push(seen.body.clone());
            json_response(200, &stored)
        }
    });
    (FakeUpstream::start(handler).await, bodies)
}

/// The body of [`body`] as a backend stores it: an id and meta, no
/// password, and `title` as given.
fn stored(title: &str) -> Value {
    let mut user: Value = serde_json::from_str(&body()).unwrap();
    let m = user.as_object_mut().unwrap();
    m.remove("password");
    m.insert("title".into(), json!(title));
    m.insert("id".into(), json!("u1"));
    m.insert("meta".into(), json!({"resourceType": "User", "version": "W/\"1\""}));
    user
}

#[tokio::test]
async fn a_put_sent_as_a_patch_leaves_out_members_the_backend_holds_as_sent_whatever_the_spaces() {
    let (upstream, bodies) = holding(stored("Clerk")).await;
    let gw = Gateway::start(&config_with(&upstream.url(), &["identity.toml"], "okta", "update = \"patch\"")).await;
    let sent = write_through(&gw, &bodies, Method::PUT, "/scim/v2/Users/u1", body()).await;
    let patch: Value = serde_json::from_slice(&sent).unwrap();
    // The phone numbers were sent pretty-printed and are stored compact:
    // the same value, no operation. The title changed; the password is
    // the IdP's to set.
    let ops = patch["Operations"].as_array().unwrap();
    let mut paths: Vec<&str> = ops.iter().map(|op| op["path"].as_str().unwrap()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["password", "title"], "{patch}");
    assert!(ops.contains(&json!({"op": "replace", "path": "title", "value": "Boss"})), "{patch}");
}

#[tokio::test]
async fn an_unchanged_put_sent_as_a_patch_is_answered_with_the_whole_current_resource() {
    let mut current = stored("Boss");
    current.as_object_mut().unwrap().insert("password".into(), json!("secret"));
    let (upstream, bodies) = holding(current.clone()).await;
    let gw = Gateway::start(&config_with(&upstream.url(), &["identity.toml"], "okta", "update = \"patch\"")).await;
    let r = send(Method::PUT, &gw.url("/scim/v2/Users/u1"), Some(TOKEN), Some(Bytes::from(body())), &[]).await;
    assert_eq!(r.status, 200, "{:?}", r.json);
    assert!(bodies.lock().unwrap().is_empty(), "nothing to write");
    let answer = r.json;
    for key in ["phoneNumbers", "title", "name", "emails", "userName"] {
        assert_eq!(answer[key], current[key], "{key} in {answer}");
    }
}

#[tokio::test]
async fn a_deactivation_goes_alone_when_a_current_member_kept_as_text_does_not_parse() {
    // The backend's title ends in half an emoji (a lone surrogate escape):
    // serde_json skips such text without a word but does not parse it.
    // The IdP's title differs, so the backend's would have to be built.
    let mut text = stored("Clerk").to_string();
    text = text.replace("\"title\":\"Clerk\"", "\"title\":\"Clerk \\ud83d\"");
    assert!(text.contains("\\ud83d"), "{text}");
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = bodies.clone();
    let handler: Handler = Arc::new(move |_, seen: Seen| {
        if seen.method != Method::GET {
            kept.lock().unwrap().push(seen.body.clone());
        }
        let answer = http::Response::builder().status(200).header("content-type", "application/scim+json");
        answer.body(http_body_util::Full::new(Bytes::from(text.clone()))).unwrap()
    });
    let upstream = FakeUpstream::start(handler).await;
    let gw = Gateway::start(&config_with(&upstream.url(), &["identity.toml"], "okta", "update = \"patch\"")).await;
    let off = body().replace("\"active\":true", "\"active\":false");
    let r = send(Method::PUT, &gw.url("/scim/v2/Users/u1"), Some(TOKEN), Some(Bytes::from(off)), &[]).await;
    let sent: Vec<Value> = bodies.lock().unwrap().iter().map(|b| serde_json::from_slice(b).unwrap()).collect();
    let alone = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert_eq!(sent, [alone], "the deactivation, alone; the IdP got {} {:?}", r.status, r.json);
}

/// `body()` with a User's read-only members (`id`, `meta` as given,
/// `groups`) in front.
fn with_read_only(meta: &str) -> String {
    let read_only = format!("{{\"id\":\"u9\",\"meta\":{meta},\"groups\":[{{\"value\":\"g1\"}}],");
    body().replacen('{', &read_only, 1)
}

#[tokio::test]
async fn read_only_members_are_left_out_and_counted_as_the_whole_parse_counts_them() {
    // Without the audit trail they are read and left out (or built where
    // a null is in one); with it every member is built and normalized.
    let audit = "\n[audit]\nurl = \"sqlite://{dir}/audit.db\"\nmax_wait_ms = 300\n";
    for trail in ["", audit] {
        let (upstream, bodies) = recording().await;
        let gw = Gateway::start(&format!("{}{trail}", config(&upstream.url(), &["okta-to-notion.toml"], "okta"))).await;
        for meta in [r#"{"resourceType":"User","version":"W/\"1\""}"#, r#"{"resourceType":null}"#] {
            let sent = write_through(&gw, &bodies, Method::POST, "/scim/v2/Users", with_read_only(meta)).await;
            assert_eq!(serde_json::from_slice::<Value>(&sent).unwrap(), expected(), "audit: {}", !trail.is_empty());
        }
        let metrics = send(Method::GET, &gw.admin("/metrics"), None, None, &[]).await;
        let text = String::from_utf8_lossy(&metrics.body).into_owned();
        for counted in ["{kind=\"read_only_stripped\"} 6", "{kind=\"null_value\"} 1"] {
            let line = format!("scim_gateway_normalizations_total{counted}");
            assert!(text.contains(&line), "audit {}: {line} missing from\n{text}", !trail.is_empty());
        }
    }
}
