//! Writes in AWS IAM Identity Center's terms. Attribute names arrive in the
//! schema's spelling (normalization), so keys compare exactly.

use crate::error::GatewayError;
use scim_core::patch::{OpKind, PatchOp, PatchOperation};
use scim_core::path::Path;
use scim_core::{Intent, ScimError};
use serde_json::{Map, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// User attributes AWS refuses.
const UNSUPPORTED: [&str; 6] = ["password", "ims", "photos", "x509Certificates", "entitlements", "groups"];
/// Multi-valued attributes of which AWS keeps one value.
const SINGLE: [&str; 3] = ["emails", "phoneNumbers", "addresses"];
/// What a group PATCH may touch.
const GROUP_ATTRIBUTES: [&str; 3] = ["displayName", "members", "externalId"];

/// A POST or PUT body: unsupported attributes out, one value of each
/// single-valued list, and every required attribute present unless the
/// write deprovisions (a deactivation is never refused here).
pub(super) fn resource(mut body: Value, intent: Intent) -> Result<Value, GatewayError> {
    let Some(map) = body.as_object_mut() else { return Ok(body) };
    trim(map);
    if !intent.is_deprovision() {
        required(map)?;
    }
    Ok(body)
}

fn trim(map: &mut Map<String, Value>) {
    map.retain(|k, _| !UNSUPPORTED.contains(&k.as_str()));
    for (key, value) in map.iter_mut() {
        if SINGLE.contains(&key.as_str()) {
            *value = one_value(value.take());
        }
        drop_display(value);
    }
    if let Some(manager) = map.get_mut(ENTERPRISE).and_then(|e| e.get_mut("manager")).and_then(Value::as_object_mut) {
        manager.remove("displayName");
    }
}

/// The primary value of a list, else the first.
fn one_value(value: Value) -> Value {
    let Value::Array(items) = value else { return value };
    let primary = items.iter().position(|i| i.get("primary") == Some(&Value::Bool(true))).unwrap_or(0);
    Value::Array(items.into_iter().nth(primary).into_iter().collect())
}

/// `display` sub-attributes of complex values, which AWS refuses.
fn drop_display(value: &mut Value) {
    let items: Vec<&mut Map<String, Value>> = match value {
        Value::Array(a) => a.iter_mut().filter_map(Value::as_object_mut).collect(),
        Value::Object(m) => vec![m],
        _ => vec![],
    };
    for m in items {
        m.remove("display");
    }
}

/// AWS refuses a user without these with "Request is unparsable": the IdP
/// is told which one is missing instead.
fn required(map: &Map<String, Value>) -> Result<(), GatewayError> {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).is_some_and(|s| !s.trim().is_empty());
    let name = map.get("name");
    let missing = [
        ("userName", text(map.get("userName"))),
        ("displayName", text(map.get("displayName"))),
        ("name.givenName", text(name.and_then(|n| n.get("givenName")))),
        ("name.familyName", text(name.and_then(|n| n.get("familyName")))),
    ];
    let absent: Vec<&str> = missing.iter().filter(|(_, ok)| !ok).map(|(n, _)| *n).collect();
    if absent.is_empty() {
        return Ok(());
    }
    let detail = format!(
        "AWS IAM Identity Center requires {} on every user; this one has no {} (send it from the IdP or set it with a mapping rule)",
        "userName, displayName, name.givenName and name.familyName",
        absent.join(", ")
    );
    Err(ScimError::invalid_value(detail).into())
}

/// A user PATCH: a path-less operation becomes one per attribute, an
/// unsupported attribute is left out, and only the last operation on
/// `active` and on `userName` stays (AWS takes one of each).
pub(super) fn patch(body: Value) -> Result<Value, GatewayError> {
    let ops = PatchOp::from_json(&body)?;
    let mut out: Vec<PatchOperation> = Vec::with_capacity(ops.operations.len());
    for op in ops.operations {
        out.extend(split_pathless(op).into_iter().filter(|o| !unsupported(o)).map(trim_value));
    }
    for name in ["active", "userName"] {
        keep_last(&mut out, name);
    }
    Ok(PatchOp { operations: out }.into_json())
}

fn top_name(op: &PatchOperation) -> Option<&str> {
    op.path.as_ref().filter(|p| p.urn.is_none()).map(|p| p.name.as_str())
}

fn unsupported(op: &PatchOperation) -> bool {
    top_name(op).is_some_and(|n| UNSUPPORTED.contains(&n))
}

fn trim_value(mut op: PatchOperation) -> PatchOperation {
    let single = top_name(&op).is_some_and(|n| SINGLE.contains(&n));
    let whole = op.path.as_ref().is_some_and(|p| p.filter.is_none() && p.sub.is_none());
    if let Some(v) = op.value.as_mut() {
        if single && whole {
            *v = one_value(v.take());
        }
        drop_display(v);
    }
    let manager = op.path.as_ref().is_some_and(|p| p.urn.as_deref() == Some(ENTERPRISE) && p.name == "manager");
    if let (true, Some(Value::Object(m))) = (manager, op.value.as_mut()) {
        m.remove("displayName");
    }
    op
}

/// `{"op":"replace","value":{"a":1,"b":2}}` as one operation per
/// attribute; an extension's object as one per attribute of it.
fn split_pathless(op: PatchOperation) -> Vec<PatchOperation> {
    let (None, Some(Value::Object(map))) = (&op.path, &op.value) else { return vec![op] };
    let mut out = Vec::with_capacity(map.len());
    for (key, value) in map {
        match (value, key.starts_with("urn:")) {
            (Value::Object(ext), true) => {
                for (name, v) in ext {
                    push_op(&mut out, op.op, &format!("{key}:{name}"), v.clone());
                }
            }
            _ => push_op(&mut out, op.op, key, value.clone()),
        }
    }
    out
}

fn push_op(out: &mut Vec<PatchOperation>, kind: OpKind, path: &str, value: Value) {
    if let Ok(p) = Path::parse(path) {
        out.push(PatchOperation::new(kind, p, Some(value)));
    }
}

/// Keeps only the last operation whose path is `name`.
fn keep_last(ops: &mut Vec<PatchOperation>, name: &str) {
    let Some(last) = ops.iter().rposition(|o| top_name(o) == Some(name)) else { return };
    let mut i = 0;
    ops.retain(|o| {
        let keep = top_name(o) != Some(name) || i == last;
        i += 1;
        keep
    });
}

/// A group PATCH: only `displayName`, `members` and `externalId` (AWS
/// refuses the whole request otherwise); the rest is left out.
pub(super) fn group_patch(body: Value) -> Result<Value, GatewayError> {
    let ops = PatchOp::from_json(&body)?;
    let kept = ops
        .operations
        .into_iter()
        .flat_map(split_pathless)
        .filter(|o| top_name(o).is_some_and(|n| GROUP_ATTRIBUTES.contains(&n)))
        .collect();
    Ok(PatchOp { operations: kept }.into_json())
}
