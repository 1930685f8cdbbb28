//! Applying a PatchOp to a resource with RFC 7644 section 3.5.2 semantics.
//! All or nothing: the operations run on a copy, which is returned only if
//! every one of them succeeded.

use super::{OpKind, PatchOp, PatchOperation};
use crate::error::ScimError;
use crate::path::{AttrPath, Path, find_key};
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use serde_json::{Map, Value};

/// Where the applier may be more forgiving than RFC 7644.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ApplyOptions {
    /// A `replace` whose value filter matches nothing adds a value instead of
    /// failing with `noTarget` (Entra ID uses add and replace interchangeably).
    pub replace_missing_adds: bool,
    /// Attributes the schema does not define fail with `invalidPath`.
    pub reject_unknown_attributes: bool,
}

/// Applies `patch` to `resource`; the input is never modified.
///
/// Beyond the RFC: a `remove` that names values (`"value": [{"value": id}]`)
/// removes only those values, never the whole attribute, and a `remove`
/// whose target is already gone succeeds, so that retries are idempotent.
pub fn apply(
    resource: &Value,
    patch: &PatchOp,
    schema: &ResourceSchema<'_>,
    opts: ApplyOptions,
) -> Result<Value, ScimError> {
    let mut out = resource.clone();
    for (i, op) in patch.operations.iter().enumerate() {
        Applier { schema, opts }
            .op(&mut out, op)
            .map_err(|e| ScimError::new(e.scim_type, format!("Operations[{i}]: {}", e.detail)))?;
    }
    Ok(out)
}

struct Applier<'a, 's> {
    schema: &'a ResourceSchema<'s>,
    opts: ApplyOptions,
}

impl Applier<'_, '_> {
    fn op(&self, res: &mut Value, op: &PatchOperation) -> Result<(), ScimError> {
        match (&op.path, op.op, &op.value) {
            (None, OpKind::Remove, _) => Err(ScimError::no_target("\"remove\" needs a path")),
            (None, kind, Some(Value::Object(attrs))) => self.pathless(res, kind, attrs),
            (None, _, _) => Err(ScimError::invalid_value("without a path, \"value\" must be an object of attributes")),
            (Some(path), OpKind::Remove, value) => self.remove(res, path, value.as_ref()),
            (Some(path), OpKind::Replace, None | Some(Value::Null)) => self.remove(res, path, None),
            (Some(_), OpKind::Add, None | Some(Value::Null)) => Err(ScimError::invalid_value("\"add\" needs a value")),
            (Some(path), kind, Some(value)) => self.write(res, kind, path, value),
        }
    }

    fn pathless(&self, res: &mut Value, kind: OpKind, attrs: &Map<String, Value>) -> Result<(), ScimError> {
        for (key, value) in attrs {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            for (path, value) in expand_key(self.schema, key, value)? {
                match (kind, value) {
                    (OpKind::Replace, Value::Null) => self.remove(res, &path, None)?,
                    (_, Value::Null) => {}
                    (_, v) => self.write(res, kind, &path, &v)?,
                }
            }
        }
        Ok(())
    }

    fn definition(&self, path: &Path) -> Result<Option<&Attribute>, ScimError> {
        let def = self.schema.top_attribute(path.urn.as_deref(), &path.name);
        if def.is_none() && self.opts.reject_unknown_attributes {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is not an attribute of {}",
                path.attr_path(),
                self.schema.name()
            )));
        }
        Ok(def)
    }

    fn write(&self, res: &mut Value, kind: OpKind, path: &Path, value: &Value) -> Result<(), ScimError> {
        let def = self.definition(path)?;
        check_write(res, path, def, value, self.schema)?;
        if let Some(filter) = &path.filter {
            let whole = Path { sub: None, ..path.clone() };
            let matched = whole.get(res, Some(self.schema)).len();
            if matched == 0 && kind == OpKind::Replace && !self.opts.replace_missing_adds {
                return Err(ScimError::no_target(format!("no value of \"{}\" matches [{filter}]", path.name)));
            }
            return match (&path.sub, value, kind, matched) {
                (None, Value::Object(fields), OpKind::Add, 1..) => self.merge(res, &whole, fields),
                _ => path.set(res, value.clone(), Some(self.schema)).map(drop),
            };
        }
        let existing_is_array = path.get(res, Some(self.schema)).first().is_some_and(|v| v.is_array());
        let multi = def.map_or(value.is_array() || existing_is_array, |d| d.multi_valued) && path.sub.is_none();
        let complex = def.map_or(value.is_object(), |d| d.ty == AttrType::Complex) && path.sub.is_none();
        match (multi, complex, value) {
            (true, _, _) => self.write_multi(res, kind, path, value, def),
            (false, true, Value::Object(fields)) => self.merge(res, path, fields),
            (false, true, _) => {
                Err(ScimError::invalid_value(format!("\"{}\" is complex: its value must be an object", path.name)))
            }
            (false, false, v) => path.set(res, v.clone(), Some(self.schema)).map(drop),
        }
    }

    /// Writes each field of `fields` as a sub-attribute of what `path` selects.
    fn merge(&self, res: &mut Value, path: &Path, fields: &Map<String, Value>) -> Result<(), ScimError> {
        for (sub, v) in fields {
            let sub_path = Path { sub: Some(sub.clone()), ..path.clone() };
            match v {
                Value::Null => {
                    sub_path.remove(res, Some(self.schema));
                }
                v => {
                    sub_path.set(res, v.clone(), Some(self.schema))?;
                }
            }
        }
        Ok(())
    }

    fn write_multi(
        &self,
        res: &mut Value,
        kind: OpKind,
        path: &Path,
        value: &Value,
        def: Option<&Attribute>,
    ) -> Result<(), ScimError> {
        let new_items = match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let mut items = match (kind, path.get(res, Some(self.schema)).first()) {
            (OpKind::Add, Some(Value::Array(existing))) => existing.clone(),
            _ => vec![],
        };
        for item in new_items {
            if !items.iter().any(|e| same_value(e, &item, def)) {
                items.push(item);
            }
        }
        keep_one_primary(&mut items);
        path.set(res, Value::Array(items), Some(self.schema)).map(drop)
    }

    fn remove(&self, res: &mut Value, path: &Path, value: Option<&Value>) -> Result<(), ScimError> {
        let def = self.definition(path)?;
        check_remove(path, def)?;
        match (value, &path.filter, &path.sub) {
            (Some(v @ (Value::Array(_) | Value::Object(_))), None, None) if def.is_none_or(|d| d.multi_valued) => {
                self.remove_values(res, path, v, def);
            }
            _ => drop(path.remove(res, Some(self.schema))),
        }
        Ok(())
    }

    /// `remove` with a value list: drops exactly those values.
    fn remove_values(&self, res: &mut Value, path: &Path, value: &Value, def: Option<&Attribute>) {
        let doomed: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let Some(Value::Array(existing)) = path.get(res, Some(self.schema)).first().map(|v| (*v).clone()) else {
            return;
        };
        let kept: Vec<Value> = existing.into_iter().filter(|e| !doomed.iter().any(|d| same_value(e, d, def))).collect();
        if kept.is_empty() {
            path.remove(res, Some(self.schema));
        } else if path.set(res, Value::Array(kept), Some(self.schema)).is_err() {
            // Unreachable: the slot held an array a moment ago.
        }
    }
}

