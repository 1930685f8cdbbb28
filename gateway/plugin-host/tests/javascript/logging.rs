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
