//! The diff's value comparison against serde_json's equality.

use super::*;

#[test]
fn values_compare_equal_with_object_keys_in_any_order_and_array_items_in_order() {
    use super::diff::same;
    let a = json!({"name": {"givenName": "A", "familyName": "B"}, "emails": [{"value": "a@x.com", "primary": true}]});
    let b = json!({"emails": [{"primary": true, "value": "a@x.com"}], "name": {"familyName": "B", "givenName": "A"}});
    assert!(same(&a, &b) && same(&b, &a));
    let c = json!({"emails": [{"primary": false, "value": "a@x.com"}], "name": {"familyName": "B", "givenName": "A"}});
    assert!(!same(&a, &c), "a nested value differs");
    assert!(!same(&json!([1, 2]), &json!([2, 1])), "array items in order");
    assert!(!same(&json!({"a": 1}), &json!({"a": 1, "b": null})), "a key more");
    assert!(!same(&json!(1), &json!(1.0)) && same(&json!("x"), &json!("x")));
}

/// Generated JSON of a few levels, keys drawn from a small set so that
/// objects share keys in different orders.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(|n| json!(n)),
        "[ab]{0,2}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(("[abc]", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// The same object with its keys (at every depth) in reverse order.
fn reversed(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().rev().map(|(k, v)| (k.clone(), reversed(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(reversed).collect()),
        other => other.clone(),
    }
}

proptest! {
    #[test]
    fn the_diffs_value_compare_agrees_with_serde_json(a in arb_json(), b in arb_json()) {
        use super::diff::same;
        prop_assert_eq!(same(&a, &b), a == b);
        let r = reversed(&a);
        prop_assert_eq!(same(&a, &r), a == r);
        prop_assert!(same(&a, &r), "the same keys in another order are the same value");
    }
}
