//! Member batches: a group write with more member changes than the route's
//! `max_member_changes` goes as consecutive requests of at most that many,
//! against a backend that refuses more (as AWS IAM Identity Center does
//! past 100) and keeps the group's members.

use super::support::{FakeUpstream, Gateway, Handler, Seen, config_with, json_response};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// One group's members, the writes seen, and a PATCH to refuse (by number).
#[derive(Default)]
struct Backend {
    members: BTreeSet<String>,
    writes: Vec<(Method, usize)>,
    reads: usize,
    refuse_patch: Option<usize>,
}

fn group(members: &BTreeSet<String>) -> Value {
    let list: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    json!({"schemas": [GROUP_URN], "id": "g1", "displayName": "Eng", "members": list, "meta": {"resourceType": "Group"}})
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|m| m["value"].as_str().map(str::to_owned)).collect()
}

/// Applies one PATCH's member operations; the number of changes it made.
fn apply(members: &mut BTreeSet<String>, body: &Value) -> usize {
    let mut n = 0;
    for op in body["Operations"].as_array().unwrap() {
        let path = op["path"].as_str().unwrap_or("");
        match (op["op"].as_str().unwrap(), path) {
            ("add", "members") => ids(&op["value"]).into_iter().for_each(|m| {
                members.insert(m);
                n += 1;
            }),
            ("remove", p) if p.starts_with("members[value eq ") => {
                members.remove(p.trim_start_matches("members[value eq \"").trim_end_matches("\"]"));
                n += 1;
            }
            ("replace", "members") => n += 1000,
            _ => {}
        }
    }
    n
}

fn backend(state: Arc<Mutex<Backend>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        let mut s = state.lock().unwrap();
        let body: Value = serde_json::from_slice(&seen.body).unwrap_or(json!({}));
        match seen.method {
            Method::GET => {
                s.reads += 1;
                json_response(200, &group(&s.members))
            }
            Method::POST => {
                let given = ids(&body["members"]);
                s.writes.push((Method::POST, given.len()));
                if given.len() > 100 {
                    return json_response(400, &json!({"detail": "too many members"}));
                }
                s.members = given.into_iter().collect();
                json_response(201, &group(&s.members))
            }
            Method::PATCH => {
                let patches = s.writes.iter().filter(|(m, _)| m == Method::PATCH).count() + 1;
                let mut after = s.members.clone();
                let n = apply(&mut after, &body);
                s.writes.push((Method::PATCH, n));
                if n > 100 || s.refuse_patch == Some(patches) {
                    return json_response(
                        400,
                        &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400", "detail": "refused on purpose"}),
                    );
                }
                s.members = after;
                json_response(200, &group(&s.members))
            }
            _ => json_response(404, &json!({})),
        }
    })
}

async fn setup(update: &str) -> (FakeUpstream, Gateway, Arc<Mutex<Backend>>) {
    setup_mapped(&[], update).await
}

async fn setup_mapped(mappings: &[&str], update: &str) -> (FakeUpstream, Gateway, Arc<Mutex<Backend>>) {
    let state = Arc::new(Mutex::new(Backend::default()));
    let up = FakeUpstream::start(backend(state.clone())).await;
    let keys = format!("max_member_changes = 100\n{update}");
    let gw = Gateway::start(&config_with(&up.url(), mappings, "okta", &keys)).await;
    (up, gw, state)
}

fn members(range: std::ops::Range<usize>) -> Value {
    Value::Array(range.map(|i| json!({"value": format!("u{i:04}")})).collect())
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH_URN], "Operations": ops})
}

#[tokio::test]
async fn a_group_created_with_1000_members_is_created_with_100_and_patched_with_the_rest() {
    let (_up, gw, state) = setup("").await;
    let body = json!({"schemas": [GROUP_URN], "displayName": "Eng", "members": members(0..1000)});
    let r = gw.call(Method::POST, "/scim/v2/Groups", Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json["members"].as_array().unwrap().len(), 1000, "the answer lists every member");
    let s = state.lock().unwrap();
    assert_eq!(s.members.len(), 1000, "the backend holds them all");
    let sizes: Vec<usize> = s.writes.iter().map(|(_, n)| *n).collect();
    assert_eq!(s.writes[0].0, Method::POST);
    assert_eq!(sizes, [100; 10], "a POST of 100, then nine PATCHes of 100");
}

