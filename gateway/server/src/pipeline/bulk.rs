//! `/Bulk`: each operation's data is normalized and mapped like the single
//! request it stands for. Operations the gateway answers itself (a mapping
//! error, a PATCH that maps to nothing, an operation whose rules or plugins
//! need the current resource, which a bulk request never reads) are taken
//! out; POST and PUT data go through the route's request plugins too, and
//! every write into the backend profile's terms. On a backend that takes
//! one kind of update, what would need translating from the current
//! resource gets its own 400, except a PUT that deactivates: it goes as a
//! PATCH of `active`. The rest go upstream in one request, and the answers
//! are merged back in the IdP's order.

use super::exchange::{Answer, Exchange, Shape};
use super::{plugged, translate};
use crate::config::Position;
use crate::error::GatewayError;
use crate::proxy::{endpoint, paths};
use http::{Method, StatusCode};
use scim_core::Intent;
use scim_core::patch::PatchOp;
use scim_mapper::{Direction, MapOptions, Operation, PatchOutcome};
use scim_plugin_host::Operation as PluginOp;
use serde_json::{Map, Value, json};

const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Most operations in one bulk request.
const MAX_OPERATIONS: usize = 1000;

/// What becomes of one operation.
enum Step {
    Forward(Value),
    Answer(Value),
}

pub(super) async fn run(x: &Exchange<'_>, mut doc: Value) -> Result<Answer, GatewayError> {
    let Some(ops) = doc.get_mut("Operations").and_then(Value::as_array_mut).map(std::mem::take) else {
        return Err(GatewayError::BadJson("a BulkRequest needs an Operations array".into()));
    };
    if ops.len() > MAX_OPERATIONS {
        let e = scim_core::ScimError::too_many(format!("at most {MAX_OPERATIONS} operations per bulk request"));
        return Err(GatewayError::Scim(e));
    }
    let mut steps: Vec<Step> = Vec::with_capacity(ops.len());
    for op in ops {
        steps.push(step(x, op).await);
    }
    let forwarded: Vec<Value> =
        steps.iter().filter_map(|s| if let Step::Forward(v) = s { Some(v.clone()) } else { None }).collect();
    let mut answers = Vec::new();
    if !forwarded.is_empty() {
        if let Some(map) = doc.as_object_mut() {
            map.insert("Operations".into(), Value::Array(forwarded));
        }
        let reply = x.forward(Method::POST, &x.path, x.query.as_deref(), Some(&doc), None).await?;
        let answer = x.map_reply(reply, Shape::Opaque)?;
        if answer.status != StatusCode::OK {
            return Ok(answer);
        }
        answers = answer
            .body
            .and_then(|mut b| b.get_mut("Operations").map(Value::take))
            .and_then(|v| match v {
                Value::Array(a) => Some(a),
                _ => None,
            })
            .unwrap_or_default();
    }
    let mut upstream = answers.into_iter();
    let merged: Vec<Value> = steps
        .into_iter()
        .map(|s| match s {
            Step::Answer(v) => v,
            Step::Forward(op) => upstream
                .next()
                .unwrap_or_else(|| failed(&op, 502, None, "the upstream gave no answer for this operation")),
        })
        .collect();
    let body = json!({"schemas": [BULK_RESPONSE_URN], "Operations": merged});
    Ok(Answer::own(StatusCode::OK, Some(body)))
}

async fn step(x: &Exchange<'_>, mut op: Value) -> Step {
    let original = op.clone();
    match map_op(x, &mut op).await {
        Ok(Some(answer)) => Step::Answer(answer),
        Ok(None) => Step::Forward(op),
        Err(e) => match deactivation_alone(x, original) {
            Some(op) => Step::Forward(op),
            None => Step::Answer(failed(&op, e.status().as_u16(), Some(e.body()), "")),
        },
    }
}

/// A deprovisioning operation whose mapping cannot be finished in a bulk
/// request (its rules or plugins need the current resource, or fail) goes
/// as the PATCH of `active` alone: the rest of it is left out and counted,
/// the deactivation never. `None` for any other operation.
fn deactivation_alone(x: &Exchange<'_>, mut op: Value) -> Option<Value> {
    let rt =
        op.get("path").and_then(Value::as_str).and_then(|p| p.split('/').nth(1)).and_then(endpoint::resource_type)?;
    let method = op_method(&op);
    let data = op.get_mut("data")?;
    let schema = x.route.schema(rt).ok()?;
    let intent = match method.as_str() {
        "PUT" => {
            x.route.normalizer.resource(data, &schema);
            Intent::of_resource(data)
        }
        "PATCH" => {
            x.route.normalizer.patch(data, &schema);
            PatchOp::from_json(data).map_or(Intent::Provision, |ops| Intent::of_patch(&ops))
        }
        _ => Intent::Provision,
    };
    if !intent.is_deprovision() || x.route.update == crate::config::UpdateMode::Put {
        return None;
    }
    x.gw.metrics.deprovision_dropped.with_label_values(&[x.route.name.as_str(), rt]).inc();
    x.route.plugins.pass_over_all(Some(&x.gw.metrics), rt, "a deactivation in a bulk request");
    let m = op.as_object_mut()?;
    m.insert("method".into(), Value::String("PATCH".into()));
    m.insert("data".into(), translate::deactivation().into_json());
    Some(op)
}

fn op_method(op: &Value) -> String {
    op.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase()
}

