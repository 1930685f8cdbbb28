//! `/Bulk`: each operation's data goes through the same phase functions as
//! the single request it stands for (`phases.rs`). Operations the gateway answers itself (a mapping
//! error, a PATCH that maps to nothing, an operation whose rules or plugins
//! need the current resource, which a bulk request never reads) are taken
//! out; POST and PUT data go through the route's request plugins too, and
//! every write into the backend profile's terms. On a backend that takes
//! one kind of update, what would need translating from the current
//! resource gets its own 400, except a PUT that deactivates: it goes as a
//! PATCH of `active`. The rest go upstream in one request, and the answers
//! are merged back in the IdP's order.

use super::exchange::{Exchange, Shape};
use super::phases::{self, Normalized, PatchMapped};
use super::respond::Answer;
use super::{plugged, translate};
use crate::config::{Position, UpdateMode};
use crate::error::GatewayError;
use crate::json::Aside;
use crate::proxy::{endpoint, paths};
use http::{Method, StatusCode};
use scim_core::Intent;
use scim_mapper::Operation;
use serde_json::{Map, Value, json};

const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// Most operations in one bulk request.
const MAX_OPERATIONS: usize = 1000;

/// What becomes of one operation.
enum BulkItem {
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
    let mut steps: Vec<BulkItem> = Vec::with_capacity(ops.len());
    for (index, op) in ops.into_iter().enumerate() {
        audit_begin(x, index, &op);
        steps.push(step(x, op).await);
    }
    let forwarded: Vec<Value> =
        steps.iter().filter_map(|s| if let BulkItem::Forward(v) = s { Some(v.clone()) } else { None }).collect();
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
            .into_json()
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
            BulkItem::Answer(v) => v,
            BulkItem::Forward(op) => upstream
                .next()
                .unwrap_or_else(|| failed(&op, 502, None, "the upstream gave no answer for this operation")),
        })
        .collect();
    if let Some(t) = x.trail {
        t.statuses(merged.iter().map(|a| a.get("status").and_then(Value::as_str).and_then(|s| s.parse().ok())));
    }
    let body = json!({"schemas": [BULK_RESPONSE_URN], "Operations": merged});
    Ok(Answer::own(StatusCode::OK, Some(body)))
}

/// Starts the audit record of one operation.
fn audit_begin(x: &Exchange<'_>, index: usize, op: &Value) {
    let Some(t) = x.trail else { return };
    let path = op.get("path").and_then(Value::as_str).unwrap_or("");
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let rt = segments.next().and_then(endpoint::resource_type).unwrap_or("Other");
    let id = segments.next();
    let bulk_id = op.get("bulkId").and_then(Value::as_str).map(str::to_owned);
    t.begin(&op_method(op), rt, id, Some(crate::audit::record::BulkRef { index, bulk_id }));
    t.entry(|e| e.deprovisioning = Intent::of_bulk_operation(op).is_deprovision());
}

async fn step(x: &Exchange<'_>, mut op: Value) -> BulkItem {
    match map_op(x, &mut op).await {
        Ok(Some(answer)) => BulkItem::Answer(answer),
        Ok(None) => BulkItem::Forward(op),
        Err(Refused { error, intent }) => match deactivation_alone(x, intent, &op).await {
            Some(deactivation) => BulkItem::Forward(deactivation),
            None => BulkItem::Answer(failed(&op, error.status().as_u16(), Some(error.body()), "")),
        },
    }
}

/// An operation the gateway does not send as it came, and whether it
/// deprovisions (known once phase 5 has run; a provisioning before that).
struct Refused {
    error: GatewayError,
    intent: Intent,
}

impl From<GatewayError> for Refused {
    fn from(error: GatewayError) -> Self {
        Self { error, intent: Intent::Provision }
    }
}

/// A deprovisioning whose mapping cannot be finished in a bulk request
/// (its rules or plugins need the current resource, or fail) goes as the
/// PATCH of `active` alone: the rest of it is left out and counted, the
/// deactivation never. `None` for any other operation, and on a backend
/// that takes only PUT (a PUT needs the whole resource).
async fn deactivation_alone(x: &Exchange<'_>, intent: Intent, op: &Value) -> Option<Value> {
    let rt =
        op.get("path").and_then(Value::as_str).and_then(|p| p.split('/').nth(1)).and_then(endpoint::resource_type)?;
    let one_resource =
        op.get("path").and_then(Value::as_str).is_some_and(|p| p.split('/').filter(|s| !s.is_empty()).count() == 2);
    if !intent.is_deprovision() || !one_resource || x.route.update_for(rt) == UpdateMode::Put {
        return None;
    }
    x.gw.metrics.deprovision_dropped.with_label_values(&[x.route.name.as_str(), rt]).inc();
    x.route.plugins.pass_over_all(Some(&x.gw.metrics), rt, "a deactivation in a bulk request");
    let body = translate::deactivation().into_json();
    let body = super::to_backend(x, rt, body.clone(), intent).await.unwrap_or(body);
    let mut out = op.as_object()?.clone();
    out.insert("method".into(), Value::String("PATCH".into()));
    out.insert("data".into(), body);
    Some(Value::Object(out))
}

