//! The check that lets a request body's member stay text: for any text and
//! any User or Group attribute, a member the check leaves
//! (`leaves_member`) is one normalization, every fix on, leaves as it is,
//! and its text is JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::Registry;
use scim_core::normalize::{Normalizer, Preset};
use serde_json::{Map, Value};

static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::core);

fuzz_target!(|data: &[u8]| {
    let reg = &*REGISTRY;
    let Ok(text) = std::str::from_utf8(data) else { return };
    let entra = Normalizer::new(Preset::Entra);
    for rt in ["User", "Group"] {
        let Some(schema) = reg.resource(rt) else { return };
        for def in schema.core_and_common() {
            if !entra.leaves_member(&def.name, text, &schema) {
                continue;
            }
            let value: Value = serde_json::from_str(text).expect("a member the check leaves is JSON");
            let mut body = Map::new();
            body.insert("schemas".into(), Value::Array(vec![Value::String(schema.core_urn().to_owned())]));
            body.insert(def.name.clone(), value.clone());
            let mut body = Value::Object(body);
            entra.resource(&mut body, &schema);
            let after = body.get(&def.name).map(|v| serde_json::to_string(v).unwrap_or_default());
            assert_eq!(after, Some(serde_json::to_string(&value).unwrap_or_default()), "{} {}", def.name, text);
        }
    }
});
