//! `/Bulk`: each operation mapped like the request it stands for, the
//! ones the gateway cannot send answered in place, the rest forwarded in
//! one request and the answers merged back in order. The upstream is a
//! stand-in that records the BulkRequest and answers every operation 200.

use super::support::{FakeUpstream, Gateway, Handler, Seen, config_with, json_response};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

fn recording(log: Arc<Mutex<Vec<Value>>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(Value::Null);
        log.lock().unwrap().push(body.clone());
        let answers: Vec<Value> = body["Operations"]
            .as_array()
            .map(|ops| {
                ops.iter().map(|op| json!({"method": op["method"], "bulkId": op["bulkId"], "status": "200"})).collect()
            })
            .unwrap_or_default();
        json_response(
            200,
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": answers}),
        )
    })
}

async fn setup(upstream_keys: &str) -> (FakeUpstream, Gateway, Arc<Mutex<Vec<Value>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let up = FakeUpstream::start(recording(log.clone())).await;
    let gw = Gateway::start(&config_with(&up.url(), &["okta-to-notion.toml"], "okta", upstream_keys)).await;
    (up, gw, log)
}

fn bulk(ops: Value) -> Value {
    json!({"schemas": [BULK_REQUEST], "Operations": ops})
}

fn patch_data(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn user(active: bool) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Jane@Example.com",
        "emails": [{"value": "Jane@Example.com", "primary": true}], "password": "secret", "active": active})
}

#[tokio::test]
async fn operations_are_mapped_one_by_one_and_answers_keep_the_idps_order() {
    let (_up, gw, log) = setup("").await;
    let ops = json!([
        {"method": "POST", "bulkId": "a", "path": "/Users", "data": user(true)},
        {"method": "PATCH", "bulkId": "b", "path": "/Users/u1", "data": patch_data(json!([{"op": "Replace", "path": "active", "value": "False"}]))},
        {"method": "POST", "bulkId": "c", "path": "/Users/../Groups", "data": {}},
        {"method": "DELETE", "bulkId": "d", "path": "/Users/u2"}
    ]);
    let r = gw.call(Method::POST, "/scim/v2/Bulk", Some(bulk(ops))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let answers: Vec<(&str, &str)> = r.json["Operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["bulkId"].as_str().unwrap(), a["status"].as_str().unwrap()))
        .collect();
    assert_eq!(answers, [("a", "200"), ("b", "200"), ("c", "400"), ("d", "200")], "{:?}", r.json);
    let sent = log.lock().unwrap()[0].clone();
    let sent_ops = sent["Operations"].as_array().unwrap();
    assert_eq!(sent_ops.len(), 3, "the bad path never left: {sent}");
    assert_eq!(sent_ops[0]["data"]["userName"], "jane@example.com", "the rules ran: {sent}");
    assert!(sent_ops[0]["data"].get("password").is_none());
    assert_eq!(sent_ops[1]["data"]["Operations"][0]["value"], false, "normalized: {sent}");
}

#[tokio::test]
async fn on_a_patch_only_backend_a_deactivating_put_goes_as_a_patch_and_other_puts_are_refused() {
    let (_up, gw, log) = setup("update = \"patch\"").await;
    let replace = patch_data(json!([{"op": "replace", "path": "members", "value": [{"value": "u1"}]}]));
    let add = patch_data(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}]}]));
    let ops = json!([
        {"method": "PUT", "bulkId": "off", "path": "/Users/u1", "data": user(false)},
        {"method": "PUT", "bulkId": "edit", "path": "/Users/u1", "data": user(true)},
        {"method": "PATCH", "bulkId": "replace", "path": "/Groups/g1", "data": replace},
        {"method": "PATCH", "bulkId": "add", "path": "/Groups/g1", "data": add}
    ]);
    let r = gw.call(Method::POST, "/scim/v2/Bulk", Some(bulk(ops))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    let status = |i: usize| r.json["Operations"][i]["status"].as_str().unwrap().to_owned();
    assert_eq!([status(0), status(1), status(2), status(3)], ["200", "400", "400", "200"], "{:?}", r.json);
    assert!(r.json["Operations"][1]["response"]["detail"].as_str().unwrap().contains("takes only PATCH"));
    let sent = log.lock().unwrap()[0].clone();
    let off = &sent["Operations"][0];
    assert_eq!(off["method"], "PATCH", "{sent}");
    assert_eq!(off["data"]["Operations"], json!([{"op": "replace", "path": "active", "value": false}]));
    assert_eq!(sent["Operations"][1]["bulkId"], "add");
}

#[tokio::test]
async fn on_a_put_only_backend_a_bulk_patch_is_refused() {
    let (up, gw, _log) = setup("update = \"put\"").await;
    let ops = json!([{"method": "PATCH", "bulkId": "p", "path": "/Users/u1",
        "data": patch_data(json!([{"op": "replace", "path": "title", "value": "x"}]))}]);
    let r = gw.call(Method::POST, "/scim/v2/Bulk", Some(bulk(ops))).await;
    assert_eq!(r.json["Operations"][0]["status"], "400", "{:?}", r.json);
    assert_eq!(up.hits(), 0, "nothing left to forward");
}