/// Maps one operation in place; `Some` when the gateway answers it itself.
async fn map_op(x: &Exchange<'_>, op: &mut Value) -> Result<Option<Value>, GatewayError> {
    let method = op_method(op);
    let path = op.get("path").and_then(Value::as_str).unwrap_or("").to_owned();
    let checked = paths::safe_rest(&path)?;
    let rt = checked.split('/').nth(1).and_then(endpoint::resource_type);
    let (Some(rt), Some(data)) = (rt, op.get_mut("data")) else { return Ok(None) };
    match method.as_str() {
        "POST" => map_write(x, rt, Operation::Create, data).await.map(|()| None),
        "PUT" if translate::put_as_patch(x.route.update) => {
            deactivation_only(x, rt, data)?;
            if let Some(m) = op.as_object_mut() {
                m.insert("method".into(), Value::String("PATCH".into()));
            }
            let data = op.get_mut("data").ok_or_else(|| needs_current(""))?;
            match map_patch(x, rt, data).await? {
                true => Ok(None),
                false => Ok(Some(failed(op, 204, None, ""))),
            }
        }
        "PUT" => map_write(x, rt, Operation::Replace, data).await.map(|()| None),
        "PATCH" => match map_patch(x, rt, data).await? {
            true => Ok(None),
            false => Ok(Some(failed(op, 204, None, ""))),
        },
        _ => Ok(None),
    }
}

/// A PUT for a backend that takes only PATCH: a deactivation becomes the
/// PATCH of `active` (the rest of the PUT is not sent); anything else needs
/// the current resource.
fn deactivation_only(x: &Exchange<'_>, rt: &str, data: &mut Value) -> Result<(), GatewayError> {
    let schema = x.route.schema(rt)?;
    x.count_normalized(&x.route.normalizer.resource(data, &schema));
    if !Intent::of_resource(data).is_deprovision() {
        return Err(needs_current("a PUT to a backend that takes only PATCH needs"));
    }
    *data = translate::deactivation().into_json();
    Ok(())
}

fn needs_current(what: &str) -> GatewayError {
    let detail = format!("{what} the current resource, which a bulk request does not read; send it on its own");
    GatewayError::Scim(scim_core::ScimError::invalid_value(detail))
}

/// A POST or PUT operation's data, normalized and through plugins and rules.
async fn map_write(
    x: &Exchange<'_>,
    rt: &'static str,
    operation: Operation,
    data: &mut Value,
) -> Result<(), GatewayError> {
    let (program, schema) = (&x.route.program, x.route.schema(rt)?);
    x.count_normalized(&x.route.normalizer.resource(data, &schema));
    if operation == Operation::Replace && program.replace_needs_current(rt) {
        return Err(needs_current("this operation's rules need"));
    }
    let plugin_op = if operation == Operation::Create { PluginOp::Create } else { PluginOp::Replace };
    let intent = Intent::of_resource(data);
    let doc = plugged::request(x, Position::Before, rt, plugin_op, intent, data.take()).await?;
    let (mapped, report) = program.map_resource(rt, operation, doc, None, MapOptions::for_intent(intent))?;
    x.count(rt, Direction::Request, &report, 1, intent);
    let mapped = plugged::request(x, Position::After, rt, plugin_op, intent, mapped).await?;
    *data = super::to_backend(x, rt, mapped, intent).await?;
    Ok(())
}

/// A PATCH operation's data mapped by the rules; false when nothing is
/// left to send. With request plugins a PATCH needs the current resource,
/// so it is refused here, except a deactivation: that goes on through the
/// rules alone, the plugins counted as passed over. A PATCH the backend
/// would need translated (to a PUT, or a full member replace to adds and
/// removes) is refused too.
async fn map_patch(x: &Exchange<'_>, rt: &'static str, data: &mut Value) -> Result<bool, GatewayError> {
    let schema = x.route.schema(rt)?;
    x.count_normalized(&x.route.normalizer.patch(data, &schema));
    let ops = PatchOp::from_json(data)?;
    let intent = Intent::of_patch(&ops);
    if let Some(what) = translate::bulk_refusal(x.route.update, x.route.member_removal, rt, &ops) {
        return Err(needs_current(what));
    }
    if plugged::on_request(x, rt) {
        if !intent.is_deprovision() {
            return Err(needs_current("a PATCH on a route with request plugins needs"));
        }
        x.route.plugins.pass_over_all(Some(&x.gw.metrics), rt, "a deactivation in a bulk request");
    }
    let (outcome, report) = x.route.program.map_patch(rt, &ops, None, MapOptions::for_intent(intent))?;
    x.count(rt, Direction::Request, &report, 1, intent);
    match outcome {
        PatchOutcome::Ops(mapped) => {
            *data = super::to_backend(x, rt, mapped.into_json(), intent).await?;
            Ok(!super::empty_patch(data))
        }
        PatchOutcome::Empty => Ok(false),
        PatchOutcome::NeedsCurrent(_) => Err(needs_current("this operation's rules need")),
    }
}

fn failed(op: &Value, status: u16, body: Option<Value>, detail: &str) -> Value {
    let mut out = Map::new();
    for k in ["method", "bulkId", "version", "path"] {
        if let Some(v) = op.get(k) {
            out.insert(k.to_owned(), v.clone());
        }
    }
    out.insert("status".into(), Value::String(status.to_string()));
    let body = body.or_else(|| (!detail.is_empty()).then(|| scim_core::error_body(status, None, detail)));
    if let Some(b) = body {
        out.insert("response".into(), b);
    }
    Value::Object(out)
}
