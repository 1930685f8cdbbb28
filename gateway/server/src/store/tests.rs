use super::*;
use serde_json::json;

fn req(
    method: Method,
    path: &str,
    query: Option<&str>,
    body: Option<Value>,
    headers: &[(&'static str, &str)],
) -> Forward {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    let body = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
    Forward { method, path: path.into(), query: query.map(str::to_owned), headers: h, body }
}

fn body(r: &Reply) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

fn create(store: &MemoryStore, name: &str) -> Value {
    let r = store.handle(&req(Method::POST, "/Users", None, Some(json!({"userName": name})), &[]));
    assert_eq!(r.status, StatusCode::CREATED);
    body(&r)
}

#[test]
fn etags_guard_writes_and_reads() {
    let store = MemoryStore::new(Registry::core());
    let id = create(&store, "a@x.com")["id"].as_str().unwrap().to_owned();
    let path = format!("/Users/{id}");
    let stale =
        store.handle(&req(Method::PUT, &path, None, Some(json!({"userName": "b@x.com"})), &[("if-match", "W/\"7\"")]));
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let ok =
        store.handle(&req(Method::PUT, &path, None, Some(json!({"userName": "b@x.com"})), &[("if-match", "W/\"1\"")]));
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.headers["etag"], "W/\"2\"");
    let unchanged = store.handle(&req(Method::GET, &path, None, None, &[("if-none-match", "W/\"2\"")]));
    assert_eq!(unchanged.status, StatusCode::NOT_MODIFIED);
}

#[test]
fn user_names_are_unique_ignoring_case_and_required() {
    let store = MemoryStore::new(Registry::core());
    create(&store, "a@x.com");
    let dup = store.handle(&req(Method::POST, "/Users", None, Some(json!({"userName": "A@X.COM"})), &[]));
    assert_eq!(dup.status, StatusCode::CONFLICT);
    assert_eq!(body(&dup)["scimType"], "uniqueness");
    let none = store.handle(&req(Method::POST, "/Users", None, Some(json!({"displayName": "x"})), &[]));
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
}

#[test]
fn lists_filter_and_page() {
    let store = MemoryStore::new(Registry::core());
    for i in 0..5 {
        create(&store, &format!("u{i}@x.com"));
    }
    let page = store.handle(&req(Method::GET, "/Users", Some("startIndex=2&count=2"), None, &[]));
    let page = body(&page);
    assert_eq!((page["totalResults"].as_u64(), page["itemsPerPage"].as_u64()), (Some(5), Some(2)));
    assert_eq!(page["Resources"][0]["userName"], "u1@x.com");
    let hit = body(&store.handle(&req(Method::GET, "/Users", Some("filter=userName+eq+%22U3%40X.com%22"), None, &[])));
    assert_eq!(hit["totalResults"], 1);
    let bad = store.handle(&req(Method::GET, "/Users", Some("filter=userName+eq"), None, &[]));
    assert_eq!(body(&bad)["scimType"], "invalidFilter");
}

#[test]
fn patch_delete_and_discovery() {
    let store = MemoryStore::new(Registry::core());
    let id = create(&store, "a@x.com")["id"].as_str().unwrap().to_owned();
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let r = store.handle(&req(Method::PATCH, &format!("/Users/{id}"), None, Some(ops), &[]));
    assert_eq!(body(&r)["active"], false);
    assert_eq!(
        store.handle(&req(Method::DELETE, &format!("/Users/{id}"), None, None, &[])).status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(store.handle(&req(Method::GET, &format!("/Users/{id}"), None, None, &[])).status, StatusCode::NOT_FOUND);
    let spc = body(&store.handle(&req(Method::GET, "/ServiceProviderConfig", None, None, &[])));
    assert_eq!(spc["etag"]["supported"], true);
    let types = body(&store.handle(&req(Method::GET, "/ResourceTypes", None, None, &[])));
    assert_eq!(types["totalResults"], 2);
    let schema =
        store.handle(&req(Method::GET, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User", None, None, &[]));
    assert_eq!(body(&schema)["name"], "User");
}

#[test]
fn the_store_keeps_attribute_names_in_the_schemas_spelling() {
    let store = MemoryStore::new(Registry::core());
    let sent = json!({"USERNAME": "a@x.com", "Name": {"GIVENNAME": "A"}, "Active": false});
    let r = store.handle(&req(Method::POST, "/Users", None, Some(sent), &[]));
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", body(&r));
    let stored = body(&r);
    assert_eq!(
        (&stored["userName"], &stored["name"]["givenName"], &stored["active"]),
        (&json!("a@x.com"), &json!("A"), &json!(false))
    );
    assert!(stored.get("USERNAME").is_none() && stored.get("Active").is_none(), "{stored}");
    let path = format!("/Users/{}", stored["id"].as_str().unwrap());
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "NickName", "value": "a"}]});
    let patched = body(&store.handle(&req(Method::PATCH, &path, None, Some(ops), &[])));
    assert_eq!(patched["nickName"], "a", "{patched}");
    assert!(patched.get("NickName").is_none());
}
