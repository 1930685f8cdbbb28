//! Property tests: arbitrary SCIM-shaped documents and PATCH requests
//! through the shipped mappings never panic, never let a dropped attribute
//! through, and the identity mapping changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use proptest::prelude::*;
use scim_core::patch::PatchOp;
use scim_mapper::{MapOptions, MappingSource, Operation, PatchOutcome, Program};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

fn program(file: &str) -> Program {
    let path = format!("{}/../../mappings/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    scim_mapper::compile(&[MappingSource { name: file, text: &text }], scim_core::Registry::core()).unwrap().program
}

static OKTA: LazyLock<Program> = LazyLock::new(|| program("okta-to-notion.toml"));
static ENTRA: LazyLock<Program> = LazyLock::new(|| program("entra-to-notion.toml"));
static IDENTITY: LazyLock<Program> = LazyLock::new(|| program("identity.toml"));
static RENAME: LazyLock<Program> = LazyLock::new(|| program("rename-roundtrip.toml"));

const KEYS: &[&str] = &[
    "userName",
    "emails",
    "name",
    "password",
    "PASSWORD",
    "active",
    "externalId",
    "title",
    "groups",
    "displayName",
    "value",
    "type",
    "primary",
    "givenName",
    "familyName",
    "formatted",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:okta:2.0:User:fullName",
    "employeeNumber",
    "name.givenName",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ a-zA-Z@.éÆß]{0,12}".prop_map(Value::String),
        Just(json!("work")),
        Just(json!("True")),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())),
        ]
    })
}

fn document() -> impl Strategy<Value = Value> {
    prop::collection::vec((prop::sample::select(KEYS), value()), 0..8).prop_map(|kv| {
        let mut m: Map<String, Value> = kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
        m.insert("schemas".into(), json!(["urn:ietf:params:scim:schemas:core:2.0:User"]));
        Value::Object(m)
    })
}

fn patch() -> impl Strategy<Value = Value> {
    let path = prop_oneof![
        Just(None),
        prop::sample::select(vec![
            "userName",
            "password",
            "emails",
            "emails[type eq \"work\"].value",
            "name.familyName",
            "name",
            "active",
            "externalId",
            "displayName",
            "groups",
            "name.formatted",
        ])
        .prop_map(Some),
    ];
    let op =
        (prop::sample::select(vec!["add", "replace", "remove", "Replace"]), path, value()).prop_map(|(op, path, v)| {
            let mut m = Map::new();
            m.insert("op".into(), json!(op));
            if let Some(p) = path {
                m.insert("path".into(), json!(p));
            }
            m.insert("value".into(), v);
            Value::Object(m)
        });
    prop::collection::vec(op, 1..4)
        .prop_map(|ops| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops}))
}

/// Whether a resource (or a path-less operation's value) holds the
/// top-level `password` attribute.
fn mentions_password(v: &Value) -> bool {
    v.as_object().is_some_and(|m| m.keys().any(|k| k.eq_ignore_ascii_case("password")))
}

fn current() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a@x.com",
           "name": {"givenName": "A", "familyName": "B", "formatted": "A B"}, "displayName": "A B",
           "emails": [{"value": "a@x.com", "type": "work", "primary": true}]})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn resources_never_panic_and_never_leak_the_password(doc in document()) {
        let cur = current();
        for op in [Operation::Create, Operation::Replace, Operation::Response] {
            for p in [&*OKTA, &*ENTRA, &*RENAME] {
                let _ = p.map_resource("User", op, doc.clone(), Some(&cur), MapOptions { explain: true, ..MapOptions::default() });
            }
            if op != Operation::Response
                && let Ok((out, _)) = OKTA.map_resource("User", op, doc.clone(), Some(&cur), MapOptions::default())
            {
                prop_assert!(!mentions_password(&out), "password reached the backend: {out}");
            }
        }
        let (out, report) = IDENTITY.map_resource("User", Operation::Create, doc.clone(), None, MapOptions::default()).unwrap();
        prop_assert_eq!(&out, &doc);
        prop_assert!(report.is_clean());
    }

    #[test]
    fn patches_never_panic_and_never_write_the_password(body in patch()) {
        let Ok(patch) = PatchOp::from_json(&body) else { return Ok(()) };
        let cur = current();
        for p in [&*OKTA, &*ENTRA, &*RENAME] {
            let _ = p.map_patch("User", &patch, None, MapOptions { explain: true, ..MapOptions::default() });
            let _ = p.map_patch("User", &patch, Some(&cur), MapOptions::default());
        }
        for cur in [None, Some(&cur)] {
            if let Ok((PatchOutcome::Ops(ops), _)) = OKTA.map_patch("User", &patch, cur, MapOptions::default()) {
                for op in &ops.operations {
                    let on_password = op.path.as_ref().is_some_and(|p| p.name.eq_ignore_ascii_case("password"));
                    let pathless_password = op.path.is_none() && op.value.as_ref().is_some_and(mentions_password);
                    prop_assert!(!on_password && !pathless_password, "password op forwarded: {:?}", op);
                }
            }
        }
        let (outcome, _) = IDENTITY.map_patch("User", &patch, None, MapOptions::default()).unwrap();
        prop_assert_eq!(outcome, PatchOutcome::Ops(patch));
    }
}
