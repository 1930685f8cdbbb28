//! Member batches (phase 7): a group write that changes more members than
//! the backend takes at once (the route's `max_member_changes`, or its
//! profile's) goes as consecutive requests of at most that many changes.
//! A PATCH becomes several PATCHes, the other operations in the first; a
//! POST creates the group with the first batch of members and PATCHes the
//! rest in. A full replace of members never gets here: with batches on,
//! it is translated into adds and removes first (`translate.rs`).
//!
//! Batches go one after the other and stop at the first that fails: the
//! IdP gets that error, and its detail says how many member changes were
//! applied before it. Nothing is retried blindly.

use super::exchange::Exchange;
use super::translate::Outgoing;
use crate::error::GatewayError;
use crate::json::Aside;
use crate::upstream::Reply;
use http::header::{ETAG, HeaderValue};
use http::{Method, StatusCode};
use scim_core::ScimType;
use scim_core::patch::{OpKind, PatchOp, PatchOperation};
use scim_core::path::{Path, get_ci};
use serde_json::Value;

/// A write after update translation, sent: the method it went with and
/// the backend's answer. A PATCH built by the translation goes in batches
/// where the route sends member changes in them ([`send`]), else its JSON
/// is written as it is sent (no tree built) and the operations dropped
/// before the backend answers.
pub(super) async fn send_translated(
    x: &Exchange<'_>,
    rt: &str,
    write: Outgoing,
    if_match: Option<&HeaderValue>,
) -> Result<(Method, Reply), GatewayError> {
    let (method, body) = match write {
        Outgoing::Json(method, body) => (method, body),
        Outgoing::Patch(ops) if x.route.member_batch_for(rt).is_some() => (Method::PATCH, ops.into_json()),
        Outgoing::Patch(ops) => {
            let written = crate::json::patch_to_vec(&ops);
            drop(ops);
            return Ok((Method::PATCH, x.forward_written(Method::PATCH, written, if_match).await?));
        }
    };
    Ok((method.clone(), send(x, rt, method, body, Aside::default(), if_match).await?))
}

/// Sends a write upstream, in member batches where the route has them and
/// the write needs them; anything else in one request. `aside`: members
/// of the IdP's body kept as text, written after `body`'s own. A write in
/// one request holds neither once it is written (see
/// [`Exchange::forward_with`]).
pub(super) async fn send(
    x: &Exchange<'_>,
    rt: &str,
    method: Method,
    body: Value,
    aside: Aside,
    if_match: Option<&HeaderValue>,
) -> Result<Reply, GatewayError> {
    let batch = x.route.member_batch_for(rt);
    match (batch, aside.is_empty()) {
        (None, _) => return x.forward_with(method, body, aside, if_match).await,
        // Never kept on a route with batches (see `aside.rs`); were it,
        // the batches would be cut from the whole body.
        (Some(_), false) => {
            let mut whole = body;
            super::aside::whole(&mut whole, aside)?;
            return Box::pin(send(x, rt, method, whole, Aside::default(), if_match)).await;
        }
        (Some(_), true) => {}
    }
    match (batch, &method) {
        (Some(max), &Method::PATCH) => match PatchOp::from_json(&body) {
            // Boxed, as below: a rare path's state is not carried by every write.
            Ok(ops) if changes(&ops) > max => {
                Box::pin(patch_in_batches(x, &x.path, split(ops, max), if_match, 0)).await
            }
            _ => x.forward(method, &x.path, x.query.as_deref(), Some(&body), if_match).await,
        },
        (Some(max), &Method::POST) if members_of(&body).len() > max => Box::pin(create_in_batches(x, &body, max)).await,
        _ => x.forward(method, &x.path, x.query.as_deref(), Some(&body), if_match).await,
    }
}

/// Why a /Bulk operation cannot go as it is on a route with member
/// batches (a bulk request is one request upstream: it is not cut), if it
/// cannot: a group PATCH or POST with more member changes than a batch.
pub(super) fn bulk_refusal(x: &Exchange<'_>, rt: &str, data: &Value) -> Option<String> {
    let max = x.route.member_batch_for(rt)?;
    let n = match PatchOp::from_json(data) {
        Ok(ops) => changes(&ops),
        Err(_) => members_of(data).len(),
    };
    (n > max).then(|| format!("a group write with {n} member changes, more than the backend takes at once ({max}); send it on its own, and the gateway sends it in batches"))
}

