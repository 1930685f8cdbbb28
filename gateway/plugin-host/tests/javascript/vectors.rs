//! plugins/vectors/NAME.json through the Rust plugin NAME and the
//! JavaScript NAME-js (both toolchains): the same input and config give the
//! same output or the same rejection. The expectations come from the Rust
//! plugin; `SCIM_BLESS=1` writes them anew.

use crate::{TOOLCHAINS, host, support};
use scim_plugin_host::{CallContext, CallOperation, Direction, Failure, Limits};
use serde_json::{Value, json};
use std::path::PathBuf;

fn vectors_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../plugins/vectors").join(format!("{name}.json"))
}

fn context(case: &Value) -> CallContext {
    let c = &case["context"];
    let operation = match c["operation"].as_str().unwrap() {
        "create" => CallOperation::Create,
        "replace" => CallOperation::Replace,
        "patch" => CallOperation::Patch,
        _ => CallOperation::Read,
    };
    let direction = if c["direction"] == "response" { Direction::Response } else { Direction::Request };
    CallContext { resource_type: c["resourceType"].as_str().unwrap().to_owned(), operation, direction }
}

/// What a build made of one case, in a form both languages can match:
/// the output or the rejection, and what the plugin logged.
fn outcome(build: &str, case: &Value) -> Value {
    let plugin = support::load(host(), build, case["config"].clone(), Limits::default());
    let called = host().call_blocking(&plugin, &context(case), &case["input"]);
    let mut out = result(called.result);
    let said: Vec<Value> = called.logs.lines.iter().map(|l| json!([l.level.as_str(), l.message])).collect();
    if !said.is_empty() {
        out["messages"] = json!(said);
    }
    out
}

fn result(result: Result<Value, Failure>) -> Value {
    match result {
        Ok(out) => json!({ "output": out }),
        Err(Failure::Rejected { rejection, .. }) => json!({ "rejection": {
            "status": rejection.status, "scimType": rejection.scim_type, "detail": rejection.detail,
        }}),
        Err(f) => json!({ "failure": f.outcome().label() }),
    }
}

fn same_in_both_languages(name: &str) {
    let path = vectors_file(name);
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let bless = std::env::var_os("SCIM_BLESS").is_some();
    let cases = doc["cases"].as_array_mut().unwrap();
    assert!(cases.len() >= 10, "{name}: too few vectors");
    for case in cases.iter_mut() {
        let rust = outcome(name, case);
        assert!(rust.get("failure").is_none(), "{name}: {}: the Rust plugin failed: {rust}", case["name"]);
        if bless {
            case["expect"] = rust.clone();
        }
        assert_eq!(rust, case["expect"], "{name}: {}: the Rust plugin (SCIM_BLESS=1 to accept)", case["name"]);
        for (toolchain, suffix) in TOOLCHAINS {
            let js = outcome(&format!("{name}-js{suffix}"), case);
            assert_eq!(js, rust, "{name}: {}: JavaScript ({toolchain}) differs", case["name"]);
        }
    }
    if bless {
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
}

#[test]
fn full_name_is_the_same_in_rust_and_javascript() {
    same_in_both_languages("full-name");
}

#[test]
fn email_domain_policy_is_the_same_in_rust_and_javascript() {
    same_in_both_languages("email-domain-policy");
}

#[test]
fn a_rejection_and_a_refused_change_are_told_apart() {
    // A case whose expectation is wrong must fail: the comparison is real.
    let case = json!({"context": {"resourceType": "User", "operation": "create", "direction": "request"},
        "config": {"allowed": ["example.com"]}, "input": {"userName": "eve@evil.test"}});
    let got = outcome("email-domain-policy-js", &case);
    assert_eq!(got["rejection"]["status"], 400, "{got}");
    assert_ne!(
        got,
        outcome(
            "email-domain-policy-js",
            &json!({"context": case["context"], "config": case["config"],
        "input": {"userName": "eve@example.com"}})
        )
    );
}
