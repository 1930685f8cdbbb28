//! A deprovisioning is never blocked: every spelling of a deactivation
//! (`plugins/wit/deprovisioning-cases.json`, shared with scim-core and the
//! plugin SDK) x every way it arrives (PUT, PATCH with a path, path-less
//! PATCH, bulk PUT, bulk PATCH) x every way the gateway could stand in its
//! way (a rule that fails, a plugin that refuses with fail-closed, a plugin
//! that traps) reaches the backend as `active: false`.

use super::support::{FakeUpstream, Gateway, Handler, Seen, config, json_response};
use http::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const BULK_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";

/// Named cases: (name, resource body or PATCH operation).
type Cases = Vec<(String, Value)>;

/// The spellings that deprovision: resource bodies and PATCH operations.
fn spellings() -> (Cases, Cases) {
    let all: Value = serde_json::from_str(include_str!("../../../../plugins/wit/deprovisioning-cases.json")).unwrap();
    let pick = |kind: &str, field: &str| -> Cases {
        all[kind]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["deprovisions"] == true)
            .map(|c| (c["name"].as_str().unwrap().to_owned(), c[field].clone()))
            .collect()
    };
    (pick("resource", "body"), pick("patch", "op"))
}

fn stored_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "jane@example.com",
        "name": {"givenName": "Jane", "familyName": "Doe", "formatted": "Jane Doe"},
        "emails": [{"value": "jane@example.com", "type": "work", "primary": true}], "active": true,
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

/// Records every request; answers reads with a user, writes with their body,
/// a bulk request with 200 per operation.
fn backend(log: Arc<Mutex<Vec<Seen>>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        log.lock().unwrap().push(seen.clone());
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(json!({}));
        match seen.method {
            Method::GET => json_response(200, &stored_user()),
            Method::POST if seen.uri.path().ends_with("/Bulk") => {
                let ops: Vec<Value> = body["Operations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|op| json!({"method": op["method"], "status": "200"}))
                    .collect();
                json_response(
                    200,
                    &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"], "Operations": ops}),
                )
            }
            _ => json_response(200, &body),
        }
    })
}

/// A user body or PATCH value that carries the deactivation, as sent upstream.
fn deactivates(body: &Value) -> bool {
    if body["active"] == false {
        return true;
    }
    body["Operations"].as_array().into_iter().flatten().any(|op| {
        (op["path"] == "active" && op["value"] == false) || (op.get("path").is_none() && op["value"]["active"] == false)
    })
}

/// The ways the gateway could stand in a deactivation's way.
const BLOCKERS: [(&str, &str, &str); 3] = [
    // userName "jdoe" and no emails: the rule that makes userName the email fails.
    ("a rule that fails", "okta-to-notion.toml", ""),
    ("a plugin that refuses, failing closed", "", "reject"),
    ("a plugin that traps", "", "panic"),
];

fn gateway_config(upstream: &str, mapping: &str, plugin: &str) -> String {
    let files: Vec<&str> = [mapping].into_iter().filter(|m| !m.is_empty()).collect();
    let mut text = config(upstream, &files, "generic");
    if !plugin.is_empty() {
        text.push_str(&format!(
            "[[mapping.plugins]]\nname = \"hostile\"\npath = \"{{plugins}}/hostile.wasm\"\n[mapping.plugins.config]\ndo = \"{plugin}\"\n"
        ));
    }
    text
}

/// The user a deactivation names, with what makes the rule fail.
fn leaver(spelling: &Value) -> Value {
    let mut body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "jdoe"});
    for (k, v) in spelling.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

struct Matrix {
    gw: Gateway,
    log: Arc<Mutex<Vec<Seen>>>,
    blocker: &'static str,
    _up: FakeUpstream,
}

impl Matrix {
    async fn start(blocker: &'static str, mapping: &str, plugin: &str) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let up = FakeUpstream::start(backend(log.clone())).await;
        let gw = Gateway::start(&gateway_config(&up.url(), mapping, plugin)).await;
        Self { gw, log, blocker, _up: up }
    }

