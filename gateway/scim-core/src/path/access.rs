//! get / set / remove of a [`Path`] on a JSON resource. Names match
//! case-insensitively; writing an extension attribute adds its URN to
//! `schemas`, and removing its last attribute drops it again.

use super::{AttrPath, Path};
use crate::error::ScimError;
use crate::filter::Filter;
use crate::schema::{Attribute, ResourceSchema};
use serde_json::{Map, Value};
use std::ops::ControlFlow;

type Obj = Map<String, Value>;

/// The key of `map` that equals `name` case-insensitively (exact match first).
pub fn find_key(map: &Obj, name: &str) -> Option<String> {
    if map.contains_key(name) {
        return Some(name.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(name)).cloned()
}

/// The value under the key [`find_key`] finds, to change it in place: no
/// key copied or hashed twice (a large map's exact key is hashed once, as
/// [`get_ci`] does; otherwise one pass finds the key's position).
pub fn get_ci_mut<'v>(map: &'v mut Obj, name: &str) -> Option<&'v mut Value> {
    if map.len() > SCANNED && map.contains_key(name) {
        return map.get_mut(name);
    }
    let (at, _) = position_ci(map, name)?;
    map.values_mut().nth(at)
}

/// The value under the key [`find_key`] finds, else a new `null` under
/// `new_key()`, at the end. `None` only if the map changed under it, which
/// a `&mut` rules out.
fn slot_ci<'v>(map: &'v mut Obj, name: &str, new_key: impl FnOnce() -> String) -> Option<&'v mut Value> {
    match position_ci(map, name) {
        Some((at, _)) => map.values_mut().nth(at),
        None => Some(map.entry(new_key()).or_insert(Value::Null)),
    }
}

/// Objects with at most this many keys (every SCIM resource's) are looked
/// through in one pass rather than by hashing the name first.
const SCANNED: usize = 32;

/// The value under the key spelled exactly `name`, as `map.get(name)`
/// gives it: a map of at most [`SCANNED`] keys is looked through in one
/// pass, its keys of other lengths passed over, instead of the name being
/// hashed.
pub fn get_exact<'v>(map: &'v Obj, name: &str) -> Option<&'v Value> {
    if map.len() > SCANNED {
        return map.get(name);
    }
    map.iter().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
}

/// [`get_exact`], the value to change in place.
pub fn get_exact_mut<'v>(map: &'v mut Obj, name: &str) -> Option<&'v mut Value> {
    if map.len() > SCANNED {
        return map.get_mut(name);
    }
    map.iter_mut().find(|(k, _)| k.as_str() == name).map(|(_, v)| v)
}

/// The value of the key of `map` that equals `name` case-insensitively
/// (the exact spelling first), without allocating.
pub fn get_ci<'v>(map: &'v Obj, name: &str) -> Option<&'v Value> {
    if map.len() > SCANNED {
        return map.get(name).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v));
    }
    position_ci(map, name).map(|(_, v)| v)
}

/// What [`get_ci`] finds, with its position among `map`'s keys, in one
/// pass: the key spelled exactly `name`, else the first in any case.
pub fn position_ci<'v>(map: &'v Obj, name: &str) -> Option<(usize, &'v Value)> {
    let mut folded = None;
    for (i, (k, v)) in map.iter().enumerate().filter(|(_, (k, _))| k.len() == name.len()) {
        if k == name {
            return Some((i, v));
        }
        if folded.is_none() && k.eq_ignore_ascii_case(name) {
            folded = Some((i, v));
        }
    }
    folded
}

/// Looks names up in one map expecting them in the map's own order, as
/// when two versions of a resource list their keys alike: a lookup first
/// tries the key after the one last found (one compare), and only when that
/// is not the name scans like [`position_ci`]. The answer is always
/// [`position_ci`]'s: a map holds at most one key spelled exactly `name`,
/// and that is the key it prefers.
#[derive(Debug, Clone)]
pub struct InOrder<'v> {
    map: &'v Obj,
    rest: serde_json::map::Iter<'v>,
    next: usize,
}

