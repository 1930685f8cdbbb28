use super::*;
use serde_json::json;

fn ops(v: Value) -> PatchOp {
    PatchOp::from_json(&json!({"schemas": [scim_core::patch::PATCH_URN], "Operations": v})).unwrap()
}

fn members(range: std::ops::Range<usize>) -> Value {
    Value::Array(range.map(|i| json!({"value": format!("u{i}")})).collect())
}

#[test]
fn member_changes_are_counted_per_member() {
    let p = ops(json!([
        {"op": "add", "path": "members", "value": members(0..3)},
        {"op": "remove", "path": "members[value eq \"u9\"]"},
        {"op": "replace", "path": "displayName", "value": "Eng"},
        {"op": "add", "value": {"members": members(3..5), "externalId": "x"}},
    ]));
    assert_eq!(changes(&p), 6);
}

#[test]
fn a_large_patch_splits_into_batches_in_order_with_other_operations_first() {
    let p = ops(json!([
        {"op": "remove", "path": "members[value eq \"gone\"]"},
        {"op": "add", "path": "members", "value": members(0..250)},
        {"op": "replace", "path": "displayName", "value": "Eng"},
    ]));
    let batches: Vec<PatchOp> = split(p, 100).into_iter().map(compact).collect();
    assert_eq!(batches.len(), 3);
    assert_eq!(batches.iter().map(changes).collect::<Vec<_>>(), [100, 100, 51]);
    let first = &batches[0].operations;
    assert_eq!(first[0].path.as_ref().unwrap().to_string(), "displayName", "other operations go first");
    assert_eq!(first[1].op, OpKind::Remove, "then the changes in the order they came");
    assert_eq!(first[2].value.as_ref().unwrap().as_array().unwrap().len(), 99, "adds merged into one");
    let last = batches[2].operations[0].value.as_ref().unwrap().as_array().unwrap();
    assert_eq!(last.last().unwrap()["value"], "u249");
}

#[test]
fn a_small_patch_is_one_batch_and_a_path_less_add_of_members_is_split_out() {
    let p = ops(json!([{"op": "add", "value": {"members": members(0..3), "displayName": "Eng"}}]));
    let batches: Vec<PatchOp> = split(p, 2).into_iter().map(compact).collect();
    assert_eq!(batches.len(), 2);
    assert!(batches[0].operations[0].path.is_none(), "the rest of the path-less value first");
    assert_eq!(batches.iter().map(changes).collect::<Vec<_>>(), [2, 1]);
    let one = split(ops(json!([{"op": "replace", "path": "displayName", "value": "x"}])), 2);
    assert_eq!(one.len(), 1);
}
