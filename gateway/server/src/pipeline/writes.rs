//! Single steps of writes built from the current resource: the current
//! resource read (or the answer when there is none), a PATCH mapped by the
//! rules or through the plugins, the answer when nothing changes, the 412
//! retry decision, the answer to a write sent, and what a PatchOp says
//! about itself. The order they
//! run in is `pipeline.rs`'s.

use super::aside;
use super::exchange::{Exchange, Purpose, Shape};
use super::respond::Answer;
use super::{Write, back};
use crate::audit::Stage;
use crate::cluster::Without;
use crate::config::UpdateMode;
use crate::error::GatewayError;
use crate::json::{Aside, Paired};
use crate::plugins::{PatchThrough, unrecoverable};
use crate::proxy::headers;
use crate::upstream::Reply;
use bytes::Bytes;
use http::header::{ETAG, HeaderValue};
use http::{Method, StatusCode};
use scim_core::Intent;
use scim_core::patch::PatchOp;
use scim_mapper::{Direction, MapOptions, Operation, PatchOutcome};
use serde_json::Value;

/// A PATCH mapped by the rules alone, with the current resource at hand.
pub(super) fn rules_patch(
    x: &Exchange<'_>,
    rt: &str,
    ops: &PatchOp,
    intent: Intent,
    current: &Value,
) -> Result<Write, GatewayError> {
    let span = x.trace.phase("map request");
    let mapped = x.route.program.map_patch(rt, ops, Some(current), MapOptions::for_intent(intent));
    let (outcome, report) = x.traced_map(&span, mapped)?;
    drop(span);
    x.count(rt, Direction::Request, &report, 1, intent);
    match outcome {
        PatchOutcome::Ops(mapped) => {
            let body = mapped.into_json();
            x.changed(Stage::Rule, x.before_with(|| ops.to_json()), &body, &x.rule_author(rt, Direction::Request));
            Ok(Write::Send(body))
        }
        PatchOutcome::Empty => Ok(Write::Done(Answer::own(StatusCode::NO_CONTENT, None))),
        PatchOutcome::NeedsCurrent(missing) => Err(unrecoverable(&missing)),
    }
}

/// A PATCH through the route's plugins: see [`PatchThrough`].
pub(super) async fn plugins_patch(
    x: &Exchange<'_>,
    rt: &str,
    ops: &PatchOp,
    intent: Intent,
    current: &Value,
) -> Result<Write, GatewayError> {
    let schema = x.route.schema(rt)?;
    let through = PatchThrough {
        chain: &x.route.plugins,
        metrics: Some(&x.gw.metrics),
        program: &x.route.program,
        schema: &schema,
        resource_type: rt,
        intent,
        trace: &x.trace,
    };
    let (mapped, report) = Box::pin(through.run(ops, current)).await?;
    x.count(rt, Direction::Request, &report, 1, intent);
    match mapped.is_empty() {
        true => Ok(Write::Done(Answer::own(StatusCode::NO_CONTENT, None))),
        false => Ok(Write::Send(mapped.into_json())),
    }
}

/// A translated write that changes nothing: a PUT is answered with the
/// current resource, a PATCH with 204; unless the IdP's If-Match names
/// another version, as the backend would have said.
pub(super) async fn unchanged(
    x: &Exchange<'_>,
    rt: &'static str,
    method: &Method,
    current: Value,
    etag: Option<&HeaderValue>,
    intent: Intent,
) -> Result<Answer, GatewayError> {
    if !headers::if_match_holds(x.headers, etag) {
        return Err(GatewayError::PreconditionFailed);
    }
    if method != Method::PUT {
        return Ok(Answer::own(StatusCode::NO_CONTENT, None));
    }
    let reply = Reply {
        status: StatusCode::OK,
        headers: http::HeaderMap::new(),
        body: Bytes::from(crate::json::to_vec(&current)),
    };
    back(x, reply, Shape::Resource(rt), intent).await
}

/// Whether a 412 to this attempt's write starts another: only when
/// [`next_attempt`] said one may follow (counted in the metrics).
pub(super) fn retry_412(x: &Exchange<'_>, reply: &Reply, next: Next) -> bool {
    let retry = reply.status == StatusCode::PRECONDITION_FAILED && next == Next::Possible;
    if retry {
        x.gw.metrics.etag_retries.with_label_values(&[x.route.name.as_str()]).inc();
    }
    retry
}

