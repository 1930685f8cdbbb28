//! The plugin steps of phases 6 and 8: a route's chain run over a request
//! resource, over each resource of an answer, and a PATCH turned into whole
//! resources and back. When no plugin applies each step returns its input.

use super::exchange::{Exchange, Shape};
use crate::config::Position;
use crate::error::GatewayError;
use crate::plugins::Step;
use scim_core::patch::{ApplyOptions, PatchOp, apply, diff};
use scim_plugin_host::{Direction, Operation};
use serde_json::Value;

/// Whether any plugin of the route runs on requests for `rt`.
pub(super) fn on_request(x: &Exchange<'_>, rt: &str) -> bool {
    let chain = &x.route.plugins;
    chain.applies(Position::Before, Direction::Request, rt) || chain.applies(Position::After, Direction::Request, rt)
}

/// The request chain at `position` over one resource.
pub(super) async fn request(
    x: &Exchange<'_>,
    position: Position,
    rt: &str,
    operation: Operation,
    deprovisioning: bool,
    doc: Value,
) -> Result<Value, GatewayError> {
    if !x.route.plugins.applies(position, Direction::Request, rt) {
        return Ok(doc);
    }
    let step = Step { position, direction: Direction::Request, resource_type: rt, operation, deprovisioning };
    x.route.plugins.run(&x.gw.metrics, step, doc).await
}

/// The response chain at `position` over an answer: the resource, or each
/// resource of a list on its own.
pub(super) async fn response(
    x: &Exchange<'_>,
    shape: Shape,
    position: Position,
    mut body: Value,
) -> Result<Value, GatewayError> {
    let chain = &x.route.plugins;
    let applies = |rt: &str| chain.applies(position, Direction::Response, rt);
    let any = match shape {
        Shape::Opaque => false,
        Shape::Resource(rt) => applies(rt),
        Shape::AnyList => applies("User") || applies("Group"),
    };
    if !any {
        return Ok(body);
    }
    let step = |rt| Step {
        position,
        direction: Direction::Response,
        resource_type: rt,
        operation: Operation::Read,
        deprovisioning: false,
    };
    let Some(items) = body.get_mut("Resources").and_then(Value::as_array_mut) else {
        let rt = resource_type(&body, shape);
        return match rt.filter(|rt| applies(rt)) {
            Some(rt) => chain.run(&x.gw.metrics, step(rt), body).await,
            None => Ok(body),
        };
    };
    for item in items.iter_mut() {
        let Some(rt) = resource_type(item, shape).filter(|rt| applies(rt)) else { continue };
        *item = chain.run(&x.gw.metrics, step(rt), item.take()).await?;
    }
    Ok(body)
}

/// A resource's type: the shape's, or for a mixed list its core schema.
fn resource_type(doc: &Value, shape: Shape) -> Option<&'static str> {
    if let Shape::Resource(rt) = shape {
        return Some(rt);
    }
    let schemas = doc.get("schemas").and_then(Value::as_array)?;
    ["User", "Group"].into_iter().find(|rt| {
        let urn = format!("urn:ietf:params:scim:schemas:core:2.0:{rt}");
        schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(&urn)))
    })
}

/// `current` with `ops` applied, as the plugins of a PATCH see it.
pub(super) fn patched(x: &Exchange<'_>, rt: &str, current: &Value, ops: &PatchOp) -> Result<Value, GatewayError> {
    let schema = x.route.schema(rt)?;
    let opts = ApplyOptions { replace_missing_adds: true, reject_unknown_attributes: false };
    Ok(apply(current, ops, &schema, opts)?)
}

/// The operations that turn `current` into `after`.
pub(super) fn ops_between(x: &Exchange<'_>, rt: &str, current: &Value, after: &Value) -> Result<PatchOp, GatewayError> {
    let schema = x.route.schema(rt)?;
    Ok(diff(current, after, &schema)?)
}
