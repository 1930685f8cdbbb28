//! Update translation for backends that take one kind of update
//! (`update = "patch" | "put"`), built from the current resource:
//!
//! - a PUT becomes the smallest PATCH from the current resource to the one
//!   the IdP asked for (`put_to_patch`);
//! - a PATCH becomes a PUT of the current resource with the operations
//!   applied (`patch_to_put`);
//! - on a PATCH-only backend, a full replace of a group's members becomes
//!   adds and removes (`members_to_ops`).
//!
//! A translated write removes only what the IdP manages: attributes outside
//! the mapping's managed set keep the backend's value, and a group member
//! the backend has but no IdP provisioned (its resource has no
//! `externalId`) stays, unless `member_removal = "any"`.

use super::exchange::{Exchange, Purpose};
use super::managed::ManagedSet;
use crate::config::{MemberRemoval, UpdateMode};
use crate::error::GatewayError;
use crate::proxy::paths;
use http::{Method, StatusCode};
use scim_core::patch::{ApplyOptions, OpKind, PatchOp, PatchOperation, apply, diff};
use scim_core::path::{AttrPath, InOrder, Path, get_ci};
use scim_core::schema::ResourceSchema;
use scim_core::{Intent, ScimError};
use serde_json::{Map, Value};

/// Most group members one translated write looks up before removing them.
const MAX_MEMBER_LOOKUPS: usize = 1000;

const SERVER_OWNED: [&str; 3] = ["schemas", "id", "meta"];

/// A write after translation.
#[derive(Debug)]
pub(super) enum Translated {
    /// Send this.
    Send(Outgoing),
    /// The backend already holds what the IdP asked for: nothing to send.
    Unchanged,
}

/// A write to send.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// This method and body.
    Json(Method, Value),
    /// This PATCH, built from the current resource (its JSON is written as
    /// it is sent, no tree built).
    Patch(PatchOp),
}

/// Whether a PATCH must be built from the current resource on this route
/// (besides what plugins and rules need). `member_batch`: the route's
/// batch size for `rt` (`RouteRuntime::member_batch_for`); with one, a
/// full replace of members must become adds and removes even where the
/// backend takes it.
pub(super) fn patch_needs_current(update: UpdateMode, member_batch: Option<usize>, rt: &str, ops: &PatchOp) -> bool {
    match update {
        UpdateMode::Put => true,
        UpdateMode::Patch => rt == "Group" && replaces_members(ops),
        UpdateMode::AsSent => member_batch.is_some() && replaces_members(ops),
    }
}

/// Why a bulk PATCH cannot go as it is on this route (a bulk request never
/// reads the current resource), if it cannot.
pub(super) fn bulk_refusal(
    update: UpdateMode,
    member_batch: Option<usize>,
    removal: MemberRemoval,
    rt: &str,
    ops: &PatchOp,
) -> Option<&'static str> {
    let translated = patch_needs_current(update, member_batch, rt, ops);
    match update {
        UpdateMode::Put => Some("a PATCH to a backend that takes only PUT needs"),
        UpdateMode::Patch if removal == MemberRemoval::Provisioned && translated => {
            Some("a full replace of members, which keeps members no IdP provisioned, needs")
        }
        UpdateMode::AsSent if translated => {
            Some("a full replace of members, sent in batches of adds and removes, needs")
        }
        _ => None,
    }
}

/// Whether a PUT is sent as a PATCH on this route.
pub(super) fn put_as_patch(update: UpdateMode) -> bool {
    update == UpdateMode::Patch
}

/// A `replace` of `members` as a whole, with a path or path-less.
pub(super) fn replaces_members(ops: &PatchOp) -> bool {
    ops.operations.iter().any(|op| {
        op.op == OpKind::Replace
            && match &op.path {
                Some(p) => p.name.eq_ignore_ascii_case("members") && p.filter.is_none() && p.sub.is_none(),
                None => op.value.as_ref().and_then(Value::as_object).is_some_and(|m| get_ci(m, "members").is_some()),
            }
    })
}