impl<'v> InOrder<'v> {
    /// Lookups in `map`, expected from its first key on.
    pub fn new(map: &'v Obj) -> Self {
        Self { map, rest: map.iter(), next: 0 }
    }

    /// What [`position_ci`] finds for `name`.
    pub fn position_ci(&mut self, name: &str) -> Option<(usize, &'v Value)> {
        let mut ahead = self.rest.clone();
        if let Some((_, v)) = ahead.next().filter(|(k, _)| *k == name) {
            let at = self.next;
            (self.rest, self.next) = (ahead, at + 1);
            return Some((at, v));
        }
        let found = position_ci(self.map, name);
        if let Some((at, _)) = found {
            self.rest = self.map.iter();
            let _found_again = self.rest.nth(at);
            self.next = at + 1;
        }
        found
    }

    /// What [`get_ci`] finds for `name`.
    pub fn get_ci(&mut self, name: &str) -> Option<&'v Value> {
        self.position_ci(name).map(|(_, v)| v)
    }
}

/// Adds `urn` to the resource's `schemas` unless it is there already.
pub fn ensure_schema_urn(resource: &mut Value, urn: &str) {
    let Some(map) = resource.as_object_mut() else { return };
    let schemas = map.entry("schemas").or_insert_with(|| Value::Array(vec![]));
    if !schemas.is_array() {
        *schemas = Value::Array(vec![]);
    }
    if let Value::Array(list) = schemas
        && !list.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)))
    {
        list.push(Value::String(urn.to_owned()));
    }
}

/// Drops the extension object `urn` and its `schemas` entry when it holds no
/// attributes any more.
pub fn prune_extension(resource: &mut Value, urn: &str) {
    let Some(map) = resource.as_object_mut() else { return };
    let Some(key) = find_key(map, urn) else { return };
    let empty = match map.get(&key) {
        Some(Value::Object(ext)) => ext.values().all(Value::is_null),
        Some(Value::Null) => true,
        _ => false,
    };
    if empty {
        map.shift_remove(&key);
        if let Some(Value::Array(list)) = map.get_mut("schemas") {
            list.retain(|s| !s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn)));
        }
    }
}

/// The extension URN a path is qualified with, in its canonical spelling;
/// `None` for core attributes (no URN, or the resource's core URN).
fn extension_urn(urn: Option<&str>, schema: Option<&ResourceSchema<'_>>) -> Option<String> {
    let urn = urn?;
    match schema {
        Some(s) if s.is_core_urn(urn) => None,
        Some(s) => Some(s.extension(urn).map_or(urn, |e| e.id.as_str()).to_owned()),
        None if urn.to_ascii_lowercase().starts_with("urn:ietf:params:scim:schemas:core:") => None,
        None => Some(urn.to_owned()),
    }
}

fn container<'v>(resource: &'v Value, ext: Option<&str>) -> Option<&'v Obj> {
    let map = resource.as_object()?;
    match ext {
        Some(urn) => get_ci(map, urn)?.as_object(),
        None => Some(map),
    }
}

fn container_mut<'v>(resource: &'v mut Value, ext: Option<&str>, create: bool) -> Option<&'v mut Obj> {
    if let (Some(urn), true) = (ext, create) {
        ensure_schema_urn(resource, urn);
    }
    let map = resource.as_object_mut()?;
    let Some(urn) = ext else { return Some(map) };
    let slot = if create { slot_ci(map, urn, || urn.to_owned())? } else { get_ci_mut(map, urn)? };
    if create && !slot.is_object() {
        *slot = Value::Object(Obj::new());
    }
    slot.as_object_mut()
}

