//! Sorting a PATCH's operations: pass through, drop, strip, and which
//! rules they affect.

use super::Ctx;
use crate::error::MapError;
use crate::paths::{AttrKey, path_key};
use crate::program::{Action, Rule, RuleList, Source};
use crate::report::Report;
use scim_core::filter::Filter;
use scim_core::patch::{OpKind, PatchOp, PatchOperation, expand_key};
use scim_core::path::Path;
use serde_json::{Map, Value};

/// Whether `inner` names the same place as `outer` or a part of it.
pub(crate) fn covers(outer: &Path, inner: &Path, core: &str) -> bool {
    let (o, i) = (path_key(outer, core), path_key(inner, core));
    if i == o {
        return true;
    }
    let rest = i.strip_prefix(o.as_str());
    rest.is_some_and(|r| r.starts_with('.') || (outer.filter.is_none() && outer.sub.is_none() && r.starts_with('[')))
}

/// The attributes a rule reads; `None` when it reads anything (a JSONPath
/// that does not start at an attribute).
pub(crate) fn read_keys(rule: &Rule, core: &str) -> Option<Vec<AttrKey>> {
    let mut keys = Vec::new();
    if let Some(c) = &rule.condition {
        filter_keys(c, core, &mut keys);
    }
    match &rule.action {
        Action::Set { sources, .. } => {
            for s in sources {
                source_keys(s, core, &mut keys)?;
            }
        }
        Action::Rename { from, .. } => keys.push(AttrKey::of_path(from, core)),
        Action::Remove { .. } | Action::Each { .. } => {}
    }
    Some(keys)
}

fn source_keys(source: &Source, core: &str, keys: &mut Vec<AttrKey>) -> Option<()> {
    match source {
        Source::Path(p) | Source::Ref { path: p, .. } => keys.push(AttrKey::of_path(p, core)),
        Source::JsonPath { top, .. } => keys.push(AttrKey::top(top.as_deref()?)),
        Source::Template(t) => {
            for f in &t.fields {
                source_keys(f, core, keys)?;
            }
        }
        Source::Const(_) => {}
    }
    Some(())
}

pub(crate) fn filter_keys(filter: &Filter, core: &str, keys: &mut Vec<AttrKey>) {
    let mut f = filter.clone();
    f.visit_paths_mut(&mut |p, _| keys.push(AttrKey::of(&p.top(), core)));
}

/// Whether an operation on `path` concerns a rule at all.
fn touches_any(ctx: &Ctx<'_>, path: &Path) -> bool {
    let key = AttrKey::of_path(path, ctx.core);
    ctx.list.rules.iter().any(|rule| {
        let written = match &rule.action {
            Action::Set { target, .. } => vec![target],
            Action::Remove { path } => vec![path],
            Action::Rename { from, to } => vec![from, to],
            Action::Each { path, .. } => vec![path],
        };
        written.iter().any(|w| AttrKey::of_path(w, ctx.core).overlaps(&key))
            || read_keys(rule, ctx.core).is_none_or(|ks| ks.iter().any(|k| k.overlaps(&key)))
    })
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
    let mut dropped = false;
    for (i, rule) in ctx.list.rules.iter().enumerate() {
        if let Action::Each { path: each, transforms } = &rule.action {
            if let Err(e) = crate::each::transform_op(&mut op, each, transforms, ctx.schema, ctx.core) {
                crate::apply::fail(report, rule, e, deprovision)?;
            }
            continue;
        }
        if read_keys(rule, ctx.core).is_none_or(|ks| ks.iter().any(|k| k.overlaps(&key))) {
            mark(affected, i);
        }
        for owned in owned_paths(rule) {
            if covers(owned, path, ctx.core) {
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
    let emptied =
        op.op != OpKind::Remove && op.value.as_ref().is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
    if !dropped && !emptied {
        out.push(op);
    }
    Ok(())
}

/// Paths an IdP operation must not write because a rule owns them.
fn owned_paths(rule: &Rule) -> Vec<&Path> {
    match &rule.action {
        Action::Set { target, .. } => vec![target],
        Action::Remove { path } => vec![path],
        Action::Rename { from, to } => vec![from, to],
        Action::Each { .. } => vec![],
    }
}

fn mark(affected: &mut [bool], i: usize) {
    if let Some(a) = affected.get_mut(i) {
        *a = true;
    }
}

/// Takes the part `inner` names out of an operation on its ancestor `outer`
/// (`name.formatted` out of a replace of `name`).
fn strip(op: &mut PatchOperation, outer: &Path, inner: &Path, ctx: &Ctx<'_>) {
    let Some(sub) = &inner.sub else { return };
    if outer.sub.is_some() {
        return;
    }
    let attr = ctx.schema.top_attribute(inner.urn.as_deref(), &inner.name);
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
    let deps: Vec<Vec<usize>> = list.rules.iter().map(crate::compile::deps).collect();
    let is = |affected: &[bool], i: usize| affected.get(i).copied().unwrap_or(false);
    loop {
        let mut changed = false;
        for (i, d) in deps.iter().enumerate() {
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

/// Whether the operations set `active` to false.
pub(super) fn deactivates(ops: &[PatchOperation]) -> bool {
    let is_false =
        |v: &Value| matches!(v, Value::Bool(false)) || v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("false"));
    ops.iter().any(|op| match (&op.path, &op.value) {
        (Some(p), Some(v)) => p.name.eq_ignore_ascii_case("active") && p.sub.is_none() && is_false(v),
        (None, Some(Value::Object(m))) => scim_core::path::get_ci(m, "active").is_some_and(is_false),
        _ => false,
    })
}
