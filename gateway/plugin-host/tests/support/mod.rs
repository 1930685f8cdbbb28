//! Shared by the host's tests: the example plugins built by `cargo xtask
//! plugin`, and components made here from WIT for contract checks.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use scim_plugin_host::{BreakerSettings, Host, HostSettings, Limits, Plugin, PluginSource};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

// The gateway's allocator (the server's src/main.rs), so the tests run the
// host as it ships; the suite also runs on musl, whose own allocator is slow
// under many threads.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../../benches/support/shared.rs"]
mod shared;

/// `<target>/plugins`, where `cargo xtask plugin` puts the components.
pub fn plugin_dir() -> PathBuf {
    shared::required_plugin_dir()
}

pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let path = plugin_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask plugin` first", path.display()))
}

pub fn host() -> Host {
    Host::new(HostSettings { max_concurrent: 4, ..HostSettings::default() }).unwrap()
}

pub fn load(host: &Host, name: &str, config: Value, limits: Limits) -> Plugin {
    let bytes = plugin_bytes(name);
    let src = PluginSource {
        name,
        bytes: &bytes,
        sha256: None,
        limits,
        breaker: BreakerSettings { failures: 1000, cooldown: Duration::from_secs(1) },
        config: &config,
    };
    host.load(&src).unwrap()
}

pub fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "2819c223",
        "userName": "bjensen@example.com",
        "name": {"givenName": "barbara", "familyName": "JENSEN"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}],
        "active": true,
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

/// A component made from WIT: the world's exports are dummies that trap,
/// which is enough for checks made at load.
pub fn synth(wit: &str, world: &str) -> Vec<u8> {
    use wit_component::{ComponentEncoder, StringEncoding, dummy_module, embed_component_metadata};
    use wit_parser::{LiftLowerAbi, ManglingAndAbi, Resolve};
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("test.wit", wit).unwrap();
    let world = resolve.select_world(&[pkg], Some(world)).unwrap();
    let mut module = dummy_module(&resolve, world, ManglingAndAbi::Legacy(LiftLowerAbi::Sync));
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
    ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

/// The mapper interface at some version, with `map-resource` of the given
/// type.
pub fn mapper_wit(version: &str, func: &str) -> String {
    format!(
        "package scim-gateway:plugin@{version};
        interface mapper {{
            enum direction {{ request, response }}
            enum operation {{ create, replace, patch, read }}
            record context {{ resource-type: string, operation: operation, direction: direction, config: string }}
            record rejection {{ status: u16, scim-type: option<string>, detail: string }}
            map-resource: {func};
        }}
        world plugin {{ export mapper; }}"
    )
}
