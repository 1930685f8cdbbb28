//! Applying a PatchOp to a resource with RFC 7644 section 3.5.2 semantics.
//! All or nothing: the operations run on a copy, which is returned only if
//! every one of them succeeded.

use super::{OpKind, PatchOp, PatchOperation};
use crate::error::ScimError;
use crate::filter::Filter;
use crate::path::{AttrPath, Path, TopKey, classify_key, find_key};
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};

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
        if let Some(def) = def {
            check_type(path, def, value)?;
        }
        check_write(res, path, def, value, self.schema)?;
        let whole = Path { filter: None, sub: None, ..path.clone() };
        let before = whole.get(res, Some(self.schema)).first().and_then(|v| v.as_array()).cloned();
        match &path.filter {
            Some(filter) => self.write_filtered(res, kind, path, filter, value, def)?,
            None => self.write_plain(res, kind, path, value, def)?,
        }
        self.enforce_primary(res, &whole, before.as_deref(), def);
        Ok(())
    }

    /// A value-filter path: the filter is evaluated once, then each matched
    /// value is updated; nothing matched means create (add) or `noTarget`.
    fn write_filtered(
        &self,
        res: &mut Value,
        kind: OpKind,
        path: &Path,
        filter: &Filter,
        value: &Value,
        def: Option<&Attribute>,
    ) -> Result<(), ScimError> {
        if def.is_some_and(|d| !d.multi_valued) {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is not multi-valued; it cannot take a filter",
                path.name
            )));
        }
        let whole = Path { filter: None, sub: None, ..path.clone() };
        let mut items = match whole.get(res, Some(self.schema)).first() {
            None => vec![],
            Some(Value::Array(items)) => items.clone(),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "\"{}\" is not multi-valued; it cannot take a filter",
                    path.name
                )));
            }
        };
        let matched: Vec<usize> =
            items.iter().enumerate().filter(|(_, e)| filter.matches_element(e, def)).map(|(i, _)| i).collect();
        if matched.is_empty() {
            if kind == OpKind::Replace && !self.opts.replace_missing_adds {
                return Err(ScimError::no_target(format!("no value of \"{}\" matches [{filter}]", path.name)));
            }
            return path.set(res, value.clone(), Some(self.schema)).map(drop);
        }
        for i in matched {
            let Some(old) = items.get(i).cloned() else { continue };
            let new = match (&path.sub, kind, value) {
                (Some(sub), _, v) => with_field(&old, &sub_name(def, sub), v.clone()),
                (None, OpKind::Add, Value::Object(fields)) => merged(&old, fields),
                (None, _, v) => v.clone(),
            };
            if let Some(def) = def {
                check_element(Some(&old), &new, def, path)?;
            }
            if let Some(slot) = items.get_mut(i) {
                *slot = new;
            }
        }
        whole.set(res, Value::Array(items), Some(self.schema)).map(drop)
    }

    fn write_plain(
        &self,
        res: &mut Value,
        kind: OpKind,
        path: &Path,
        value: &Value,
        def: Option<&Attribute>,
    ) -> Result<(), ScimError> {
        let current = path.get(res, Some(self.schema)).first().map(|v| (*v).clone());
        let multi = def.map_or(value.is_array() || current.as_ref().is_some_and(Value::is_array), |d| d.multi_valued);
        let complex = def.map_or(value.is_object(), |d| d.ty == AttrType::Complex);
        match (path.sub.is_none() && multi, path.sub.is_none() && complex, value) {
            (true, _, _) => self.write_multi(res, kind, path, value, def),
            (false, true, Value::Object(fields)) => {
                let old = current.filter(Value::is_object);
                let new = merged(old.as_ref().unwrap_or(&Value::Object(Map::new())), fields);
                if let Some(def) = def {
                    check_element(old.as_ref(), &new, def, path)?;
                }
                path.set(res, drop_nulls(new), Some(self.schema)).map(drop)
            }
            (false, true, _) => {
                Err(ScimError::invalid_value(format!("\"{}\" is complex: its value must be an object", path.name)))
            }
            (false, false, v) => path.set(res, v.clone(), Some(self.schema)).map(drop),
        }
    }

    /// add appends values that are not there yet and updates those that
    /// are (a value is identified by its `value`); replace sets exactly the
    /// given values.
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
        if kind == OpKind::Replace {
            return path.set(res, Value::Array(new_items), Some(self.schema)).map(drop);
        }
        let mut items = match path.get(res, Some(self.schema)).first() {
            Some(Value::Array(existing)) => existing.clone(),
            _ => vec![],
        };
        let mut index = ValueIndex::new(&items, def);
        for item in new_items {
            match index.find(&item) {
                Some(i) => {
                    let Some(old) = items.get(i).cloned() else { continue };
                    let new = match &item {
                        Value::Object(fields) => merged(&old, fields),
                        other => other.clone(),
                    };
                    if let Some(def) = def {
                        check_element(Some(&old), &new, def, path)?;
                    }
                    if let Some(slot) = items.get_mut(i) {
                        *slot = new;
                    }
                }
                None => {
                    index.insert(&item, items.len());
                    items.push(item);
                }
            }
        }
        path.set(res, Value::Array(items), Some(self.schema)).map(drop)
    }

    /// RFC 7643 section 2.4: at most one value is primary. When a write
    /// leaves several, the one it made primary wins.
    fn enforce_primary(&self, res: &mut Value, whole: &Path, before: Option<&[Value]>, def: Option<&Attribute>) {
        if def.is_some_and(|d| !d.multi_valued || d.sub_attribute("primary").is_none()) {
            return;
        }
        let Some(Value::Array(items)) = whole.get(res, Some(self.schema)).first().map(|v| (*v).clone()) else { return };
        let primaries: Vec<usize> = items.iter().enumerate().filter(|(_, v)| is_primary(v)).map(|(i, _)| i).collect();
        if primaries.len() < 2 {
            return;
        }
        let was_primary: HashSet<String> =
            before.unwrap_or_default().iter().filter(|v| is_primary(v)).map(|v| v.to_string()).collect();
        let fresh =
            primaries.iter().rev().find(|i| items.get(**i).is_some_and(|v| !was_primary.contains(&v.to_string())));
        let keep = fresh.or(primaries.last()).copied();
        let items: Vec<Value> = items
            .into_iter()
            .enumerate()
            .map(
                |(i, v)| {
                    if Some(i) != keep && is_primary(&v) { with_field(&v, "primary", Value::Bool(false)) } else { v }
                },
            )
            .collect();
        let _written = whole.set(res, Value::Array(items), Some(self.schema));
    }

    fn remove(&self, res: &mut Value, path: &Path, value: Option<&Value>) -> Result<(), ScimError> {
        let def = self.definition(path)?;
        check_remove(path, def)?;
        match (value, &path.filter, &path.sub) {
            (Some(v), None, None) if !v.is_null() && def.is_none_or(|d| d.multi_valued) => {
                self.remove_values(res, path, v, def)
            }
            _ => drop(path.remove(res, Some(self.schema))),
        }
        Ok(())
    }

    /// `remove` with a value (or a list of them): drops exactly those
    /// values, matched by their `value`, never the whole attribute.
    fn remove_values(&self, res: &mut Value, path: &Path, value: &Value, def: Option<&Attribute>) {
        let doomed: Vec<Value> = match value {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        let Some(Value::Array(existing)) = path.get(res, Some(self.schema)).first().map(|v| (*v).clone()) else {
            return;
        };
        let index = ValueIndex::new(&doomed, def);
        let kept: Vec<Value> = existing.into_iter().filter(|e| index.find(e).is_none()).collect();
        if kept.is_empty() {
            path.remove(res, Some(self.schema));
        } else {
            let _written = path.set(res, Value::Array(kept), Some(self.schema));
        }
    }
}

