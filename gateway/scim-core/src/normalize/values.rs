//! Value-level fixes shared by the resource and PATCH normalizers.

use super::{Normalization, Report};
use crate::path::{find_key, get_ci};
use crate::schema::{AttrType, Attribute};
use serde_json::{Map, Value};

/// `"True"` / `"false"` (any case) as a boolean.
pub(super) fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Turns string booleans into booleans wherever `def` (and its
/// sub-attributes) say boolean.
pub(super) fn fix_booleans(value: &mut Value, def: &Attribute, report: &mut Report) {
    // Most attributes hold no boolean at any depth: nothing to look at.
    if !holds_boolean(def) {
        return;
    }
    match value {
        Value::String(_) if def.ty == AttrType::Boolean => {
            if let Some(b) = value.as_str().and_then(parse_bool) {
                *value = Value::Bool(b);
                report.add(Normalization::StringBoolean);
            }
        }
        Value::Array(items) if def.multi_valued => items.iter_mut().for_each(|i| fix_booleans_one(i, def, report)),
        other => fix_booleans_one(other, def, report),
    }
}

/// Whether `def` or one of its sub-attributes is a boolean.
fn holds_boolean(def: &Attribute) -> bool {
    def.ty == AttrType::Boolean || def.sub_attributes.iter().any(holds_boolean)
}

fn fix_booleans_one(value: &mut Value, def: &Attribute, report: &mut Report) {
    match value {
        // Sub-attribute names are unique in any case (schemas are refused
        // otherwise), so each key has at most one sub-attribute: looking
        // from the few that hold a boolean finds the same pairs.
        Value::Object(m) if def.ty == AttrType::Complex => {
            for sub in def.sub_attributes.iter().filter(|s| holds_boolean(s)) {
                for (_, v) in m.iter_mut().filter(|(k, _)| k.eq_ignore_ascii_case(&sub.name)) {
                    fix_booleans(v, sub, report);
                }
            }
        }
        Value::String(_) if def.ty == AttrType::Boolean => fix_booleans(value, def, report),
        _ => {}
    }
}

/// Drops `"$ref": null` from objects in `value` (one level of nesting: the
/// values of a multi-valued or complex attribute).
pub(super) fn drop_null_refs(value: &mut Value, report: &mut Report) {
    let mut fix = |m: &mut Map<String, Value>| {
        if let Some(k) = find_key(m, "$ref").filter(|k| m.get(k).is_some_and(Value::is_null)) {
            m.shift_remove(&k);
            report.add(Normalization::NullRef);
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut fix),
        Value::Object(m) => fix(m),
        _ => {}
    }
}

/// Drops null members of a complex value (and of each value of a
/// multi-valued one). Returns true when nothing is left.
pub(super) fn drop_nested_nulls(value: &mut Value, report: &mut Report) {
    let mut fix = |m: &mut Map<String, Value>| {
        let before = m.len();
        m.retain(|_, v| !v.is_null());
        for _ in m.len()..before {
            report.add(Normalization::NullValue);
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().filter_map(Value::as_object_mut).for_each(&mut fix),
        Value::Object(m) => fix(m),
        _ => {}
    }
}

/// The canonical enterprise `manager` value for what IdPs send: a plain id
/// string, an object with `value`, or a one-element array of such objects.
/// `None` when it names no manager (empty string, empty array, no value).
pub(super) fn manager_value(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(Value::Object(Map::from_iter([("value".to_owned(), Value::String(s.clone()))]))),
        Value::Array(items) => items.first().and_then(manager_value),
        Value::Object(m) => {
            let id = get_ci(m, "value").filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))?;
            let mut out = Map::from_iter([("value".to_owned(), id.clone())]);
            if let Some(r) = get_ci(m, "$ref").filter(|r| r.is_string()) {
                out.insert("$ref".into(), r.clone());
            }
            Some(Value::Object(out))
        }
        _ => None,
    }
}

/// Whether a manager value is already canonical (an object with a value and
/// no extra shape to fix).
pub(super) fn manager_is_canonical(v: &Value) -> bool {
    manager_value(v).as_ref() == Some(v)
}

/// Decodes Entra ID's JSON-encoded role: either the whole value is a JSON
/// object in a string, or an object's `value` is. The role object's `value`,
/// `displayName` (as `display`), `type` and `primary` are kept.
pub(super) fn decode_role(item: &Value) -> Option<Value> {
    let encoded = match item {
        Value::String(s) => s,
        Value::Object(m) => get_ci(m, "value").and_then(Value::as_str)?,
        _ => return None,
    };
    let Ok(Value::Object(role)) = serde_json::from_str::<Value>(encoded.trim()) else { return None };
    let mut out = Map::new();
    let pick = |k: &str| get_ci(&role, k).cloned();
    out.insert("value".into(), pick("value").or_else(|| pick("id")).unwrap_or(Value::Null));
    if let Some(d) = pick("display").or_else(|| pick("displayName")) {
        out.insert("display".into(), d);
    }
    for k in ["type", "primary"] {
        let outer = item.as_object().and_then(|m| find_key(m, k).and_then(|key| m.get(&key)).cloned());
        if let Some(v) = pick(k).or(outer) {
            out.insert(k.into(), v);
        }
    }
    Some(Value::Object(out))
}

/// Decodes every JSON-encoded role in a `roles` value.
pub(super) fn decode_roles(value: &mut Value, report: &mut Report) {
    let mut fix = |item: &mut Value| {
        if let Some(decoded) = decode_role(item) {
            *item = decoded;
            report.add(Normalization::JsonEncodedRole);
        }
    };
    match value {
        Value::Array(items) => items.iter_mut().for_each(&mut fix),
        other => fix(other),
    }
}
