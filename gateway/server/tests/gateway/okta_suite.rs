//! Okta's SCIM 2.0 traffic replayed through the gateway (preset `okta`,
//! `okta-to-notion.toml`) against scim2-server and the embedded store,
//! written from Okta's public documentation:
//!
//! - the checks of Okta's SCIM 2.0 spec test (the Runscope suite Okta asks
//!   integrators to pass);
//! - the catalog-app lifecycle of Okta's "SCIM 2.0 protocol reference":
//!   create, whole-object PUT, path-less PATCH (de)activation, group push;
//! - the custom-app flow, which uses PUT for every user update, the
//!   deactivation included.
//!
//! Every write is checked in what the backend stores, read around the
//! gateway.

use super::support::{Setup, TOKEN, member_ids};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// Okta's create, as its protocol reference shows it.
fn okta_user(login: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER], "userName": login,
        "name": {"givenName": "Test", "familyName": "User"},
        "emails": [{"primary": true, "value": login, "type": "work"}],
        "displayName": "Test User", "locale": "en-US", "externalId": external_id,
        "groups": [], "password": "1mz050nq", "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn assert_list(body: &Value) {
    assert!(body["schemas"].as_array().is_some_and(|s| s.contains(&json!(LIST))), "{body}");
    for k in ["totalResults", "itemsPerPage", "startIndex"] {
        assert!(body[k].is_u64(), "{k} must be a JSON integer: {body}");
    }
    assert!(body.get("Resources").is_none_or(Value::is_array), "{body}");
}

fn assert_error(body: &Value, status: &str) {
    assert_eq!(body["schemas"], json!([ERROR]), "{body}");
    assert_eq!(body["status"], status, "status is a string: {body}");
    assert!(body["detail"].is_string(), "{body}");
}

fn id_of(r: &super::support::Response) -> String {
    r.json["id"].as_str().unwrap_or_else(|| panic!("no id in {:?}", r.json)).to_owned()
}

