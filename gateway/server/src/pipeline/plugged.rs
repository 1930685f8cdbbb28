//! The plugin steps of phases 6 and 8: a route's chain run over a request
//! resource and over each resource of an answer (a PATCH goes through
//! [`crate::plugins::PatchThrough`]). When no plugin applies each step
//! returns its input.
//!
//! A chain's future holds a plugin call's state, kilobytes of it; boxed,
//! it costs one allocation when plugins run, and every request that has
//! none stops carrying (and copying) that state through each phase.

use super::exchange::{Exchange, Shape};
use crate::config::Position;
use crate::error::GatewayError;
use crate::plugins::{AnswerStep, ChainStep, Pass};
use scim_core::Intent;
use scim_plugin_host::{CallOperation, Direction};
use serde_json::Value;

/// Whether any plugin of the route runs on requests for `rt`.
pub(super) fn on_request(x: &Exchange<'_>, rt: &str) -> bool {
    x.route.plugins.applies_either_side(Direction::Request, rt)
}

/// The request chain at `position` over one resource.
pub(super) async fn request(
    x: &Exchange<'_>,
    position: Position,
    rt: &str,
    operation: CallOperation,
    intent: Intent,
    doc: Value,
) -> Result<Value, GatewayError> {
    if !x.route.plugins.applies(position, Direction::Request, rt) {
        return Ok(doc);
    }
    let step =
        ChainStep { position, direction: Direction::Request, resource_type: rt, operation, intent, trace: &x.trace };
    let metrics = Some(&*x.gw.metrics);
    match x.trail.filter(|t| t.keeps_changes()) {
        Some(t) => {
            let mut note = |pass: &Pass<'_>| {
                t.stage(crate::audit::Stage::Plugin, pass.before, pass.after, &|_| pass.plugin.to_owned());
            };
            Box::pin(x.route.plugins.run_noting(metrics, step, doc, Some(&mut note))).await
        }
        None => Box::pin(x.route.plugins.run(metrics, step, doc)).await,
    }
}

/// The response chain at `position` over an answer: the resource, or each
/// resource of a list on its own.
pub(super) async fn response(
    x: &Exchange<'_>,
    shape: Shape,
    position: Position,
    intent: Intent,
    body: Value,
) -> Result<Value, GatewayError> {
    let resource_type = match shape {
        Shape::Opaque => return Ok(body),
        Shape::Resource(rt) | Shape::List(rt) => Some(rt),
        Shape::AnyList => None,
    };
    if !x.route.plugins.applies_to_answer(position, resource_type) {
        return Ok(body);
    }
    let answer = AnswerStep { position, resource_type, intent, trace: &x.trace };
    Box::pin(x.route.plugins.run_answer(Some(&x.gw.metrics), answer, body)).await
}
