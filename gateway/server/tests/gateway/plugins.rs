//! WebAssembly plugins in the pipeline, against scim2-server: the example
//! plugins doing their work, hostile plugins failing one request at a time,
//! deprovisioning never blocked, reloads, metrics.

use super::support::{Gateway, Scim2Server};
use http::{Method, StatusCode};
use serde_json::{Value, json};

/// A gateway in front of scim2-server with `plugins` (TOML of
/// `[[mapping.plugins]]` tables) and no mapping files.
async fn setup(plugins: &str) -> (Gateway, Scim2Server) {
    let scim2 = Scim2Server::start().await;
    let gw = Gateway::start(&config(&scim2.base, plugins)).await;
    (gw, scim2)
}

fn config(upstream: &str, plugins: &str) -> String {
    format!("{}{plugins}\n", super::support::config(upstream, &[], "okta"))
}

fn user(name: &str, email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": name, "familyName": "doe"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

pub(super) const FULL_NAME: &str = r#"
[[mapping.plugins]]
name = "full-name"
path = "{plugins}/full-name.wasm"
resources = ["User"]
[mapping.plugins.config]
format = "{family}, {given}"
"#;

pub(super) const DOMAIN_POLICY: &str = r#"
[[mapping.plugins]]
name = "domains"
path = "{plugins}/email-domain-policy.wasm"
position = "before"
[mapping.plugins.config]
allowed = ["example.com"]
aliases = { "example.org" = "example.com" }
"#;

fn hostile(action: &str, extra: &str) -> String {
    hostile_plugin("hostile", action, extra)
}

/// A `[[mapping.plugins]]` table for the test plugin `name` (hostile or
/// hostile-js) misbehaving as `action`, with `extra` keys.
pub(super) fn hostile_plugin(name: &str, action: &str, extra: &str) -> String {
    format!(
        r#"
[[mapping.plugins]]
name = "{name}"
path = "{{plugins}}/{name}.wasm"
{extra}
[mapping.plugins.config]
do = "{action}"
"#
    )
}

async fn create(gw: &Gateway, body: Value) -> super::support::Response {
    gw.call(Method::POST, "/scim/v2/Users", Some(body)).await
}

#[tokio::test]
async fn full_name_builds_the_name_on_create_and_patch() {
    let (gw, scim2) = setup(FULL_NAME).await;
    let r = create(&gw, user("jane", "jane@example.com")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Doe, Jane");
    assert_eq!(stored["displayName"], "Doe, Jane");

    // A PATCH: the plugin sees the whole user after the patch; the
    // difference it leaves goes upstream.
    let ops = patch(json!([{"op": "replace", "path": "name.givenName", "value": "janet"}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["name"]["formatted"], "Doe, Janet");
    assert_eq!(stored["name"]["givenName"], "Janet");
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total{outcome=\"ok\",plugin=\"full-name\"}"), 2.0);
    assert!(gw.metric("scim_gateway_plugin_duration_seconds_count{plugin=\"full-name\"}") >= 2.0);
}

#[tokio::test]
async fn email_domain_policy_refuses_foreign_domains_and_rewrites_aliases() {
    let (gw, scim2) = setup(DOMAIN_POLICY).await;
    let r = create(&gw, user("eve", "eve@evil.example")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(r.json["scimType"], "invalidValue");
    assert!(r.json["detail"].as_str().unwrap().contains("evil.example"), "{:?}", r.json);
    let (_, list) = scim2.get("/Users").await;
    assert_eq!(list["totalResults"], 0, "nothing reached the upstream");

    let r = create(&gw, user("ann", "ann@example.org")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["emails"][0]["value"], "ann@example.com");
    assert_eq!(stored["userName"], "ann@example.com");

    // An email change to a foreign domain is refused; a deactivation is not.
    let ops = patch(json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "ann@evil.example"}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false);
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total{outcome=\"rejected\",plugin=\"domains\"}"), 2.0);
}

#[tokio::test]
async fn a_failing_plugin_fails_its_request_but_never_a_deprovisioning() {
    let (gw, scim2) = setup(&hostile("panic", "")).await;
    let r = create(&gw, user("jane", "jane@example.com")).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    let detail = r.json["detail"].as_str().unwrap();
    assert!(detail.contains("plugin hostile") && detail.contains("trap") && detail.contains("panicked"), "{detail}");
    assert!(!detail.contains("on purpose"), "the plugin's own message stays inside: {detail}");
    let (_, list) = scim2.get("/Users").await;
    assert_eq!(list["totalResults"], 0, "nothing was forwarded");

    // A user made behind the gateway's back, then deactivated through it.
    let upstream = super::support::send(
        Method::POST,
        &format!("{}/Users", scim2.base),
        Some(super::support::UPSTREAM_TOKEN),
        Some(user("joe", "joe@example.com").to_string().into()),
        &[],
    )
    .await;
    let id = upstream.json["id"].as_str().unwrap().to_owned();
    let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false, "the deactivation went through");
    assert_eq!(gw.metric("scim_gateway_plugin_fail_open_total{plugin=\"hostile\"}"), 1.0);
    let r = gw.call(Method::DELETE, &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn fail_open_forwards_unmapped_and_counts() {
    let (gw, scim2) = setup(&hostile("bad-json", "on_failure = \"open\"")).await;
    let r = create(&gw, user("jane", "jane@example.com")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let (_, list) = scim2.get("/Users").await;
    assert_eq!(list["totalResults"], 1);
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total{outcome=\"bad_output\",plugin=\"hostile\"}"), 1.0);
    assert_eq!(gw.metric("scim_gateway_plugin_fail_open_total{plugin=\"hostile\"}"), 1.0);
}

#[tokio::test]
async fn the_circuit_opens_and_fails_fast() {
    let extra = "[mapping.plugins.breaker]\nfailures = 2\ncooldown_ms = 60000";
    let (gw, _scim2) = setup(&hostile("change-id", extra)).await;
    for _ in 0..2 {
        let r = create(&gw, user("jane", "jane@example.com")).await;
        assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.json["detail"].as_str().unwrap().contains("bad_output"), "{:?}", r.json);
    }
    let r = create(&gw, user("jane", "jane@example.com")).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json["detail"].as_str().unwrap().contains("circuit"), "{:?}", r.json);
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total{outcome=\"circuit_open\",plugin=\"hostile\"}"), 1.0);
}