async fn spec_test(s: Setup) {
    let seed = s.call(Method::POST, "/Users", Some(okta_user("seed.user@example.com", "00useed"))).await;
    assert_eq!(seed.status, StatusCode::CREATED, "{:?}", seed.json);

    // Required: /Users answers a ListResponse with integer counts.
    let r = s.call(Method::GET, "/Users?count=1&startIndex=1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_list(&r.json);
    assert_eq!(r.json["Resources"].as_array().map(Vec::len), Some(1), "count=1 gives one: {:?}", r.json);
    // Get a user by the id the list gave.
    let first = r.json["Resources"][0]["id"].as_str().unwrap().to_owned();
    let r = s.call(Method::GET, &format!("/Users/{first}"), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json["id"], first.as_str());
    // A filter that finds no one is an empty list, not an error.
    let r = s.call(Method::GET, "/Users?filter=userName%20eq%20%226f2b0c9e-nobody%40example.com%22", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_list(&r.json);
    assert_eq!(r.json["totalResults"], 0);
    // A user that does not exist is a 404 with an Error body.
    let r = s.call(Method::GET, "/Users/010101010101010101010101010101", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_error(&r.json, "404");

    // Create, then create again: 409.
    let r = s.call(Method::POST, "/Users", Some(okta_user("Spec.Test@Example.com", "00uspec"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json["active"], true);
    let id = id_of(&r);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["userName"], "spec.test@example.com");
    let r = s.call(Method::POST, "/Users", Some(okta_user("Spec.Test@Example.com", "00uspec"))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.json);
    assert_error(&r.json, "409");
    // userName is not case-sensitive: the upper-case filter finds the user.
    let r = s.call(Method::GET, "/Users?filter=userName%20eq%20%22SPEC.TEST%40EXAMPLE.COM%22", None).await;
    assert_eq!(r.json["totalResults"], 1, "{:?}", r.json);
    assert_eq!(r.json["Resources"][0]["id"], id.as_str());

    // A bad token: 401 with an Error body.
    let r = s.call_with(Method::GET, "/Users", Some("not-the-token-0123456789")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_error(&r.json, "401");
    assert!(s.call_with(Method::GET, "/Users", Some(TOKEN)).await.status.is_success());

    // Groups list.
    let r = s.call(Method::GET, "/Groups?count=1&startIndex=1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_list(&r.json);
}

/// Creates an Okta user; returns its id.
async fn create(s: &Setup, login: &str, external_id: &str) -> String {
    let r = s.call(Method::POST, "/Users", Some(okta_user(login, external_id))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    id_of(&r)
}

async fn stored_active(s: &Setup, id: &str) -> Value {
    s.stored(&format!("/Users/{id}")).await.1["active"].clone()
}

async fn catalog_lifecycle(s: Setup) -> super::support::Gateway {
    let id = create(&s, "jane.doe@example.com", "00ucat").await;
    // Okta reads, then PUTs the whole object.
    let r = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    let mut put = r.json.clone();
    put["name"]["familyName"] = json!("Smith");
    let r = s.call(Method::PUT, &format!("/Users/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["familyName"], "Smith");
    assert_eq!(stored["name"]["formatted"], "Test Smith");
    // Deactivate and reactivate: path-less PATCH.
    for active in [false, true] {
        let ops = patch(json!([{"op": "replace", "value": {"active": active}}]));
        let r = s.call(Method::PATCH, &format!("/Users/{id}"), Some(ops)).await;
        assert!(r.status.is_success(), "{:?}", r.json);
        assert_eq!(stored_active(&s, &id).await, active);
    }
    // Import: pages of 100 until totalResults.
    let r = s.call(Method::GET, "/Users?startIndex=1&count=100", None).await;
    assert_list(&r.json);
    assert!(r.json["Resources"].as_array().unwrap().iter().any(|u| u["id"] == id.as_str()));
    group_push(&s, &id).await;
    s.gw
}

async fn group_push(s: &Setup, uid: &str) {
    let other = create(s, "john.roe@example.com", "00uother").await;
    let group = json!({"schemas": [GROUP], "displayName": "Okta Push", "members": []});
    let r = s.call(Method::POST, "/Groups", Some(group)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let gid = id_of(&r);
    let at = format!("/Groups/{gid}");
    // Rename: path-less replace carrying the read-only id.
    let ops = patch(json!([{"op": "replace", "value": {"id": gid, "displayName": "Okta Pushed"}}]));
    assert!(s.call(Method::PATCH, &at, Some(ops)).await.status.is_success());
    assert_eq!(s.stored(&at).await.1["displayName"], "Okta Pushed");
    // Member add.
    let ops = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid, "display": "Test Smith"}]}]));
    assert!(s.call(Method::PATCH, &at, Some(ops)).await.status.is_success());
    assert_eq!(member_ids(&s.stored(&at).await.1), vec![uid.to_owned()]);
    // Member remove.
    let ops = patch(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    assert!(s.call(Method::PATCH, &at, Some(ops)).await.status.is_success());
    assert!(member_ids(&s.stored(&at).await.1).is_empty());
    // Full member replace, then `members: []`.
    let ops = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid}]}]));
    assert!(s.call(Method::PATCH, &at, Some(ops)).await.status.is_success());
    let ops = patch(json!([{"op": "replace", "path": "members", "value": [{"value": other}]}]));
    let r = s.call(Method::PATCH, &at, Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(member_ids(&s.stored(&at).await.1), vec![other.clone()]);
    let ops = patch(json!([{"op": "replace", "path": "members", "value": []}]));
    assert!(s.call(Method::PATCH, &at, Some(ops)).await.status.is_success());
    assert!(member_ids(&s.stored(&at).await.1).is_empty());
    assert_eq!(s.call(Method::DELETE, &at, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(s.stored(&at).await.0, StatusCode::NOT_FOUND);
}

async fn custom_app_flow(s: Setup) -> super::support::Gateway {
    let id = create(&s, "custom.user@example.com", "00ucustom").await;
    let at = format!("/Users/{id}");
    let mut put = okta_user("custom.user@example.com", "00ucustom");
    put["id"] = json!(id);
    put["name"]["givenName"] = json!("Custom");
    put["title"] = json!("Engineer");
    let r = s.call(Method::PUT, &at, Some(put.clone())).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = s.stored(&at).await;
    assert_eq!(
        (stored["name"]["formatted"].clone(), stored["title"].clone()),
        (json!("Custom User"), json!("Engineer"))
    );
    // Deactivation and reactivation are PUTs too.
    for active in [false, true] {
        put["active"] = json!(active);
        let r = s.call(Method::PUT, &at, Some(put.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
        assert_eq!(stored_active(&s, &id).await, active);
    }
    // A cleared attribute is left out of the PUT: it goes.
    put.as_object_mut().unwrap().remove("title");
    assert_eq!(s.call(Method::PUT, &at, Some(put)).await.status, StatusCode::OK);
    assert!(s.stored(&at).await.1.get("title").is_none());
    // Groups by PUT as well.
    let r = s
        .call(Method::POST, "/Groups", Some(json!({"schemas": [GROUP], "displayName": "Custom", "members": []})))
        .await;
    let gid = id_of(&r);
    let group = json!({"schemas": [GROUP], "id": gid, "displayName": "Custom", "members": [{"value": id}]});
    let r = s.call(Method::PUT, &format!("/Groups/{gid}"), Some(group)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(member_ids(&s.stored(&format!("/Groups/{gid}")).await.1), vec![id]);
    s.gw
}

const MAPPING: &str = "okta-to-notion.toml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_spec_test_on_scim2_server() {
    spec_test(Setup::scim2(MAPPING, "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_spec_test_on_the_embedded_store() {
    spec_test(Setup::memory(MAPPING, "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_catalog_app_on_scim2_server() {
    catalog_lifecycle(Setup::scim2(MAPPING, "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_catalog_app_on_the_embedded_store() {
    catalog_lifecycle(Setup::memory(MAPPING, "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_custom_app_on_scim2_server() {
    custom_app_flow(Setup::scim2(MAPPING, "okta").await).await;
}

/// The backend got no request with `method`, and translated writes happened.
pub fn assert_only_translated(gw: &super::support::Gateway, never: &str) {
    let sent = gw.metric(&format!("scim_gateway_upstream_request_duration_seconds_count{{method=\"{never}\""));
    assert_eq!(sent, 0.0, "no {never} reached the backend");
    assert!(gw.metric("scim_gateway_translated_writes_total") > 0.0, "writes were translated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_custom_app_on_scim2_server_taking_only_patch() {
    let s = Setup::scim2_with(MAPPING, "okta", "update = \"patch\"").await;
    let gw = custom_app_flow(s).await;
    assert_only_translated(&gw, "PUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_custom_app_on_the_embedded_store() {
    custom_app_flow(Setup::memory(MAPPING, "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_catalog_app_on_scim2_server_taking_only_put() {
    let gw = catalog_lifecycle(Setup::scim2_with(MAPPING, "okta", "update = \"put\"").await).await;
    assert_only_translated(&gw, "PATCH");
}