#[tokio::test]
async fn a_patch_of_1000_member_changes_goes_in_batches_and_a_failed_batch_says_how_far_it_got() {
    let (_up, gw, state) = setup("").await;
    let ops = patch(json!([{"op": "add", "path": "members", "value": members(0..1000)}]));
    let r = gw.call(Method::PATCH, "/scim/v2/Groups/g1", Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(state.lock().unwrap().members.len(), 1000);
    assert_eq!(state.lock().unwrap().writes.len(), 10);

    // The fourth batch of the next write is refused: three went through,
    // the IdP is told so, and nothing after it is sent or retried.
    {
        let mut s = state.lock().unwrap();
        s.writes.clear();
        s.refuse_patch = Some(4);
    }
    let removes: Vec<Value> =
        (0..1000).map(|i| json!({"op": "remove", "path": format!("members[value eq \"u{i:04}\"]")})).collect();
    let r = gw.call(Method::PATCH, "/scim/v2/Groups/g1", Some(patch(Value::Array(removes)))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    let detail = r.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("refused on purpose") && detail.contains("300 of 1000 member changes were applied"),
        "{detail}"
    );
    let s = state.lock().unwrap();
    assert_eq!(s.writes.len(), 4, "no batch after the failed one");
    assert_eq!(s.members.len(), 700);
}

#[tokio::test]
async fn a_group_created_whose_other_members_fail_is_an_error_that_says_it_exists() {
    let (_up, gw, state) = setup("").await;
    state.lock().unwrap().refuse_patch = Some(1);
    let body = json!({"schemas": [GROUP_URN], "displayName": "Eng", "members": members(0..250)});
    let r = gw.call(Method::POST, "/scim/v2/Groups", Some(body)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.contains("created as g1") && detail.contains("100 of 250 member changes were applied"), "{detail}");
    assert_eq!(state.lock().unwrap().members.len(), 100);
}

#[tokio::test]
async fn a_full_replace_of_members_becomes_batches_of_adds_and_removes() {
    // Every member may be removed (by default only those an IdP provisioned).
    let (_up, gw, state) = setup("member_removal = \"any\"").await;
    state.lock().unwrap().members = (0..600).map(|i| format!("u{i:04}")).collect();
    let ops = patch(json!([{"op": "replace", "path": "members", "value": members(300..1000)}]));
    let r = gw.call(Method::PATCH, "/scim/v2/Groups/g1", Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let s = state.lock().unwrap();
    let want: BTreeSet<String> = (300..1000).map(|i| format!("u{i:04}")).collect();
    assert!(s.members == want, "300 removed, 400 added: {} members", s.members.len());
    assert!(s.writes.iter().all(|(_, n)| *n <= 100), "{:?}", s.writes);
    assert_eq!(s.writes.iter().map(|(_, n)| n).sum::<usize>(), 700);
}

#[tokio::test]
async fn a_bulk_group_write_larger_than_a_batch_is_refused_on_its_own() {
    let (_up, gw, state) = setup("").await;
    let ops = patch(json!([{"op": "add", "path": "members", "value": members(0..150)}]));
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "PATCH", "path": "/Groups/g1", "data": ops}]});
    let r = gw.call(Method::POST, "/scim/v2/Bulk", Some(bulk)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["Operations"][0]["status"], "400", "{:?}", r.json);
    assert_eq!(r.json["Operations"][0]["response"]["scimType"], "tooMany");
    assert!(state.lock().unwrap().writes.is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_user_patch_naming_members_is_not_read_or_translated_for_batches() {
    // Batches are for groups' members: a User PATCH that names `members`
    // goes as the IdP sent it, for the backend to judge.
    let (_up, gw, state) = setup("").await;
    let ops = patch(json!([{"op": "replace", "path": "members", "value": members(0..3)}]));
    let r = gw.call(Method::PATCH, "/scim/v2/Users/u1", Some(ops)).await;
    // The stand-in refuses any full replace of members (it counts 1000).
    assert_eq!(r.json["detail"], "refused on purpose", "the backend's own answer: {:?}", r.json);
    let s = state.lock().unwrap();
    assert_eq!(s.reads, 0, "the user was read to translate the PATCH");
    assert_eq!(s.writes, [(Method::PATCH, 1000)], "the PATCH went as the IdP sent it");
}

#[tokio::test]
async fn a_user_patch_built_from_the_current_user_keeps_its_members_operation_as_sent() {
    // okta-to-notion's rules make displayName from the name parts: a PATCH
    // of one part is built from the current user. Batches are for groups:
    // the PATCH's `members` operation is not made into adds and removes.
    let (_up, gw, state) = setup_mapped(&["okta-to-notion.toml"], "").await;
    let ops = patch(json!([
        {"op": "replace", "path": "name.givenName", "value": "Ada"},
        {"op": "replace", "path": "members", "value": members(0..3)}
    ]));
    let r = gw.call(Method::PATCH, "/scim/v2/Users/u1", Some(ops)).await;
    let s = state.lock().unwrap();
    assert_eq!(s.reads, 1, "the rules read the current user: {:?}", r.json);
    assert_eq!(s.writes, [(Method::PATCH, 1000)], "the members operation went as sent: {:?}", r.json);
}
