//! What the call benchmark, the instruction counter and the host's tests
//! share: the User, loading a plugin with the default limits, and where
//! the plugins are.

use scim_plugin_host::{BreakerSettings, Host, Limits, Plugin, PluginSource};
use serde_json::{Value, json};
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "../../../testing/plugin_dir.rs"]
mod plugin_dir;
#[allow(unused_imports)]
pub use plugin_dir::{plugin_dir, required_plugin_dir};

/// `bytes` loaded as plugin `name` with the default limits and `config`.
pub fn load_bytes(host: &Host, name: &str, bytes: &[u8], config: &Value) -> Plugin {
    let src = PluginSource {
        name,
        bytes,
        sha256: None,
        limits: Limits::default(),
        breaker: BreakerSettings::default(),
        config,
    };
    host.load(&src).expect("the plugin loads")
}

/// Okta's create from the mapper's benchmarks (1.6 kB compact) with the
/// roles and entitlements a provisioned employee often carries, 2 kB in all.
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
