//! Hostile JavaScript, from both toolchains, is contained like hostile
//! Rust: each misdeed ends as an outcome of its own, the host goes on.

use crate::{TOOLCHAINS, ctx, host, support};
use scim_plugin_host::{CallOperation, Failure, Limits, Outcome, Plugin};
use serde_json::json;
use std::time::Duration;

fn hostile(suffix: &str, action: &str, limits: Limits) -> Plugin {
    support::load(host(), &format!("hostile-js{suffix}"), json!({ "do": action }), limits)
}

fn call(plugin: &Plugin) -> Result<serde_json::Value, Failure> {
    host().call_blocking(plugin, &ctx(CallOperation::Create), &support::user()).result
}

fn outcome(plugin: &Plugin) -> Outcome {
    call(plugin).map_or_else(|f| f.outcome(), |_| Outcome::Ok)
}

/// The rejection's status and detail, or the failure's outcome.
fn refusal(plugin: &Plugin) -> (u16, String) {
    match call(plugin) {
        Err(Failure::Rejected { rejection, .. }) => (rejection.status, rejection.detail),
        other => panic!("not a rejection: {other:?}"),
    }
}

#[test]
fn an_endless_loop_runs_out_of_fuel_or_time() {
    for (toolchain, suffix) in TOOLCHAINS {
        assert_eq!(outcome(&hostile(suffix, "echo", Limits::default())), Outcome::Ok, "{toolchain}");
        assert_eq!(outcome(&hostile(suffix, "loop", Limits::default())), Outcome::Fuel, "{toolchain}");
        let unmetered = Limits { fuel: u64::MAX, timeout: Duration::from_millis(50), ..Limits::default() };
        assert_eq!(outcome(&hostile(suffix, "loop", unmetered)), Outcome::Timeout, "{toolchain}");
    }
}

#[test]
fn a_memory_bomb_stops_at_the_memory_limit() {
    for (toolchain, suffix) in TOOLCHAINS {
        let limits = Limits { fuel: u64::MAX, timeout: Duration::from_secs(20), ..Limits::default() };
        let bomb = hostile(suffix, "memory", limits);
        // The engine's allocation fails (memory), or the JavaScript engine
        // notices first and throws, which the SDK turns into a 500.
        match call(&bomb) {
            Err(f) if f.outcome() == Outcome::Memory => {}
            Err(Failure::Rejected { rejection, .. }) => {
                assert_eq!(rejection.status, 500, "{toolchain}");
                assert!(rejection.detail.to_lowercase().contains("memory"), "{toolchain}: {}", rejection.detail);
            }
            other => panic!("{toolchain}: {other:?}"),
        }
    }
}

#[test]
fn deep_recursion_is_stopped() {
    for (toolchain, suffix) in TOOLCHAINS {
        // With all the fuel it wants: SpiderMonkey's own stack check
        // throws (a 500 naming it), QuickJS overflows the wasm stack (a
        // trap).
        let rich = Limits { fuel: u64::MAX, timeout: Duration::from_secs(20), ..Limits::default() };
        match call(&hostile(suffix, "recursion", rich)) {
            Err(Failure::Rejected { rejection, .. }) => {
                assert_eq!(rejection.status, 500, "{toolchain}");
                assert!(rejection.detail.contains("InternalError"), "{toolchain}: {}", rejection.detail);
            }
            Err(f) => assert_eq!(f.outcome(), Outcome::Trap, "{toolchain}"),
            Ok(v) => panic!("{toolchain}: {v}"),
        }
    }
}

#[test]
fn a_huge_output_is_refused() {
    for (toolchain, suffix) in TOOLCHAINS {
        // All the fuel it takes to build 4 MiB of output in JavaScript.
        let limits =
            Limits { memory_bytes: 64 << 20, fuel: u64::MAX, timeout: Duration::from_secs(20), ..Limits::default() };
        let huge = hostile(suffix, "huge", limits);
        let err = call(&huge).unwrap_err();
        assert_eq!(err.outcome(), Outcome::BadOutput, "{toolchain}: {err}");
        assert!(err.to_string().contains("more than its limit"), "{toolchain}: {err}");
    }
}

