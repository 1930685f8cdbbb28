//! Runs of member adds and removes, applied in one pass, against the
//! same operations applied one at a time.

use super::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// A run of exact member removes is applied in one pass; the result must
    /// be what applying them one at a time gives.
    #[test]
    fn batched_member_removes_equal_one_at_a_time(
        members in proptest::collection::vec("[aAbBé]{1,3}", 0..12),
        doomed in proptest::collection::vec("[aAbBéÉ]{1,3}", 1..6),
    ) {
        let reg = Registry::core();
        let s = reg.resource("Group").unwrap();
        let g = json!({"displayName": "g", "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
        let ops: Vec<Value> = doomed.iter().map(|d| json!({"op": "remove", "path": format!("members[value eq {}]", json!(d))})).collect();
        let batched = apply(&g, &op(Value::Array(ops.clone())), &s, ApplyOptions::default()).unwrap();
        let mut one_by_one = g.clone();
        for o in ops {
            one_by_one = apply(&one_by_one, &op(json!([o])), &s, ApplyOptions::default()).unwrap();
        }
        prop_assert_eq!(batched, one_by_one);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A run of member adds is applied in one pass; the result (or the error
    /// and the operation it names) must be what one at a time gives.
    #[test]
    fn batched_member_adds_equal_one_at_a_time(
        members in proptest::collection::vec("[aAbB]{1,2}", 0..6),
        adds in proptest::collection::vec(proptest::collection::vec(("[aAbBc]{1,2}", proptest::option::of("[xy]")), 1..3), 2..5),
        bad in any::<bool>(),
    ) {
        let reg = Registry::core();
        let s = reg.resource("Group").unwrap();
        let g = json!({"displayName": "g", "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()});
        let mut ops: Vec<Value> = adds.iter().map(|vals| {
            let vals: Vec<Value> = vals.iter().map(|(v, d)| match d { Some(d) => json!({"value": v, "display": d}), None => json!({"value": v}) }).collect();
            json!({"op": "add", "path": "members", "value": vals})
        }).collect();
        if bad {
            ops.push(json!({"op": "add", "path": "members", "value": [{"value": 5}]}));
        }
        let batched = apply(&g, &op(Value::Array(ops.clone())), &s, ApplyOptions::default());
        let mut one_by_one = Ok(g.clone());
        for (i, o) in ops.iter().enumerate() {
            one_by_one = one_by_one.and_then(|cur| apply(&cur, &op(json!([o])), &s, ApplyOptions::default())
                .map_err(|e| ScimError::new(e.scim_type, e.detail.replacen("Operations[0]", &format!("Operations[{i}]"), 1))));
        }
        prop_assert_eq!(batched, one_by_one);
    }
}

#[test]
fn batched_removes_keep_one_at_a_time_semantics_on_odd_values() {
    let reg = Registry::core();
    let s = reg.resource("Group").unwrap();
    let g = json!({"displayName": "g", "members": [{"value": ["a"]}, {"value": "b"}, {"value": {"value": "a"}}]});
    let ops = json!([{"op": "remove", "path": "members[value eq \"a\"]"}, {"op": "remove", "path": "members[value eq \"b\"]"}]);
    let batched = apply(&g, &op(ops.clone()), &s, ApplyOptions::default()).unwrap();
    let mut seq = g.clone();
    for o in ops.as_array().unwrap() {
        seq = apply(&seq, &op(json!([o])), &s, ApplyOptions::default()).unwrap();
    }
    assert_eq!(batched, seq);
}