#[tokio::test]
async fn the_gateway_keeps_serving_while_a_plugin_spins() {
    // The plugin spins for 1.5 s: room for the list to be answered first
    // even on a machine busy with the rest of the suite (at 400 ms it was
    // not, once).
    let extra = "[mapping.plugins.limits]\nfuel = 1000000000000\ntimeout_ms = 1500";
    let (gw, _scim2) = setup(&hostile("loop", extra)).await;
    let gw = std::sync::Arc::new(gw);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (g, t) = (gw.clone(), tx.clone());
    tokio::spawn(async move {
        let r = create(&g, user("jane", "jane@example.com")).await;
        let _ = t.send(("create", r.status));
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = gw.call(Method::GET, "/scim/v2/Users", None).await;
    let _ = tx.send(("list", r.status));
    assert_eq!(rx.recv().await.unwrap(), ("list", StatusCode::OK), "the list was answered while the plugin spun");
    assert_eq!(rx.recv().await.unwrap(), ("create", StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total{outcome=\"timeout\",plugin=\"hostile\"}"), 1.0);
}

#[tokio::test]
async fn concurrent_requests_never_see_each_others_data() {
    let (gw, scim2) = setup(FULL_NAME).await;
    let gw = std::sync::Arc::new(gw);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let g = gw.clone();
        tasks.push(tokio::spawn(async move {
            let r = create(&g, user(&format!("person{i}"), &format!("p{i}@example.com"))).await;
            (i, r)
        }));
    }
    for t in tasks {
        let (i, r) = t.await.unwrap();
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
        let (_, stored) = scim2.get(&format!("/Users/{}", r.json["id"].as_str().unwrap())).await;
        assert_eq!(stored["name"]["formatted"], format!("Doe, Person{i}"));
        assert_eq!(stored["userName"], format!("p{i}@example.com"));
    }
}

#[tokio::test]
async fn response_plugins_see_each_resource_of_a_list() {
    let (gw, _scim2) = setup(&hostile("count", "directions = [\"response\"]")).await;
    for i in 0..3 {
        let r = create(&gw, user(&format!("u{i}"), &format!("u{i}@example.com"))).await;
        assert_eq!(r.status, StatusCode::CREATED);
        assert_eq!(r.json["callCount"], 1, "the created user's answer went through the plugin");
    }
    let r = gw.call(Method::GET, "/scim/v2/Users", None).await;
    let resources = r.json["Resources"].as_array().unwrap();
    assert_eq!(resources.len(), 3);
    assert!(resources.iter().all(|u| u["callCount"] == 1), "a fresh instance for each resource: {resources:?}");
}

#[tokio::test]
async fn reload_swaps_plugins_and_keeps_the_old_one_when_the_new_fails() {
    let (gw, scim2) = setup(FULL_NAME).await;
    let before = gw.handle.gateway().routes[0].mapping_version.clone();
    assert!(before.starts_with("identity+"), "the log names the plugin chain's version: {before}");
    gw.rewrite_config(&config(&scim2.base, &FULL_NAME.replace("{family}, {given}", "{given} {family}")));
    gw.handle.reload().unwrap();
    let after = gw.handle.gateway().routes[0].mapping_version.clone();
    assert_ne!(before, after, "another plugin config is another version");
    let r = create(&gw, user("jane", "jane@example.com")).await;
    let (_, stored) = scim2.get(&format!("/Users/{}", r.json["id"].as_str().unwrap())).await;
    assert_eq!(stored["name"]["formatted"], "Jane Doe", "the new config is in use");

    // A plugin file that is not a component: the reload is refused, named,
    // counted, and the running plugin keeps serving.
    let broken = gw.dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let text = FULL_NAME.replace("{plugins}/full-name.wasm", &broken.display().to_string());
    gw.rewrite_config(&config(&scim2.base, &text));
    let err = gw.handle.reload().unwrap_err();
    assert!(err.contains("full-name") && err.contains("not a WebAssembly component"), "{err}");
    assert_eq!(gw.metric("scim_gateway_plugin_load_failures_total{plugin=\"full-name\"}"), 1.0);
    let r = create(&gw, user("bob", "bob@example.com")).await;
    let (_, stored) = scim2.get(&format!("/Users/{}", r.json["id"].as_str().unwrap())).await;
    assert_eq!(stored["name"]["formatted"], "Bob Doe");
}

#[tokio::test]
async fn a_pin_mismatch_refuses_the_plugin_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    let text = FULL_NAME.replace("resources = [\"User\"]", &format!("sha256 = \"{}\"", "0".repeat(64)));
    let text = config("http://127.0.0.1:9/v2", &text)
        .replace("{dir}", &dir.path().display().to_string())
        .replace("{plugins}", &super::support::plugin_dir().display().to_string());
    std::fs::write(dir.path().join("tokens"), "idp:0123456789abcdef0123\n").unwrap();
    std::fs::write(&path, text).unwrap();
    let loaded = scim_gateway::config::load(&path, &Default::default()).unwrap();
    let registry = prometheus::Registry::new();
    let metrics = std::sync::Arc::new(scim_gateway::metrics::Metrics::register(&registry).unwrap());
    let env = |k: &str| (k == "TEST_UPSTREAM_TOKEN").then(|| "t".to_owned());
    let ctx = scim_gateway::gateway::BuildContext::new(metrics, env, || {
        hyper_util::client::proxy::matcher::Matcher::builder().build()
    });
    let errors = scim_gateway::gateway::Gateway::build(&loaded.config, &ctx).unwrap_err();
    assert!(errors.iter().any(|e| e.contains("sha256 pin mismatch")), "{errors:?}");
}

#[tokio::test]
async fn a_reload_beyond_the_engine_is_refused_and_needs_a_restart() {
    let (gw, scim2) = setup(FULL_NAME).await;
    let big = format!("{FULL_NAME}[mapping.plugins.limits]\nmemory_bytes = 134217728\n");
    let big = big.replace("[mapping.plugins.config]\nformat = \"{family}, {given}\"\n", "");
    gw.rewrite_config(&config(&scim2.base, &big));
    let err = gw.handle.reload().unwrap_err();
    assert!(err.contains("above the engine's maximum") && err.contains("restart"), "{err}");
    let engine = format!("{FULL_NAME}\n[plugin_host]\nmax_memory_bytes = 268435456\n");
    gw.rewrite_config(&config(&scim2.base, &engine));
    let err = gw.handle.reload().unwrap_err();
    assert!(err.contains("[plugin_host] changed") && err.contains("restart"), "{err}");
    let r = create(&gw, user("jane", "jane@example.com")).await;
    let (_, stored) = scim2.get(&format!("/Users/{}", r.json["id"].as_str().unwrap())).await;
    assert_eq!(stored["name"]["formatted"], "Doe, Jane", "the running plugin kept serving");
}

#[tokio::test]
async fn a_call_in_flight_finishes_on_the_plugin_it_started_with() {
    let slow = hostile("loop", "[mapping.plugins.limits]\nfuel = 1000000000000\ntimeout_ms = 15000");
    let (gw, scim2) = setup(&slow).await;
    let gw = std::sync::Arc::new(gw);
    let g = gw.clone();
    let in_flight = tokio::spawn(async move { create(&g, user("jane", "jane@example.com")).await });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // Swapped while the call spins: new requests use the new chain.
    gw.rewrite_config(&config(&scim2.base, FULL_NAME));
    gw.handle.reload().unwrap();
    let r = create(&gw, user("bob", "bob@example.com")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert!(!in_flight.is_finished(), "the swap happened while the old call ran");
    // The old call ends as the old plugin does: its own time limit.
    let old = in_flight.await.unwrap();
    assert_eq!(old.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(old.json["detail"].as_str().unwrap().contains("plugin hostile failed (timeout)"), "{:?}", old.json);
}

/// A user made behind the gateway's back, straight in scim2-server.
async fn upstream_user(scim2: &Scim2Server, name: &str) -> String {
    let r = super::support::send(
        Method::POST,
        &format!("{}/Users", scim2.base),
        Some(super::support::UPSTREAM_TOKEN),
        Some(user(name, &format!("{name}@example.com")).to_string().into()),
        &[],
    )
    .await;
    r.json["id"].as_str().unwrap().to_owned()
}

fn deactivated(name: &str, id: &str) -> Value {
    let mut u = user(name, &format!("{name}@example.com"));
    u["id"] = json!(id);
    u["active"] = json!(false);
    u
}

#[tokio::test]
async fn deactivations_go_through_failing_refusing_and_reactivating_plugins() {
    for action in ["panic", "reject", "activate"] {
        let (gw, scim2) = setup(&hostile(action, "")).await;
        deactivations_go_through(&gw, &scim2, "hostile", action).await;
    }
}

/// A PUT and a PATCH that deactivate reach the backend through `plugin`
/// misbehaving as `action`, each passed over and counted.
pub(super) async fn deactivations_go_through(gw: &Gateway, scim2: &Scim2Server, plugin: &str, action: &str) {
    let id = upstream_user(scim2, "joe").await;
    let r = gw.call(Method::PUT, &format!("/scim/v2/Users/{id}"), Some(deactivated("joe", &id))).await;
    assert!(r.status.is_success(), "{action}: {:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false, "{action}: the PUT deactivation went through");
    let id = upstream_user(scim2, "ann").await;
    let ops = patch(json!([{"op": "replace", "path": "active", "value": false}]));
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{action}: {:?}", r.json);
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["active"], false, "{action}: the PATCH deactivation went through");
    let passed_over = format!("scim_gateway_plugin_fail_open_total{{plugin=\"{plugin}\"}}");
    assert_eq!(gw.metric(&passed_over), 2.0, "{action}");
}

#[tokio::test]
async fn a_failing_response_plugin_does_not_turn_a_deactivation_into_an_error() {
    let (gw, scim2) = setup(&hostile("panic", "directions = [\"response\"]")).await;
    let id = upstream_user(&scim2, "joe").await;
    let r = gw.call(Method::GET, &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "a read fails closed");
    let r = gw.call(Method::PUT, &format!("/scim/v2/Users/{id}"), Some(deactivated("joe", &id))).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["active"], false);
    let r = gw.call(Method::DELETE, &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_empty_list_is_not_taken_for_a_resource() {
    // RFC 7644 lets a server leave `Resources` out of an empty list.
    let list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0});
    let handler: super::support::Handler = std::sync::Arc::new(move |_, _| super::support::json_response(200, &list));
    let up = super::support::FakeUpstream::start(handler).await;
    let plugin = hostile("count", "directions = [\"response\"]");
    let gw = Gateway::start(&config(&format!("http://{}/v2", up.addr), &plugin)).await;
    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22nobody%22", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["totalResults"], 0);
    assert!(r.json.get("callCount").is_none(), "the list itself went to the plugin: {:?}", r.json);
    assert_eq!(gw.metric("scim_gateway_plugin_invocations_total"), 0.0);
}

#[tokio::test]
async fn a_failed_reload_does_not_fix_the_engine_settings() {
    let scim2 = Scim2Server::start().await;
    let gw = Gateway::start(&config(&scim2.base, "")).await;
    let broken = gw.dir.path().join("broken.wasm");
    std::fs::write(&broken, b"not a component").unwrap();
    let bad = FULL_NAME.replace("{plugins}/full-name.wasm", &broken.display().to_string());
    let engine = "\n[plugin_host]\nmax_concurrent = 3\n";
    gw.rewrite_config(&config(&scim2.base, &format!("{bad}{engine}")));
    assert!(gw.handle.reload().is_err());
    // Other engine settings are still free: nothing was kept.
    gw.rewrite_config(&config(&scim2.base, &format!("{FULL_NAME}\n[plugin_host]\nmax_concurrent = 5\n")));
    gw.handle.reload().unwrap();
    let r = create(&gw, user("jane", "jane@example.com")).await;
    let (_, stored) = scim2.get(&format!("/Users/{}", r.json["id"].as_str().unwrap())).await;
    assert_eq!(stored["name"]["formatted"], "Doe, Jane");
}
