//! The `check` and `map` commands, driven in-process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// The gateway's allocator (src/main.rs), so the tests run what ships; the
// suite also runs on musl, whose own allocator is slow under many threads.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use scim_gateway::cli::{Cli, run};
use std::path::PathBuf;

#[path = "../../testing/plugin_dir.rs"]
mod plugin_dir;

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(path).display().to_string()
}

/// Runs the command; returns (exit code, stdout, stderr).
fn cmd(args: &[&str], stdin: &str) -> (u8, String, String) {
    let cli = Cli::try_parse_from(std::iter::once("scim-gateway").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(cli, &mut stdin.as_bytes(), &mut out, &mut err);
    (code, String::from_utf8(out).unwrap(), String::from_utf8(err).unwrap())
}

#[test]
fn check_accepts_the_shipped_mappings() {
    for file in ["okta-to-notion.toml", "entra-to-notion.toml", "identity.toml", "rename-roundtrip.toml"] {
        let (code, out, _) = cmd(&["check", "--mapping", &repo(&format!("mappings/{file}"))], "");
        assert_eq!(code, 0, "{file}: {out}");
        assert!(out.contains("ok: 1 file(s), 0 warning(s)"), "{out}");
    }
}

#[test]
fn check_prints_every_problem_of_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, "version = 1\n[[User.request]]\ntragte = \"userName\"\n").unwrap();
    std::fs::write(&b, "version = 1\n[[User.request]]\ntarget = \"title\"\nfrom = \"title\"\ntransforms = [\"lowr\", { replace = \"(\", with = \"\" }]\n").unwrap();
    let (code, out, _) = cmd(&["check", "--mapping", a.to_str().unwrap(), b.to_str().unwrap()], "");
    assert_eq!(code, 1);
    let a_line = format!("{}:3:1: error: unknown rule key `tragte` (hint: did you mean `target`?)", a.display());
    assert!(out.contains(&a_line), "{out}");
    assert!(
        out.contains(&format!("{}:5:16: error: unknown transform `lowr` (hint: did you mean `lower`?)", b.display())),
        "{out}"
    );
    assert!(out.contains(&format!("{}:5:23: error: bad regex `(`", b.display())), "{out}");
    assert!(out.contains("failed: 3 error(s), 0 warning(s)"), "{out}");
}

#[test]
fn check_warns_about_a_rename_without_inverse_and_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    std::fs::write(&a, "version = 1\n[[User.request]]\nrename = \"externalId\"\nto = \"nickName\"\n").unwrap();
    let (code, out, _) = cmd(&["check", "--mapping", a.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(":2:1: warning: request rule renames `externalId` to `nickName`"), "{out}");
}

#[test]
fn map_diff_shows_what_the_mapping_changed() {
    let (code, out, err) = cmd(
        &[
            "map",
            "--mapping",
            &repo("mappings/okta-to-notion.toml"),
            "--preset",
            "okta",
            "--diff",
            &repo("examples/payloads/okta-create-user.json"),
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let expected = [
        r#"~ userName: "Jane.Doe@Example.com" -> "jane.doe@example.com""#,
        r#"+ name.formatted: "Jane Doe""#,
        r#"- password: "1mz050nq""#,
    ];
    for line in expected {
        assert!(out.lines().any(|l| l == line), "missing {line:?} in\n{out}");
    }
    assert!(!out.contains("displayName"), "displayName is unchanged: {out}");
}

#[test]
fn map_reads_stdin_and_explains() {
    let body = r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"x","emails":[{"value":"A@B.C","type":"work"}]}"#;
    let (code, out, err) = cmd(&["map", "--mapping", &repo("mappings/okta-to-notion.toml"), "--explain"], body);
    assert_eq!(code, 0, "{err}");
    let json_end = out.find("\nrule ").unwrap();
    let mapped: serde_json::Value = serde_json::from_str(&out[..json_end]).unwrap();
    assert_eq!(mapped["userName"], "a@b.c");
    assert!(out.contains("rule username_from_email (") && out.contains("output \"a@b.c\""), "{out}");
    assert!(out.contains("rule full_name (") && out.contains("fired"), "{out}");
    // The change list the audit trail records, with each change's author.
    let change =
        out.lines().find(|l| l.starts_with("change userName changed by rule (")).unwrap_or_else(|| panic!("{out}"));
    assert!(change.contains("okta-to-notion.toml:") && change.ends_with(": \"x\" -> \"a@b.c\""), "{change}");
}

#[test]
fn map_patch_asks_for_the_current_resource_when_it_must() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current.json");
    std::fs::write(
        &current,
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"1","userName":"j@x.com","name":{"givenName":"Jason","familyName":"Young","formatted":"Jason Young"},"displayName":"Jason Young","emails":[{"value":"j@x.com","type":"work"}]}"#,
    )
    .unwrap();
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"name.familyName","value":"Smith"}]}"#;
    let mapping = repo("mappings/entra-to-notion.toml");
    let (code, _, err) = cmd(&["map", "--mapping", &mapping, "--preset", "entra", "--operation", "patch"], patch);
    assert_eq!(code, 1);
    assert!(err.contains("--current"), "{err}");
    let args = [
        "map",
        "--mapping",
        &mapping,
        "--preset",
        "entra",
        "--operation",
        "patch",
        "--current",
        current.to_str().unwrap(),
    ];
    let (code, out, err) = cmd(&args, patch);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""path": "name.formatted""#) && out.contains(r#""value": "Jason Smith""#), "{out}");
}

