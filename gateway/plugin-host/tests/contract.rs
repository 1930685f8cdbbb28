//! Loading: what the host accepts and what it refuses, and why it says so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use scim_plugin_host::{BreakerSettings, Host, HostSettings, Limits, LoadError, PluginSource, sha256_hex};
use serde_json::json;
use support::*;

fn try_load(host: &Host, bytes: &[u8], sha256: Option<&str>, limits: Limits) -> Result<(), LoadError> {
    let config = json!({});
    let src = PluginSource { name: "p", bytes, sha256, limits, breaker: BreakerSettings::default(), config: &config };
    host.load(&src).map(drop)
}

#[test]
fn a_plugin_built_with_the_sdk_loads() {
    let bytes = plugin_bytes("full-name");
    try_load(&host(), &bytes, None, Limits::default()).unwrap();
}

#[test]
fn a_plugin_that_imports_wasi_is_refused_naming_the_import() {
    let err = try_load(&host(), &plugin_bytes("hostile-wasi"), None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::Imports(_)), "{err}");
    assert!(err.to_string().contains("wasi:random/random@0.2.0"), "{err}");
}

#[test]
fn another_major_version_is_refused_saying_which_is_expected() {
    let func = "func(ctx: context, json: string) -> result<string, rejection>";
    let bytes = synth(&mapper_wit("2.0.0", func), "plugin");
    let err = try_load(&host(), &bytes, None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::WrongVersion { .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains("scim-gateway:plugin/mapper@2.0.0") && text.contains("@1.1.0"), "{text}");
}

#[test]
fn a_compatible_minor_version_loads() {
    let func = "func(ctx: context, json: string) -> result<string, rejection>";
    let bytes = synth(&mapper_wit("1.2.0", func), "plugin");
    try_load(&host(), &bytes, None, Limits::default()).unwrap();
}

const FUNC: &str = "func(ctx: context, json: string) -> result<string, rejection>";

#[test]
fn a_plugin_built_against_contract_1_0_0_still_loads() {
    let bytes = synth(&mapper_wit("1.0.0", FUNC), "plugin");
    try_load(&host(), &bytes, None, Limits::default()).unwrap();
}

#[test]
fn the_hosts_logging_is_the_one_import_allowed() {
    let real = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/wit/mapper.wit")).unwrap();
    try_load(&host(), &synth(&real, "plugin"), None, Limits::default()).unwrap();
    // A logging from a newer minor version than the host's is refused, named.
    let newer = real.replace("package scim-gateway:plugin@1.1.0;", "package scim-gateway:plugin@1.2.0;");
    let err = try_load(&host(), &synth(&newer, "plugin"), None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::Imports(_)), "{err}");
    assert!(err.to_string().contains("scim-gateway:plugin/logging@1.2.0"), "{err}");
}

#[test]
fn a_component_exporting_another_world_is_refused() {
    let bytes = synth("package other:thing; interface api { run: func(); } world w { export api; }", "w");
    let err = try_load(&host(), &bytes, None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::NoInterface { .. }), "{err}");
    assert!(err.to_string().contains("other:thing/api"), "{err}");
}

#[test]
fn a_function_of_another_type_is_refused() {
    let bytes = synth(&mapper_wit("1.0.0", "func(json: string) -> string"), "plugin");
    let err = try_load(&host(), &bytes, None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::WrongFunction { .. }), "{err}");
}

#[test]
fn a_minor_version_that_changed_the_types_is_refused_at_load() {
    // An extra context field: every call would fail to convert, so it is
    // refused up front, with the type it has and the one expected.
    let wit = mapper_wit("1.1.0", "func(ctx: context, json: string) -> result<string, rejection>")
        .replace("config: string }", "config: string, tenant: string }");
    let err = try_load(&host(), &synth(&wit, "plugin"), None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::WrongFunction { .. }), "{err}");
    assert!(err.to_string().contains("tenant: string") && err.to_string().contains("expected"), "{err}");
    let wit = mapper_wit("1.1.0", "func(ctx: context, json: string) -> result<string, rejection>")
        .replace("read }", "read, delete }");
    let err = try_load(&host(), &synth(&wit, "plugin"), None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::WrongFunction { .. }), "{err}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let bytes = b"\0asm\x01\0\0\0";
    let err = try_load(&host(), bytes, None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::NotAComponent(_)), "{err}");
    let err = try_load(&host(), b"not wasm at all", None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::NotAComponent(_)), "{err}");
}

#[test]
fn the_sha256_pin_is_enforced() {
    let bytes = plugin_bytes("full-name");
    let pin = sha256_hex(&bytes);
    try_load(&host(), &bytes, Some(&pin), Limits::default()).unwrap();
    let wrong = sha256_hex(b"another plugin");
    let err = try_load(&host(), &bytes, Some(&wrong), Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::PinMismatch { .. }), "{err}");
    assert!(err.to_string().contains(&pin) && err.to_string().contains(&wrong), "{err}");
}