/// Where a path's attribute lives in one resource schema ([`Path::locate`]):
/// the extension whose container holds it (its id as the schema spells
/// it; `None` for a core or common attribute) and its definition (`None`
/// for one the schema lacks). A copy, held by whoever applies the path.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Located {
    ext: Option<String>,
    attr: Option<Attribute>,
}

impl Located {
    /// The extension whose container holds the attribute, as the schema
    /// spells its id; `None` for a core or common attribute.
    pub fn extension(&self) -> Option<&str> {
        self.ext.as_deref()
    }

    /// The attribute's definition; `None` for one the schema lacks.
    pub fn attribute(&self) -> Option<&Attribute> {
        self.attr.as_ref()
    }
}

fn matches(filter: &Filter, elem: &Value, attr: Option<&Attribute>) -> bool {
    filter.matches_element(elem, attr)
}

impl Path {
    /// The values this path points at. A multi-valued attribute without a
    /// filter yields the array itself; with a sub-attribute, each element's.
    pub fn get<'v>(&self, resource: &'v Value, schema: Option<&ResourceSchema<'_>>) -> Vec<&'v Value> {
        let mut found = Vec::new();
        self.visit(resource, schema, |v| {
            found.push(v);
            ControlFlow::Continue(())
        });
        found
    }

    /// [`Path::get`]'s values handed to `each` in their order, until it
    /// breaks: a reader that wants the first gathers nothing, and a filter
    /// is asked of no element after it.
    pub fn visit<'v>(
        &self,
        resource: &'v Value,
        schema: Option<&ResourceSchema<'_>>,
        each: impl FnMut(&'v Value) -> ControlFlow<()>,
    ) {
        let ext = extension_urn(self.urn.as_deref(), schema);
        let attr = || schema.and_then(|s| s.top_attribute(self.urn.as_deref(), &self.name));
        self.visit_in(resource, ext.as_deref(), attr, each);
    }

    /// [`Path::visit`] where [`Path::locate`] found the path, in the
    /// schema it was located in. `at` must be this path's own: another
    /// path's (or a default one) reads another container or definition.
    pub fn visit_located<'v>(&self, resource: &'v Value, at: &Located, each: impl FnMut(&'v Value) -> ControlFlow<()>) {
        self.visit_in(resource, at.ext.as_deref(), || at.attr.as_ref(), each);
    }

    /// [`Path::visit`] in the container of the extension `ext` (or the
    /// core one), the attribute's definition asked of `attr` once a value
    /// is there.
    fn visit_in<'v, 'a>(
        &self,
        resource: &'v Value,
        ext: Option<&str>,
        attr: impl FnOnce() -> Option<&'a Attribute>,
        mut each: impl FnMut(&'v Value) -> ControlFlow<()>,
    ) {
        let Some(value) = container(resource, ext).and_then(|m| get_ci(m, &self.name)) else { return };
        let attr = attr();
        let mut selected = |v: &'v Value| {
            let v = match &self.sub {
                None => Some(v),
                Some(sub) => v.as_object().and_then(|m| get_ci(m, sub)),
            };
            v.filter(|v| !v.is_null()).map_or(ControlFlow::Continue(()), &mut each)
        };
        let _ = match (&self.filter, value) {
            (Some(f), Value::Array(items)) => items.iter().filter(|e| matches(f, e, attr)).try_for_each(&mut selected),
            (Some(_), _) => ControlFlow::Continue(()),
            (None, Value::Array(items)) if self.sub.is_some() => items.iter().try_for_each(&mut selected),
            (None, v) => selected(v),
        };
    }

    /// Writes `value` at this path, creating what is missing. A filter that
    /// matches nothing appends an element built from its `eq` terms. Returns
    /// how many places were written.
    pub fn set(
        &self,
        resource: &mut Value,
        value: Value,
        schema: Option<&ResourceSchema<'_>>,
    ) -> Result<usize, ScimError> {
        let (ext, attr) = self.lookup(schema);
        self.set_in(resource, value, ext.as_deref(), attr)
    }

