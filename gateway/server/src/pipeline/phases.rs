//! Phases 5 and 6 as single requests and /Bulk operations share them: the
//! body normalized and its [`Intent`] decided, then the rules, plugins and
//! backend profile over a resource or a PATCH. `pipeline.rs` and `bulk.rs`
//! call these; neither has a copy of its own.

use super::exchange::Exchange;
use super::plugged;
use crate::audit::Stage;
use crate::config::Position;
use crate::error::GatewayError;
use crate::json::Aside;
use scim_core::Intent;
use scim_core::patch::PatchOp;
use scim_mapper::{Direction, MapOptions, Operation, PatchOutcome};
use scim_plugin_host::CallOperation;
use serde_json::Value;

/// A request body after phase 5: in canonical SCIM, with what it does.
#[derive(Debug)]
pub(super) struct Normalized<T> {
    pub body: T,
    pub intent: Intent,
}

/// Phase 5 for a POST or PUT body: normalized, its intent decided. Only a
/// replace of a User deprovisions (creating an inactive user does not),
/// by what the IdP sent or what normalization made of it; a deactivation
/// normalization lost (two spellings of `active` at odds) is put back.
/// `aside`: what the body's reader kept as text or left out; the members
/// it left out are each one normalization strips whole, and counted so
/// ([`Aside::stripped`]).
pub(super) fn resource(
    x: &Exchange<'_>,
    rt: &str,
    op: Operation,
    mut doc: Value,
    aside: &Aside,
) -> Result<Normalized<Value>, GatewayError> {
    let schema = x.route.schema(rt)?;
    let span = x.trace.phase("normalize");
    let replaces_user = rt == "User" && op == Operation::Replace;
    let sent = if replaces_user { Intent::of_resource(&doc) } else { Intent::Provision };
    let idp = x.before(&doc);
    let report = x.route.normalizer.resource_with_stripped(&mut doc, &schema, aside.stripped());
    x.count_normalized(&report);
    let kept = if replaces_user { Intent::of_resource(&doc) } else { Intent::Provision };
    let intent = Intent::from(sent.is_deprovision() || kept.is_deprovision());
    if let (Intent::Deprovision, false, Some(m)) = (intent, kept.is_deprovision(), doc.as_object_mut()) {
        m.insert("active".into(), Value::Bool(false));
    }
    normalized(x, rt, idp, &doc, &report, intent);
    traced(&span, &report, intent);
    Ok(Normalized { body: doc, intent })
}

/// Phase 5 for a PATCH body: normalized, parsed, its intent decided (a
/// User's, by what the IdP sent or what normalization made of it; a
/// deactivation normalization lost is put back as its own operation).
pub(super) fn patch(x: &Exchange<'_>, rt: &str, mut doc: Value) -> Result<Normalized<PatchOp>, GatewayError> {
    let schema = x.route.schema(rt)?;
    let span = x.trace.phase("normalize");
    let sent = Intent::of_patch_json(&doc);
    let idp = x.before(&doc);
    let report = x.route.normalizer.patch(&mut doc, &schema);
    x.count_normalized(&report);
    let mut ops = PatchOp::from_json(&doc)?;
    let intent = patch_intent(rt, sent, &mut ops);
    normalized(x, rt, idp, &doc, &report, intent);
    traced(&span, &report, intent);
    Ok(Normalized { body: ops, intent })
}

/// What a normalized PATCH does: a deprovisioning of a User when the IdP
/// `sent` one or the operations still make one; one the IdP sent that
/// normalization no longer shows is put back as a deactivation, so it is
/// never lost.
pub(super) fn patch_intent(rt: &str, sent: Intent, ops: &mut PatchOp) -> Intent {
    let kept = Intent::of_patch(ops);
    let intent = match rt {
        "User" if sent.is_deprovision() || kept.is_deprovision() => Intent::Deprovision,
        _ => Intent::Provision,
    };
    if intent.is_deprovision() && !kept.is_deprovision() {
        ops.operations.extend(super::translate::deactivation().operations);
    }
    intent
}

