//! Contract 1.1.0's `log`: messages from Rust and JavaScript plugins come
//! back with the call, bounded in count and bytes, paid for in fuel.

use crate::{TOOLCHAINS, ctx, host, support};
use scim_plugin_host::{CallOperation, Limits, LogLevel, MAX_LOG_BYTES, MAX_LOG_LINES, Outcome};
use serde_json::json;

fn levels(logs: &scim_plugin_host::Logs) -> Vec<LogLevel> {
    logs.lines.iter().map(|l| l.level).collect()
}

#[test]
fn a_rust_plugin_logs_through_the_sdk() {
    let plugin = support::load(host(), "hostile", json!({"do": "log"}), Limits::default());
    let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
    assert!(called.result.is_ok());
    assert_eq!(levels(&called.logs), LogLevel::ALL.to_vec());
    assert_eq!(called.logs.lines[1].message, "a info message from Rust");
}

#[test]
fn a_javascript_plugin_logs_through_log_and_console() {
    for (toolchain, suffix) in TOOLCHAINS {
        let plugin = support::load(host(), &format!("hostile-js{suffix}"), json!({"do": "log"}), Limits::default());
        let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
        assert!(called.result.is_ok(), "{toolchain}: {:?}", called.result);
        let said: Vec<(&str, &str)> =
            called.logs.lines.iter().map(|l| (l.level.as_str(), l.message.as_str())).collect();
        assert_eq!(
            said,
            [
                ("debug", "a debug message"),
                ("info", "an info message {\"n\":1}"),
                ("warn", "a warning from console"),
                ("error", "TypeError: an error from console"),
            ],
            "{toolchain}"
        );
    }
}

#[test]
fn a_flood_of_messages_is_cut_to_the_bounds_and_counted() {
    let builds = ["hostile".to_owned()].into_iter().chain(TOOLCHAINS.map(|(_, s)| format!("hostile-js{s}")));
    for build in builds {
        // JavaScript needs more than the default fuel for 1,000 calls
        // (SpiderMonkey turns each 1 kB message into UTF-8 in its
        // interpreter: some 2 million units a message).
        let rich = Limits { fuel: u64::MAX, timeout: std::time::Duration::from_secs(30), ..Limits::default() };
        let plugin = support::load(host(), &build, json!({"do": "log-flood"}), rich);
        let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
        assert!(called.result.is_ok(), "{build}: {:?}", called.result);
        let kept: usize = called.logs.lines.iter().map(|l| l.message.len()).sum();
        assert!(called.logs.lines.len() <= MAX_LOG_LINES && kept <= MAX_LOG_BYTES, "{build}");
        assert_eq!(called.logs.lines.len() + called.logs.dropped as usize, 1_000, "{build}");
        // Each message costs fuel: with little of it the flood cannot finish
        // (1,000 messages of 1 kB cost 2 million in the host alone; the Rust
        // build spends next to nothing besides, so it shows the host's
        // charge).
        let poor = Limits { fuel: 1_500_000, ..Limits::default() };
        let plugin = support::load(host(), &build, json!({"do": "log-flood"}), poor);
        let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
        assert_eq!(called.result.map_err(|f| f.outcome()).err(), Some(Outcome::Fuel), "{build}");
    }
}

/// Logging pays fuel, which restarts the count to the next yield where the
/// deadline is checked: `log` checks it itself, or a plugin logging in a
/// loop would run until its fuel ran out, past its time limit.
#[test]
fn a_plugin_logging_in_a_loop_still_stops_on_time() {
    let limits = Limits { fuel: 1 << 40, timeout: std::time::Duration::from_millis(50), ..Limits::default() };
    let plugin = support::load(host(), "hostile", json!({"do": "log-loop"}), limits);
    let started = std::time::Instant::now();
    let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
    assert_eq!(called.result.unwrap_err().outcome(), Outcome::Timeout);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(called.logs.lines.len(), MAX_LOG_LINES, "the messages before the stop are kept");
}

/// A component, written by hand, whose `map-resource` logs the bytes "bad
/// \xff\xfe" (not UTF-8; no SDK would send them) and then answers `{}`.
fn logs_bytes_that_are_not_utf8() -> Vec<u8> {
    use wit_component::{ComponentEncoder, StringEncoding, embed_component_metadata};
    let mut module = wat::parse_str(
        r#"(module
            (import "scim-gateway:plugin/logging@1.1.0" "log" (func $log (param i32 i32 i32)))
            (memory (export "memory") 1)
            ;; ok(ptr 200, len 2), then the answer and the message
            (data (i32.const 100) "\00\00\00\00\c8\00\00\00\02\00\00\00")
            (data (i32.const 200) "{}")
            (data (i32.const 300) "bad \ff\fe")
            (global $heap (mut i32) (i32.const 4096))
            (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
                (local.set $p (i32.and (i32.add (global.get $heap) (i32.const 7)) (i32.const -8)))
                (global.set $heap (i32.add (local.get $p) (local.get 3)))
                (local.get $p))
            (func (export "scim-gateway:plugin/mapper@1.1.0#map-resource")
                (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)
                (call $log (i32.const 1) (i32.const 300) (i32.const 6))
                (i32.const 100))
            (func (export "cabi_post_scim-gateway:plugin/mapper@1.1.0#map-resource") (param i32)))"#,
    )
    .unwrap();
    let wit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../plugins/wit/mapper.wit")).unwrap();
    let mut resolve = wit_parser::Resolve::default();
    let pkg = resolve.push_str("mapper.wit", &wit).unwrap();
    let world = resolve.select_world(&[pkg], Some("plugin")).unwrap();
    embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
    ComponentEncoder::default().module(&module).unwrap().validate(true).encode().unwrap()
}

/// The host reads a message as UTF-8 or not at all: bytes that are not
/// stop the call as a trap, saying why, and nothing of them is kept.
#[test]
fn a_message_that_is_not_utf8_stops_the_call_saying_so() {
    let bytes = logs_bytes_that_are_not_utf8();
    let config = json!({});
    let src = scim_plugin_host::PluginSource {
        name: "not-utf8",
        bytes: &bytes,
        sha256: None,
        limits: Limits::default(),
        breaker: scim_plugin_host::BreakerSettings::default(),
        config: &config,
    };
    let plugin = host().load(&src).unwrap();
    let called = host().call_blocking(&plugin, &ctx(CallOperation::Create), &support::user());
    let failure = called.result.unwrap_err();
    assert_eq!(failure.outcome(), Outcome::Trap);
    assert!(format!("{failure:?}").contains("not UTF-8"), "{failure:?}");
    assert!(called.logs.lines.is_empty(), "{:?}", called.logs.lines);
}