/// Turns one key of a path-less value into paths: `name.givenName`,
/// `urn:...:User:department`, or a schema URN whose value holds attributes.
pub(crate) fn expand_key(
    schema: &ResourceSchema<'_>,
    key: &str,
    value: &Value,
) -> Result<Vec<(Path, Value)>, ScimError> {
    let urn = match classify_key(key, value, schema)? {
        TopKey::Attribute(path) => return Ok(vec![(path, value.clone())]),
        TopKey::Core => None,
        TopKey::Extension(urn) => Some(urn),
    };
    let Value::Object(fields) = value else {
        return Err(ScimError::invalid_value(format!("the value of schema \"{key}\" must be an object of attributes")));
    };
    let qualify = |k: &String, v: &Value| {
        let path = AttrPath::parse(k)?;
        Ok((Path::from(AttrPath { urn: urn.clone(), ..path }), v.clone()))
    };
    fields.iter().map(|(k, v)| qualify(k, v)).collect()
}

/// Values of a multi-valued attribute by identity: their `value` (case
/// folded unless caseExact; members compare exactly), and their `type` when
/// both sides have one. Lookups are O(1), so large groups stay linear.
struct ValueIndex {
    exact: bool,
    by_key: HashMap<String, Vec<(usize, Option<Value>)>>,
}

