//! Attribute names in the schema's spelling. SCIM attribute names and
//! schema URNs are case-insensitive (RFC 7643 section 2.1), so `Active`,
//! `NAME.givenname` and `URN:...:ENTERPRISE:2.0:USER` are legal; after this
//! pass every name the schemas know is spelled as the schema spells it, so
//! nothing later (rules, plugins, profiles, the backend) has to fold case.

use super::{Normalization as N, Report};
use crate::filter::Filter;
use crate::path::{AttrPath, Path};
use crate::schema::{Attribute, ResourceSchema};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

/// Renames the keys of a resource (or a path-less PATCH value), its
/// extension objects and the sub-attributes of its complex values. Core
/// attributes are unqualified: `urn:...:core:2.0:User:active` becomes
/// `active`, and an object under the core URN is opened into the top.
pub(super) fn resource(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    open_core(map, schema, r);
    let canonical = |key: &str| -> Option<String> {
        if let Some(ext) = schema.extension(key) {
            return Some(ext.id.clone());
        }
        match key.rsplit_once(':') {
            Some((urn, name)) if schema.is_core_urn(urn) => schema.top_attribute(None, name).map(|d| d.name.clone()),
            _ => schema.top_attribute(None, key).map(|d| d.name.clone()),
        }
    };
    rename_keys(map, canonical, r);
    for (key, value) in map.iter_mut() {
        if key == "schemas" {
            schema_urns(value, schema, r);
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            if let Some(m) = value.as_object_mut() {
                rename_keys(m, |k| ext.attribute(k).map(|d| d.name.clone()), r);
                each_attr(m, |k| ext.attribute(k), r);
            }
        } else if schema.is_core_urn(key) {
            if let Some(m) = value.as_object_mut() {
                rename_keys(m, |k| schema.top_attribute(None, k).map(|d| d.name.clone()), r);
                each_attr(m, |k| schema.top_attribute(None, k), r);
            }
        } else if let Some(def) = schema.top_attribute(None, key) {
            value_of(value, def, r);
        }
    }
}

/// `{"urn:...:core:2.0:User": {"active": false}}` becomes `{"active":
/// false}`; an attribute also given at the top keeps the top's value.
fn open_core(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    let Some(key) = map.iter().find(|(k, v)| v.is_object() && schema.is_core_urn(k)).map(|(k, _)| k.clone()) else {
        return;
    };
    let Some(Value::Object(inner)) = map.shift_remove(&key) else { return };
    for (k, v) in inner {
        map.entry(k).or_insert(v);
    }
    r.add(N::AttributeNameCase);
}

/// The URNs listed in `schemas`, where the resource type knows them.
fn schema_urns(value: &mut Value, schema: &ResourceSchema<'_>, r: &mut Report) {
    for urn in value.as_array_mut().into_iter().flatten() {
        let Some(text) = urn.as_str() else { continue };
        let known = match schema.extension(text) {
            Some(ext) => Some(ext.id.as_str()),
            None => schema.is_core_urn(text).then(|| schema.core_urn()),
        };
        if let Some(k) = known.filter(|k| *k != text) {
            *urn = Value::String(k.to_owned());
            r.add(N::AttributeNameCase);
        }
    }
}

fn each_attr<'a>(map: &mut Obj, def_of: impl Fn(&str) -> Option<&'a Attribute>, r: &mut Report) {
    for (key, value) in map.iter_mut() {
        if let Some(def) = def_of(key) {
            value_of(value, def, r);
        }
    }
}

/// The sub-attribute names of a complex value (an object, or an array of
/// them), in the schema's spelling.
pub(super) fn value_of(value: &mut Value, def: &Attribute, r: &mut Report) {
    if def.sub_attributes.is_empty() {
        return;
    }
    let fix = |m: &mut Obj, r: &mut Report| rename_keys(m, |k| def.sub_attribute(k).map(|d| d.name.clone()), r);
    match value {
        Value::Object(m) => fix(m, r),
        Value::Array(items) => {
            for m in items.iter_mut().filter_map(Value::as_object_mut) {
                fix(m, r);
            }
        }
        _ => {}
    }
}

/// Renames every key `canonical` spells otherwise, keeping the order. When
/// two keys name one attribute (`active` and `Active`), the first stays and
/// the later one is dropped, as a JSON parser keeps one of two equal keys.
fn rename_keys(map: &mut Obj, canonical: impl Fn(&str) -> Option<String>, r: &mut Report) {
    let wrong = |k: &String| canonical(k).is_some_and(|c| c != *k);
    if !map.keys().any(wrong) {
        return;
    }
    for (key, value) in std::mem::take(map) {
        let name = match canonical(&key) {
            Some(c) if c != key => {
                r.add(N::AttributeNameCase);
                c
            }
            _ => key,
        };
        map.entry(name).or_insert(value);
    }
}

/// A PATCH path in the schema's spelling: its URN, name, sub-attribute
/// and the attribute names of its value filter. True when it changed.
pub(super) fn path(path: &mut Path, schema: &ResourceSchema<'_>) -> bool {
    let mut changed = false;
    if let Some(ext) = path.urn.as_deref().and_then(|u| schema.extension(u)) {
        changed |= set(&mut path.urn, &ext.id);
    } else if path.urn.as_deref().is_some_and(|u| schema.is_core_urn(u)) {
        path.urn = None;
        changed = true;
    }
    let Some(top) = schema.top_attribute(path.urn.as_deref(), &path.name) else { return changed };
    changed |= rename(&mut path.name, &top.name);
    if let Some(sub) = path.sub.as_mut() {
        if let Some(def) = top.sub_attribute(sub) {
            changed |= rename(sub, &def.name);
        }
    }
    if let Some(filter) = path.filter.as_mut() {
        changed |= element_filter(filter, top);
    }
    changed
}

/// The attribute names of a value filter (`emails[TYPE eq "work"]`), which
/// name sub-attributes of `parent`.
fn element_filter(filter: &mut Filter, parent: &Attribute) -> bool {
    let mut changed = false;
    filter.visit_paths_mut(&mut |p: &mut AttrPath, _| {
        if let Some(def) = parent.sub_attribute(&p.name) {
            changed |= rename(&mut p.name, &def.name);
        }
    });
    changed
}

/// Whether a path is the core schema's URN itself (it parses as the URN
/// `urn:...:core:2.0` and the name `User`): a PATCH on it is path-less.
pub(super) fn is_core_urn_path(path: &Path, schema: &ResourceSchema<'_>) -> bool {
    match (&path.urn, &path.filter, &path.sub) {
        (Some(urn), None, None) => schema.is_core_urn(&format!("{urn}:{}", path.name)),
        _ => false,
    }
}

fn set(slot: &mut Option<String>, to: &str) -> bool {
    match slot {
        Some(s) => rename(s, to),
        None => false,
    }
}

fn rename(name: &mut String, to: &str) -> bool {
    if name == to {
        return false;
    }
    to.clone_into(name);
    true
}
