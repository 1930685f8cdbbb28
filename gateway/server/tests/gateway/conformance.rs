//! scim2-tester (PyPI) through the gateway in front of scim2-server: with
//! each shipped mapping that keeps resources valid, every check that passes
//! against scim2-server directly must pass through the gateway too, except
//! the checks on an attribute the mapping itself takes over (listed per
//! mapping, so that any other loss fails the test).

use super::support::{Gateway, Scim2Server, TOKEN, UPSTREAM_TOKEN, config_with, workspace};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// Runs scripts/scim2_tester_run.py; returns (passed, all results).
fn run_tester(url: &str, token: &str) -> (BTreeSet<String>, usize) {
    let python =
        std::env::var("SCIM_TEST_PYTHON").map(PathBuf::from).unwrap_or_else(|_| workspace().join(".venv/bin/python"));
    assert!(python.exists(), "{} is missing: run scripts/test", python.display());
    let out = std::process::Command::new(python)
        .arg(workspace().join("scripts/scim2_tester_run.py"))
        .args(["--url", url, "--token", token, "--json"])
        .output()
        .expect("run scim2-tester");
    assert!(out.status.success(), "scim2-tester: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list =
        |k: &str| report[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_owned()).collect::<BTreeSet<_>>();
    let passed = list("passed");
    let total = passed.len() + list("failed").len() + list("skipped").len();
    (passed, total)
}

async fn through_gateway_matches_direct(mapping: &str, taken_over: Option<&str>) {
    through_gateway_matches_direct_with(&[mapping], taken_over, "").await;
}

/// How many writes the gateway translated this way.
fn translated(gw: &Gateway, translation: &str) -> f64 {
    gw.metric(&format!("scim_gateway_translated_writes_total{{route=\"default\",translation=\"{translation}\"}}"))
}

/// With more `[upstream]` keys (`update = "patch"`, ...).
async fn through_gateway_matches_direct_with(
    mappings: &[&str],
    taken_over: Option<&str>,
    upstream_keys: &str,
) -> Gateway {
    let scim2 = Scim2Server::start().await;
    let url = scim2.base.clone();
    let token = UPSTREAM_TOKEN.to_owned();
    let (direct, direct_total) = tokio::task::spawn_blocking(move || run_tester(&url, &token)).await.unwrap();
    assert!(direct.len() > 100, "scim2-tester ran its checks against scim2-server: {}", direct.len());

    let gw = Gateway::start(&config_with(&scim2.base, mappings, "generic", upstream_keys)).await;
    let mapping = mappings.join(" + ");
    let url = gw.url("/scim/v2");
    let (via, via_total) = tokio::task::spawn_blocking(move || run_tester(&url, TOKEN)).await.unwrap();
    let lost: Vec<&str> = direct.difference(&via).map(String::as_str).collect();
    let unexpected: Vec<&&str> =
        lost.iter().filter(|id| taken_over.is_none_or(|attr| !id.contains(&format!("[{attr}")))).collect();
    assert!(unexpected.is_empty(), "{mapping}: checks passing directly but not through the gateway: {unexpected:?}");
    // scim2-tester picks some attributes at random, so totals may differ by
    // a check or two; a broken discovery would hide most of them.
    assert!(via_total + 3 >= direct_total, "checks went missing through the gateway: {via_total} of {direct_total}");
    println!(
        "{mapping} {upstream_keys}: {} of {direct_total} checks pass directly, {} of {via_total} through the gateway",
        direct.len(),
        via.len()
    );
    gw
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_with_the_identity_mapping() {
    through_gateway_matches_direct("identity.toml", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_with_the_rename_roundtrip_mapping() {
    // externalId is stored in the enterprise employeeNumber, so the IdP
    // cannot write employeeNumber itself: it comes back as externalId.
    let enterprise = "User][urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    through_gateway_matches_direct("rename-roundtrip.toml", Some(enterprise)).await;
}

/// Every attribute managed and any member removable: a translated write
/// must do exactly what the IdP's own PUT or PATCH would.
const RFC: [&str; 2] = ["identity.toml", "managed-all.toml"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_with_every_put_sent_as_a_patch() {
    let gw = through_gateway_matches_direct_with(&RFC, None, "update = \"patch\"\nmember_removal = \"any\"").await;
    assert!(translated(&gw, "put_to_patch") > 0.0, "scim2-tester's PUTs went as PATCHes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim2_tester_with_every_patch_sent_as_a_put() {
    let gw = through_gateway_matches_direct_with(&RFC, None, "update = \"put\"\nmember_removal = \"any\"").await;
    assert!(translated(&gw, "patch_to_put") > 10.0, "scim2-tester's PATCHes went as PUTs");
}