/// The three translations, as the metrics name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Translation {
    PutToPatch,
    PatchToPut,
    MembersToOps,
}

impl Translation {
    /// Its position in the metrics' table, and its label.
    fn label(self) -> (usize, &'static str) {
        match self {
            Self::PutToPatch => (0, "put_to_patch"),
            Self::PatchToPut => (1, "patch_to_put"),
            Self::MembersToOps => (2, "members_to_ops"),
        }
    }
}

/// Translates one mapped write (`body`: the resource for a PUT, the
/// PatchOp for a PATCH) for the route's backend, from `current`.
pub(super) async fn translate(
    x: &Exchange<'_>,
    rt: &str,
    method: &Method,
    current: &Value,
    body: Value,
    intent: Intent,
) -> Result<Translated, GatewayError> {
    let (translation, ops) = match (method, x.route.update_for(rt)) {
        (&Method::PUT, UpdateMode::Patch) => (Translation::PutToPatch, None),
        (&Method::PATCH, UpdateMode::Put) => (Translation::PatchToPut, Some(PatchOp::from_json(&body)?)),
        (&Method::PATCH, mode) if mode == UpdateMode::Patch || x.route.member_batch_for(rt).is_some() => {
            match PatchOp::from_json(&body) {
                Ok(ops) if replaces_members(&ops) => (Translation::MembersToOps, Some(ops)),
                _ => return Ok(Translated::Send(Outgoing::Json(method.clone(), body))),
            }
        }
        _ => return Ok(Translated::Send(Outgoing::Json(method.clone(), body))),
    };
    let schema = x.route.schema(rt)?;
    // What a PUT leaves out is removed only if the IdP manages it; what a
    // PATCH removes it removes on purpose, except by a full member replace.
    let (mut desired, kept) = match &ops {
        None => {
            let mut desired = body;
            let settled = x.route.types.get(rt);
            let settings = settled.ok_or_else(|| GatewayError::BadPath(format!("unknown resource type {rt}")))?;
            let kept = keep_unmanaged(current, &mut desired, &settings.managed);
            (desired, kept)
        }
        Some(ops) => (patched_or_deactivated(current, ops, &schema, intent)?, 0),
    };
    let kept_members = match ops.as_ref().is_none_or(replaces_members) {
        true => keep_members(x, current, &mut desired).await?,
        false => 0,
    };
    x.route.metrics.translated(&x.gw.metrics, translation.label(), kept, kept_members);
    if translation == Translation::PatchToPut {
        return Ok(recorded(x, translation, Method::PUT, put_body(desired, schema.core_urn())));
    }
    let ops = match diff(current, &desired, &schema) {
        Ok(ops) => ops,
        // A deactivation goes through even when the rest cannot be diffed.
        Err(_) if intent.is_deprovision() => deactivation(),
        Err(e) => return Err(e.into()),
    };
    match ops.is_empty() {
        true => Ok(Translated::Unchanged),
        false => Ok(recorded_patch(x, translation, ops)),
    }
}

/// A translated write, its content recorded in the audit trail as what
/// the translation sent.
fn recorded(x: &Exchange<'_>, translation: Translation, method: Method, body: Value) -> Translated {
    let author = |_: &str| translation.label().1.to_owned();
    x.changed(crate::audit::Stage::Translation, x.before(&Value::Object(Default::default())), &body, &author);
    Translated::Send(Outgoing::Json(method, body))
}

/// [`recorded`] for a PATCH built here: its JSON made only for the trail.
fn recorded_patch(x: &Exchange<'_>, translation: Translation, ops: PatchOp) -> Translated {
    let author = |_: &str| translation.label().1.to_owned();
    if let Some(before) = x.before(&Value::Object(Default::default())) {
        x.changed(crate::audit::Stage::Translation, Some(before), &ops.to_json(), &author);
    }
    Translated::Send(Outgoing::Patch(ops))
}

