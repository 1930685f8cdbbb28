//! Calling: every limit obeyed and violated, each failure its own outcome,
//! no state between calls, no stalled runtime, bounded concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

mod support;

use scim_plugin_host::{
    BreakerSettings, CallContext, CallOperation, Direction, Failure, Host, HostSettings, Limits, Outcome, Plugin,
    PluginSource,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use support::*;

fn ctx() -> CallContext {
    CallContext { resource_type: "User".into(), operation: CallOperation::Create, direction: Direction::Request }
}

fn hostile(host: &Host, action: &str, limits: Limits) -> Plugin {
    load(host, "hostile", json!({"do": action}), limits)
}

fn outcome(host: &Host, plugin: &Plugin) -> Outcome {
    match host.call_blocking(plugin, &ctx(), &user()).result {
        Ok(_) => Outcome::Ok,
        Err(f) => f.outcome(),
    }
}

fn detail(host: &Host, plugin: &Plugin) -> String {
    host.call_blocking(plugin, &ctx(), &user()).result.unwrap_err().to_string()
}

#[test]
fn full_name_maps_a_user() {
    let host = host();
    let plugin = load(&host, "full-name", json!({"format": "{family}, {given}"}), Limits::default());
    let out = host.call_blocking(&plugin, &ctx(), &user()).result.unwrap();
    assert_eq!(out["name"]["formatted"], "Jensen, Barbara");
    assert_eq!(out["displayName"], "Jensen, Barbara");
    assert_eq!(out["id"], user()["id"]);
}

#[test]
fn email_domain_policy_refuses_with_the_plugins_own_status() {
    let host = host();
    let plugin = load(&host, "email-domain-policy", json!({"allowed": ["corp.example"]}), Limits::default());
    let err = host.call_blocking(&plugin, &ctx(), &user()).result.unwrap_err();
    let Failure::Rejected { plugin: name, rejection } = err else { panic!("{err:?}") };
    assert_eq!(name, "email-domain-policy");
    assert_eq!((rejection.status, rejection.scim_type.as_deref()), (400, Some("invalidValue")));
}

#[test]
fn a_rejection_passes_through_as_the_plugin_sent_it() {
    let host = host();
    let plugin = hostile(&host, "reject", Limits::default());
    let err = host.call_blocking(&plugin, &ctx(), &user()).result.unwrap_err();
    let Failure::Rejected { rejection, .. } = err else { panic!("{err:?}") };
    assert_eq!((rejection.status, rejection.detail.as_str()), (403, "refused on purpose"));
}

#[test]
fn no_state_survives_from_one_call_to_the_next() {
    let host = host();
    let plugin = hostile(&host, "count", Limits::default());
    for _ in 0..3 {
        let out = host.call_blocking(&plugin, &ctx(), &user()).result.unwrap();
        assert_eq!(out["callCount"], 1, "a fresh instance per call");
    }
}

#[test]
fn fuel_obeyed_and_used_up() {
    let host = host();
    assert_eq!(outcome(&host, &hostile(&host, "echo", Limits::default())), Outcome::Ok);
    let spin = hostile(&host, "loop", Limits { timeout: Duration::from_secs(30), ..Limits::default() });
    assert_eq!(outcome(&host, &spin), Outcome::Fuel);
    let starved = hostile(&host, "echo", Limits { fuel: 1_000, ..Limits::default() });
    assert_eq!(outcome(&host, &starved), Outcome::Fuel, "the same work with too little fuel");
}

#[test]
fn the_wall_clock_deadline_is_a_backstop() {
    let host = host();
    let limits = Limits { fuel: u64::MAX, timeout: Duration::from_millis(50), ..Limits::default() };
    assert_eq!(outcome(&host, &hostile(&host, "echo", limits)), Outcome::Ok);
    let spin = hostile(&host, "loop", limits);
    assert_eq!(outcome(&host, &spin), Outcome::Timeout);
    assert!(detail(&host, &spin).contains("time limit"));
}

/// One `memory.fill` of 8 MiB is a single instruction. wasmtime charges
/// bulk memory work a unit of fuel per byte, which is what lets fuel stand
/// for CPU and its yields carry the deadline check: were it charged as one
/// instruction, this plugin would neither run out of fuel nor reach a yield
/// for seconds.
#[test]
fn bulk_memory_work_is_paid_for_in_fuel() {
    let host = host();
    let fill = hostile(&host, "fill", Limits { timeout: Duration::from_secs(30), ..Limits::default() });
    assert_eq!(outcome(&host, &fill), Outcome::Fuel);
    let limits = Limits { fuel: u64::MAX, timeout: Duration::from_millis(50), ..Limits::default() };
    assert_eq!(outcome(&host, &hostile(&host, "fill", limits)), Outcome::Timeout);
    // One fill of 8 MiB is 8 million units, whatever else the call does.
    let once = hostile(&host, "fill-once", Limits { fuel: 4_000_000, ..Limits::default() });
    assert_eq!(outcome(&host, &once), Outcome::Fuel);
    let once = hostile(&host, "fill-once", Limits { fuel: 20_000_000, ..Limits::default() });
    assert_eq!(outcome(&host, &once), Outcome::Ok);
}

#[test]
fn memory_obeyed_and_exceeded() {
    let host = host();
    assert_eq!(outcome(&host, &hostile(&host, "echo", Limits::default())), Outcome::Ok);
    let hog = hostile(&host, "memory", Limits::default());
    assert_eq!(outcome(&host, &hog), Outcome::Memory);
    // 4 MiB of output needs more than 4 MiB of memory: fine at 64, not at 8.
    let big = Limits { memory_bytes: 64 << 20, output_bytes: 8 << 20, ..Limits::default() };
    let host = Host::new(HostSettings { max_memory_bytes: 64 << 20, ..HostSettings::default() }).unwrap();
    assert_eq!(outcome(&host, &hostile(&host, "huge", big)), Outcome::Ok);
    let small = Limits { memory_bytes: 8 << 20, ..big };
    assert_eq!(outcome(&host, &hostile(&host, "huge", small)), Outcome::Memory);
}

#[test]
fn output_size_obeyed_and_exceeded() {
    let host = Host::new(HostSettings { max_memory_bytes: 64 << 20, ..HostSettings::default() }).unwrap();
    let limits = Limits { memory_bytes: 64 << 20, output_bytes: 8 << 20, ..Limits::default() };
    assert_eq!(outcome(&host, &hostile(&host, "huge", limits)), Outcome::Ok);
    let capped = hostile(&host, "huge", Limits { output_bytes: 1 << 20, ..limits });
    assert_eq!(outcome(&host, &capped), Outcome::BadOutput);
    assert!(detail(&host, &capped).contains("more than its limit"));
}

#[test]
fn traps_panics_and_stack_overflows_are_traps() {
    let host = host();
    let panics = hostile(&host, "panic", Limits::default());
    assert_eq!(outcome(&host, &panics), Outcome::Trap);
    let text = detail(&host, &panics);
    assert!(text.contains("hostile") && text.contains("panicked"), "{text}");
    assert!(!text.contains("on purpose"), "the plugin's own message stays inside: {text}");
    let deep = hostile(&host, "recursion", Limits::default());
    assert_eq!(outcome(&host, &deep), Outcome::Trap);
    assert!(detail(&host, &deep).contains("stack"));
}

#[test]
fn output_that_is_not_the_same_resource_is_bad_output() {
    let host = host();
    for (action, why) in [("bad-json", "not JSON"), ("not-object", "not a JSON object"), ("change-id", "`id`")] {
        let plugin = hostile(&host, action, Limits::default());
        assert_eq!(outcome(&host, &plugin), Outcome::BadOutput, "{action}");
        assert!(detail(&host, &plugin).contains(why), "{action}");
    }
}

/// The hostile plugin doing `action`, its circuit opening after `failures`.
fn with_breaker(host: &Host, action: &str, failures: u32) -> Plugin {
    let bytes = plugin_bytes("hostile");
    let config = json!({ "do": action });
    let breaker = BreakerSettings { failures, cooldown: Duration::from_secs(60) };
    let src =
        PluginSource { name: "h", bytes: &bytes, sha256: None, limits: Limits::default(), breaker, config: &config };
    host.load(&src).unwrap()
}

#[test]
fn the_circuit_opens_after_failures_in_a_row() {
    let host = host();
    let plugin = with_breaker(&host, "panic", 2);
    assert_eq!(outcome(&host, &plugin), Outcome::Trap);
    assert_eq!(outcome(&host, &plugin), Outcome::Trap);
    assert_eq!(outcome(&host, &plugin), Outcome::CircuitOpen);
    assert!(detail(&host, &plugin).contains("circuit is open"));
}

#[test]
fn rejections_do_not_open_the_circuit() {
    let host = host();
    let plugin = with_breaker(&host, "reject", 1);
    for _ in 0..3 {
        assert_eq!(outcome(&host, &plugin), Outcome::Rejected);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_spinning_plugin_does_not_stall_the_runtime() {
    let host = Arc::new(host());
    let limits = Limits { fuel: u64::MAX, timeout: Duration::from_millis(500), ..Limits::default() };
    let spin = Arc::new(hostile(&host, "loop", limits));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (h, p, t) = (host.clone(), spin.clone(), tx.clone());
    tokio::spawn(async move {
        let r = h.call(&p, ctx(), &user()).await.result;
        let _ = t.send(format!("plugin {:?}", r.err().map(|f| f.outcome())));
    });
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = tx.send("timer".to_owned());
    });
    assert_eq!(rx.recv().await.unwrap(), "timer", "the runtime kept running while the plugin spun");
    assert_eq!(rx.recv().await.unwrap(), "plugin Some(Timeout)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_wait_for_a_slot() {
    let host = Arc::new(Host::new(HostSettings { max_concurrent: 1, ..HostSettings::default() }).unwrap());
    let limits = Limits { fuel: u64::MAX, timeout: Duration::from_millis(300), ..Limits::default() };
    let spin = Arc::new(hostile(&host, "loop", limits));
    let echo = Arc::new(hostile(&host, "echo", Limits::default()));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (h, t) = (host.clone(), tx.clone());
    tokio::spawn(async move {
        let _ = h.call(&spin, ctx(), &user()).await;
        let _ = t.send("spin");
    });
    while host.free_slots() > 0 {
        tokio::task::yield_now().await;
    }
    let h = host.clone();
    tokio::spawn(async move {
        let _ = h.call(&echo, ctx(), &user()).await;
        let _ = tx.send("echo");
    });
    assert_eq!(rx.recv().await.unwrap(), "spin", "the only slot was taken");
    assert_eq!(rx.recv().await.unwrap(), "echo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_never_see_each_others_data() {
    let host = Arc::new(host());
    let plugin = Arc::new(load(&host, "full-name", json!({}), Limits::default()));
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (h, p) = (host.clone(), plugin.clone());
        tasks.push(tokio::spawn(async move {
            let mut u = user();
            u["id"] = json!(format!("id-{i}"));
            u["name"] = json!({"givenName": format!("given{i}"), "familyName": format!("family{i}")});
            let out: Value = h.call(&p, ctx(), &u).await.result.unwrap();
            (i, out)
        }));
    }
    for t in tasks {
        let (i, out) = t.await.unwrap();
        assert_eq!(out["id"], format!("id-{i}"));
        assert_eq!(out["name"]["formatted"], format!("Given{i} Family{i}"));
    }
}
