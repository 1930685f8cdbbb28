//! Sorting a PATCH's operations: pass through, drop, strip, and which
//! rules they affect.

use super::Ctx;
use crate::error::MapError;
use crate::paths::AttrKey;
use crate::program::{Action, RuleList};
use crate::report::Report;
use scim_core::Intent;
use scim_core::patch::{OpKind, PatchOp, PatchOperation, expand_key};
use scim_core::path::Path;
use serde_json::{Map, Value};

/// Whether `inner` names the same place as `outer` or a part of it:
/// the same attribute, where `outer` has no filter or the same filter, and
/// no sub-attribute or the same one.
pub(crate) fn covers(outer: &Path, inner: &Path, core: &str) -> bool {
    if AttrKey::of(&outer.attr_path().top(), core) != AttrKey::of(&inner.attr_path().top(), core) {
        return false;
    }
    let same_filter = match (&outer.filter, &inner.filter) {
        (None, _) => true,
        (Some(a), Some(b)) => a.to_string().eq_ignore_ascii_case(&b.to_string()),
        (Some(_), None) => false,
    };
    let same_sub = match (&outer.sub, &inner.sub) {
        (None, _) => true,
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        (Some(_), None) => false,
    };
    same_filter && same_sub
}

/// Whether an operation on `path` concerns a rule at all.
fn touches_any(ctx: &Ctx<'_>, path: &Path) -> bool {
    let key = AttrKey::of_path(path, ctx.core);
    ctx.list
        .rules
        .iter()
        .any(|rule| rule.written().iter().any(|w| AttrKey::of_path(w, ctx.core).overlaps(&key)) || rule.reads(&key))
}

/// Splits path-less operations into per-attribute operations where rules
/// are concerned; the attributes no rule touches stay in one path-less op.
pub(super) fn expand(ctx: &Ctx<'_>, patch: &PatchOp) -> Result<Vec<PatchOperation>, MapError> {
    let mut out = Vec::with_capacity(patch.operations.len());
    for op in &patch.operations {
        let (None, Some(Value::Object(fields))) = (&op.path, &op.value) else {
            out.push(op.clone());
            continue;
        };
        let mut residual = Map::new();
        let mut split = Vec::new();
        for (key, value) in fields {
            let parts = expand_key(ctx.schema, key, value).map_err(MapError::Invalid)?;
            if parts.iter().any(|(p, _)| touches_any(ctx, p)) {
                split.extend(parts.into_iter().map(|(p, v)| PatchOperation::new(op.op, p, Some(v))));
            } else {
                residual.insert(key.clone(), value.clone());
            }
        }
        if !residual.is_empty() {
            out.push(PatchOperation { op: op.op, path: None, value: Some(Value::Object(residual)) });
        }
        out.extend(split);
    }
    Ok(out)
}

/// Decides one operation's fate and marks the rules it affects.
pub(super) fn classify(
    ctx: &Ctx<'_>,
    op: &PatchOperation,
    affected: &mut [bool],
    out: &mut Vec<PatchOperation>,
    report: &mut Report,
    deprovision: bool,
) -> Result<(), MapError> {
    let Some(path) = &op.path else {
        out.push(op.clone());
        return Ok(());
    };
    let key = AttrKey::of_path(path, ctx.core);
    let mut op = op.clone();
    let was_empty = op.value.as_ref().is_some_and(is_empty_container);
    let mut dropped = false;
    for (i, rule) in ctx.list.rules.iter().enumerate() {
        if let Action::Each { path: each, transforms } = &rule.action {
            if let Err(e) = crate::each::transform_op(&mut op, each, transforms, ctx.schema, ctx.core) {
                crate::apply::fail(report, rule, e, deprovision)?;
            }
            continue;
        }
        if rule.reads(&key) {
            mark(affected, i);
        }
        // A conditional rule may not apply: the IdP's operation goes on and
        // the rule's output, when it applies, follows it. A deactivation is
        // never dropped.
        let may_drop = rule.condition.is_none() && !is_deactivation(&op);
        for owned in rule.written() {
            if covers(owned, path, ctx.core) && may_drop {
                dropped = true;
                mark(affected, i);
                report.dropped.push(format!("{} {path}: owned by rule {}", op.op.as_str(), rule.label));
            } else if covers(path, owned, ctx.core) {
                mark(affected, i);
                strip(&mut op, path, owned, ctx);
            } else if AttrKey::of_path(owned, ctx.core).overlaps(&key) {
                mark(affected, i);
            }
        }
    }
    // Stripping took everything the operation carried.
    let emptied = op.op != OpKind::Remove && !was_empty && op.value.as_ref().is_some_and(is_empty_container);
    if !dropped && !emptied {
        out.push(op);
    }
    Ok(())
}

fn mark(affected: &mut [bool], i: usize) {
    if let Some(a) = affected.get_mut(i) {
        *a = true;
    }
}

/// Takes the part `inner` names out of an operation on its ancestor `outer`
/// (`name.formatted` out of a replace of `name`).
fn strip(op: &mut PatchOperation, outer: &Path, inner: &Path, ctx: &Ctx<'_>) {
    if outer.sub.is_some() {
        return;
    }
    let attr = ctx.schema.top_attribute(inner.urn.as_deref(), &inner.name);
    let Some(sub) = &inner.sub else {
        // A filtered element (`addresses[type eq "home"]`): take the
        // matching elements out of a list value.
        if let (Some(f), Some(Value::Array(items))) = (&inner.filter, op.value.as_mut()) {
            items.retain(|e| !f.matches_element(e, attr));
        }
        return;
    };
    match op.value.as_mut() {
        Some(Value::Object(fields)) => remove_ci(fields, sub),
        Some(Value::Array(items)) => {
            for item in items.iter_mut() {
                let selected = inner.filter.as_ref().is_none_or(|f| f.matches_element(item, attr));
                if let (true, Some(fields)) = (selected, item.as_object_mut()) {
                    remove_ci(fields, sub);
                }
            }
        }
        _ => {}
    }
}

fn remove_ci(fields: &mut Map<String, Value>, name: &str) {
    fields.retain(|k, _| !k.eq_ignore_ascii_case(name));
}

/// Rules that read an affected rule's output, and the rules an affected
/// rule reads, are affected too.
pub(super) fn close_over_refs(list: &RuleList, affected: &mut [bool]) {
    let is = |affected: &[bool], i: usize| affected.get(i).copied().unwrap_or(false);
    loop {
        let mut changed = false;
        for (i, d) in list.deps.iter().enumerate() {
            for &j in d {
                if is(affected, i) != is(affected, j) {
                    mark(affected, i);
                    mark(affected, j);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    v.as_object().is_some_and(Map::is_empty) || v.as_array().is_some_and(Vec::is_empty)
}

/// Whether this one operation deactivates (the rule of [`Intent`]).
fn is_deactivation(op: &PatchOperation) -> bool {
    Intent::of_operation(op).is_deprovision()
}