#[test]
fn a_memory_limit_above_the_engine_is_refused() {
    let host = Host::new(HostSettings { max_memory_bytes: 32 << 20, ..HostSettings::default() }).unwrap();
    let limits = Limits { memory_bytes: 64 << 20, ..Limits::default() };
    let err = try_load(&host, &plugin_bytes("full-name"), None, limits).unwrap_err();
    assert!(matches!(err, LoadError::MemoryAboveEngine { .. }), "{err}");
}

#[test]
fn a_memory_limit_below_the_plugins_own_start_is_refused_at_load() {
    let limits = Limits { memory_bytes: 64 << 10, ..Limits::default() };
    let err = try_load(&host(), &plugin_bytes("full-name"), None, limits).unwrap_err();
    assert!(matches!(err, LoadError::Instantiate(_)), "{err}");
}

#[test]
fn the_cache_directory_is_private_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let settings = HostSettings { cache_dir: Some(cache.clone()), ..HostSettings::default() };
    let host = Host::new(settings.clone()).unwrap();
    assert!(host.warnings().is_empty(), "{:?}", host.warnings());
    try_load(&host, &plugin_bytes("full-name"), None, Limits::default()).unwrap();
    drop(host);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
    let files = walk(&cache);
    assert!(!files.is_empty(), "nothing was cached");
    // A second engine with the same settings loads from it.
    let host = Host::new(settings).unwrap();
    try_load(&host, &plugin_bytes("full-name"), None, Limits::default()).unwrap();
}

#[test]
fn an_unusable_cache_directory_means_compiling_in_memory_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"").unwrap();
    let settings = HostSettings { cache_dir: Some(file.join("cache")), ..HostSettings::default() };
    let host = Host::new(settings).unwrap();
    assert_eq!(host.warnings().len(), 1);
    assert!(host.warnings()[0].contains("compiled in memory"), "{:?}", host.warnings());
    try_load(&host, &plugin_bytes("full-name"), None, Limits::default()).unwrap();
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A core module that would satisfy the contract but whose start function
/// spins: instantiating it never ends on its own.
fn spinning_start() -> Vec<u8> {
    use wit_component::{ComponentEncoder, StringEncoding, embed_component_metadata};
    use wit_parser::Resolve;
    let mut module = wat::parse_str(
        r#"(module
            (memory (export "memory") 1)
            (func $spin (loop $again (br $again)))
            (start $spin)
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 0)
            (func (export "scim-gateway:plugin/mapper@1.0.0#map-resource")
                (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32) i32.const 0)
            (func (export "cabi_post_scim-gateway:plugin/mapper@1.0.0#map-resource") (param i32)))"#,
    )
    .unwrap();
    let func = "func(ctx: context, json: string) -> result<string, rejection>";
    let mut resolve = Resolve::default();
    let pkg = resolve.push_str("test.wit", &mapper_wit("1.0.0", func)).unwrap();
    let world = resolve.select_world(&[pkg], Some("plugin")).unwrap();
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
    ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

/// Loading probes an instantiation, which runs the start function: its
/// wall-clock limit holds there too (fuel here would last for minutes).
#[test]
fn a_start_function_that_spins_is_stopped_by_the_time_limit() {
    let limits = Limits { fuel: 1 << 40, timeout: std::time::Duration::from_millis(50), ..Limits::default() };
    let started = std::time::Instant::now();
    let err = try_load(&host(), &spinning_start(), None, limits).unwrap_err();
    assert!(err.to_string().contains("time limit"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "stopped, not run out of fuel");
    let err = try_load(&host(), &spinning_start(), None, Limits { fuel: 1_000_000, ..Limits::default() }).unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
}

/// A component with more memories than the host gives one plugin (four)
/// is refused at load, saying what the host allows, not "not a component".
#[test]
fn a_component_bigger_than_the_pool_allows_is_refused_saying_so() {
    let instances: String = (0..5).map(|_| "(core instance (instantiate $m))").collect();
    let bytes = wat::parse_str(format!("(component (core module $m (memory 1)) {instances})")).unwrap();
    let err = try_load(&host(), &bytes, None, Limits::default()).unwrap_err();
    assert!(matches!(err, LoadError::TooBig(_)), "{err}");
    assert!(err.to_string().contains("4 memories"), "{err}");
}

/// A reload of the same bytes reuses the compiled component; what the
/// gateway no longer uses is let go.
#[test]
fn compiled_plugins_are_kept_by_their_bytes_until_let_go() {
    let host = host();
    let (full_name, policy) = (plugin_bytes("full-name"), plugin_bytes("email-domain-policy"));
    for bytes in [&full_name, &full_name, &policy] {
        try_load(&host, bytes, None, Limits::default()).unwrap();
    }
    assert_eq!(host.compiled_count(), 2, "the same bytes are compiled once");
    host.keep_compiled(&[&sha256_hex(&policy)]);
    assert_eq!(host.compiled_count(), 1);
    host.keep_compiled(&[]);
    assert_eq!(host.compiled_count(), 0);
}
