//! The benchmarks' User: Okta's create from the mapper's benchmarks (1.6 kB
//! compact) with the roles and entitlements a provisioned employee often
//! carries, 2 kB in all.

use serde_json::{Value, json};
use std::path::PathBuf;

pub fn user() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mapper/benches/okta-user.json");
    let text = std::fs::read_to_string(path).expect("the mapper's okta-user.json");
    let mut doc: Value = serde_json::from_str(&text).expect("okta-user.json is JSON");
    if let Some(fields) = doc.as_object_mut() {
        fields.insert(
            "roles".into(),
            json!([
                {"value": "sre-oncall", "display": "SRE on-call rotation", "primary": false},
                {"value": "idp-admin", "display": "Identity platform administrator", "primary": true}
            ]),
        );
        fields.insert(
            "entitlements".into(),
            json!([
                {"value": "prod-read", "display": "Production read access"},
                {"value": "pager", "display": "Paging tool seat"},
                {"value": "vpn", "display": "Corporate VPN profile"}
            ]),
        );
    }
    doc
}