    /// Where this path lies in `schema`, asked of it now: the extension's
    /// id as the schema spells it, and the attribute's definition.
    fn lookup<'s>(&self, schema: Option<&ResourceSchema<'s>>) -> (Option<String>, Option<&'s Attribute>) {
        let attr = schema.and_then(|s| s.top_attribute(self.urn.as_deref(), &self.name));
        (extension_urn(self.urn.as_deref(), schema), attr)
    }

    /// [`Path::set`] where [`Path::locate`] found the path, in the schema
    /// it was located in. `at` must be this path's own: another path's (or
    /// a default one) writes into another container.
    pub fn set_located(&self, resource: &mut Value, value: Value, at: &Located) -> Result<usize, ScimError> {
        self.set_in(resource, value, at.ext.as_deref(), at.attr.as_ref())
    }

    fn set_in(
        &self,
        resource: &mut Value,
        value: Value,
        ext: Option<&str>,
        attr: Option<&Attribute>,
    ) -> Result<usize, ScimError> {
        let map = container_mut(resource, ext, true)
            .ok_or_else(|| ScimError::invalid_value("the resource is not a JSON object"))?;
        let slot = slot_ci(map, &self.name, || attr.map_or_else(|| self.name.clone(), |a| a.name.clone()))
            .ok_or_else(|| ScimError::invalid_value(format!("\"{}\" could not be written", self.name)))?;
        match &self.filter {
            None => match &self.sub {
                None => {
                    *slot = value;
                    Ok(1)
                }
                Some(sub) => set_sub(slot, sub_name(attr, sub), value),
            },
            Some(filter) => self.set_filtered(slot, filter, value, attr),
        }
    }

    /// Where this path's attribute lives in `schema` (the extension's
    /// container, the attribute's definition), worked out once for a path
    /// applied many times with the same schema ([`Path::visit_located`],
    /// [`Path::set_located`]).
    pub fn locate(&self, schema: &ResourceSchema<'_>) -> Located {
        let (ext, attr) = self.lookup(Some(schema));
        Located { ext, attr: attr.cloned() }
    }

    fn set_filtered(
        &self,
        slot: &mut Value,
        filter: &Filter,
        value: Value,
        attr: Option<&Attribute>,
    ) -> Result<usize, ScimError> {
        if attr.is_some_and(|a| !a.multi_valued) {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is not multi-valued; it cannot take a filter",
                self.name
            )));
        }
        if slot.is_null() {
            *slot = Value::Array(vec![]);
        }
        let Value::Array(items) = slot else {
            return Err(ScimError::invalid_path(format!(
                "\"{}\" is not multi-valued; it cannot take a filter",
                self.name
            )));
        };
        let sub = self.sub.as_deref().map(|s| sub_name(attr, s));
        let mut written = 0;
        for elem in items.iter_mut().filter(|e| matches(filter, e, attr)) {
            match &sub {
                Some(s) => written += set_sub(elem, s, value.clone())?,
                None => {
                    *elem = value.clone();
                    written += 1;
                }
            }
        }
        if written == 0 {
            items.push(new_element(filter, sub, value, &self.name)?);
            written = 1;
        }
        Ok(written)
    }

    /// Removes what this path points at; returns how many values went.
    pub fn remove(&self, resource: &mut Value, schema: Option<&ResourceSchema<'_>>) -> usize {
        let attr = schema.and_then(|s| s.top_attribute(self.urn.as_deref(), &self.name));
        let ext = extension_urn(self.urn.as_deref(), schema);
        let removed = container_mut(resource, ext.as_deref(), false).map_or(0, |map| self.remove_in(map, attr));
        if let Some(urn) = ext {
            prune_extension(resource, &urn);
        }
        removed
    }

    fn remove_in(&self, map: &mut Obj, attr: Option<&Attribute>) -> usize {
        let Some(key) = find_key(map, &self.name) else { return 0 };
        let Some(slot) = map.get_mut(&key) else { return 0 };
        let removed = match (&self.filter, &self.sub, slot) {
            (None, None, slot) => usize::from(!slot.is_null()),
            (None, Some(sub), Value::Array(items)) => items.iter_mut().map(|e| remove_sub(e, sub)).sum(),
            (None, Some(sub), slot) => remove_sub(slot, sub),
            (Some(f), None, Value::Array(items)) => {
                let before = items.len();
                items.retain(|e| !matches(f, e, attr));
                before - items.len()
            }
            (Some(f), Some(sub), Value::Array(items)) => {
                items.iter_mut().filter(|e| matches(f, e, attr)).map(|e| remove_sub(e, sub)).sum()
            }
            (Some(_), _, _) => 0,
        };
        let drop_slot = match map.get(&key) {
            _ if self.filter.is_none() && self.sub.is_none() => true,
            Some(Value::Object(m)) => m.is_empty(),
            Some(Value::Array(items)) => items.is_empty(),
            _ => false,
        };
        if drop_slot {
            map.shift_remove(&key);
        }
        removed
    }
}

