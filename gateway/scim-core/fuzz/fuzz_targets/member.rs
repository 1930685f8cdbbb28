//! The check that lets a request body's member stay text: for any text and
//! any User or Group attribute (and User's extensions, with the manager fix
//! off, as they are only checked then), a member the check leaves
//! (`leaves_member`) is one normalization, every fix on, leaves as it is,
//! and its text is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::Registry;
use scim_core::normalize::{Normalization, Normalizer, Preset};
use serde_json::{Map, Value};

static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::core);

fuzz_target!(|data: &[u8]| {
    let reg = &*REGISTRY;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let entra = Normalizer::new(Preset::Entra);
    let no_manager_fix = entra.set(Normalization::ManagerShape, false);
    for rt in ["User", "Group"] {
        let Some(schema) = reg.resource(rt) else { return };
        let attributes = schema.core_and_common().map(|def| (def.name.as_str(), &entra));
        let extensions = schema.extensions().map(|ext| (ext.id.as_str(), &no_manager_fix));
        for (key, normalizer) in attributes.chain(extensions) {
            if !normalizer.leaves_member(key, text, &schema) {
                continue;
            }
            let value: Value = serde_json::from_str(text).expect("a member the check leaves is JSON");
            let mut body = Map::new();
            body.insert("schemas".into(), Value::Array(vec![Value::String(schema.core_urn().to_owned())]));
            body.insert(key.to_owned(), value.clone());
            let mut body = Value::Object(body);
            normalizer.resource(&mut body, &schema);
            let after = body.get(key).map(|v| serde_json::to_string(v).unwrap_or_default());
            assert_eq!(after, Some(serde_json::to_string(&value).unwrap_or_default()), "{key} {text}");
        }
    }
});