/// The current resource patched; for a deactivation whose other operations
/// cannot be applied, the current resource deactivated.
fn patched_or_deactivated(
    current: &Value,
    ops: &PatchOp,
    schema: &ResourceSchema<'_>,
    intent: Intent,
) -> Result<Value, GatewayError> {
    match patched(current, ops, schema) {
        Err(_) if intent.is_deprovision() => patched(current, &deactivation(), schema),
        other => other,
    }
}

/// The current resource with a PatchOp applied (Entra's add-for-replace
/// tolerated, as the rules do).
///
/// An operation whose path is a whole extension (`urn:...:enterprise:2.0:User`)
/// is applied to that extension's object: an add or replace as a path-less
/// one of `{urn: value}`, a remove by dropping the object.
fn patched(current: &Value, ops: &PatchOp, schema: &ResourceSchema<'_>) -> Result<Value, GatewayError> {
    let opts = ApplyOptions { replace_missing_adds: true, reject_unknown_attributes: false };
    let (mut out, mut batch) = (current.clone(), Vec::new());
    for op in &ops.operations {
        let Some(urn) = whole_extension(op, schema) else {
            batch.push(op.clone());
            continue;
        };
        out = apply(&out, &PatchOp { operations: std::mem::take(&mut batch) }, schema, opts)?;
        match op.op {
            OpKind::Remove => {
                if let Some(m) = out.as_object_mut() {
                    remove_ci(m, &urn);
                }
            }
            kind => {
                let value = Value::Object(Map::from_iter([(urn, op.value.clone().unwrap_or(Value::Null))]));
                let whole = PatchOperation { op: kind, path: None, value: Some(value) };
                out = apply(&out, &PatchOp { operations: vec![whole] }, schema, opts)?;
            }
        }
    }
    Ok(apply(&out, &PatchOp { operations: batch }, schema, opts)?)
}

/// The extension URN an operation's path names as a whole, if it does.
fn whole_extension(op: &PatchOperation, schema: &ResourceSchema<'_>) -> Option<String> {
    let p = op.path.as_ref().filter(|p| p.filter.is_none() && p.sub.is_none())?;
    let urn = format!("{}:{}", p.urn.as_deref()?, p.name);
    schema.extension(&urn).map(|s| s.id.clone())
}

/// A whole resource for a PUT: `meta` is the server's; an extension left
/// empty goes, and `schemas` lists the core URN and exactly the extensions
/// the resource holds (a server may ignore an extension it does not list).
fn put_body(mut desired: Value, core_urn: &str) -> Value {
    let Some(m) = desired.as_object_mut() else { return desired };
    m.retain(|k, v| !(k.eq_ignore_ascii_case("meta") || is_urn(k) && is_empty(v)));
    let extensions: Vec<String> = m.keys().filter(|k| is_urn(k)).cloned().collect();
    let mut schemas = vec![Value::String(core_urn.to_owned())];
    schemas.extend(extensions.into_iter().map(Value::String));
    m.insert("schemas".into(), Value::Array(schemas));
    desired
}

/// `replace active false`: what a deactivation comes to when nothing else
/// of the write can be sent.
pub(super) fn deactivation() -> PatchOp {
    let active = Path::from(AttrPath::new(None, "active", None));
    PatchOp { operations: vec![PatchOperation::new(OpKind::Replace, active, Some(Value::Bool(false)))] }
}

fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// Copies into `desired` every attribute of `current` that the IdP does not
/// manage and did not send (or sent empty); returns how many.
pub(super) fn keep_unmanaged(current: &Value, desired: &mut Value, managed: &ManagedSet) -> u64 {
    let (Some(cur), Some(des)) = (current.as_object(), desired.as_object_mut()) else { return 0 };
    let mut kept = 0;
    for (key, value) in cur.iter().skip(nothing_kept_before(cur, des, managed)) {
        if passed_over(key, value) {
            continue;
        }
        if let (true, Some(ext)) = (is_urn(key), value.as_object()) {
            kept += keep_extension(key, ext, des, managed);
        } else if keeps(key, get_ci(des, key), managed) {
            remove_ci(des, key);
            des.insert(key.clone(), value.clone());
            kept += 1;
        }
    }
    kept
}

