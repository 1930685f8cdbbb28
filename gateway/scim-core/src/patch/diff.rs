//! The reverse of applying: two versions of a resource in, the smallest
//! PatchOp that turns the first into the second out. `id`, `meta` and
//! `schemas` are never part of a diff (the server owns them, and extension
//! URNs follow their attributes).

use super::{MAX_PATCH_OPERATIONS, OpKind, PatchOp, PatchOperation};
use crate::error::ScimError;
use crate::filter::{CompareOp, Filter};
use crate::path::{self, AttrPath, InOrder, Path, TopKey, classify_key, is_attr_name, is_urn};
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

const SERVER_OWNED: [&str; 3] = ["schemas", "id", "meta"];

/// The PatchOp that turns `old` into `new`. Applying it to `old` with
/// [`super::apply`] gives `new` up to the order of multi-valued attributes.
///
/// A key that is not an attribute name cannot be addressed by a PATCH path;
/// rather than leave its change out, the diff fails with `invalidPath`.
pub fn diff(old: &Value, new: &Value, schema: &ResourceSchema<'_>) -> Result<PatchOp, ScimError> {
    let (old, new) = (nested(old, schema)?, nested(new, schema)?);
    let (old, new) = (old.as_ref(), new.as_ref());
    let mut d = Differ { schema, ops: vec![], unaddressable: None };
    let is_ext = |k: &str| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let not_core = |k: &str| is_ext(k) || SERVER_OWNED.iter().any(|s| s.eq_ignore_ascii_case(k));
    d.container(None, old, new, &not_core);
    let mut urns: Vec<&String> = old.keys().chain(new.keys()).filter(|k| is_ext(k)).collect();
    urns.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    let mut seen = HashSet::new();
    let none = Map::new();
    for urn in urns {
        if seen.insert(urn.to_ascii_lowercase()) {
            let (o, n) = (extension(old, urn).unwrap_or(&none), extension(new, urn).unwrap_or(&none));
            d.container(Some(urn), o, n, &|_| false);
        }
    }
    match d.unaddressable {
        Some(key) => {
            Err(ScimError::invalid_path(format!("\"{key}\" is not an attribute name; a PATCH cannot address it")))
        }
        None if d.ops.len() > MAX_PATCH_OPERATIONS => Err(ScimError::invalid_value(format!(
            "the change needs {} operations, more than the {MAX_PATCH_OPERATIONS} one PatchOp may hold",
            d.ops.len()
        ))),
        None => Ok(PatchOp { operations: d.ops }),
    }
}

/// The resource as an object with URN-qualified attribute keys
/// (`"urn:...:User:department": "x"`) moved into their extension objects and
/// a core-URN object's attributes moved to the top, so both sides of a diff
/// spell every attribute one way. Borrowed when nothing moves (the usual
/// case: resources as servers return them).
fn nested<'v>(resource: &'v Value, schema: &ResourceSchema<'_>) -> Result<Cow<'v, Map<String, Value>>, ScimError> {
    let Some(map) = resource.as_object() else { return Ok(Cow::Owned(Map::new())) };
    // Only a URN key can move (a qualified attribute, the core URN): the
    // others are not classified at all.
    let moves = |k: &String, v: &Value| {
        is_urn(k)
            && match classify_key(k, v, schema) {
                Ok(TopKey::Attribute(path)) => path.urn.is_some(),
                Ok(TopKey::Core) => true,
                _ => false,
            }
    };
    if !map.iter().any(|(k, v)| moves(k, v)) {
        return Ok(Cow::Borrowed(map));
    }
    let mut out = Value::Object(Map::new());
    let mut moved = Vec::new();
    for (key, value) in map {
        // A key that is no path at all stays as it is: the diff refuses it
        // only if it changed.
        match classify_key(key, value, schema).unwrap_or(TopKey::Attribute(Path::from(AttrPath::new(None, key, None))))
        {
            TopKey::Attribute(path) if path.urn.is_some() => moved.push((path, value.clone())),
            TopKey::Core => moved.extend(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (Path::from(AttrPath::new(None, k, None)), v.clone())),
            ),
            _ => {
                if let Some(m) = out.as_object_mut() {
                    m.insert(key.clone(), value.clone());
                }
            }
        }
    }
    for (path, value) in moved {
        path.set(&mut out, value, Some(schema))?;
    }
    Ok(Cow::Owned(match out {
        Value::Object(m) => m,
        _ => Map::new(),
    }))
}

