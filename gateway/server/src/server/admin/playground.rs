//! The mapping playground: a payload through a route's compiled engine (or
//! mapping text edited in the page, compiled against the route's schemas),
//! with the output, the change list and the rules' traces. It runs
//! [`crate::explain::Engine`], the engine of `map --explain`, and writes
//! nothing.

use super::{Shared, error, json_response};
use crate::explain::{Engine, Kind, Traces};
use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use scim_core::normalize::Preset;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the page sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Ask {
    route: Option<String>,
    #[serde(default = "user")]
    resource: String,
    #[serde(default = "create")]
    operation: String,
    preset: Option<String>,
    payload: Value,
    current: Option<Value>,
    /// Mapping text to use instead of the route's mapping files.
    mapping: Option<String>,
}

fn user() -> String {
    "User".into()
}

fn create() -> String {
    "create".into()
}

pub(super) async fn run(shared: &Shared, body: &Bytes) -> Response<Full<Bytes>> {
    let ask: Ask = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("the playground request: {e}")),
    };
    let gw = shared.gateway.load();
    let route = match &ask.route {
        Some(name) => gw.routes.iter().find(|r| &r.name == name),
        None => gw.routes.first(),
    };
    let Some(route) = route else { return error(StatusCode::NOT_FOUND, "no route has this name") };
    let kind = match ask.operation.as_str() {
        "create" => Kind::Create,
        "replace" => Kind::Replace,
        "patch" => Kind::Patch,
        "response" => Kind::Response,
        other => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("unknown operation `{other}`: create, replace, patch or response"),
            );
        }
    };
    let preset = match ask.preset.as_deref().map(Preset::parse) {
        Some(Some(p)) => p,
        Some(None) => return error(StatusCode::BAD_REQUEST, "unknown preset: generic, okta or entra"),
        None => Preset::parse(route.preset).unwrap_or_default(),
    };
    let edited = match ask.mapping.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(text) => match compile(text, route.program.registry().clone()) {
            Ok(p) => Some(p),
            Err(diagnostics) => return problems(diagnostics),
        },
        None => None,
    };
    let program = edited.as_ref().unwrap_or(&route.program);
    let engine = Engine { program, preset, chain: &route.plugins };
    match engine.run(&ask.resource, kind, ask.payload, ask.current.as_ref(), Traces::Kept).await {
        Ok(e) => json_response(
            StatusCode::OK,
            &json!({
                "route": route.name, "preset": preset.as_str(), "normalized": e.normalized, "output": e.output,
                "requested": e.changes.requested, "changes": e.changes.changes, "report": e.report,
                "messages": e.messages,
            }),
        ),
        Err(e) => error(StatusCode::UNPROCESSABLE_ENTITY, &e.0),
    }
}

fn compile(text: &str, registry: scim_core::schema::Registry) -> Result<scim_mapper::Program, Vec<Value>> {
    let texts = [("playground.toml".to_owned(), text.to_owned())];
    match crate::mapping::compile(&texts, registry) {
        Ok(c) => Ok(c.program),
        Err(crate::mapping::LoadError::Diagnostics(d)) => Err(d
            .iter()
            .map(|d| json!({"line": d.line, "col": d.col, "message": d.message, "hint": d.hint, "severity": format!("{:?}", d.severity).to_lowercase()}))
            .collect()),
        Err(e) => Err(vec![json!({"line": 1, "col": 1, "message": e.to_string()})]),
    }
}

fn problems(diagnostics: Vec<Value>) -> Response<Full<Bytes>> {
    let first = diagnostics.first();
    let at = |k: &str| first.and_then(|d| d.get(k)).and_then(Value::as_u64).unwrap_or(1);
    let at = format!("{}:{}", at("line"), at("col"));
    let message = format!("the mapping has problems (first at line:col {at})");
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &json!({ "error": message, "diagnostics": diagnostics }))
}

/// The sample payloads the page offers.
pub(super) fn samples() -> Value {
    let okta: Value = serde_json::from_str(include_str!("../../../../../examples/payloads/okta-create-user.json"))
        .unwrap_or(Value::Null);
    json!({"samples": [
        {"name": "Okta: create a user", "resource": "User", "operation": "create", "preset": "okta", "payload": okta},
        {"name": "Entra ID: deactivate a user", "resource": "User", "operation": "patch", "preset": "entra", "payload": {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}},
        {"name": "Entra ID: create a group", "resource": "Group", "operation": "create", "preset": "entra", "payload": {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering",
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "members": []}},
    ]})
}