/// Whether another attempt can follow this one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Next {
    /// A 412 to a write sent with If-Match starts another.
    Possible,
    /// This attempt is the last: what it builds from can be used up.
    Last,
}

/// Whether a write sent with `if_match` on this attempt may be retried: only
/// one carrying the gateway's own If-Match, before the last attempt.
pub(super) fn next_attempt(x: &Exchange<'_>, if_match: Option<&HeaderValue>, attempt: u32) -> Next {
    match if_match.is_some() && attempt < x.route.etag_retries {
        true => Next::Possible,
        false => Next::Last,
    }
}

/// The PATCH `replace active false` alone, for a deactivation whose other
/// changes cannot be built.
pub(super) async fn deactivate_only(x: &Exchange<'_>, rt: &'static str) -> Result<Answer, GatewayError> {
    let body = super::translate::deactivation().into_json();
    let reply = x.forward(Method::PATCH, &x.path, x.query.as_deref(), Some(&body), None).await?;
    back(x, reply, Shape::Resource(rt), Intent::Deprovision).await
}

/// The answer to a write that went upstream. A deprovisioning the backend
/// refused (a 4xx other than 401, 403, 404, 412 and 429: its stricter
/// rules, a required attribute the IdP no longer sends, a conflict in the
/// rest of the write) goes again as the PATCH of `active` alone: the rest
/// is lost and counted, the deactivation never. Not on a backend that
/// takes only PUT.
pub(super) async fn after_write(
    x: &Exchange<'_>,
    rt: &'static str,
    reply: Reply,
    intent: Intent,
) -> Result<Answer, GatewayError> {
    let kept = [401, 403, 404, 412, 429];
    let refused = reply.status.is_client_error() && !kept.contains(&reply.status.as_u16()) && intent.is_deprovision();
    if !refused || x.route.update_for(rt) == UpdateMode::Put {
        return back(x, reply, Shape::Resource(rt), intent).await;
    }
    tracing::warn!(route = %x.route.name, resource = rt, "the backend refused a deactivation with other changes; the deactivation goes alone");
    x.gw.metrics.deprovision_dropped.with_label_values(&[x.route.name.as_str(), rt]).inc();
    deactivate_only(x, rt).await
}

/// A PatchOp left with no operation (the profile took them all out).
pub(super) fn empty_patch(body: &Value) -> bool {
    member(body, "Operations").and_then(Value::as_array).is_some_and(Vec::is_empty)
}

/// This resource's write locks: this replica's, then with `[cluster]` the
/// lease, each waited for at most a third of the request time: a write
/// stuck behind a slow one (a deactivation above all) goes on without it
/// rather than run out of time.
pub(super) async fn one_writer<'a>(x: &Exchange<'a>, intent: Intent) -> Result<WriteGuard<'a>, GatewayError> {
    let wait = x.gw.limits.request_timeout / 3;
    // This replica's own writers first, with or without the cluster: a write
    // that falls back to this lock while Redis fails must still wait for one
    // of this replica's writes that holds a lease taken before.
    let local = local_lock(x, wait, intent).await?;
    let Some(cluster) = &x.gw.cluster else { return Ok(WriteGuard { local, lease: None }) };
    let error = match cluster.lease(&format!("{}:{}", x.route.name, x.path), wait).await {
        Ok(lease) => return Ok(WriteGuard { local, lease: Some(lease) }),
        Err(e) => e,
    };
    match crate::cluster::without_lease(&error, x.route.on_cluster_error, intent) {
        Without::Refuse => Err(GatewayError::WriteUnguarded(error.to_string())),
        Without::Local => {
            let reason = if intent.is_deprovision() { "deprovisioning" } else { "policy" };
            x.gw.metrics.cluster_fallbacks.with_label_values(&[x.route.name.as_str(), reason]).inc();
            tracing::warn!(route = %x.route.name, error = %error, reason, "a write goes on under this replica's own lock");
            Ok(WriteGuard { local, lease: None })
        }
    }
}