/// The members a resource lists.
fn members_of(body: &Value) -> &[Value] {
    body.as_object().and_then(|m| get_ci(m, "members")).and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

fn is_members(path: Option<&Path>) -> bool {
    path.is_some_and(|p| p.name.eq_ignore_ascii_case("members") && p.urn.is_none() && p.sub.is_none())
}

/// How many member changes one operation makes: each member added or
/// removed, a filtered remove one.
fn op_changes(op: &PatchOperation) -> usize {
    match (&op.path, &op.value) {
        (Some(p), _) if is_members(Some(p)) && p.filter.is_some() => 1,
        (Some(p), Some(Value::Array(items))) if is_members(Some(p)) => items.len(),
        (Some(p), Some(_)) if is_members(Some(p)) => 1,
        (None, Some(Value::Object(m))) => get_ci(m, "members").and_then(Value::as_array).map_or(0, Vec::len),
        _ => 0,
    }
}

/// Member changes in a PatchOp.
pub(super) fn changes(ops: &PatchOp) -> usize {
    ops.operations.iter().map(op_changes).sum()
}

/// Splits a PatchOp into PatchOps of at most `max` member changes each,
/// in the order they came: every other operation goes in the first, and an
/// add of many members becomes adds of at most `max`.
pub(super) fn split(ops: PatchOp, max: usize) -> Vec<PatchOp> {
    let max = max.max(1);
    let (mut batches, mut current, mut room) = (Vec::new(), Vec::new(), max);
    let mut others = Vec::new();
    for op in ops.operations {
        for unit in units(op) {
            match op_changes(&unit) {
                0 => others.push(unit),
                n => {
                    if n > room {
                        batches.push(PatchOp { operations: std::mem::take(&mut current) });
                        room = max;
                    }
                    room -= n.min(room);
                    current.push(unit);
                }
            }
        }
    }
    batches.push(PatchOp { operations: current });
    batches.retain(|b| !b.operations.is_empty());
    match batches.first_mut() {
        Some(first) => first.operations.splice(0..0, others).for_each(drop),
        None => batches.push(PatchOp { operations: others }),
    }
    batches
}

/// An operation cut into pieces of one member change each (other
/// operations whole; a path-less value's `members` as an add of its own).
fn units(op: PatchOperation) -> Vec<PatchOperation> {
    let members_path = || Path::parse("members").ok();
    match (&op.path, op.value) {
        // Adds and removes split; a replace never (it is one whole list).
        (Some(p), Some(Value::Array(items)))
            if is_members(Some(p)) && p.filter.is_none() && op.op != OpKind::Replace =>
        {
            items
                .into_iter()
                .map(|m| PatchOperation { op: op.op, path: op.path.clone(), value: Some(Value::Array(vec![m])) })
                .collect()
        }
        (None, Some(Value::Object(mut m))) if op.op == OpKind::Add && get_ci(&m, "members").is_some() => {
            let key = m.keys().find(|k| k.eq_ignore_ascii_case("members")).cloned().unwrap_or_default();
            let members = m.shift_remove(&key);
            let mut out: Vec<PatchOperation> = Vec::new();
            if !m.is_empty() {
                out.push(PatchOperation { op: op.op, path: None, value: Some(Value::Object(m)) });
            }
            let items = match members {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            out.extend(items.into_iter().map(|i| PatchOperation {
                op: OpKind::Add,
                path: members_path(),
                value: Some(Value::Array(vec![i])),
            }));
            out
        }
        (path, value) => vec![PatchOperation { op: op.op, path: path.clone(), value }],
    }
}

/// Sends each batch in turn; the first that fails ends it: when nothing
/// was applied yet (`done`: changes the caller made before), its failure as
/// the backend answered it; else an error that says how many changes went
/// before it.
async fn patch_in_batches(
    x: &Exchange<'_>,
    path: &str,
    batches: Vec<PatchOp>,
    if_match: Option<&HeaderValue>,
    done: usize,
) -> Result<Reply, GatewayError> {
    let total = done + batches.iter().map(changes).sum::<usize>();
    let (mut applied, mut tag, mut last) = (done, if_match.cloned(), None);
    for batch in batches {
        let n = changes(&batch);
        let body = compact(batch).into_json();
        // The first batch failing is the plain failure of the write (a 412
        // is retried as any); later ones say how far the write got.
        let reply = match x.forward(Method::PATCH, path, x.query.as_deref(), Some(&body), tag.as_ref()).await {
            Ok(r) if r.status.is_success() || applied == 0 => r,
            Ok(r) => return Err(refused(&r, applied, total)),
            Err(e) if applied == 0 => return Err(e),
            Err(e) => return Err(failed(&e, applied, total)),
        };
        if !reply.status.is_success() {
            return Ok(reply);
        }
        applied += n;
        // The next batch is on the version this one made, when the backend says it.
        tag = tag.and(reply.headers.get(ETAG).cloned());
        last = Some(reply);
    }
    last.ok_or_else(|| GatewayError::BadUpstreamReply("a member batch had nothing to send".into()))
}

/// A POST whose members are more than a batch: created with the first
/// batch, the rest added in PATCHes of the created group. The answer is
/// the POST's, with every member it was given.
async fn create_in_batches(x: &Exchange<'_>, body: &Value, max: usize) -> Result<Reply, GatewayError> {
    let all = members_of(body).to_vec();
    let mut first = body.clone();
    if let Some(m) = first.as_object_mut() {
        m.retain(|k, _| !k.eq_ignore_ascii_case("members"));
        m.insert("members".into(), Value::Array(all.iter().take(max).cloned().collect()));
    }
    let created = x.forward(Method::POST, &x.path, x.query.as_deref(), Some(&first), None).await?;
    if !created.status.is_success() {
        return Ok(created);
    }
    let id = crate::json::from_bytes(&created.body)
        .ok()
        .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
        .filter(|id| crate::proxy::paths::plain_id(id))
        .ok_or_else(|| {
            GatewayError::BadUpstreamReply("the created group has no id to add its other members to".into())
        })?;
    let rest = PatchOp { operations: vec![add_members(all.iter().skip(max).cloned().collect())] };
    let path = format!("{}/{id}", x.path.trim_end_matches('/'));
    // The group exists now: whatever fails after, the IdP is told so.
    patch_in_batches(x, &path, split(rest, max), None, max).await.map_err(|e| match e {
        GatewayError::BatchFailed { status, scim_type, applied, total, detail } => {
            let detail = format!("the group was created as {id}, but adding its members failed: {detail}");
            GatewayError::BatchFailed { status, scim_type, applied, total, detail }
        }
        other => other,
    })?;
    Ok(with_members(created, all))
}

fn add_members(items: Vec<Value>) -> PatchOperation {
    PatchOperation { op: OpKind::Add, path: Path::parse("members").ok(), value: Some(Value::Array(items)) }
}

/// The created group's answer listing every member it now has.
fn with_members(mut reply: Reply, members: Vec<Value>) -> Reply {
    let Ok(mut doc) = crate::json::from_bytes(&reply.body) else { return reply };
    if let Some(m) = doc.as_object_mut() {
        m.insert("members".into(), Value::Array(members));
    }
    reply.body = bytes::Bytes::from(crate::json::to_vec(&doc));
    reply
}

/// Consecutive adds of members in a batch as one add.
fn compact(batch: PatchOp) -> PatchOp {
    let mut out: Vec<PatchOperation> = Vec::with_capacity(batch.operations.len());
    for op in batch.operations {
        let mergeable = |o: &PatchOperation| {
            o.op == OpKind::Add && is_members(o.path.as_ref()) && o.path.as_ref().is_some_and(|p| p.filter.is_none())
        };
        match (out.last_mut(), mergeable(&op)) {
            (Some(prev), true) if mergeable(prev) => {
                if let (Some(Value::Array(a)), Some(Value::Array(b))) = (prev.value.as_mut(), op.value) {
                    a.extend(b);
                }
            }
            _ => out.push(op),
        }
    }
    PatchOp { operations: out }
}

/// A batch the backend refused: its status and words, and how far it got.
fn refused(reply: &Reply, applied: usize, total: usize) -> GatewayError {
    let body = crate::json::from_bytes(&reply.body).ok();
    let field = |k: &str| body.as_ref().and_then(|b| b.get(k)).and_then(Value::as_str).map(str::to_owned);
    let detail = field("detail").unwrap_or_else(|| format!("the backend answered {}", reply.status));
    let status = match reply.status.as_u16() {
        529 => StatusCode::SERVICE_UNAVAILABLE.as_u16(),
        s => s,
    };
    GatewayError::BatchFailed {
        status,
        scim_type: field("scimType").as_deref().and_then(ScimType::parse),
        applied,
        total,
        detail,
    }
}

/// A batch that never got an answer (unreachable, too slow).
fn failed(e: &GatewayError, applied: usize, total: usize) -> GatewayError {
    GatewayError::BatchFailed { status: e.status().as_u16(), scim_type: None, applied, total, detail: e.to_string() }
}

#[cfg(test)]
mod tests;
