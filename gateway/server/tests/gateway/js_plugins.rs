//! JavaScript plugins in the gateway, configured exactly like Rust ones, in
//! front of scim2-server: a JavaScript plugin before the rules and a Rust
//! one after, their metrics, their messages, a reload, and a deactivation
//! that a JavaScript plugin tries to undo.

use super::support::{Gateway, Scim2Server};
use http::{Method, StatusCode};
use serde_json::{Value, json};

/// email-domain-policy in JavaScript (QuickJS) before the rules, full-name
/// in Rust after them: the Rust tests' plugins with the policy swapped for
/// its JavaScript twin.
fn chain() -> String {
    let policy = super::plugins::DOMAIN_POLICY
        .replace("name = \"domains\"", "name = \"domains-js\"")
        .replace("email-domain-policy.wasm", "email-domain-policy-js.wasm");
    format!("{policy}{}", super::plugins::FULL_NAME)
}

/// The gateway's config with `plugins` (`[[mapping.plugins]]` tables),
/// the compiled plugins cached where the host's tests cache them.
fn config(upstream: &str, plugins: &str) -> String {
    let base = super::support::config(upstream, &["identity.toml"], "okta");
    format!("[plugin_host]\ncache_dir = \"{{plugins}}/.test-cache\"\n{base}{plugins}\n")
}

fn user(email: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": email,
        "name": {"givenName": "jane", "familyName": "DOE"},
        "emails": [{"value": email, "type": "work", "primary": true}],
        "active": true
    })
}

#[tokio::test]
async fn a_javascript_plugin_before_the_rules_and_a_rust_one_after() {
    let scim2 = Scim2Server::start().await;
    let gw = Gateway::start(&config(&scim2.base, &chain())).await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user("jane@EXAMPLE.org"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["userName"], "jane@example.com", "the JavaScript plugin rewrote the alias");
    assert_eq!(stored["emails"][0]["value"], "jane@example.com");
    assert_eq!(stored["name"]["formatted"], "Doe, Jane", "the Rust plugin ran after the rules");

    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user("eve@evil.test"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert_eq!(r.json["scimType"], "invalidValue");
    assert!(r.json["detail"].as_str().unwrap().contains("evil.test"), "{:?}", r.json);
    for (plugin, outcome, n) in [("domains-js", "ok", 1.0), ("domains-js", "rejected", 1.0), ("full-name", "ok", 1.0)] {
        let line = format!("scim_gateway_plugin_invocations_total{{outcome=\"{outcome}\",plugin=\"{plugin}\"}}");
        assert_eq!(gw.metric(&line), n, "{line}");
    }

    // A reload (as on SIGHUP) with another config for the JavaScript plugin.
    gw.rewrite_config(&config(
        &scim2.base,
        &chain().replace("allowed = [\"example.com\"]", "allowed = [\"example.com\", \"evil.test\"]"),
    ));
    gw.handle.reload().unwrap();
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user("eve@evil.test"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "the reloaded config is in use: {:?}", r.json);
}

fn hostile(action: &str) -> String {
    super::plugins::hostile_plugin("hostile-js", action, "")
}

#[tokio::test]
async fn a_javascript_plugin_cannot_undo_or_block_a_deactivation() {
    for action in ["activate", "type-error", "loop"] {
        let scim2 = Scim2Server::start().await;
        let gw = Gateway::start(&config(&scim2.base, &hostile(action))).await;
        super::plugins::deactivations_go_through(&gw, &scim2, "hostile-js", action).await;
    }
}

#[tokio::test]
async fn what_a_javascript_plugin_logs_is_counted() {
    let scim2 = Scim2Server::start().await;
    let gw = Gateway::start(&config(&scim2.base, &hostile("log"))).await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user("ann@example.com"))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    for level in ["debug", "info", "warn", "error"] {
        let line = format!("scim_gateway_plugin_log_messages_total{{level=\"{level}\",plugin=\"hostile-js\"}}");
        assert_eq!(gw.metric(&line), 1.0, "{line}");
    }
}