#[test]
fn whatever_is_thrown_reaches_the_idp_as_a_named_rejection() {
    for (toolchain, suffix) in TOOLCHAINS {
        let (status, detail) = refusal(&hostile(suffix, "throw-string", Limits::default()));
        assert_eq!((status, detail.as_str()), (500, "the plugin threw the string \"no\""), "{toolchain}");
        let (_, detail) = refusal(&hostile(suffix, "throw-number", Limits::default()));
        assert_eq!(detail, "the plugin threw the number 42", "{toolchain}");
        let (status, detail) = refusal(&hostile(suffix, "type-error", Limits::default()));
        assert_eq!(status, 500, "{toolchain}");
        assert!(detail.starts_with("the plugin threw TypeError: "), "{toolchain}: {detail}");
        let (status, detail) = refusal(&hostile(suffix, "reject", Limits::default()));
        assert_eq!((status, detail.as_str()), (403, "refused on purpose"), "{toolchain}");
        // Thrown past the SDK, a non-object is no rejection: a trap.
        assert_eq!(outcome(&hostile(suffix, "raw-throw", Limits::default())), Outcome::Trap, "{toolchain}");
    }
}

#[test]
fn changing_id_or_meta_is_bad_output() {
    for (toolchain, suffix) in TOOLCHAINS {
        for (action, why) in [("change-id", "`id`"), ("change-meta", "`meta`")] {
            let err = call(&hostile(suffix, action, Limits::default())).unwrap_err();
            assert_eq!(err.outcome(), Outcome::BadOutput, "{toolchain} {action}");
            assert!(err.to_string().contains(why), "{toolchain} {action}: {err}");
        }
    }
}

#[test]
fn no_state_survives_between_calls() {
    for (toolchain, suffix) in TOOLCHAINS {
        let counter = hostile(suffix, "count", Limits::default());
        for _ in 0..3 {
            assert_eq!(call(&counter).unwrap()["callCount"], 1, "{toolchain}: a fresh instance per call");
        }
    }
}

/// What the sandbox gives JavaScript: no clock, no randomness, no I/O or
/// timers (plugins/sdk-js/README.md says why). Both engines say so alike,
/// with an error the plugin can catch, instead of a trap or a frozen value.
#[test]
fn the_sandbox_gives_no_clock_no_randomness_and_no_io() {
    for (toolchain, suffix) in TOOLCHAINS {
        let out = call(&hostile(suffix, "sandbox", Limits::default())).unwrap();
        let seen = &out["sandbox"];
        for (what, why) in [
            ("now", "no clock"),
            ("newDate", "no clock"),
            ("random", "no randomness"),
            ("crypto", "no randomness"),
            ("fetch", "no I/O"),
            ("setTimeout", "no I/O"),
        ] {
            let said = seen[what].as_str().unwrap_or_default();
            assert!(
                said.starts_with("throws: the plugin sandbox has") && said.contains(why),
                "{toolchain} {what}: {seen}"
            );
        }
        assert_eq!(seen["givenDate"], "2024-02-29T12:00:00.000Z", "{toolchain}: dates from values work");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_calls_are_served_while_a_plugin_spins() {
    for (toolchain, suffix) in TOOLCHAINS {
        let limits = Limits { fuel: u64::MAX, timeout: Duration::from_millis(800), ..Limits::default() };
        let spin = std::sync::Arc::new(hostile(suffix, "loop", limits));
        let echo = hostile(suffix, "echo", Limits::default());
        let spinning = tokio::spawn({
            let spin = spin.clone();
            async move { host().call(&spin, ctx(CallOperation::Create), &support::user()).await.result }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let served = host().call(&echo, ctx(CallOperation::Create), &support::user()).await.result;
        assert!(served.is_ok(), "{toolchain}: {served:?}");
        assert!(!spinning.is_finished(), "{toolchain}: the echo was served while the loop still ran");
        let spun = spinning.await.unwrap().unwrap_err();
        assert_eq!(spun.outcome(), Outcome::Timeout, "{toolchain}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
