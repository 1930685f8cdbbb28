//! Schema checks of the PATCH applier: value types (`invalidValue`) and
//! mutability (`mutability`), in one place.

use crate::error::ScimError;
use crate::path::Path;
use crate::path::find_key;
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use serde_json::Value;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Whether a single (non-array) value fits the attribute's type.
pub(super) fn fits(ty: AttrType, v: &Value) -> bool {
    match ty {
        _ if v.is_null() => true,
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => v.is_string(),
        AttrType::Boolean => v.is_boolean(),
        AttrType::Integer => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        AttrType::Decimal => v.is_number(),
        AttrType::Complex => v.is_object(),
    }
}

pub(super) fn type_error(what: &str, ty: AttrType, v: &Value) -> ScimError {
    let want = format!("{ty:?}").to_lowercase();
    ScimError::invalid_value(format!("\"{what}\" must be of type {want}, not {}", type_name(v)))
}

/// One value of `def` (an element, for a multi-valued attribute) and, for a
/// complex one, each sub-attribute it carries.
pub(super) fn check_single(what: &str, def: &Attribute, v: &Value) -> Result<(), ScimError> {
    if !fits(def.ty, v) {
        return Err(type_error(what, def.ty, v));
    }
    for (k, sv) in v.as_object().into_iter().flatten().filter(|_| def.ty == AttrType::Complex) {
        if let Some(sub) = def.sub_attribute(k)
            && !fits(sub.ty, sv)
        {
            return Err(type_error(&format!("{what}.{}", sub.name), sub.ty, sv));
        }
    }
    Ok(())
}

/// The value written at `path` must fit the schema (RFC 7644 section 3.12:
/// `invalidValue`).
pub(super) fn check_type(path: &Path, def: &Attribute, value: &Value) -> Result<(), ScimError> {
    let what = path.attr_path().to_string();
    match (&path.sub, &path.filter) {
        (Some(sub), _) => match def.sub_attribute(sub) {
            Some(sd) if !fits(sd.ty, value) => Err(type_error(&what, sd.ty, value)),
            _ => Ok(()),
        },
        (None, Some(_)) => check_single(&what, def, value),
        (None, None) => match value {
            Value::Array(items) if def.multi_valued => items.iter().try_for_each(|v| check_single(&what, def, v)),
            Value::Array(_) => Err(ScimError::invalid_value(format!("\"{what}\" is single-valued, not an array"))),
            v => check_single(&what, def, v),
        },
    }
}

/// Read-only and immutable sub-attributes may not change inside a value
/// that is written whole or merged.
pub(super) fn check_element(old: Option<&Value>, new: &Value, def: &Attribute, path: &Path) -> Result<(), ScimError> {
    let get = |v: Option<&Value>, k: &str| {
        v.and_then(Value::as_object).and_then(|m| find_key(m, k).and_then(|k| m.get(&k).cloned()))
    };
    for sub in &def.sub_attributes {
        let (was, now) = (get(old, &sub.name), get(Some(new), &sub.name));
        let changed = now.is_some() && now != was;
        let bad = match sub.mutability {
            Mutability::ReadOnly => changed,
            Mutability::Immutable => changed && was.is_some(),
            _ => false,
        };
        if bad {
            let m = format!("{:?}", sub.mutability);
            return Err(ScimError::mutability(format!(
                "\"{}.{}\" is {}{}",
                path.name,
                sub.name,
                m.get(..1).unwrap_or("").to_lowercase(),
                m.get(1..).unwrap_or("")
            )));
        }
    }
    Ok(())
}

pub(super) fn target_mutability(path: &Path, def: &Attribute) -> Mutability {
    match path.sub.as_deref().and_then(|s| def.sub_attribute(s)) {
        Some(sub) if def.mutability == Mutability::ReadWrite => sub.mutability,
        _ => def.mutability,
    }
}

pub(super) fn check_write(
    res: &Value,
    path: &Path,
    def: Option<&Attribute>,
    value: &Value,
    schema: &ResourceSchema<'_>,
) -> Result<(), ScimError> {
    let Some(def) = def else { return Ok(()) };
    let current = path.get(res, Some(schema));
    match target_mutability(path, def) {
        Mutability::ReadOnly if current.first().copied() != Some(value) => {
            Err(ScimError::mutability(format!("\"{}\" is readOnly", path.attr_path())))
        }
        Mutability::Immutable if !current.is_empty() && current.first().copied() != Some(value) => {
            Err(ScimError::mutability(format!("\"{}\" is immutable and already has a value", path.attr_path())))
        }
        _ => Ok(()),
    }
}

pub(super) fn check_remove(path: &Path, def: Option<&Attribute>) -> Result<(), ScimError> {
    let Some(def) = def else { return Ok(()) };
    let whole = path.filter.is_none() && path.sub.is_none();
    match target_mutability(path, def) {
        Mutability::ReadOnly => Err(ScimError::mutability(format!("\"{}\" is readOnly", path.attr_path()))),
        Mutability::Immutable if path.sub.is_some() => {
            Err(ScimError::mutability(format!("\"{}\" is immutable", path.attr_path())))
        }
        _ if whole && def.required => Err(ScimError::mutability(format!("\"{}\" is required", path.attr_path()))),
        _ => Ok(()),
    }
}