    /// Sends one request and checks that the last write upstream deactivates.
    async fn check(&self, how: &str, spelling: &str, method: Method, path: &str, body: Value) {
        self.log.lock().unwrap().clear();
        let r = self.gw.call(method, &format!("/scim/v2{path}"), Some(body)).await;
        let what = format!("{how}, spelled {spelling:?}, against {}", self.blocker);
        assert!(r.status.is_success(), "{what}: answered {} {:?}", r.status, r.json);
        let log = self.log.lock().unwrap();
        let write = log.iter().rev().find(|s| s.method != Method::GET).unwrap_or_else(|| panic!("{what}: no write"));
        let sent: Value = serde_json::from_slice(&write.body).unwrap();
        let sent = match sent["Operations"][0].get("data") {
            Some(data) => data.clone(),
            None => sent,
        };
        assert!(deactivates(&sent), "{what}: sent {sent}");
        let answers = if path == "/Bulk" { r.json["Operations"].as_array() } else { None };
        for op in answers.into_iter().flatten() {
            assert_eq!(op["status"], "200", "{what}: {op}");
        }
    }
}

fn bulk(method: &str, data: Value) -> Value {
    json!({"schemas": [BULK_URN], "Operations": [{"method": method, "path": "/Users/u1", "data": data}]})
}

fn patch(ops: Vec<Value>) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": ops})
}

#[tokio::test]
async fn every_spelling_of_a_deactivation_reaches_the_backend_whatever_stands_in_its_way() {
    let (resources, operations) = spellings();
    assert!(resources.len() >= 6 && operations.len() >= 6, "the shared cases are loaded");
    for (blocker, mapping, plugin) in BLOCKERS {
        let m = Matrix::start(blocker, mapping, plugin).await;
        for (name, body) in &resources {
            m.check("PUT", name, Method::PUT, "/Users/u1", leaver(body)).await;
            let mut value = body.clone();
            value["userName"] = json!("jdoe");
            let pathless = patch(vec![json!({"op": "replace", "value": value})]);
            m.check("a path-less PATCH", name, Method::PATCH, "/Users/u1", pathless.clone()).await;
            m.check("a bulk PUT", name, Method::POST, "/Bulk", bulk("PUT", leaver(body))).await;
            m.check("a bulk path-less PATCH", name, Method::POST, "/Bulk", bulk("PATCH", pathless)).await;
        }
        for (name, op) in &operations {
            let username = json!({"op": "replace", "path": "userName", "value": "jdoe"});
            let with_path = patch(vec![username, op.clone()]);
            m.check("a PATCH with a path", name, Method::PATCH, "/Users/u1", with_path.clone()).await;
            m.check("a bulk PATCH", name, Method::POST, "/Bulk", bulk("PATCH", with_path)).await;
        }
        let passed_over = match plugin {
            "" => m.gw.metric("scim_gateway_deprovision_failed_targets_total"),
            _ => m.gw.metric("scim_gateway_plugin_fail_open_total{plugin=\"hostile\"}"),
        };
        assert!(passed_over > 0.0, "{blocker}: it did stand in the way, and was passed over");
    }
}

#[tokio::test]
async fn a_deactivation_whose_resource_cannot_be_read_goes_as_the_patch_of_active() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    // Reads fail; writes are answered with their body.
    let handler: Handler = Arc::new(move |_, s: Seen| {
        seen.lock().unwrap().push(s.clone());
        match s.method {
            Method::GET => json_response(503, &json!({"detail": "down for reads"})),
            _ => json_response(200, &serde_json::from_slice::<Value>(&s.body).unwrap_or(json!({}))),
        }
    });
    let up = FakeUpstream::start(handler).await;
    // With a plugin, a PATCH is built from the current resource.
    let gw = Gateway::start(&gateway_config(&up.url(), "", "echo")).await;
    let ops = patch(vec![
        json!({"op": "replace", "path": "active", "value": false}),
        json!({"op": "replace", "path": "title", "value": "x"}),
    ]);
    let r = gw.call(Method::PATCH, "/scim/v2/Users/u1", Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let log = log.lock().unwrap();
    let write = log.iter().rfind(|s| s.method == Method::PATCH).expect("a PATCH went");
    let sent: Value = serde_json::from_slice(&write.body).unwrap();
    assert!(deactivates(&sent), "{sent}");
}