/// How many of the current resource's first keys keep nothing, none of
/// them an extension object to merge: asked before the desired document
/// changes, with its keys looked up in order (both sides usually list
/// them alike).
fn nothing_kept_before(cur: &Map<String, Value>, des: &Map<String, Value>, managed: &ManagedSet) -> usize {
    let mut sent = InOrder::new(des);
    let first = cur.iter().position(|(key, value)| {
        !passed_over(key, value) && ((is_urn(key) && value.is_object()) || keeps(key, sent.get_ci(key), managed))
    });
    first.unwrap_or(cur.len())
}

/// A current attribute the server owns, or an empty one: never kept.
fn passed_over(key: &str, value: &Value) -> bool {
    SERVER_OWNED.iter().any(|s| s.eq_ignore_ascii_case(key)) || is_empty(value)
}

/// Whether a current top-level attribute is kept, the IdP having `sent`
/// this under its name. (What the IdP sent is never kept from the backend:
/// that is asked first, as it is the cheaper question.)
fn keeps(key: &str, sent: Option<&Value>, managed: &ManagedSet) -> bool {
    sent.is_none_or(is_empty) && !managed.contains(None, key)
}

fn keep_extension(urn: &str, ext: &Map<String, Value>, des: &mut Map<String, Value>, managed: &ManagedSet) -> u64 {
    let mut kept = 0;
    for (name, value) in ext {
        let sent = get_ci(des, urn).and_then(Value::as_object).and_then(|m| get_ci(m, name));
        if is_empty(value) || sent.is_some_and(|v| !is_empty(v)) || managed.contains(Some(urn), name) {
            continue;
        }
        let key = des.keys().find(|k| k.eq_ignore_ascii_case(urn)).cloned().unwrap_or_else(|| urn.to_owned());
        let slot = des.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = slot.as_object_mut() {
            remove_ci(m, name);
            m.insert(name.clone(), value.clone());
            kept += 1;
        }
    }
    if kept > 0 {
        add_schema(des, urn);
    }
    kept
}

fn remove_ci(m: &mut Map<String, Value>, key: &str) {
    m.retain(|k, _| !k.eq_ignore_ascii_case(key));
}

fn add_schema(des: &mut Map<String, Value>, urn: &str) {
    if let Some(Value::Array(schemas)) = des.get_mut("schemas")
        && !schemas.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        schemas.push(Value::String(urn.to_owned()));
    }
}

/// The identity of a member: its `value`.
fn member_key(v: &Value) -> Option<&str> {
    v.as_object().and_then(|m| get_ci(m, "value")).and_then(Value::as_str)
}

fn members(v: &Value) -> Vec<Value> {
    members_of(v).cloned().unwrap_or_default()
}

/// The list `v` holds under `members` (in any case), if any.
fn members_of(v: &Value) -> Option<&Vec<Value>> {
    named_members(v).and_then(Value::as_array)
}

/// What `v` holds under `members` (in any case), list or not.
fn named_members(v: &Value) -> Option<&Value> {
    v.as_object().and_then(|m| get_ci(m, "members"))
}

