//! Golden tests of IdP traffic normalization. Each `golden/normalize/*.json`
//! holds a request in the vendor's own shape (`input`), the preset and the
//! resource type, and what the normalizer must make of it (`expected`: the
//! canonical output, the report, and for PATCH the resource after applying
//! it to `current`). Run with `BLESS=1` to rewrite `expected` after review.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)] // tests may fail loudly

use scim_core::normalize::{Normalizer, Preset, form_decode};
use scim_core::patch::{PatchOp, apply};
use scim_core::schema::Registry;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

fn report_names(r: &scim_core::normalize::Report) -> Value {
    Value::Array(r.applied.iter().map(|n| json!(n.as_str())).collect())
}

fn run_case(case: &Value) -> Value {
    let reg = Registry::core();
    let preset = Preset::parse(case["preset"].as_str().unwrap()).unwrap();
    let schema = reg.resource(case["resource_type"].as_str().unwrap()).unwrap();
    let normalizer = Normalizer::new(preset);
    let input = case["input"].clone();
    match case["kind"].as_str().unwrap() {
        "resource" => {
            let mut body = input;
            let report = normalizer.resource(&mut body, &schema);
            json!({"output": body, "report": report_names(&report)})
        }
        "patch" => {
            let mut body = input;
            let report = normalizer.patch(&mut body, &schema);
            let mut out = json!({"output": body, "report": report_names(&report)});
            let parsed = PatchOp::from_json(&out["output"]);
            if let Some(current) = case.get("current") {
                out["after"] = match parsed {
                    Ok(p) => apply(current, &p, &schema, normalizer.apply_options())
                        .unwrap_or_else(|e| json!({"error": e.to_string()})),
                    Err(e) => json!({"error": e.to_string()}),
                };
            }
            out
        }
        "filter" => {
            let decoded = form_decode(input.as_str().unwrap());
            match normalizer.filter(&decoded, &schema) {
                Ok((f, report)) => json!({"output": f.to_string(), "report": report_names(&report)}),
                Err(e) => json!({"error": e.to_body()}),
            }
        }
        other => panic!("unknown kind {other}"),
    }
}

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/normalize");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn normalization_matches_golden_files() {
    let bless = std::env::var_os("BLESS").is_some();
    let files = cases();
    assert!(files.len() >= 20, "golden cases are missing");
    let mut stale = Vec::new();
    for file in files {
        let mut case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let actual = run_case(&case);
        if bless {
            case["expected"] = actual;
            std::fs::write(&file, serde_json::to_string_pretty(&case).unwrap() + "\n").unwrap();
        } else if case.get("expected") != Some(&actual) {
            stale.push(format!("{}:\n{}", file.display(), serde_json::to_string_pretty(&actual).unwrap()));
        }
    }
    assert!(stale.is_empty(), "golden files differ (review, then rerun with BLESS=1):\n{}", stale.join("\n"));
}

/// Every normalization of the reference list has at least one golden case.
#[test]
fn every_normalization_has_a_golden_case() {
    let mut seen = std::collections::BTreeSet::new();
    for file in cases() {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for n in case["expected"]["report"].as_array().into_iter().flatten() {
            seen.insert(n.as_str().unwrap().to_owned());
        }
    }
    for n in scim_core::normalize::Normalization::ALL {
        assert!(seen.contains(n.as_str()), "no golden case exercises {n}");
    }
}
