use super::*;
use crate::patch::PATCH_URN;
use serde_json::json;

fn cases(kind: &str) -> Vec<(String, Value, bool)> {
    let all: Value = serde_json::from_str(include_str!("../../../../plugins/wit/deprovisioning-cases.json")).unwrap();
    all[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let body = if kind == "patch" { c["op"].clone() } else { c["body"].clone() };
            (c["name"].as_str().unwrap().to_owned(), body, c["deprovisions"].as_bool().unwrap())
        })
        .collect()
}

fn patch_of(ops: Vec<Value>) -> PatchOp {
    PatchOp::from_json(&json!({"schemas": [PATCH_URN], "Operations": ops})).unwrap()
}

#[test]
fn every_resource_spelling_of_a_deactivation_deprovisions() {
    for (name, body, expected) in cases("resource") {
        assert_eq!(Intent::of_resource(&body).is_deprovision(), expected, "{name}: {body}");
    }
}

#[test]
fn every_patch_spelling_of_a_deactivation_deprovisions() {
    for (name, op, expected) in cases("patch") {
        let patch = patch_of(vec![op.clone()]);
        assert_eq!(Intent::of_patch(&patch).is_deprovision(), expected, "{name}: {op}");
    }
}

#[test]
fn a_path_less_value_deprovisions_as_the_resource_would() {
    for (name, body, expected) in cases("resource") {
        let patch = patch_of(vec![json!({"op": "replace", "value": body})]);
        assert_eq!(Intent::of_patch(&patch).is_deprovision(), expected, "{name}");
    }
}

#[test]
fn one_deactivating_operation_among_others_deprovisions() {
    let patch = patch_of(vec![
        json!({"op": "replace", "path": "displayName", "value": "x"}),
        json!({"op": "replace", "path": "Active", "value": "False"}),
    ]);
    assert_eq!(Intent::of_patch(&patch), Intent::Deprovision);
    assert_eq!(Intent::of_resource(&json!([{"active": false}])), Intent::Provision, "not an object");
}

#[test]
fn delete_deprovisions_and_labels_are_stable() {
    assert!(Intent::DELETE.is_deprovision());
    assert_eq!(Intent::default(), Intent::Provision);
    assert_eq!(Intent::Deprovision.as_str(), "deprovision");
    assert_eq!(Intent::from(false).as_str(), "provision");
}

#[test]
fn a_patch_as_sent_is_read_with_the_same_rule() {
    for (name, op, expected) in cases("patch") {
        let body = json!({"schemas": [PATCH_URN], "Operations": [op]});
        assert_eq!(Intent::of_patch_json(&body).is_deprovision(), expected, "{name}");
    }
    let entra = json!({"Operations": [{"Op": "Replace", "Path": "active", "Value": "False"}]});
    assert_eq!(Intent::of_patch_json(&entra), Intent::Deprovision, "any case, unnormalized");
    assert_eq!(Intent::of_patch_json(&json!({"Operations": "x"})), Intent::Provision);
}

#[test]
fn a_request_as_it_arrives_is_read_with_the_same_rule() {
    let off = json!({"userName": "a", "active": "False"});
    assert!(Intent::of_request("DELETE", "Group", None).is_deprovision());
    assert!(Intent::of_request("PUT", "User", Some(&off)).is_deprovision());
    assert!(!Intent::of_request("POST", "User", Some(&off)).is_deprovision(), "creating an inactive user");
    assert!(!Intent::of_request("PUT", "Group", Some(&off)).is_deprovision());
    let patch = json!({"Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert!(Intent::of_request("PATCH", "User", Some(&patch)).is_deprovision());
    let bulk = |op: Value| json!({"Operations": [{"method": "POST", "path": "/Users", "data": {}}, op]});
    let delete = bulk(json!({"method": "delete", "path": "/Groups/1"}));
    assert!(Intent::of_request("POST", "Bulk", Some(&delete)).is_deprovision());
    let deactivate = bulk(json!({"method": "PATCH", "path": "/Users/1", "data": patch}));
    assert!(Intent::of_request("POST", "Bulk", Some(&deactivate)).is_deprovision());
    let create = bulk(json!({"method": "POST", "path": "/Users", "data": off}));
    assert!(!Intent::of_request("POST", "Bulk", Some(&create)).is_deprovision());
}