/// Turns one key of a path-less value into paths: `name.givenName`,
/// `urn:...:User:department`, or an extension URN whose value holds that
/// extension's attributes.
pub(crate) fn expand_key(
    schema: &ResourceSchema<'_>,
    key: &str,
    value: &Value,
) -> Result<Vec<(Path, Value)>, ScimError> {
    let is_ext_object = schema.extension(key).is_some()
        || (looks_like_urn(key) && value.is_object() && !is_known_urn_attr(schema, key));
    if is_ext_object && !schema.is_core_urn(key) {
        let Value::Object(fields) = value else {
            return Err(ScimError::invalid_value(format!("\"{key}\" is an extension: its value must be an object")));
        };
        return Ok(fields.iter().map(|(k, v)| (Path::from(AttrPath::new(Some(key), k, None)), v.clone())).collect());
    }
    if schema.is_core_urn(key) {
        let Value::Object(fields) = value else {
            return Err(ScimError::invalid_value(format!("\"{key}\" is the core schema: its value must be an object")));
        };
        return Ok(fields.iter().map(|(k, v)| (Path::from(AttrPath::new(None, k, None)), v.clone())).collect());
    }
    Ok(vec![(Path::parse(key)?, value.clone())])
}

fn looks_like_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

fn is_known_urn_attr(schema: &ResourceSchema<'_>, key: &str) -> bool {
    AttrPath::parse(key).ok().is_some_and(|p| schema.attribute(&p).is_some())
}

/// Two values of a multi-valued attribute are the same when their `value`
/// (and `type`, when both have one) match; simple values when equal.
fn same_value(a: &Value, b: &Value, def: Option<&Attribute>) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let get = |m: &Map<String, Value>, k: &str| find_key(m, k).and_then(|k| m.get(&k).cloned());
            match (get(x, "value"), get(y, "value")) {
                (Some(vx), Some(vy)) => {
                    let exact = def.and_then(|d| d.sub_attribute("value")).is_some_and(Attribute::is_case_exact);
                    let types_differ = matches!((get(x, "type"), get(y, "type")), (Some(tx), Some(ty)) if tx != ty);
                    !types_differ && scalar_eq(&vx, &vy, exact || def.is_some_and(|d| d.name == "members"))
                }
                _ => a == b,
            }
        }
        (x, y) => scalar_eq(x, y, def.is_some_and(Attribute::is_case_exact)),
    }
}

fn scalar_eq(a: &Value, b: &Value, exact: bool) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) if !exact => x.to_lowercase() == y.to_lowercase(),
        _ => a == b,
    }
}

/// RFC 7643 section 2.4: at most one value may be primary; the last one
/// written wins.
fn keep_one_primary(items: &mut [Value]) {
    let is_primary = |v: &Value| {
        v.as_object().and_then(|m| find_key(m, "primary").and_then(|k| m.get(&k).cloned())) == Some(Value::Bool(true))
    };
    let Some(last) = items.iter().rposition(is_primary) else { return };
    for (i, item) in items.iter_mut().enumerate() {
        if i != last && is_primary(item) {
            if let Some(m) = item.as_object_mut() {
                if let Some(k) = find_key(m, "primary") {
                    m.insert(k, Value::Bool(false));
                }
            }
        }
    }
}

fn target_mutability(path: &Path, def: &Attribute) -> Mutability {
    match path.sub.as_deref().and_then(|s| def.sub_attribute(s)) {
        Some(sub) if def.mutability == Mutability::ReadWrite => sub.mutability,
        _ => def.mutability,
    }
}

fn check_write(
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

fn check_remove(path: &Path, def: Option<&Attribute>) -> Result<(), ScimError> {
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