/// What keeps other writers off a resource while a write runs (held for
/// its drop, which lets the next writer in).
#[derive(Debug)]
pub(super) struct WriteGuard<'a> {
    /// This process's lock (`None`: the holder was too slow, see below).
    #[expect(dead_code, reason = "held for its drop")]
    local: Option<crate::locks::KeyedGuard<'a>>,
    /// The cluster's lease, with `[cluster]` while Redis answers.
    #[expect(dead_code, reason = "held for its drop")]
    lease: Option<crate::cluster::Lease>,
}

/// This process's lock on the resource. A holder slower than `wait` gets
/// the same answer as a lease held too long ([`crate::cluster::without_lease`]):
/// a deprovisioning goes on without the lock (the backend's ETag, where it
/// gives one, is the guard then), any other write is refused with 503.
async fn local_lock<'a>(
    x: &Exchange<'a>,
    wait: std::time::Duration,
    intent: Intent,
) -> Result<Option<crate::locks::KeyedGuard<'a>>, GatewayError> {
    let Ok(guard) = tokio::time::timeout(wait, x.route.write_locks.lock(&x.path)).await else {
        let busy = crate::cluster::LeaseError::Busy;
        return match crate::cluster::without_lease(&busy, x.route.on_cluster_error, intent) {
            Without::Refuse => Err(GatewayError::WriteUnguarded(busy.to_string())),
            Without::Local => {
                tracing::warn!(route = %x.route.name, "another write to this resource is slow; this deprovisioning goes on");
                Ok(None)
            }
        };
    };
    Ok(Some(guard))
}

/// How a write is built from the current resource.
pub(super) enum Build<'a> {
    /// PUT: the rules (6), then plugins after them. `kept`: members of
    /// the body kept as text (see `aside.rs`).
    Replace { doc: Value, kept: Aside, intent: Intent },
    /// PATCH: the rules map the operations (6).
    Patch { ops: &'a PatchOp, intent: Intent },
    /// PATCH on a route with request plugins: see [`PatchThrough`].
    PatchPlugins { ops: &'a PatchOp, intent: Intent },
}

impl Build<'_> {
    pub(super) fn intent(&self) -> Intent {
        match self {
            Self::Replace { intent, .. } | Self::Patch { intent, .. } | Self::PatchPlugins { intent, .. } => *intent,
        }
    }

    /// The members the body kept as text.
    pub(super) fn kept(&self) -> Option<&Aside> {
        match self {
            Self::Replace { kept, .. } => Some(kept),
            Self::Patch { .. } | Self::PatchPlugins { .. } => None,
        }
    }
}

/// Builds the write of one attempt. The PUT's document is copied only when
/// another attempt may need it; the last one uses it up.
pub(super) async fn build(
    x: &Exchange<'_>,
    rt: &'static str,
    how: &mut Build<'_>,
    current: &Value,
    next: Next,
) -> Result<Write, GatewayError> {
    match how {
        Build::Replace { doc, intent, .. } => {
            let doc = match next {
                Next::Possible => doc.clone(),
                Next::Last => std::mem::take(doc),
            };
            let op = Operation::Replace;
            Ok(Write::Send(super::phases::map_resource(x, rt, op, doc, Some(current), *intent).await?))
        }
        Build::Patch { ops, intent } => rules_patch(x, rt, ops, *intent, current),
        // A deactivation that cannot go through the plugins (the current
        // resource does not take the operations, the plugins' result does
        // not diff) goes on through the rules alone.
        Build::PatchPlugins { ops, intent } => match plugins_patch(x, rt, ops, *intent, current).await {
            Err(e) if intent.is_deprovision() => {
                x.route.plugins.pass_over_all(Some(&x.gw.metrics), rt, e.kind());
                rules_patch(x, rt, ops, Intent::Deprovision, current)
            }
            other => other,
        },
    }
}

