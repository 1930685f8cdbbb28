//! Random documents and PATCH operations through okta-to-notion: every
//! entry point of the engine returns (a result or a SCIM error), never
//! panics, and a create maps to the same document whether explained or
//! not. Input that is not JSON is tried as a filter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::filter::{Filter, Mode};
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::PatchOp;
use scim_mapper::{MapOptions, MappingSource, Operation, Program, Query};
use serde_json::{Value, json};

static PROGRAM: std::sync::LazyLock<Option<Program>> = std::sync::LazyLock::new(|| {
    let text = include_str!("../../../../mappings/okta-to-notion.toml");
    let source = MappingSource { name: "okta-to-notion.toml", text };
    scim_mapper::compile(&[source], scim_core::Registry::core()).ok().map(|c| c.program)
});

fn current() -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a@x.com",
           "name": {"givenName": "A", "familyName": "B", "formatted": "A B"}, "displayName": "A B",
           "emails": [{"value": "a@x.com", "type": "work", "primary": true}]})
}

fuzz_target!(|data: &[u8]| {
    let Some(program) = PROGRAM.as_ref() else { return };
    let registry = program.registry();
    let Some(schema) = registry.resource("User") else { return };
    let opts = MapOptions { explain: true, intent: None };
    let Ok(mut doc) = serde_json::from_slice::<Value>(data) else {
        if let Ok(text) = std::str::from_utf8(data)
            && let Ok(f) = Filter::parse_with(text, Mode::Lenient)
        {
            let q = Query {
                filter: Some(f),
                attributes: Some(text.to_owned()),
                excluded_attributes: None,
                sort_by: Some(text.to_owned()),
            };
            let _ = program.rewrite_query("User", &q);
        }
        return;
    };
    let cur = current();
    if doc.get("Operations").is_some() {
        Normalizer::new(Preset::Entra).patch(&mut doc, &schema);
        if let Ok(patch) = PatchOp::from_json(&doc) {
            let _ = program.map_patch("User", &patch, None, opts);
            let _ = program.map_patch("User", &patch, Some(&cur), opts);
        }
        return;
    }
    let _ = program.map_resource("User", Operation::Response, doc.clone(), None, opts);
    let _ = program.map_list_response(None, json!({"Resources": [doc.clone(), doc.clone()]}), opts);
    Normalizer::new(Preset::Okta).resource(&mut doc, &schema);
    // Explaining only adds traces: the mapped document (or the error) is
    // the same either way (a template's fields are read where they lie
    // only when not explaining).
    let explained = program.map_resource("User", Operation::Create, doc.clone(), None, opts);
    let plain = MapOptions { explain: false, intent: None };
    let mapped = program.map_resource("User", Operation::Create, doc.clone(), None, plain);
    assert_eq!(explained.as_ref().map(|(doc, _)| doc), mapped.as_ref().map(|(doc, _)| doc));
    let _ = program.map_resource("User", Operation::Replace, doc, Some(&cur), opts);
});