impl AttrPath {
    /// See [`Path::get`].
    pub fn get<'v>(&self, resource: &'v Value, schema: Option<&ResourceSchema<'_>>) -> Vec<&'v Value> {
        Path::from(self.clone()).get(resource, schema)
    }
    /// See [`Path::set`].
    pub fn set(
        &self,
        resource: &mut Value,
        value: Value,
        schema: Option<&ResourceSchema<'_>>,
    ) -> Result<usize, ScimError> {
        Path::from(self.clone()).set(resource, value, schema)
    }
    /// See [`Path::remove`].
    pub fn remove(&self, resource: &mut Value, schema: Option<&ResourceSchema<'_>>) -> usize {
        Path::from(self.clone()).remove(resource, schema)
    }
}

fn sub_name<'a>(attr: Option<&'a Attribute>, sub: &'a str) -> &'a str {
    attr.and_then(|a| a.sub_attribute(sub)).map_or(sub, |s| s.name.as_str())
}

fn set_sub(slot: &mut Value, sub: &str, value: Value) -> Result<usize, ScimError> {
    match slot {
        Value::Null => {
            *slot = Value::Object(Obj::from_iter([(sub.to_owned(), value)]));
            Ok(1)
        }
        Value::Object(m) => match slot_ci(m, sub, || sub.to_owned()) {
            Some(slot) => {
                *slot = value;
                Ok(1)
            }
            None => Ok(0),
        },
        Value::Array(items) if items.is_empty() => {
            items.push(Value::Object(Obj::from_iter([(sub.to_owned(), value)])));
            Ok(1)
        }
        Value::Array(items) => items.iter_mut().map(|e| set_sub(e, sub, value.clone())).sum(),
        _ => Err(ScimError::invalid_path(format!("cannot set sub-attribute \"{sub}\" of a simple value"))),
    }
}

fn remove_sub(slot: &mut Value, sub: &str) -> usize {
    let Some(m) = slot.as_object_mut() else { return 0 };
    find_key(m, sub).and_then(|k| m.shift_remove(&k)).map_or(0, |_| 1)
}

fn new_element(filter: &Filter, sub: Option<&str>, value: Value, name: &str) -> Result<Value, ScimError> {
    let mut elem = filter.eq_template().ok_or_else(|| {
        ScimError::no_target(format!("no value of \"{name}\" matches the filter, and it cannot build one (only \"eq\" terms joined by \"and\" can)"))
    })?;
    match (sub, value) {
        (Some(s), v) => {
            elem.insert(s.to_owned(), v);
        }
        (None, Value::Object(m)) => elem.extend(m),
        (None, _) => return Err(ScimError::invalid_value(format!("a value of \"{name}\" must be an object"))),
    }
    Ok(Value::Object(elem))
}
