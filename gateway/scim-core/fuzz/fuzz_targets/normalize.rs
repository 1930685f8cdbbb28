//! Normalizer: any JSON as a POST/PUT body, a PATCH body or a filter, for
//! every preset and resource type, never panics; a normalized PatchOp that
//! parses can be applied.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::Registry;
use scim_core::normalize::{Normalizer, Preset, form_decode};
use scim_core::patch::{PatchOp, apply};
use serde_json::Value;

static REGISTRY: std::sync::LazyLock<Registry> = std::sync::LazyLock::new(Registry::core);

fuzz_target!(|data: &[u8]| {
    let reg = &*REGISTRY;
    let text = String::from_utf8_lossy(data);
    let json = serde_json::from_slice::<Value>(data).ok();
    for rt in ["User", "Group"] {
        let Some(schema) = reg.resource(rt) else { return };
        for preset in [Preset::Generic, Preset::Okta, Preset::Entra] {
            let n = Normalizer::new(preset);
            let _ = n.filter(&form_decode(&text), &schema);
            let Some(input) = &json else { continue };
            let mut body = input.clone();
            n.resource(&mut body, &schema);
            let mut patch = input.clone();
            n.patch(&mut patch, &schema);
            if let Ok(p) = PatchOp::from_json(&patch) {
                let _ = apply(&body, &p, &schema, n.apply_options());
            }
        }
    }
});
