//! Attribute names in the schema's spelling. SCIM attribute names and
//! schema URNs are case-insensitive (RFC 7643 section 2.1), so `Active`,
//! `NAME.givenname` and `URN:...:ENTERPRISE:2.0:USER` are legal; after this
//! pass every name the schemas know is spelled as the schema spells it, so
//! nothing later (rules, plugins, profiles, the backend) has to fold case.

use super::{Normalization as N, Report};
use crate::filter::Filter;
use crate::json_text::same_bytes;
use crate::path::{AttrPath, Path};
use crate::schema::{Attribute, ResourceSchema};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

/// Renames the keys of a path-less PATCH value (or any resource-shaped
/// object), its extension objects and the sub-attributes of its complex
/// values: [`top`], then every complex value.
pub(super) fn resource(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    top(map, schema, r);
    for (key, value) in map.iter_mut() {
        if let Some(ext) = extension(schema, key) {
            for (k, v) in value.as_object_mut().into_iter().flatten() {
                if let Some(def) = ext.attribute(k) {
                    value_of(v, def, r);
                }
            }
        } else if let Some(def) = schema.core_attribute(key) {
            value_of(value, def, r);
        }
    }
}

/// Renames the top-level keys of a resource and of its extension objects,
/// and the URNs in `schemas`. Core attributes are unqualified:
/// `urn:...:core:2.0:User:active` becomes `active`, and an object under
/// the core URN is opened into the top. (A POST or PUT body's complex
/// values are renamed by [`value_of`] as the normalizer visits each
/// attribute.)
pub(super) fn top(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    open_core(map, schema, r);
    rename_keys(map, |key| top_spelling(schema, key), r);
    for (key, value) in map.iter_mut() {
        if key == "schemas" {
            schema_urns(value, schema, r);
        } else if let (Some(ext), Some(m)) = (extension(schema, key), value.as_object_mut()) {
            rename_keys(m, |k| ext.attribute(k).map(|d| d.name.as_str()), r);
        }
    }
}

/// Whether a key that is no extension names the core schema: its URN, or
/// an attribute qualified by it.
pub(super) fn names_core(key: &str, schema: &ResourceSchema<'_>) -> bool {
    schema.is_core_urn(key) || key.rsplit_once(':').is_some_and(|(urn, _)| schema.is_core_urn(urn))
}

/// Whether `schemas` lists a URN the resource type knows in another case.
pub(super) fn urns_misspelled(map: &Obj, schema: &ResourceSchema<'_>) -> bool {
    let schemas = crate::path::get_exact(map, "schemas").and_then(Value::as_array);
    let listed = schemas.into_iter().flatten().filter_map(Value::as_str);
    listed
        .into_iter()
        .any(|u| u != schema.core_urn() && (schema.is_core_urn(u) || extension(schema, u).is_some_and(|e| e.id != u)))
}

/// The schema's spelling of a top-level key: an extension's URN, or a
/// core attribute's name (also when qualified by the core URN).
fn top_spelling<'a>(schema: &ResourceSchema<'a>, key: &str) -> Option<&'a str> {
    if let Some(ext) = extension(schema, key) {
        return Some(ext.id.as_str());
    }
    let qualified = key.len() > 4 && key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    let name = match key.rsplit_once(':').filter(|_| qualified) {
        Some((urn, name)) if schema.is_core_urn(urn) => name,
        _ => key,
    };
    schema.core_attribute(name).map(|d| d.name.as_str())
}

/// The extension a key names; only a key that starts with `urn:` can.
fn extension<'a>(schema: &ResourceSchema<'a>, key: &str) -> Option<&'a crate::schema::Schema> {
    let urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    urn.then(|| schema.extension(key)).flatten()
}

/// `{"urn:...:core:2.0:User": {"active": false}}` becomes `{"active":
/// false}`; an attribute also given at the top keeps the top's value.
fn open_core(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    let is_core = |k: &String, v: &Value| v.is_object() && k.len() > 4 && schema.is_core_urn(k);
    let Some(key) = map.iter().find(|(k, v)| is_core(k, v)).map(|(k, _)| k.clone()) else { return };
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
        let known = match extension(schema, text) {
            Some(ext) => Some(ext.id.as_str()),
            None => schema.is_core_urn(text).then(|| schema.core_urn()),
        };
        if let Some(k) = known.filter(|k| *k != text) {
            *urn = Value::String(k.to_owned());
            r.add(N::AttributeNameCase);
        }
    }
}

/// The sub-attribute names of a complex value (an object, or an array of
/// them), in the schema's spelling.
pub(super) fn value_of(value: &mut Value, def: &Attribute, r: &mut Report) {
    if def.sub_attributes.is_empty() {
        return;
    }
    let spelling = |k: &str| -> Option<&str> {
        // Compared inline: most keys are spelled as the schema spells them.
        let exact = def.sub_attributes.iter().find(|a| same_bytes(a.name.as_bytes(), k.as_bytes()));
        exact.or_else(|| def.sub_attribute(k)).map(|d| d.name.as_str())
    };
    match value {
        Value::Object(m) => rename_keys(m, spelling, r),
        Value::Array(items) => {
            for m in items.iter_mut().filter_map(Value::as_object_mut) {
                rename_keys(m, spelling, r);
            }
        }
        _ => {}
    }
}

/// Renames every key `canonical` spells otherwise, keeping the order. When
/// two keys name one attribute (`active` and `Active`), the first stays and
/// the later one is dropped; the request's intent is decided on what the
/// IdP sent as well, so a deactivation is never lost this way.
fn rename_keys<'s>(map: &mut Obj, canonical: impl Fn(&str) -> Option<&'s str>, r: &mut Report) {
    let wrong = |k: &String| canonical(k).is_some_and(|c| !same_bytes(c.as_bytes(), k.as_bytes()));
    if !map.keys().any(wrong) {
        return;
    }
    for (key, value) in std::mem::take(map) {
        let name = match canonical(&key) {
            Some(c) if !same_bytes(c.as_bytes(), key.as_bytes()) => {
                r.add(N::AttributeNameCase);
                c.to_owned()
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
    if let Some(sub) = path.sub.as_mut()
        && let Some(def) = top.sub_attribute(sub)
    {
        changed |= rename(sub, &def.name);
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