/// The current resource and its ETag, or the answer when there is none. A
/// deactivation needs no current resource to land: if it cannot be read
/// (but exists), the PATCH of `active` goes alone (not to a backend that
/// takes only PUT, which needs the whole resource).
///
/// `sent`: the members a PUT's body kept as text, paired with the current
/// resource's (see [`read_current`]).
pub(super) async fn current_or_answer(
    x: &Exchange<'_>,
    rt: &'static str,
    intent: Intent,
    sent: Option<&Aside>,
) -> Result<Result<Found, Answer>, GatewayError> {
    let alone = intent.is_deprovision() && x.route.update_for(rt) != UpdateMode::Put;
    let reply = match read_current(x, rt, sent).await {
        Ok(Current::Found(found)) => {
            let current = x.route.profile.current(x, rt, found.current).await?;
            return Ok(Ok(Found { current, ..found }));
        }
        Ok(Current::Answer(reply)) if !alone || reply.status == StatusCode::NOT_FOUND => reply,
        _ if alone => return deactivate_only(x, rt).await.map(Err),
        Ok(Current::Answer(reply)) => reply,
        Err(e) => return Err(e),
    };
    back(x, reply, Shape::Resource(rt), intent).await.map(Err)
}

/// The current resource as a write is built from it.
#[derive(Debug)]
pub(super) struct Found {
    pub current: Value,
    pub etag: Option<HeaderValue>,
    /// The PUT's kept members paired with the current resource's: those
    /// that differ built into `current`, the rest here.
    pub paired: Paired,
}

/// Reads the resource at the request's path as the backend stores it,
/// with its ETag. With `sent` (members a PUT's body kept as text), the
/// current resource keeps the same keys as text, each pair is compared by
/// its text ([`crate::json::document_paired`]) and the current members
/// that differ are built into it. Text that does not parse is the
/// backend's fault.
async fn read_current(x: &Exchange<'_>, rt: &str, sent: Option<&Aside>) -> Result<Current, GatewayError> {
    let reply = x.read(&x.path, None, Purpose::CurrentRead).await?;
    if reply.status != StatusCode::OK {
        return Ok(Current::Answer(reply));
    }
    let keep = sent.and_then(|sent| Some((sent, aside::for_current(x.route, rt, sent)?)));
    let parsed = match keep {
        Some((sent, names)) => crate::json::document_paired(&reply.body, sent, &names),
        // Every member the body kept is built into the write.
        None => crate::json::from_bytes(&reply.body).ok().map(|doc| (doc, unpaired(sent))),
    };
    let (current, paired) =
        parsed.ok_or_else(|| GatewayError::BadUpstreamReply("the current resource is not JSON".into()))?;
    let version = || member(&current, "meta").and_then(|meta| member(meta, "version")).and_then(Value::as_str);
    let etag = reply.headers.get(ETAG).cloned().or_else(|| version().and_then(|v| HeaderValue::from_str(v).ok()));
    Ok(Current::Found(Found { current, etag, paired }))
}

/// The member of the object `v` under `name`, looked for without hashing
/// the name (a resource's objects are small).
fn member<'v>(v: &'v Value, name: &str) -> Option<&'v Value> {
    v.as_object().and_then(|m| scim_core::path::get_exact(m, name))
}

/// The members a PUT's body kept, none of them paired.
fn unpaired(sent: Option<&Aside>) -> Paired {
    sent.map(Paired::unpaired).unwrap_or_default()
}

/// The current resource, or the upstream's answer when there is none.
#[derive(Debug)]
enum Current {
    Found(Found),
    Answer(Reply),
}

/// The answer to a write that went upstream. A PUT sent as a PATCH: the
/// IdP wants the whole resource, so it is read back (the write landed: a
/// failed re-read is no failure, only no body).
pub(super) async fn written(
    x: &Exchange<'_>,
    rt: &'static str,
    method: &Method,
    sent: &Method,
    reply: Reply,
    intent: Intent,
) -> Result<Answer, GatewayError> {
    let read_back =
        method == Method::PUT && sent == Method::PATCH && reply.status.is_success() && reply.body.is_empty();
    if !read_back {
        return after_write(x, rt, reply, intent).await;
    }
    match x.read(&x.path, None, Purpose::CurrentRead).await {
        Ok(read) if read.status == StatusCode::OK => back(x, read, Shape::Resource(rt), intent).await,
        _ => Ok(Answer::own(StatusCode::NO_CONTENT, None)),
    }
}