impl ValueIndex {
    fn new(items: &[Value], def: Option<&Attribute>) -> Self {
        let exact = def.is_some_and(|d| {
            d.name == "members"
                || d.sub_attribute("value").is_some_and(Attribute::is_case_exact)
                || (d.ty != AttrType::Complex && d.is_case_exact())
        });
        let mut index = Self { exact, by_key: HashMap::new() };
        for (i, item) in items.iter().enumerate() {
            index.insert(item, i);
        }
        index
    }

    fn key(&self, v: &Value) -> (String, Option<Value>) {
        let field = |k: &str| v.as_object().and_then(|m| find_key(m, k).and_then(|k| m.get(&k).cloned()));
        let id = match v {
            Value::Object(_) => field("value").unwrap_or_else(|| v.clone()),
            other => other.clone(),
        };
        let key = match id {
            Value::String(s) if !self.exact => s.to_lowercase(),
            Value::String(s) => s,
            other => other.to_string(),
        };
        (key, field("type"))
    }

    fn insert(&mut self, v: &Value, i: usize) {
        let (key, ty) = self.key(v);
        self.by_key.entry(key).or_default().push((i, ty));
    }

    fn find(&self, v: &Value) -> Option<usize> {
        let (key, ty) = self.key(v);
        let found = self.by_key.get(&key)?;
        found.iter().find(|(_, t)| !matches!((t, &ty), (Some(a), Some(b)) if a != b)).map(|(i, _)| *i)
    }
}

fn is_primary(v: &Value) -> bool {
    v.as_object().and_then(|m| find_key(m, "primary").and_then(|k| m.get(&k).cloned())) == Some(Value::Bool(true))
}

/// `v` with `field` set (case-insensitively matched); non-objects become one.
fn with_field(v: &Value, field: &str, value: Value) -> Value {
    let mut m = v.as_object().cloned().unwrap_or_default();
    let key = find_key(&m, field).unwrap_or_else(|| field.to_owned());
    m.insert(key, value);
    Value::Object(m)
}

/// `old` with each of `fields` set; a null field removes it.
fn merged(old: &Value, fields: &Map<String, Value>) -> Value {
    let mut m = old.as_object().cloned().unwrap_or_default();
    for (k, v) in fields {
        let key = find_key(&m, k).unwrap_or_else(|| k.clone());
        match v {
            Value::Null => drop(m.shift_remove(&key)),
            v => drop(m.insert(key, v.clone())),
        }
    }
    Value::Object(m)
}

fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn sub_name(def: Option<&Attribute>, sub: &str) -> String {
    def.and_then(|d| d.sub_attribute(sub)).map_or_else(|| sub.to_owned(), |s| s.name.clone())
}

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
fn fits(ty: AttrType, v: &Value) -> bool {
    match ty {
        _ if v.is_null() => true,
        AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary => v.is_string(),
        AttrType::Boolean => v.is_boolean(),
        AttrType::Integer => v.is_i64() || v.is_u64(),
        AttrType::Decimal => v.is_number(),
        AttrType::Complex => v.is_object(),
    }
}

fn type_error(what: &str, ty: AttrType, v: &Value) -> ScimError {
    let want = format!("{ty:?}").to_lowercase();
    ScimError::invalid_value(format!("\"{what}\" must be of type {want}, not {}", type_name(v)))
}

/// One value of `def` (an element, for a multi-valued attribute) and, for a
/// complex one, each sub-attribute it carries.
fn check_single(what: &str, def: &Attribute, v: &Value) -> Result<(), ScimError> {
    if !fits(def.ty, v) {
        return Err(type_error(what, def.ty, v));
    }
    for (k, sv) in v.as_object().into_iter().flatten().filter(|_| def.ty == AttrType::Complex) {
        if let Some(sub) = def.sub_attribute(k) {
            if !fits(sub.ty, sv) {
                return Err(type_error(&format!("{what}.{}", sub.name), sub.ty, sv));
            }
        }
    }
    Ok(())
}

/// The value written at `path` must fit the schema (RFC 7644 section 3.12:
/// `invalidValue`).
fn check_type(path: &Path, def: &Attribute, value: &Value) -> Result<(), ScimError> {
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
fn check_element(old: Option<&Value>, new: &Value, def: &Attribute, path: &Path) -> Result<(), ScimError> {
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
