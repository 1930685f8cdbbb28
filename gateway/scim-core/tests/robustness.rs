//! No input makes the library panic or run away: arbitrary JSON of any
//! shape into the normalizer, the PATCH parser and applier and the diff;
//! deep nesting, huge strings and pathological filters.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests may fail loudly

use proptest::prelude::*;
use scim_core::Filter;
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::{ApplyOptions, PatchOp, apply, diff};
use scim_core::schema::Registry;
use serde_json::{Value, json};

fn arb_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("op".to_owned()),
        Just("Op".to_owned()),
        Just("path".to_owned()),
        Just("value".to_owned()),
        Just("members".to_owned()),
        Just("emails".to_owned()),
        Just("manager".to_owned()),
        Just("roles".to_owned()),
        Just("active".to_owned()),
        Just("name.givenName".to_owned()),
        Just("$ref".to_owned()),
        Just("primary".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned()),
        Just("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager".to_owned()),
        "[a-zA-Z.:$\\[\\]\" ]{0,12}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop_oneof![
            Just("add".to_owned()),
            Just("Remove".to_owned()),
            Just("replace".to_owned()),
            Just("True".to_owned()),
            Just("members[value eq \"a\"]".to_owned()),
            Just("emails[type eq \"work\"].value".to_owned()),
            Just("manager[value eq \"m\"]".to_owned()),
            Just("{\"value\":\"25\"}".to_owned()),
            any::<String>(),
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn patch_body(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn nothing_panics_on_arbitrary_json(resource in arb_json(), ops in arb_json(), other in arb_json()) {
        let reg = Registry::core();
        for rt in ["User", "Group"] {
            let schema = reg.resource(rt).unwrap();
            for preset in [Preset::Generic, Preset::Okta, Preset::Entra] {
                let n = Normalizer::new(preset);
                let mut body = resource.clone();
                n.resource(&mut body, &schema);
                let mut p = patch_body(ops.clone());
                n.patch(&mut p, &schema);
                if let Ok(patch) = PatchOp::from_json(&p) {
                    let _ = apply(&resource, &patch, &schema, n.apply_options());
                    let _ = apply(&body, &patch, &schema, ApplyOptions { reject_unknown_attributes: true, ..n.apply_options() });
                }
            }
            if let Ok(d) = diff(&resource, &other, &schema) {
                prop_assert!(d.is_empty() || PatchOp::from_json(&d.to_json()).is_ok(), "{}", d.to_json());
            }
        }
    }
}

#[test]
fn deep_nesting_is_bounded() {
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let deep = format!("{}1{}", "[".repeat(120), "]".repeat(120));
    let value: Value = serde_json::from_str(&deep).unwrap();
    let mut body = patch_body(
        json!([{"op": "Add", "path": "emails", "value": value.clone()}, {"op": "replace", "value": {"name": value}}]),
    );
    Normalizer::new(Preset::Entra).patch(&mut body, &schema);
    let patch = PatchOp::from_json(&body).unwrap();
    let _ = apply(&json!({"userName": "a"}), &patch, &schema, ApplyOptions::default());
    let too_deep = format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000));
    assert!(serde_json::from_str::<Value>(&too_deep).is_err(), "serde_json refuses nesting past 128");
    let filter = format!("{}a pr{}", "not (".repeat(2000), ")".repeat(2000));
    assert!(Filter::parse(&filter).unwrap_err().detail.contains("nested deeper"));
    let brackets = format!("a{}b pr{}", "[".repeat(5000), "]".repeat(5000));
    assert!(Filter::parse(&brackets).is_err());
}

#[test]
fn huge_inputs_are_refused_or_linear() {
    let reg = Registry::core();
    let schema = reg.resource("Group").unwrap();
    let huge = "x".repeat(8 << 20);
    assert!(Filter::parse(&format!("displayName eq \"{huge}\"")).is_err());
    assert!(scim_core::Path::parse(&huge).is_err());
    let members: Vec<Value> = (0..20_000).map(|i| json!({"$ref": null, "value": format!("m{i}")})).collect();
    let mut body = patch_body(json!([{"op": "Remove", "path": "members", "value": members}]));
    Normalizer::new(Preset::Entra).patch(&mut body, &schema);
    assert!(PatchOp::from_json(&body).unwrap_err().detail.contains("more than"), "20k removes exceed the op limit");
    let group = json!({"displayName": huge, "members": (0..20_000).map(|i| json!({"value": format!("m{i}")})).collect::<Vec<_>>()});
    let patch =
        PatchOp::from_json(&patch_body(json!([{"op": "remove", "path": "members[value eq \"m19999\"]"}]))).unwrap();
    let out = apply(&group, &patch, &schema, ApplyOptions::default()).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 19_999);
}

#[test]
fn pathological_filters_fail_cleanly() {
    for f in [
        "",
        "(",
        ")",
        "[",
        "]",
        "\"",
        "not",
        "not (",
        "a[",
        "a[]",
        "a eq",
        "a pr and",
        "and",
        "a eq \"\\u12\"",
        "a..b pr",
        "urn: pr",
        ":a pr",
        "a[b[c[d pr]]] pr",
        "a eq 1e999999",
    ] {
        let r = Filter::parse(f);
        if let Err(e) = r {
            assert_eq!(e.status(), 400, "{f}");
        }
    }
}