fn op_method(op: &Value) -> String {
    op.get("method").and_then(Value::as_str).unwrap_or("").to_ascii_uppercase()
}

/// Maps one operation in place; `Some` when the gateway answers it itself.
async fn map_op(x: &Exchange<'_>, op: &mut Value) -> Result<Option<Value>, Refused> {
    let method = op_method(op);
    let path = op.get("path").and_then(Value::as_str).unwrap_or("").to_owned();
    let checked = paths::safe_rest(&path)?;
    let rt = checked.split('/').nth(1).and_then(endpoint::resource_type);
    let (Some(rt), Some(data)) = (rt, op.get_mut("data")) else { return Ok(None) };
    if let Some(why) = super::batches::bulk_refusal(x, rt, data) {
        return Err(GatewayError::Scim(scim_core::ScimError::too_many(why)).into());
    }
    let sent = match method.as_str() {
        "POST" => map_write(x, rt, Operation::Create, data).await.map(|()| true)?,
        "PUT" if translate::put_as_patch(x.route.update_for(rt)) => put_as_deactivation(x, rt, data).await?,
        "PUT" => map_write(x, rt, Operation::Replace, data).await.map(|()| true)?,
        "PATCH" => map_patch(x, rt, data).await?,
        _ => true,
    };
    if method == "PUT"
        && translate::put_as_patch(x.route.update_for(rt))
        && let Some(m) = op.as_object_mut()
    {
        m.insert("method".into(), Value::String("PATCH".into()));
    }
    Ok((!sent).then(|| failed(op, 204, None, "")))
}

/// A PUT for a backend that takes only PATCH: a deactivation becomes the
/// PATCH of `active`, mapped as any PATCH (the rest of the PUT is not
/// sent); anything else needs the current resource.
async fn put_as_deactivation(x: &Exchange<'_>, rt: &'static str, data: &mut Value) -> Result<bool, Refused> {
    let n = phases::resource(x, rt, Operation::Replace, data.take(), &Aside::default())?;
    if !n.intent.is_deprovision() {
        return Err(needs_current("a PUT to a backend that takes only PATCH needs").into());
    }
    *data = translate::deactivation().into_json();
    map_patch(x, rt, data).await
}

fn needs_current(what: &str) -> GatewayError {
    let detail = format!("{what} the current resource, which a bulk request does not read; send it on its own");
    GatewayError::Scim(scim_core::ScimError::invalid_value(detail))
}

/// A POST or PUT operation's data through phases 5 and 6, as the single
/// request's.
async fn map_write(x: &Exchange<'_>, rt: &'static str, operation: Operation, data: &mut Value) -> Result<(), Refused> {
    let Normalized { body, intent } = phases::resource(x, rt, operation, data.take(), &Aside::default())?;
    let refused = |error| Refused { error, intent };
    if operation == Operation::Replace && x.route.program.replace_needs_current(rt) {
        return Err(refused(needs_current("this operation's rules need")));
    }
    let op = phases::plugin_op(operation);
    let doc = plugged::request(x, Position::Before, rt, op, intent, body).await.map_err(refused)?;
    let mapped = phases::map_resource(x, rt, operation, doc, None, intent).await.map_err(refused)?;
    *data = super::to_backend(x, rt, mapped, intent).await.map_err(refused)?;
    Ok(())
}

/// A PATCH operation's data through phases 5 and 6, as the single
/// request's; false when nothing is left to send. With request plugins a
/// PATCH needs the current resource, so it is refused here, except a
/// deactivation: that goes on through the rules alone, the plugins counted
/// as passed over. A PATCH the
/// backend would need translated (to a PUT, or a full member replace to
/// adds and removes) is refused too.
async fn map_patch(x: &Exchange<'_>, rt: &'static str, data: &mut Value) -> Result<bool, Refused> {
    let Normalized { body: ops, intent } = phases::patch(x, rt, data.take())?;
    let refused = |error| Refused { error, intent };
    if let Some(what) =
        translate::bulk_refusal(x.route.update_for(rt), x.route.member_batch_for(rt), x.route.member_removal, rt, &ops)
    {
        return Err(refused(needs_current(what)));
    }
    if plugged::on_request(x, rt) {
        if !intent.is_deprovision() {
            return Err(refused(needs_current("a PATCH on a route with request plugins needs")));
        }
        x.route.plugins.pass_over_all(Some(&x.gw.metrics), rt, "a deactivation in a bulk request");
    }
    match phases::map_patch(x, rt, &ops, intent).await.map_err(refused)? {
        PatchMapped::Send(body) => {
            *data = body;
            Ok(true)
        }
        PatchMapped::Nothing => Ok(false),
        PatchMapped::NeedsCurrent => Err(refused(needs_current("this operation's rules need"))),
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