/// The normalize span: how many fixes, and what the request does.
fn traced(span: &crate::telemetry::Span, report: &scim_core::normalize::Report, intent: Intent) {
    span.set("scim.normalizations", i64::try_from(report.applied.len()).unwrap_or(i64::MAX));
    span.set("scim.intent", intent.as_str());
}

/// Records what the IdP sent and what normalization changed in it.
fn normalized(
    x: &Exchange<'_>,
    rt: &str,
    idp: Option<Value>,
    doc: &Value,
    report: &scim_core::normalize::Report,
    intent: Intent,
) {
    x.sent(rt, idp.as_ref().unwrap_or(doc), intent);
    // Named only when a change is recorded (the trail is on).
    x.changed(Stage::Normalization, idp, doc, &|_| crate::audit::changes::normalization_author(report));
}

/// Phase 6 for a resource, after the plugins set to run before the rules:
/// the rules (with the current resource when there is one), then the
/// plugins set to run after them.
pub(super) async fn map_resource(
    x: &Exchange<'_>,
    rt: &str,
    op: Operation,
    doc: Value,
    current: Option<&Value>,
    intent: Intent,
) -> Result<Value, GatewayError> {
    let rules = x.route.program.rule_count(rt, Direction::Request) > 0;
    let before = if rules { x.before(&doc) } else { None };
    let span = x.trace.phase("map request");
    let mapped = x.route.program.map_resource(rt, op, doc, current, MapOptions::for_intent(intent));
    let (mapped, report) = x.traced_map(&span, mapped)?;
    drop(span);
    x.count(rt, Direction::Request, &report, 1, intent);
    x.changed(Stage::Rule, before, &mapped, &x.rule_author(rt, Direction::Request));
    plugged::request(x, Position::After, rt, plugin_op(op), intent, mapped).await
}

/// The plugins' name for a write.
pub(super) fn plugin_op(op: Operation) -> CallOperation {
    match op {
        Operation::Create => CallOperation::Create,
        _ => CallOperation::Replace,
    }
}

/// What a PATCH mapped without the current resource comes to.
#[derive(Debug)]
pub(super) enum PatchMapped {
    /// This PatchOp, in the backend's terms, goes upstream.
    Send(Value),
    /// Nothing is left to send (the rules or the profile took it all).
    Nothing,
    /// The rules need the current resource.
    NeedsCurrent,
}

/// Phase 6 for a PATCH the rules map alone: the rules, then the profile.
pub(super) async fn map_patch(
    x: &Exchange<'_>,
    rt: &str,
    ops: &PatchOp,
    intent: Intent,
) -> Result<PatchMapped, GatewayError> {
    let span = x.trace.phase("map request");
    let mapped = x.route.program.map_patch(rt, ops, None, MapOptions::for_intent(intent));
    let (outcome, report) = x.traced_map(&span, mapped)?;
    drop(span);
    x.count(rt, Direction::Request, &report, 1, intent);
    match outcome {
        PatchOutcome::Ops(mapped) => {
            let body = mapped.into_json();
            x.changed(Stage::Rule, x.before_with(|| ops.to_json()), &body, &x.rule_author(rt, Direction::Request));
            let body = to_backend(x, rt, body, intent).await?;
            Ok(if super::empty_patch(&body) { PatchMapped::Nothing } else { PatchMapped::Send(body) })
        }
        PatchOutcome::Empty => Ok(PatchMapped::Nothing),
        PatchOutcome::NeedsCurrent(_) => Ok(PatchMapped::NeedsCurrent),
    }
}

/// The end of phase 6: the write in the backend profile's terms.
pub(super) async fn to_backend(x: &Exchange<'_>, rt: &str, body: Value, intent: Intent) -> Result<Value, GatewayError> {
    let unchanged = x.route.profile.writes_unchanged();
    let before = if unchanged { None } else { x.before(&body) };
    let span = x.trace.phase("backend profile");
    span.set("scim.profile", x.route.profile.name());
    span.set("scim.direction", "request");
    let body = if unchanged { Ok(body) } else { x.route.profile.request(x, rt, body, intent).await };
    crate::telemetry::mark(&span, &body);
    drop(span);
    let body = body?;
    x.changed(Stage::Profile, before, &body, &|_| x.route.profile.name().to_owned());
    Ok(body)
}
