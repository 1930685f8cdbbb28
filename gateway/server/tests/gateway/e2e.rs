//! The IdP flows end to end through the gateway, against scim2-server and
//! against the embedded store, checking what the backend stored.

use super::support::{Setup, workspace};
use http::{Method, StatusCode};
use serde_json::{Value, json};

fn okta_user() -> Value {
    let text = std::fs::read_to_string(workspace().join("examples/payloads/okta-create-user.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

async fn okta_user_lifecycle(s: Setup) {
    let r = s.call(Method::POST, "/Users", Some(okta_user())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let location = r.headers["location"].to_str().unwrap();
    assert_eq!(location, s.gw.url(&format!("/scim/v2/Users/{id}")), "Location points at the gateway");
    assert_eq!(r.json["meta"]["location"], location);
    assert_eq!(r.headers["content-type"], "application/scim+json");

    let (status, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["userName"], "jane.doe@example.com", "userName is the trimmed, lower-cased email");
    assert_eq!(stored["name"]["formatted"], "Jane Doe");
    assert!(stored.get("password").is_none(), "the password is not forwarded");

    let got = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json["userName"], "jane.doe@example.com");

    // Okta's own matching query, as it sends it.
    let found = s
        .call(Method::GET, "/Users?filter=userName%20eq%20%22Jane.Doe%40Example.com%22&startIndex=1&count=100", None)
        .await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.json);
    assert_eq!(found.json["totalResults"], 1);
    assert_eq!(found.json["Resources"][0]["id"], id.as_str());
    let missing = s.call(Method::GET, "/Users?filter=userName%20eq%20%22nobody%40example.com%22", None).await;
    assert_eq!(missing.status, StatusCode::OK);
    assert_eq!(missing.json["totalResults"], 0);
    assert!(missing.json["totalResults"].is_u64() && missing.json["startIndex"].is_u64());

    // A whole-object PUT with a new family name.
    let mut put = okta_user();
    put["id"] = json!(id);
    put["name"]["familyName"] = json!("Smith");
    let r = s.call(Method::PUT, &format!("/Users/{id}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Jane Smith");
    assert_eq!(stored["displayName"], "Jane Smith");

    // A PATCH of one name part: the full name is recomputed from the stored family name.
    let r = s
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "replace", "path": "name.givenName", "value": "Janet"}]))),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Janet Smith");

    // Okta's deactivation.
    let r = s
        .call(
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch(json!([{"op": "replace", "value": {"active": false}}]))),
        )
        .await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false);

    let r = s.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.stored(&format!("/Users/{id}")).await.0, StatusCode::NOT_FOUND);
    let r = s.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["status"], "404");
}

async fn group_lifecycle(s: Setup) {
    let user = s.call(Method::POST, "/Users", Some(okta_user())).await;
    let uid = user.json["id"].as_str().unwrap().to_owned();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": []});
    let r = s.call(Method::POST, "/Groups", Some(group)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let gid = r.json["id"].as_str().unwrap().to_owned();

    let add = patch(json!([{"op": "add", "path": "members", "value": [{"value": uid, "display": "Jane Doe"}]}]));
    let r = s.call(Method::PATCH, &format!("/Groups/{gid}"), Some(add)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Groups/{gid}")).await;
    assert_eq!(stored["members"][0]["value"], uid.as_str());

    let list = s
        .call(Method::GET, "/Groups?filter=displayName%20eq%20%22Engineering%22&excludedAttributes=members", None)
        .await;
    assert_eq!(list.json["totalResults"], 1, "{:?}", list.json);
    assert!(list.json["Resources"][0].get("members").is_none());

    let remove = patch(json!([{"op": "remove", "path": format!("members[value eq \"{uid}\"]")}]));
    let r = s.call(Method::PATCH, &format!("/Groups/{gid}"), Some(remove)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Groups/{gid}")).await;
    assert!(stored.get("members").and_then(Value::as_array).is_none_or(Vec::is_empty), "{stored}");

    let r = s.call(Method::DELETE, &format!("/Groups/{gid}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.stored(&format!("/Groups/{gid}")).await.0, StatusCode::NOT_FOUND);
}

fn entra_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "jdoe",
        "userName": "jdoe@contoso.onmicrosoft.com",
        "active": true,
        "displayName": "Jane Doe",
        "emails": [{"primary": true, "type": "work", "value": "Jane.Doe@Contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Jane Doe", "familyName": "Doe", "givenName": "Jane"},
        "roles": []
    })
}

async fn entra_user_lifecycle(s: Setup) {
    let r = s.call(Method::POST, "/Users", Some(entra_user())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["userName"], "jane.doe@contoso.com", "userName is the work email");

    // Entra's matching query on externalId, unquoted as in Microsoft's sample.
    let found = s.call(Method::GET, "/Users?filter=externalId+eq+jdoe", None).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.json);
    assert_eq!(found.json["totalResults"], 1);

    // Default-mode PATCH: capitalized op, one attribute.
    let ops = patch(json!([{"op": "Replace", "path": "name.familyName", "value": "Smith"}]));
    let r = s.call(Method::PATCH, &format!("/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["familyName"], "Smith");
    assert_eq!(stored["name"]["formatted"], "Jane Smith");

    // Deactivation with a string boolean.
    let ops = patch(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    let r = s.call(Method::PATCH, &format!("/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = s.stored(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false);

    let r = s.call(Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(s.stored(&format!("/Users/{id}")).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_users_on_scim2_server() {
    okta_user_lifecycle(Setup::scim2("okta-to-notion.toml", "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_users_on_the_embedded_store() {
    okta_user_lifecycle(Setup::memory("okta-to-notion.toml", "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_on_scim2_server() {
    group_lifecycle(Setup::scim2("okta-to-notion.toml", "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_on_the_embedded_store() {
    group_lifecycle(Setup::memory("okta-to-notion.toml", "okta").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_users_on_scim2_server() {
    entra_user_lifecycle(Setup::scim2("entra-to-notion.toml", "entra").await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_users_on_the_embedded_store() {
    entra_user_lifecycle(Setup::memory("entra-to-notion.toml", "entra").await).await;
}
