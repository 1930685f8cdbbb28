//! Applying a PatchOp to a resource with RFC 7644 section 3.5.2 semantics.
//! All or nothing: the operations run on a copy, which is returned only if
//! every one of them succeeded.

mod checks;
mod values;

use super::{OpKind, PatchOp, PatchOperation};
use crate::error::ScimError;
use crate::filter::{CompareOp, Filter};
use crate::path::{AttrPath, Path, TopKey, classify_key, get_ci};
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use checks::{check_element, check_remove, check_type, check_write};
use serde_json::{Map, Value};
use std::collections::HashSet;
use values::{ValueIndex, drop_nulls, is_primary, merged, sub_name, with_field};

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
    let applier = Applier { schema, opts };
    let at = |i: usize| move |e: ScimError| ScimError::new(e.scim_type, format!("Operations[{i}]: {}", e.detail));
    let mut i = 0;
    while let Some(rest) = patch.operations.get(i..).filter(|r| !r.is_empty()) {
        let removes = exact_remove_run(rest);
        let adds = add_run(rest, schema);
        match (rest.get(..removes), rest.get(..adds)) {
            (Some(batch), _) if removes > 1 => applier.remove_exact(&mut out, batch).map_err(at(i))?,
            (_, Some(batch)) if adds > 1 => {
                if applier.add_batch(&mut out, batch).is_err() {
                    // Nothing was written; one at a time names the failing op.
                    for (k, op) in batch.iter().enumerate() {
                        applier.op(&mut out, op).map_err(at(i + k))?;
                    }
                }
            }
            _ => applier.op(&mut out, rest.first().unwrap_or(&NOOP)).map_err(at(i))?,
        }
        i += removes.max(adds).max(1);
    }
    Ok(out)
}

const NOOP: PatchOperation = PatchOperation { op: OpKind::Remove, path: None, value: None };

/// `remove attr[value eq "id"]` (what IdPs send to drop one member): the
/// attribute and the id.
fn exact_remove(op: &PatchOperation) -> Option<(&Path, &str)> {
    let path = op.path.as_ref().filter(|p| p.sub.is_none() && op.op == OpKind::Remove && op.value.is_none())?;
    match path.filter.as_deref()? {
        Filter::Compare { path: sub, op: CompareOp::Eq, value: Value::String(id) }
            if sub.urn.is_none() && sub.sub.is_none() && sub.name.eq_ignore_ascii_case("value") =>
        {
            Some((path, id))
        }
        _ => None,
    }
}

/// How many operations from the start of `ops` add values to the same
/// multi-valued core attribute without a `primary` flag (`members`): they can
/// be applied in one pass, with the same result as one after the other.
fn add_run(ops: &[PatchOperation], schema: &ResourceSchema<'_>) -> usize {
    let plain_add = |op: &PatchOperation| {
        let path = op
            .path
            .as_ref()
            .filter(|p| op.op == OpKind::Add && p.urn.is_none() && p.filter.is_none() && p.sub.is_none())?;
        let def = schema.top_attribute(None, &path.name).filter(|d| {
            d.multi_valued && d.mutability == Mutability::ReadWrite && d.sub_attribute("primary").is_none()
        })?;
        op.value.as_ref().filter(|v| !v.is_null())?;
        Some(def.name.as_str())
    };
    let Some(first) = ops.first().and_then(plain_add) else { return 0 };
    ops.iter().take_while(|op| plain_add(op) == Some(first)).count()
}

/// How many operations from the start of `ops` are exact removes from the
/// same core attribute (they can be applied in one pass over its values).
fn exact_remove_run(ops: &[PatchOperation]) -> usize {
    let Some((first, _)) = ops.first().and_then(exact_remove).filter(|(p, _)| p.urn.is_none()) else { return 0 };
    let same = |p: &Path| {
        p.name.eq_ignore_ascii_case(&first.name)
            && p.urn.as_deref().map(str::to_ascii_lowercase) == first.urn.as_deref().map(str::to_ascii_lowercase)
    };
    ops.iter().take_while(|op| exact_remove(op).is_some_and(|(p, _)| same(p))).count()
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
        let has_primary = def.is_none_or(|d| d.multi_valued && d.sub_attribute("primary").is_some());
        let before = match has_primary {
            true => whole.get(res, Some(self.schema)).first().and_then(|v| v.as_array()).cloned(),
            false => None,
        };
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

    /// A run of `add` to one multi-valued attribute: every operation is
    /// checked as on its own, then all values are merged in one pass.
    fn add_batch(&self, res: &mut Value, ops: &[PatchOperation]) -> Result<(), ScimError> {
        let Some(path) = ops.first().and_then(|op| op.path.as_ref()) else { return Ok(()) };
        let def = self.definition(path)?;
        let mut values = Vec::new();
        for (op, value) in ops.iter().filter_map(|op| Some((op, op.value.as_ref()?))) {
            let op_path = op.path.as_ref().unwrap_or(path);
            if let Some(def) = def {
                check_type(op_path, def, value)?;
            }
            check_write(res, op_path, def, value, self.schema)?;
            match value {
                Value::Array(items) => values.extend(items.iter().cloned()),
                other => values.push(other.clone()),
            }
        }
        self.write_multi(res, OpKind::Add, path, &Value::Array(values), def)
    }

    /// A run of `remove attr[value eq "id"]`: the same result as one after
    /// the other (ids compare as `eq` does: case folded unless caseExact),
    /// in one pass over the values instead of one per operation.
    fn remove_exact(&self, res: &mut Value, ops: &[PatchOperation]) -> Result<(), ScimError> {
        let Some((path, _)) = ops.first().and_then(exact_remove) else { return Ok(()) };
        let def = self.definition(path)?;
        check_remove(path, def)?;
        let value_def = def.and_then(|d| d.sub_attribute("value"));
        if value_def.is_some_and(|v| v.ty == AttrType::DateTime) {
            return ops.iter().try_for_each(|op| self.op(res, op));
        }
        let exact = value_def.is_some_and(Attribute::is_case_exact);
        let fold = |s: &str| if exact { s.to_owned() } else { s.to_lowercase() };
        let doomed: HashSet<String> = ops.iter().filter_map(exact_remove).map(|(_, id)| fold(id)).collect();
        let whole = Path { filter: None, sub: None, ..path.clone() };
        let Some(Value::Array(items)) = whole.get(res, Some(self.schema)).first().map(|v| (*v).clone()) else {
            return ops.iter().try_for_each(|op| self.op(res, op));
        };
        let id_field = |v: &Value| v.as_object().and_then(|m| get_ci(m, "value")).cloned();
        if items.iter().any(|v| id_field(v).is_some_and(|id| !id.is_string() && !id.is_null())) {
            return ops.iter().try_for_each(|op| self.op(res, op)); // odd values: the filter decides, one op at a time
        }
        let id_of = |v: &Value| id_field(v).and_then(|id| id.as_str().map(fold));
        let kept: Vec<Value> = items.into_iter().filter(|v| !id_of(v).is_some_and(|id| doomed.contains(&id))).collect();
        if kept.is_empty() {
            whole.remove(res, Some(self.schema));
            Ok(())
        } else {
            whole.set(res, Value::Array(kept), Some(self.schema)).map(drop)
        }
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
pub fn expand_key(schema: &ResourceSchema<'_>, key: &str, value: &Value) -> Result<Vec<(Path, Value)>, ScimError> {
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
