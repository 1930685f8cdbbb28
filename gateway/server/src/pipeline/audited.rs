//! The pipeline's side of the audit trail: which requests are recorded,
//! the queue room taken before anything is forwarded, the stages' changes
//! and the records made at the request's end.

use super::Seen;
use super::exchange::Exchange;
use super::respond::Answer;
use crate::audit::{Stage, Trail};
use crate::error::{Fault, GatewayError};
use crate::gateway::{Gateway, RouteRuntime};
use crate::proxy::endpoint::Endpoint;
use http::{HeaderValue, Method};
use scim_core::Intent;
use serde_json::Value;
use std::time::Instant;

/// Whether a request is a provisioning write: POST, PUT, PATCH or DELETE
/// on Users and Groups (and `/Me`), or a /Bulk request.
pub(super) fn is_write(endpoint: &Endpoint, method: &Method) -> Option<&'static str> {
    let write = matches!(*method, Method::POST | Method::PUT | Method::PATCH | Method::DELETE);
    match endpoint {
        Endpoint::Resource { resource_type, .. } if write => Some(resource_type),
        Endpoint::Me if write => Some("User"),
        Endpoint::Bulk if *method == Method::POST => Some("Bulk"),
        _ => None,
    }
}

/// Starts recording an authenticated write; `None` for everything else.
pub(super) fn begin<'t>(
    trail: Option<&'t Trail>,
    route: &RouteRuntime,
    endpoint: &Endpoint,
    method: &Method,
) -> Option<&'t Trail> {
    let trail = trail?;
    let rt = is_write(endpoint, method)?;
    trail.set_mode(route.mode);
    if rt != "Bulk" {
        let id = match endpoint {
            Endpoint::Resource { id, .. } => id.as_deref(),
            _ => None,
        };
        trail.begin(method.as_str(), rt, id, None);
        trail.entry(|e| e.deprovisioning = method == Method::DELETE && rt == "User");
    }
    Some(trail)
}

/// Takes the queue room for the request's records before anything is
/// forwarded; refused (503) under `block` when there is none in time,
/// never for a deprovisioning (see [`crate::audit::admission`]).
pub(super) async fn admit(
    gw: &Gateway,
    trail: Option<&Trail>,
    rt: &str,
    method: &Method,
    doc: Option<&Value>,
) -> Result<(), GatewayError> {
    let (Some(trail), Some(audit)) = (trail, &gw.audit) else { return Ok(()) };
    let n = match rt {
        "Bulk" => doc.and_then(|d| d.get("Operations")).and_then(Value::as_array).map_or(1, Vec::len),
        _ => 1,
    };
    let intent = Intent::of_request(method.as_str(), rt, doc);
    trail.hold(audit.admit(n, intent).await?);
    Ok(())
}

/// The request's records, queued: called once its answer is known.
pub(super) fn end(gw: &Gateway, trail: &Trail, seen: &Seen<'_>, answer: &Answer, started: Instant, rid: &HeaderValue) {
    let Some(audit) = &gw.audit else { return };
    if !trail.recording() {
        return;
    }
    let (error, fault) = super::respond::outcome(seen, answer.status);
    let scim_type = answer.json().and_then(|b| b.get("scimType")).and_then(Value::as_str).map(str::to_owned);
    let outcome = crate::audit::trail::Outcome {
        request_id: rid.to_str().unwrap_or("-"),
        trace_id: seen.trace_id.as_deref(),
        route: seen.route.map_or("-", |r| r.name.as_str()),
        replica: &audit.settings.replica,
        token: seen.token.unwrap_or("-"),
        preset: seen.preset,
        mapping_version: seen.route.map_or("-", |r| r.mapping_version.as_str()),
        status: answer.status.as_u16(),
        fault: (fault != Fault::None).then_some(fault.as_str()),
        error: (fault != Fault::None).then_some(error),
        scim_type,
        duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        body: answer.json(),
    };
    let (records, room) = trail.finish(&outcome);
    if records.iter().any(|r| r.mode == "shadow" && !r.changes.is_empty()) {
        gw.metrics.shadow_changes.with_label_values(&[outcome.route, seen.resource]).inc();
    }
    audit.submit(records, room);
}

impl Exchange<'_> {
    /// A copy of a document before a stage changes it, when the trail
    /// keeps changes (else nothing is copied).
    pub fn before(&self, doc: &Value) -> Option<Value> {
        self.trail.filter(|t| t.keeps_changes()).map(|_| doc.clone())
    }

    /// [`Exchange::before`] of a document made only when it is wanted.
    pub fn before_with(&self, doc: impl FnOnce() -> Value) -> Option<Value> {
        self.trail.filter(|t| t.keeps_changes()).map(|_| doc())
    }

    /// Records what a stage changed, given [`Exchange::before`]'s copy.
    pub fn changed(&self, stage: Stage, before: Option<Value>, after: &Value, author: &dyn Fn(&str) -> String) {
        if let (Some(t), Some(b)) = (self.trail, before) {
            t.stage(stage, &b, after, author);
        }
    }

    /// Records what the IdP sent and whether it deprovisions.
    pub fn sent(&self, rt: &str, doc: &Value, intent: Intent) {
        if let Some(t) = self.trail {
            t.sent(rt, doc);
            t.entry(|e| e.deprovisioning |= intent.is_deprovision());
        }
    }

    /// The author of a rule's change: its `file:line:col`.
    pub fn rule_author<'s>(&'s self, rt: &'s str, dir: scim_mapper::Direction) -> impl Fn(&str) -> String + 's {
        move |path: &str| self.route.program.author_of(rt, dir, path).unwrap_or_else(|| "rules".into())
    }
}