fn extension<'m>(m: &'m Map<String, Value>, urn: &str) -> Option<&'m Map<String, Value>> {
    get_ci(m, urn).and_then(Value::as_object)
}

fn get_ci<'v>(m: &'v Map<String, Value>, k: &str) -> Option<&'v Value> {
    not_null(path::get_ci(m, k))
}

/// A value found, unless it is null (a null attribute is no attribute).
fn not_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(Value::is_null),
        _ => false,
    }
}

struct Differ<'a, 's> {
    schema: &'a ResourceSchema<'s>,
    ops: Vec<PatchOperation>,
    unaddressable: Option<String>,
}

impl Differ<'_, '_> {
    /// `value` without the read-only sub-attributes of `path`'s attribute
    /// (in each value, for a multi-valued one): the server owns them.
    fn writable(&self, path: &Path, value: Value) -> Value {
        let Some(def) = self.schema.top_attribute(path.urn.as_deref(), &path.name) else { return value };
        if path.sub.is_some() || def.ty != AttrType::Complex {
            return value;
        }
        let strip = |v: Value| match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(k, _)| def.sub_attribute(k).is_none_or(|s| s.mutability != Mutability::ReadOnly))
                    .collect(),
            ),
            other => other,
        };
        match value {
            Value::Array(items) => Value::Array(items.into_iter().map(strip).collect()),
            other => strip(other),
        }
    }

    fn push(&mut self, op: OpKind, path: Path, value: Option<Value>) {
        let value = value.map(|v| self.writable(&path, v));
        let names = [Some(path.name.as_str()), path.sub.as_deref()];
        if let Some(bad) = names.into_iter().flatten().find(|n| !is_attr_name(n)) {
            self.unaddressable.get_or_insert_with(|| bad.to_owned());
            return;
        }
        self.ops.push(PatchOperation::new(op, path, value));
    }

    /// Whether the server owns this sub-attribute (or the whole attribute):
    /// read-only attributes are ignored in writes (RFC 7644 section 3.5.1),
    /// so a diff never touches them. Top-level ones: see [`Self::container`].
    fn read_only_sub(&self, urn: Option<&str>, name: &str, sub: &str) -> bool {
        let Some(def) = self.schema.top_attribute(urn, name) else { return false };
        let def = def.sub_attribute(sub).filter(|_| def.mutability != Mutability::ReadOnly).unwrap_or(def);
        def.mutability == Mutability::ReadOnly
    }

    /// The attributes of one container (the core attributes, or one
    /// extension's), leaving out the keys `skip` names and read-only ones.
    /// Both are decided by the name alone, so a key skipped on one side is
    /// skipped on the other.
    fn container(
        &mut self,
        urn: Option<&str>,
        old: &Map<String, Value>,
        new: &Map<String, Value>,
        skip: &dyn Fn(&str) -> bool,
    ) {
        // Whether each old key is left out, asked once per name: a key of
        // `new` that `old` has too (in any case) takes the same answer.
        // Both sides usually list their keys alike: looked up in order.
        let read_only_names = self.schema.read_only_names(urn);
        let read_only = |k: &str| read_only_names.iter().any(|r| r.eq_ignore_ascii_case(k));
        let mut left_out = Vec::with_capacity(old.len());
        let mut in_new = InOrder::new(new);
        for (k, o) in old {
            let out = skip(k) || read_only(k);
            left_out.push(out);
            if !out && !is_empty(o) && not_null(in_new.get_ci(k)).is_none_or(is_empty) {
                self.push(OpKind::Remove, AttrPath::new(urn, k, None).into(), None);
            }
        }
        let mut in_old = InOrder::new(old);
        for (k, n) in new {
            let at = in_old.position_ci(k);
            let out = at.and_then(|(i, _)| left_out.get(i).copied());
            if is_empty(n) || out.unwrap_or_else(|| skip(k) || read_only(k)) {
                continue;
            }
            // The path is made only for an attribute that changed: most
            // of a PUT's are the same on both sides.
            let o = at.map(|(_, o)| o).filter(|o| !o.is_null());
            match o.filter(|o| !is_empty(o)) {
                None => self.push(OpKind::Add, AttrPath::new(urn, k, None).into(), Some(n.clone())),
                Some(o) if same(o, n) => {}
                Some(o) => {
                    let def = self.schema.top_attribute(urn, k);
                    self.attribute(AttrPath::new(urn, k, None), o, n, def);
                }
            }
        }
    }

    fn attribute(&mut self, path: AttrPath, old: &Value, new: &Value, def: Option<&Attribute>) {
        match (old, new) {
            (Value::Object(o), Value::Object(n)) if def.is_none_or(|d| !d.multi_valued) => self.complex(path, o, n),
            (Value::Array(o), Value::Array(n)) if keyed(o) && keyed(n) => self.keyed(path, o, n),
            _ => self.push(OpKind::Replace, path.into(), Some(new.clone())),
        }
    }

    fn complex(&mut self, path: AttrPath, old: &Map<String, Value>, new: &Map<String, Value>) {
        let sub = |k: &str| AttrPath { sub: Some(k.to_owned()), ..path.clone() };
        let (mut in_new, mut in_old) = (InOrder::new(new), InOrder::new(old));
        for (k, o) in old {
            if !o.is_null()
                && !self.read_only_sub(path.urn.as_deref(), &path.name, k)
                && not_null(in_new.get_ci(k)).is_none()
            {
                self.push(OpKind::Remove, sub(k).into(), None);
            }
        }
        for (k, n) in new {
            if !n.is_null()
                && !self.read_only_sub(path.urn.as_deref(), &path.name, k)
                && !not_null(in_old.get_ci(k)).is_some_and(|o| same(o, n))
            {
                self.push(OpKind::Replace, sub(k).into(), Some(n.clone()));
            }
        }
    }

    /// Values identified by their `value`: removes by filter, one add. A
    /// value whose other sub-attributes changed is removed and added again.
    fn keyed(&mut self, path: AttrPath, old: &[Value], new: &[Value]) {
        let (old_by_key, new_by_key) = (by_key(old), by_key(new));
        for o in old.iter().filter(|o| !new_by_key.get(&value_key(o)).is_some_and(|n| same(n, o))) {
            let filter = Filter::Compare {
                path: AttrPath::new(None, "value", None),
                op: CompareOp::Eq,
                value: key_of(o).clone(),
            };
            self.push(OpKind::Remove, Path { filter: Some(Box::new(filter)), ..path.clone().into() }, None);
        }
        let added: Vec<Value> =
            new.iter().filter(|n| !old_by_key.get(&value_key(n)).is_some_and(|o| same(o, n))).cloned().collect();
        if !added.is_empty() {
            self.push(OpKind::Add, path.into(), Some(Value::Array(added)));
        }
    }
}

/// `a == b` as serde_json compares values (an object's keys in any order,
/// an array's items in order), trying an object's keys in order first: a
/// resource read back usually lists them as it was written, and then no
/// key is hashed to be looked up.
pub(crate) fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && (x.iter().zip(y).all(|((k, v), (l, w))| k == l && same(v, w))
                    || x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w))))
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w)),
        _ => a == b,
    }
}

fn key_of(v: &Value) -> &Value {
    v.as_object().and_then(|m| get_ci(m, "value")).unwrap_or(&Value::Null)
}

/// Values by their identity.
fn by_key(items: &[Value]) -> HashMap<String, &Value> {
    items.iter().map(|v| (value_key(v), v)).collect()
}

/// The identity of a keyed value: its `value`, case folded.
fn value_key(v: &Value) -> String {
    match key_of(v) {
        Value::String(s) => s.to_lowercase(),
        other => other.to_string(),
    }
}

/// Whether every value is an object with a distinct scalar `value`.
fn keyed(items: &[Value]) -> bool {
    let mut seen = HashSet::new();
    items.iter().all(|v| matches!(key_of(v), Value::String(_) | Value::Number(_)) && seen.insert(value_key(v)))
}
