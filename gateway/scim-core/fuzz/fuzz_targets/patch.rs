//! PATCH applier: any JSON as `[resource, patchop]` (or a PatchOp applied to
//! a fixed user) never panics, and a failed apply leaves nothing behind.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::Registry;
use scim_core::patch::{ApplyOptions, PatchOp, apply, diff};
use serde_json::{Value, json};

static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::core);

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Value>(data) else { return };
    let (resource, body) = match input {
        Value::Array(mut pair) if pair.len() == 2 => {
            let body = pair.pop().unwrap_or_default();
            (pair.pop().unwrap_or_default(), body)
        }
        other => (
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "u",
            "emails": [{"value": "a@x.com", "type": "work"}], "name": {"givenName": "A"}}),
            other,
        ),
    };
    let reg = &*REGISTRY;
    for rt in ["User", "Group"] {
        let Some(schema) = reg.resource(rt) else { return };
        let Ok(patch) = PatchOp::from_json(&body) else { continue };
        for opts in
            [ApplyOptions::default(), ApplyOptions { replace_missing_adds: true, reject_unknown_attributes: true }]
        {
            let before = resource.clone();
            if let Ok(out) = apply(&resource, &patch, &schema, opts)
                && let Ok(d) = diff(&resource, &out, &schema)
            {
                let _ = apply(&resource, &d, &schema, opts);
            }
            assert_eq!(before, resource);
        }
    }
});
