//! Update translation (`[upstream] update = "patch" | "put"`) against
//! scim2-server: what the IdP does not manage survives a translated write,
//! and the same writes sent as-is show that it would not otherwise.

use super::support::{FakeUpstream, Gateway, Handler, Scim2Server, Seen, config_with, json_response, member_ids};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn okta_user(login: &str, external_id: &str) -> Value {
    json!({
        "schemas": [USER_URN], "userName": login, "externalId": external_id,
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"primary": true, "value": login, "type": "work"}],
        "displayName": "Jane Doe", "locale": "en-US", "groups": [], "password": "1mz050nq", "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn setup(update: &str, extra: &str) -> (Scim2Server, Gateway) {
    let scim2 = Scim2Server::start().await;
    let keys = format!("update = \"{update}\"\n{extra}");
    let gw = Gateway::start(&config_with(&scim2.base, &["okta-to-notion.toml"], "okta", &keys)).await;
    (scim2, gw)
}

/// Creates an Okta user through the gateway, then gives it a role by hand
/// in the backend (a role the IdP does not manage).
async fn user_with_backend_role(scim2: &Scim2Server, gw: &Gateway) -> String {
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("jane@example.com", "00u1"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let role = patch(json!([{"op": "add", "path": "roles", "value": [{"value": "billing-admin"}]}]));
    let (status, body) = scim2.call(Method::PATCH, &format!("/Users/{id}"), Some(role)).await;
    assert!(status.is_success(), "{status} {body}");
    id
}

async fn okta_put_changing_the_family_name(gw: &Gateway, id: &str) -> super::support::Response {
    let mut put = okta_user("jane@example.com", "00u1");
    put["id"] = json!(id);
    put["name"]["familyName"] = json!("Smith");
    gw.call(Method::PUT, &format!("/scim/v2/Users/{id}"), Some(put)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_becomes_the_smallest_patch_and_keeps_what_the_idp_does_not_manage() {
    let (scim2, gw) = setup("patch", "").await;
    let id = user_with_backend_role(&scim2, &gw).await;
    let r = okta_put_changing_the_family_name(&gw, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["name"]["familyName"], "Smith", "the IdP gets the whole resource back");
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Jane Smith");
    assert_eq!(stored["roles"][0]["value"], "billing-admin", "the backend's own role survives: {stored}");
    assert_eq!(gw.metric("scim_gateway_translated_writes_total{route=\"default\",translation=\"put_to_patch\"}"), 1.0);
    assert_eq!(gw.metric("scim_gateway_unmanaged_kept_total{kind=\"attribute\""), 1.0);

    // The same PUT again changes nothing: no write, the resource answered.
    let version = stored["meta"]["version"].clone();
    let r = okta_put_changing_the_family_name(&gw, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["id"], id.as_str());
    assert_eq!(scim2.get(&format!("/Users/{id}")).await.1["meta"]["version"], version, "nothing was written");

    // Okta's custom-app deactivation is a PUT with active false.
    let mut put = okta_user("jane@example.com", "00u1");
    put["name"]["familyName"] = json!("Smith");
    put["active"] = json!(false);
    let r = gw.call(Method::PUT, &format!("/scim/v2/Users/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false);
    assert_eq!(stored["roles"][0]["value"], "billing-admin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_put_sent_as_is_loses_the_backends_role() {
    // The control for the test above: without translation scim2-server
    // replaces the whole user, so the role the IdP never sent is gone.
    let (scim2, gw) = setup("as-sent", "").await;
    let id = user_with_backend_role(&scim2, &gw).await;
    let r = okta_put_changing_the_family_name(&gw, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert!(stored.get("roles").is_none(), "{stored}");
    assert_eq!(gw.metric("scim_gateway_translated_writes_total"), 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_becomes_a_put_of_the_patched_resource() {
    let (scim2, gw) = setup("put", "").await;
    let id = user_with_backend_role(&scim2, &gw).await;
    let ops = patch(json!([{"op": "replace", "path": "name.givenName", "value": "Janet"}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Janet Doe");
    assert_eq!(stored["roles"][0]["value"], "billing-admin");
    // Okta's path-less deactivation.
    let ops = patch(json!([{"op": "replace", "value": {"active": false}}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(scim2.get(&format!("/Users/{id}")).await.1["active"], false);
    assert_eq!(gw.metric("scim_gateway_translated_writes_total{route=\"default\",translation=\"patch_to_put\"}"), 2.0);
}

/// A group with one member provisioned through the gateway (it has an
/// externalId) and one added by hand in the backend (it has none).
async fn mixed_group(scim2: &Scim2Server, gw: &Gateway) -> (String, String, String, String) {
    let okta = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("one@example.com", "00u1"))).await;
    let okta_id = okta.json["id"].as_str().unwrap().to_owned();
    let next = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("three@example.com", "00u3"))).await;
    let next_id = next.json["id"].as_str().unwrap().to_owned();
    let hand = json!({"schemas": [USER_URN], "userName": "contractor@example.com"});
    let (status, hand) = scim2.call(Method::POST, "/Users", Some(hand)).await;
    assert_eq!(status, StatusCode::CREATED, "{hand}");
    let hand_id = hand["id"].as_str().unwrap().to_owned();
    let group = json!({"schemas": [GROUP_URN], "displayName": "Eng", "members": [{"value": okta_id}]});
    let r = gw.call(Method::POST, "/scim/v2/Groups", Some(group)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let gid = r.json["id"].as_str().unwrap().to_owned();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": hand_id}]}]));
    let (status, body) = scim2.call(Method::PATCH, &format!("/Groups/{gid}"), Some(add)).await;
    assert!(status.is_success(), "{status} {body}");
    (gid, okta_id, hand_id, next_id)
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_member_replace_adds_and_removes_and_keeps_members_added_by_hand() {
    let (scim2, gw) = setup("patch", "").await;
    let (gid, okta_id, hand_id, next_id) = mixed_group(&scim2, &gw).await;
    // Okta's full replace: only the new user.
    let ops = patch(json!([{"op": "replace", "path": "members", "value": [{"value": next_id, "display": "Three"}]}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Groups/{gid}")).await;
    assert_eq!(member_ids(&stored), sorted(vec![hand_id.clone(), next_id.clone()]), "{stored}");
    assert!(!member_ids(&stored).contains(&okta_id), "the provisioned member the IdP left out is removed");
    assert_eq!(gw.metric("scim_gateway_unmanaged_kept_total{kind=\"member\""), 1.0);
    assert_eq!(
        gw.metric("scim_gateway_translated_writes_total{route=\"default\",translation=\"members_to_ops\"}"),
        1.0
    );
    // Okta's `members: []` empties what the IdP manages, nothing more.
    let ops = patch(json!([{"op": "replace", "value": {"id": gid, "displayName": "Eng", "members": []}}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(member_ids(&scim2.get(&format!("/Groups/{gid}")).await.1), vec![hand_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_member_removal_any_a_full_replace_is_exact() {
    let (scim2, gw) = setup("patch", "member_removal = \"any\"").await;
    let (gid, _, _, next_id) = mixed_group(&scim2, &gw).await;
    let ops = patch(json!([{"op": "replace", "path": "members", "value": [{"value": next_id}]}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(member_ids(&scim2.get(&format!("/Groups/{gid}")).await.1), vec![next_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_put_on_a_patch_backend_keeps_hand_added_members() {
    let (scim2, gw) = setup("patch", "").await;
    let (gid, _, hand_id, next_id) = mixed_group(&scim2, &gw).await;
    let put = json!({"schemas": [GROUP_URN], "id": gid, "displayName": "Engineering", "members": [{"value": next_id}]});
    let r = gw.call(Method::PUT, &format!("/scim/v2/Groups/{gid}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Groups/{gid}")).await;
    assert_eq!(stored["displayName"], "Engineering");
    assert_eq!(member_ids(&stored), sorted(vec![hand_id, next_id]));
}

#[tokio::test]
async fn a_translated_write_carries_if_match_and_starts_again_after_a_412() {
    let log = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let writes = Arc::new(Mutex::new(0));
    let (l, w) = (log.clone(), writes.clone());
    let handler: Handler = Arc::new(move |n, seen: Seen| {
        l.lock().unwrap().push(seen.clone());
        let user = json!({"schemas": [USER_URN], "id": "u1", "userName": "jane@example.com", "active": true,
            "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"}, "displayName": "Jane Doe",
            "meta": {"version": format!("W/\"{n}\"")}});
        if seen.method == Method::GET {
            return json_response(200, &user);
        }
        let mut count = w.lock().unwrap();
        *count += 1;
        match *count {
            1 => json_response(
                412,
                &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "412"}),
            ),
            _ => http::Response::builder().status(204).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap(),
        }
    });
    let up = FakeUpstream::start(handler).await;
    let gw = Gateway::start(&config_with(&up.url(), &["okta-to-notion.toml"], "okta", "update = \"patch\"")).await;
    let r = okta_put_changing_the_family_name(&gw, "u1").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["id"], "u1", "a 204 to the PATCH is answered with the re-read resource");
    let log = log.lock().unwrap();
    let methods: Vec<&Method> = log.iter().map(|s| &s.method).collect();
    assert_eq!(methods, [&Method::GET, &Method::PATCH, &Method::GET, &Method::PATCH, &Method::GET]);
    assert_eq!(log[1].headers["if-match"], "W/\"0\"");
    assert_eq!(log[3].headers["if-match"], "W/\"2\"");
    let sent: Value = serde_json::from_slice(&log[3].body).unwrap();
    assert_eq!(sent["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:PatchOp", "{sent}");
    assert!(sent.to_string().contains("Smith"), "{sent}");
    assert!(!sent.to_string().contains("password"), "the rules ran before the diff: {sent}");
    assert_eq!(gw.metric("scim_gateway_etag_retries_total"), 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_that_changes_nothing_still_honours_the_idps_if_match() {
    let (scim2, gw) = setup("patch", "").await;
    let id = user_with_backend_role(&scim2, &gw).await;
    let r = okta_put_changing_the_family_name(&gw, &id).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let mut put = okta_user("jane@example.com", "00u1");
    put["name"]["familyName"] = json!("Smith");
    let url = gw.url(&format!("/scim/v2/Users/{id}"));
    let body = Some(bytes::Bytes::from(put.to_string()));
    let stale =
        super::support::send(Method::PUT, &url, Some(super::support::TOKEN), body.clone(), &[("if-match", "W/\"1\"")])
            .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED, "{:?}", stale.json);
    assert_eq!(stale.json["status"], "412");
    let version = scim2.get(&format!("/Users/{id}")).await.1["meta"]["version"].as_str().unwrap().to_owned();
    let fresh =
        super::support::send(Method::PUT, &url, Some(super::support::TOKEN), body, &[("if-match", &version)]).await;
    assert_eq!(fresh.status, StatusCode::OK, "{:?}", fresh.json);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nested_group_added_by_hand_survives_a_full_member_replace() {
    let (scim2, gw) = setup("patch", "").await;
    let (gid, _, _, next_id) = mixed_group(&scim2, &gw).await;
    let (status, nested) =
        scim2.call(Method::POST, "/Groups", Some(json!({"schemas": [GROUP_URN], "displayName": "Contractors"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{nested}");
    let nested_id = nested["id"].as_str().unwrap().to_owned();
    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": nested_id}]}]));
    let (status, body) = scim2.call(Method::PATCH, &format!("/Groups/{gid}"), Some(add)).await;
    assert!(status.is_success(), "{status} {body}");
    let ops = patch(json!([{"op": "replace", "path": "members", "value": [{"value": next_id}]}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Groups/{gid}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let stored = member_ids(&scim2.get(&format!("/Groups/{gid}")).await.1);
    assert!(stored.contains(&nested_id), "the hand-made nested group stays: {stored:?}");
    assert!(stored.contains(&next_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_goes_through_when_the_rest_of_its_patch_cannot_be_applied() {
    let scim2 = Scim2Server::start().await;
    let gw = Gateway::start(&config_with(&scim2.base, &["identity.toml"], "generic", "update = \"put\"")).await;
    let (status, user) =
        scim2.call(Method::POST, "/Users", Some(json!({"schemas": [USER_URN], "userName": "a@example.com"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let id = user["id"].as_str().unwrap();
    // `name` takes an object; the string cannot be applied to the stored user.
    let ops = patch(
        json!([{"op": "replace", "path": "active", "value": false}, {"op": "replace", "path": "name", "value": "x"}]),
    );
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops.clone())).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(scim2.get(&format!("/Users/{id}")).await.1["active"], false);
    // The same PATCH without the deactivation is refused, and changes nothing.
    let ops = patch(json!([{"op": "replace", "path": "name", "value": "x"}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
}

#[tokio::test]
async fn a_deactivating_put_reaches_a_patch_only_backend_that_cannot_be_read() {
    let log = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let l = log.clone();
    let handler: Handler = Arc::new(move |_, seen: Seen| {
        l.lock().unwrap().push(seen.clone());
        match seen.method {
            Method::GET => json_response(500, &json!({"detail": "read path down"})),
            _ => http::Response::builder().status(204).body(http_body_util::Full::new(bytes::Bytes::new())).unwrap(),
        }
    });
    let up = FakeUpstream::start(handler).await;
    let gw = Gateway::start(&config_with(&up.url(), &["okta-to-notion.toml"], "okta", "update = \"patch\"")).await;
    let mut put = okta_user("jane@example.com", "00u1");
    put["active"] = json!(false);
    let r = gw.call(Method::PUT, "/scim/v2/Users/u1", Some(put.clone())).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let patch = log.lock().unwrap().iter().find(|s| s.method == Method::PATCH).cloned();
    let sent: Value = serde_json::from_slice(&patch.expect("the deactivation was sent").body).unwrap();
    assert_eq!(sent["Operations"], json!([{"op": "replace", "path": "active", "value": false}]));
    // Not a deactivation: the failed read is the answer, and nothing is written.
    put["active"] = json!(true);
    let r = gw.call(Method::PUT, "/scim/v2/Users/u1", Some(put)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{:?}", r.json);
}