/// Members of `desired` that `current` already has take the backend's
/// form (so a changed `display` is no remove-and-add), each current
/// member standing for one desired member at most (a list that names a
/// member twice keeps both of its entries); returns the current members
/// that `desired` leaves out.
pub(super) fn settle_members(current: &Value, desired: &mut Value) -> Vec<Value> {
    // Neither side names members (a User): nothing to settle.
    if named_members(desired).is_none() && members_of(current).is_none() {
        return vec![];
    }
    let cur = members(current);
    let mut wanted = members(desired);
    let Some(des) = desired.as_object_mut() else { return vec![] };
    let mut taken = vec![false; cur.len()];
    for w in &mut wanted {
        let free = |i: usize| taken.get(i) == Some(&false);
        let same = |(i, c): &(usize, &Value)| free(*i) && member_key(c).is_some() && member_key(c) == member_key(w);
        if let Some((i, c)) = cur.iter().enumerate().find(same) {
            if let Some(t) = taken.get_mut(i) {
                *t = true;
            }
            w.clone_from(c);
        }
    }
    let removed = cur.iter().filter(|c| !wanted.iter().any(|w| member_key(w) == member_key(c))).cloned().collect();
    if !wanted.is_empty() || get_ci(des, "members").is_some() {
        remove_ci(des, "members");
        des.insert("members".into(), Value::Array(wanted));
    }
    removed
}

/// Puts back the members the IdP's list leaves out that no IdP
/// provisioned; returns how many.
async fn keep_members(x: &Exchange<'_>, current: &Value, desired: &mut Value) -> Result<u64, GatewayError> {
    let removed = settle_members(current, desired);
    if removed.is_empty() || x.route.member_removal == MemberRemoval::Any {
        return Ok(0);
    }
    if removed.len() > MAX_MEMBER_LOOKUPS {
        let detail = format!(
            "the update removes {} members, more than the {MAX_MEMBER_LOOKUPS} one write may check; remove them in smaller steps",
            removed.len()
        );
        return Err(ScimError::too_many(detail).into());
    }
    let mut keep = Vec::new();
    for member in removed {
        if !provisioned(x, &member).await? {
            keep.push(member);
        }
    }
    let kept = u64::try_from(keep.len()).unwrap_or(u64::MAX);
    if let Some(m) = desired.as_object_mut().filter(|_| kept > 0)
        && let Value::Array(list) = m.entry("members").or_insert_with(|| Value::Array(vec![]))
    {
        list.extend(keep);
    }
    Ok(kept)
}

/// Whether the backend knows the member as provisioned by an IdP (it has
/// an `externalId`), or no longer knows it at all. A member of unknown
/// kind that is no user may be a nested group.
async fn provisioned(x: &Exchange<'_>, member: &Value) -> Result<bool, GatewayError> {
    let Some(id) = member_key(member).filter(|id| paths::plain_id(id)) else { return Ok(false) };
    let field = |k: &str| member.as_object().and_then(|m| get_ci(m, k)).and_then(Value::as_str).unwrap_or("");
    let (kind, r) = (field("type"), field("$ref"));
    let kinds: &[&str] = match (
        kind.eq_ignore_ascii_case("Group") || r.contains("/Groups/"),
        kind.eq_ignore_ascii_case("User") || r.contains("/Users/"),
    ) {
        (true, _) => &["Groups"],
        (false, true) => &["Users"],
        (false, false) => &["Users", "Groups"],
    };
    for k in kinds {
        if let Some(answer) = provisioned_at(x, &format!("/{k}/{id}")).await? {
            return Ok(answer);
        }
    }
    Ok(true)
}

/// `Some(has an externalId)`, or `None` when there is nothing at `path`.
async fn provisioned_at(x: &Exchange<'_>, path: &str) -> Result<Option<bool>, GatewayError> {
    let reply = x.read(path, None, Purpose::Lookup).await?;
    match reply.status {
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::OK => {
            let doc: Value = crate::json::from_bytes(&reply.body)
                .map_err(|_| GatewayError::BadUpstreamReply("a group member's resource is not JSON".into()))?;
            let ext = doc.as_object().and_then(|m| get_ci(m, "externalId")).and_then(Value::as_str);
            Ok(Some(ext.is_some_and(|e| !e.trim().is_empty())))
        }
        s => Err(GatewayError::BadUpstreamReply(format!("looking up a group member gave {s}"))),
    }
}

#[cfg(test)]
mod tests;