#[test]
fn map_refuses_bad_input_clearly() {
    let (code, _, err) = cmd(&["map", "--mapping", &repo("mappings/identity.toml")], "{not json");
    assert_eq!(code, 1);
    assert!(err.contains("standard input is not JSON"), "{err}");
    let (code, _, err) = cmd(&["map", "--mapping", &repo("mappings/identity.toml")], "[1, 2]");
    assert_eq!(code, 1);
    assert!(err.contains("must be a JSON object"), "{err}");
}

#[test]
fn map_patch_diff_lists_dropped_and_added_operations() {
    let patch = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"New@X.com"},{"op":"replace","path":"password","value":"p"}]}"#;
    let args = [
        "map",
        "--mapping",
        &repo("mappings/entra-to-notion.toml"),
        "--preset",
        "entra",
        "--operation",
        "patch",
        "--diff",
    ];
    let (code, out, err) = cmd(&args, patch);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#"- op: replace emails[type eq "work"].value "New@X.com""#), "{out}");
    assert!(out.contains(r#"+ op: replace emails[type eq "work"].value "new@x.com""#), "{out}");
    assert!(out.contains(r#"+ op: replace userName "new@x.com""#), "{out}");
    assert!(!out.contains("password"), "an operation the mapping leaves alone is not listed: {out}");
}

#[test]
fn check_config_accepts_the_quickstart_and_every_example() {
    for file in ["examples/quickstart.toml", "examples/gateway.toml", "examples/two-tenants.toml"] {
        let (code, out, _) = cmd(&["check", "--config", &repo(file)], "");
        assert_eq!(code, 0, "{file}: {out}");
        assert!(out.contains("ok: "), "{out}");
    }
}

#[test]
fn check_config_prints_config_and_mapping_problems_with_positions() {
    let dir = tempfile::tempdir().unwrap();
    let mapping = dir.path().join("m.toml");
    std::fs::write(
        &mapping,
        "version = 1\n[[User.request]]\ntarget = \"userName\"\nfrom = \"emails[type eq \\\"work\\\".value\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("tokens"), "short\n").unwrap();
    let config = dir.path().join("gw.toml");
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\n[server.auth]\ntokens_file = \"tokens\"\n[upstream]\nurl = \"memory:\"\n[mapping]\nfiles = [\"m.toml\"]\n";
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = cmd(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{}:4:9: error:", mapping.display())), "{out}");
    assert!(out.contains("shorter than 16 characters"), "{out}");
    std::fs::write(&config, format!("{text}[admin]\nlisten = \"x\"\nport = 1\n")).unwrap();
    let (code, out, _) = cmd(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 1);
    assert!(out.contains(&format!("{}:11:1: error: unknown field `port`", config.display())), "{out}");
}

/// `<target>/plugins`, where `cargo xtask plugin` puts the components.
fn plugin(name: &str) -> String {
    let path = plugin_dir::required_plugin_dir().join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run `cargo xtask plugin`", path.display());
    path.display().to_string()
}

#[test]
fn check_plugin_accepts_a_plugin_and_names_a_refused_import() {
    let (code, out, _) = cmd(&["check", "--plugin", &plugin("full-name"), &plugin("email-domain-policy")], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("full-name.wasm: ok: sha256 ") && out.contains("ok: 2 plugin(s)"), "{out}");
    let (code, out, _) = cmd(&["check", "--plugin", &plugin("full-name"), &plugin("hostile-wasi")], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("hostile-wasi.wasm: error: the plugin imports wasi:random/random@0.2.0"), "{out}");
}

#[test]
fn map_runs_plugins_after_the_rules() {
    let body = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@example.com",
        "name": {"givenName": "ada", "familyName": "LOVELACE"}}"#;
    let args = ["map", "--mapping", &repo("mappings/identity.toml"), "--plugin", &plugin("full-name")];
    let config = r#"{"format": "{family}, {given}"}"#;
    let (code, out, err) = cmd(&[&args[..], &["--plugin-config", config]].concat(), body);
    assert_eq!(code, 0, "{err}");
    let mapped: serde_json::Value =
        serde_json::from_str(out.split("\n}\n").next().map(|s| format!("{s}\n}}")).unwrap().as_str()).unwrap();
    assert_eq!(mapped["name"]["formatted"], "Lovelace, Ada");
    // A refusal is the command's error, with the plugin's detail.
    let args = ["map", "--mapping", &repo("mappings/identity.toml"), "--plugin", &plugin("email-domain-policy")];
    let (code, _, err) = cmd(&[&args[..], &["--plugin-config", r#"{"allowed": ["corp.example"]}"#]].concat(), body);
    assert_eq!(code, 1);
    assert!(err.contains("plugin email-domain-policy refused") && err.contains("example.com"), "{err}");
}

#[test]
fn map_and_check_take_javascript_plugins_and_explain_shows_their_messages() {
    let (code, out, _) = cmd(&["check", "--plugin", &plugin("full-name-js"), &plugin("department-ts")], "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("full-name-js.wasm: ok: sha256 ") && out.contains("ok: 2 plugin(s)"), "{out}");
    let body = r#"{"userName":"bea@example.com","name":{"givenName":"BEA","familyName":"lee"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}"#;
    let args = ["map", "--explain", "--mapping", &repo("mappings/identity.toml")];
    let plugins = ["--plugin", &plugin("full-name-js"), "--plugin", &plugin("department-ts")];
    let (code, out, err) = cmd(&[&args[..], &plugins[..]].concat(), body);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#""displayName": "Bea Lee (Sales)""#), "JS, then TypeScript: {out}");
    assert!(out.contains("by plugin (full-name-js)") && out.contains("by plugin (department-ts)"), "{out}");
    assert!(out.contains("plugin department-ts [debug]: display name now carries the department Sales"), "{out}");
    // A refusal from JavaScript is the command's error, with what it logged.
    let args = ["map", "--explain", "--mapping", &repo("mappings/identity.toml"), "--plugin", &plugin("hostile-js")];
    let (code, _, err) = cmd(&[&args[..], &["--plugin-config", r#"{"do": "log-then-throw"}"#]].concat(), body);
    assert_ne!(code, 0);
    assert!(err.contains("plugin hostile-js refused") && err.contains("TypeError"), "{err}");
    assert!(err.contains("plugin hostile-js [warn]: about to read a missing manager"), "{err}");
}

#[test]
fn map_patch_through_a_plugin_needs_the_current_resource_and_sends_the_difference() {
    let dir = tempfile::tempdir().unwrap();
    let current = dir.path().join("current.json");
    std::fs::write(
        &current,
        r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"}, "displayName": "Ada Lovelace"}"#,
    )
    .unwrap();
    let patch = r#"{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "name.familyName", "value": "King"}]}"#;
    let args =
        ["map", "--mapping", &repo("mappings/identity.toml"), "--plugin", &plugin("full-name"), "--operation", "patch"];
    let (code, _, err) = cmd(&args, patch);
    assert_eq!(code, 1);
    assert!(err.contains("--current"), "{err}");
    let (code, out, err) = cmd(&[&args[..], &["--current", current.to_str().unwrap()]].concat(), patch);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"King\"") && out.contains("\"Ada King\""),
        "the plugin's formatted name is in the ops: {out}"
    );
    // What the plugin logged on its pass over the whole resource.
    let explained = [&args[..], &["--current", current.to_str().unwrap(), "--explain"]].concat();
    let (code, out, err) = cmd(&explained, patch);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plugin full-name [debug]: name.formatted from the format {given} {family}"), "{out}");
}

#[test]
fn explain_shows_what_response_plugins_logged_for_a_resource_and_each_of_a_list() {
    let user = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a@example.com"}"#;
    let list = format!(
        r#"{{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 2,
            "Resources": [{user}, {user}]}}"#
    );
    let args = ["map", "--explain", "--mapping", &repo("mappings/identity.toml"), "--operation", "response"];
    let plugin = ["--plugin", &plugin("hostile"), "--plugin-config", r#"{"do": "log"}"#];
    let said = |out: &str| out.matches("plugin hostile [warn]: a warn message from Rust").count();
    let (code, out, err) = cmd(&[&args[..], &plugin[..]].concat(), user);
    assert_eq!(code, 0, "{err}");
    assert_eq!(said(&out), 1, "{out}");
    assert!(out.contains("plugin hostile [debug]: a debug message from Rust"), "{out}");
    let (code, out, err) = cmd(&[&args[..], &plugin[..]].concat(), &list);
    assert_eq!(code, 0, "{err}");
    assert_eq!(said(&out), 2, "one call per resource of the list: {out}");
    // Without --explain nothing is said.
    let quiet = ["map", "--mapping", &repo("mappings/identity.toml"), "--operation", "response"];
    let (code, out, _) = cmd(&[&quiet[..], &plugin[..]].concat(), user);
    assert_eq!(code, 0);
    assert_eq!(said(&out), 0, "{out}");
}

#[test]
fn check_config_loads_the_plugins_it_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens"), "idp:0123456789abcdef0123\n").unwrap();
    let config = dir.path().join("gw.toml");
    let text = format!(
        "[server.auth]\ntokens_file = \"tokens\"\n[upstream]\nurl = \"memory:\"\n[[mapping.plugins]]\nname = \"fn\"\npath = \"{}\"\n",
        plugin("full-name")
    );
    std::fs::write(&config, &text).unwrap();
    let (code, out, _) = cmd(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    std::fs::write(&config, format!("{text}sha256 = \"{}\"\n", "0".repeat(64))).unwrap();
    let (code, out, _) = cmd(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("route `default`: plugin `fn`") && out.contains("sha256 pin mismatch"), "{out}");
}

#[test]
fn the_plugins_example_checks_and_maps() {
    // The example points at ../target/plugins; here the plugins are wherever
    // this build put them.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(repo("examples/plugins.toml")).unwrap();
    let plugins = std::path::Path::new(&plugin("full-name")).parent().unwrap().display().to_string();
    let text = text.replace("../target/plugins", &plugins).replace("../target/plugin-cache", "cache");
    let config = dir.path().join("plugins.toml");
    std::fs::write(&config, text).unwrap();
    let (code, out, _) = cmd(&["check", "--config", config.to_str().unwrap()], "");
    assert_eq!(code, 0, "{out}");
    let body = r#"{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "grace@example.org",
        "name": {"givenName": "grace", "familyName": "hopper"}, "emails": [{"value": "grace@example.org", "primary": true}]}"#;
    let (code, out, err) = cmd(&["map", "--config", config.to_str().unwrap()], body);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"formatted\": \"Hopper, Grace\"") && out.contains("\"grace@example.com\""), "{out}");
    assert!(dir.path().join("cache").is_dir(), "the plugin cache was created");
}

#[test]
fn audit_prints_the_trail_of_a_configs_store_with_filters() {
    use scim_gateway::audit::record::{Record, new_id};
    use scim_gateway::audit::store::{SqliteStore, Store};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("gateway.toml");
    std::fs::write(
        &config,
        "[server.auth]\ntokens_env = \"T\"\n[upstream]\nurl = \"memory:\"\n[audit]\nurl = \"sqlite://trail/audit.db\"\n",
    )
    .unwrap();
    let store = SqliteStore::open(&dir.path().join("trail/audit.db")).unwrap();
    let record = |subject: &str, method: &str, deprovisioning: bool| {
        let (id, at_ms, time) = new_id();
        let (route, rt) = ("default".to_owned(), "User".to_owned());
        Record {
            id,
            at_ms,
            time,
            route,
            method: method.into(),
            resource_type: rt,
            subject: Some(subject.into()),
            deprovisioning,
            status: 201,
            ..Record::default()
        }
    };
    let records = [record("ann", "POST", false), record("ben", "DELETE", true)];
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(store.insert(&records)).unwrap();
    let path = config.to_str().unwrap();
    let (code, out, err) = cmd(&["audit", "--config", path], "");
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].contains("subject=ann") && lines[1].contains("DELETE") && lines[1].contains("deprovisioning"),
        "{out}"
    );
    let (_, out, _) = cmd(&["audit", "--config", path, "--deprovisioning", "--json"], "");
    let only: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!((only.len(), only[0]["subject"].as_str()), (1, Some("ben")));
    let (code, _, err) = cmd(&["audit", "--config", &repo("examples/gateway.toml")], "");
    assert_eq!(code, 1);
    assert!(err.contains("no [audit] section"), "{err}");
}

#[test]
fn metrics_lists_every_metric_with_its_kind_and_labels_even_before_any_request() {
    let (code, out, err) = cmd(&["metrics", "--json"], "");
    assert_eq!(code, 0, "{err}");
    let all: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let find = |name: &str| all.iter().find(|m| m["name"] == name).cloned().unwrap_or_default();
    let requests = find("scim_gateway_requests_total");
    assert_eq!(requests["kind"], "counter");
    assert_eq!(requests["labels"], serde_json::json!(["route", "resource", "method", "status"]));
    assert_eq!(find("scim_gateway_request_duration_seconds")["kind"], "histogram");
    assert_eq!(find("scim_gateway_cluster_up")["kind"], "gauge");
    assert_eq!(
        find("scim_gateway_deprovision_failed_targets_total")["labels"],
        serde_json::json!(["route", "resource"])
    );
    let (_, table, _) = cmd(&["metrics"], "");
    assert!(table.contains("| `scim_gateway_upstream_responses_total` | counter | route, class |"), "{table}");
}
