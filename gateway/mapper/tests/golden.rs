//! Golden tests for the mapping engine.
//!
//! `tests/golden/ok/NAME.toml` is a case: a mapping (a file of mappings/ or
//! inline rules), an operation and an input; `NAME.out.json` is what the
//! engine must produce. `tests/golden/invalid/NAME.toml` is a mapping that
//! must not compile; `NAME.diag` lists the diagnostics. Run with `BLESS=1`
//! to rewrite the expected files after reviewing a change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use scim_core::filter::{Filter, Mode};
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::{ApplyOptions, PatchOp, apply};
use scim_mapper::{MapOptions, MappingSource, Operation, PatchOutcome, Program, Query};
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    #[allow(dead_code)]
    description: String,
    mapping: Option<String>,
    rules: Option<String>,
    #[serde(default = "user")]
    resource: String,
    operation: String,
    #[serde(default)]
    preset: Option<String>,
    #[serde(default)]
    explain: bool,
    input: String,
    current: Option<String>,
}

fn user() -> String {
    "User".into()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mappings_dir() -> PathBuf {
    root().join("../../mappings")
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root().join("tests/golden").join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    out.sort();
    out
}

fn registry() -> scim_core::Registry {
    let mut r = scim_core::Registry::core();
    let notion = std::fs::read_to_string(mappings_dir().join("schemas/notion-user.json")).unwrap();
    r.load_extensions(&notion, Some("User")).unwrap();
    r
}

fn program(case: &Case) -> Program {
    let (name, text) = match (&case.mapping, &case.rules) {
        (Some(file), None) => (file.clone(), std::fs::read_to_string(mappings_dir().join(file)).unwrap()),
        (None, Some(rules)) => ("inline.toml".to_owned(), rules.clone()),
        _ => panic!("a case names `mapping` or has inline `rules`"),
    };
    let compiled = scim_mapper::compile(&[MappingSource { name: &name, text: &text }], registry())
        .unwrap_or_else(|d| panic!("{}", d.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")));
    compiled.program
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("bad JSON in case: {e}\n{text}"))
}

fn preset(case: &Case) -> Normalizer {
    Normalizer::new(Preset::parse(case.preset.as_deref().unwrap_or("generic")).unwrap())
}

/// Runs one case; the result is what the golden file holds.
fn run(case: &Case) -> Value {
    let program = program(case);
    let schema = program.registry().resource(&case.resource).unwrap();
    let opts = MapOptions { explain: case.explain, ..MapOptions::default() };
    let current = case.current.as_deref().map(json);
    let err = |e: scim_mapper::MapError| json!({"error": e.to_scim().to_body()});
    match case.operation.as_str() {
        "create" | "replace" | "response" => {
            let mut doc = json(&case.input);
            let op = match case.operation.as_str() {
                "create" => Operation::Create,
                "replace" => Operation::Replace,
                _ => Operation::Response,
            };
            if op != Operation::Response {
                preset(case).resource(&mut doc, &schema);
            }
            let result = if doc.get("Resources").is_some() {
                program.map_list_response(Some(&case.resource), doc, opts)
            } else {
                program.map_resource(&case.resource, op, doc, current.as_ref(), opts)
            };
            result.map_or_else(err, |(out, report)| json!({"output": out, "report": report}))
        }
        "patch" => patch(&program, case, current.as_ref(), opts),
        "filter" => {
            let filter = Filter::parse_with(&case.input, Mode::Lenient).unwrap();
            program.rewrite_filter(&case.resource, &filter).map_or_else(err, |f| json!({"filter": f.to_string()}))
        }
        "query" => {
            let q = json(&case.input);
            let s = |k: &str| q.get(k).and_then(Value::as_str).map(str::to_owned);
            let query = Query {
                filter: s("filter").map(|f| Filter::parse_with(&f, Mode::Lenient).unwrap()),
                attributes: s("attributes"),
                excluded_attributes: s("excludedAttributes"),
                sort_by: s("sortBy"),
            };
            program.rewrite_query(&case.resource, &query).map_or_else(err, |r| {
                json!({
                    "filter": r.filter.map(|f| f.to_string()),
                    "attributes": r.attributes,
                    "excludedAttributes": r.excluded_attributes,
                    "sortBy": r.sort_by,
                })
            })
        }
        other => panic!("unknown operation {other}"),
    }
}

fn patch(program: &Program, case: &Case, current: Option<&Value>, opts: MapOptions) -> Value {
    let schema = program.registry().resource(&case.resource).unwrap();
    let mut body = json(&case.input);
    preset(case).patch(&mut body, &schema);
    let patch = PatchOp::from_json(&body).unwrap();
    let (outcome, report) = match program.map_patch(&case.resource, &patch, current, opts) {
        Ok(r) => r,
        Err(e) => return json!({"error": e.to_scim().to_body()}),
    };
    let report = serde_json::to_value(report).unwrap();
    match outcome {
        PatchOutcome::Ops(ops) => {
            let mut out = json!({"outcome": "ops", "operations": ops.to_json()["Operations"], "report": report});
            if let Some(cur) = current {
                let after = apply(cur, &ops, &schema, ApplyOptions::default()).map_err(|e| e.detail);
                out["backend_after"] = after.unwrap_or_else(|e| json!({"apply_error": e}));
            }
            out
        }
        PatchOutcome::Empty => json!({"outcome": "empty", "report": report}),
        PatchOutcome::NeedsCurrent(missing) => json!({"outcome": "needs_current", "missing": missing}),
    }
}

fn compare(expected_path: &Path, actual: &str) -> Option<String> {
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(expected_path, actual).unwrap();
        return None;
    }
    let expected = std::fs::read_to_string(expected_path).unwrap_or_default();
    (expected != actual)
        .then(|| format!("{}:\n--- expected\n{expected}\n--- actual\n{actual}", expected_path.display()))
}

fn assert_none_differ(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ (BLESS=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn ok_cases() {
    let mut failures = Vec::new();
    for path in cases("ok") {
        let case: Case = toml::from_str(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let actual = serde_json::to_string_pretty(&run(&case)).unwrap() + "\n";
        failures.extend(compare(&path.with_extension("out.json"), &actual));
    }
    assert_none_differ(&failures);
}

#[test]
fn invalid_cases() {
    let mut failures = Vec::new();
    for path in cases("invalid") {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = format!("invalid/{}", path.file_name().unwrap().to_string_lossy());
        let diags = match scim_mapper::compile(&[MappingSource { name: &name, text: &text }], registry()) {
            Ok(c) if c.warnings.is_empty() => panic!("{name} compiled without diagnostics"),
            Ok(c) => c.warnings,
            Err(d) => d,
        };
        let actual: String = diags.iter().map(|d| format!("{d}\n")).collect();
        failures.extend(compare(&path.with_extension("diag"), &actual));
    }
    assert_none_differ(&failures);
}

/// Every rule kind, transform and PATCH situation has a case.
#[test]
fn cases_cover_the_language() {
    let texts: String = cases("ok").iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let shipped: String = ["okta-to-notion.toml", "entra-to-notion.toml", "rename-roundtrip.toml", "identity.toml"]
        .iter()
        .map(|f| std::fs::read_to_string(mappings_dir().join(f)).unwrap())
        .collect();
    let all = format!("{texts}{shipped}");
    for needle in [
        "from =",
        "first_of",
        "template",
        "value =",
        "default =",
        "when =",
        "on = \"create\"",
        "remove =",
        "rename =",
        "\"$.",
        "@",
        "\"lower\"",
        "\"upper\"",
        "\"trim\"",
        "\"strip_spaces\"",
        "\"title\"",
        "\"ascii\"",
        "replace =",
        "split =",
        "before =",
        "after =",
        "lookup =",
    ] {
        assert!(all.contains(needle), "no golden case uses {needle}");
    }
    for file in ["okta-to-notion.toml", "entra-to-notion.toml", "rename-roundtrip.toml", "identity.toml"] {
        assert!(texts.contains(&format!("mapping = \"{file}\"")), "no golden case for {file}");
    }
    for op in ["\"create\"", "\"replace\"", "\"patch\"", "\"response\"", "\"filter\"", "\"query\""] {
        assert!(texts.contains(&format!("operation = {op}")), "no golden case for operation {op}");
    }
}
