//! Normalizing POST and PUT bodies.

use super::values::{
    decode_roles, drop_nested_nulls, drop_null_refs, fix_booleans, manager_is_canonical, manager_value,
};
use super::{Normalization as N, Normalizer, Report};
use crate::path::{TopKey, classify_key, ensure_schema_urn, find_key, get_exact, get_exact_mut, is_urn};
use crate::schema::{Attribute, ENTERPRISE_URN, Mutability, ResourceSchema};
use serde_json::{Map, Value};

type Obj = Map<String, Value>;

impl Normalizer {
    /// Normalizes a POST or PUT body of the resource type `schema`.
    pub fn resource(&self, body: &mut Value, schema: &ResourceSchema<'_>) -> Report {
        self.resource_with_stripped(body, schema, 0)
    }

    /// [`Normalizer::resource`] of a body whose reader left out `stripped`
    /// top-level members, each one this normalizer strips whole
    /// ([`super::stripped_attribute`], [`super::stripped_prefix`]): they
    /// are counted as stripped, where the strip counts its own.
    pub fn resource_with_stripped(&self, body: &mut Value, schema: &ResourceSchema<'_>, stripped: usize) -> Report {
        debug_assert!(stripped == 0 || self.is_enabled(N::ReadOnlyStripped), "members left out with the strip off");
        let mut r = Report::default();
        let Some(map) = body.as_object_mut() else { return r };
        if self.is_enabled(N::QualifiedKey) {
            nest_qualified_keys(map, schema, &mut r);
        }
        if self.is_enabled(N::ManagerShape) && schema.extension(ENTERPRISE_URN).is_some() {
            fix_manager(map, &mut r);
        }
        if self.is_enabled(N::NullValue) {
            drop_nulls(map, schema, &mut r);
        }
        if self.is_enabled(N::ReadOnlyStripped) {
            r.applied.extend(std::iter::repeat_n(N::ReadOnlyStripped, stripped));
            strip_read_only(map, schema, &mut r);
        }
        let names = self.is_enabled(N::AttributeNameCase);
        let fix = |def: &Attribute, value: &mut Value, r: &mut Report| {
            if names {
                super::names::value_of(value, def, r);
            }
            if self.is_enabled(N::StringBoolean) {
                fix_booleans(value, def, r);
            }
            if self.is_enabled(N::NullRef) && def.sub_attribute("$ref").is_some() {
                drop_null_refs(value, r);
            }
            if self.is_enabled(N::JsonEncodedRole) && def.name == "roles" {
                decode_roles(value, r);
            }
        };
        let spelled = for_each_attr(map, schema, |def, value| fix(def, value, &mut r));
        // Names in another case are rare: the visit above told whether any
        // is, so a body in the schema's spelling costs no second look. After
        // renaming (core attributes moved to the top among them) the values
        // are visited again.
        if names && (spelled == Spelled::Otherwise || super::names::urns_misspelled(map, schema)) {
            super::names::top(map, schema, &mut r);
            for_each_attr(map, schema, |def, value| fix(def, value, &mut r));
        }
        if self.is_enabled(N::MissingSchemaUrn) {
            add_missing_urns(body, schema, &mut r);
        }
        if self.is_enabled(N::UnknownSchemaUrn) {
            drop_unknown_urns(body, schema, &mut r);
        }
        r
    }
}

/// Whether every key a visit saw is spelled as the schema spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spelled {
    AsTheSchema,
    Otherwise,
}

/// Calls `f` with each attribute the schema defines, extension ones
/// included, whatever the case of its key; says whether every key was in
/// the schema's spelling (and none qualified by the core URN).
fn for_each_attr(map: &mut Obj, schema: &ResourceSchema<'_>, mut f: impl FnMut(&Attribute, &mut Value)) -> Spelled {
    let mut exact = true;
    for (key, value) in map.iter_mut() {
        let urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        if let Some(ext) = urn.then(|| schema.extension(key)).flatten() {
            exact &= *key == ext.id;
            let Some(fields) = value.as_object_mut() else { continue };
            for (k, v) in fields.iter_mut() {
                if let Some(def) = ext.attribute(k) {
                    exact &= *k == def.name;
                    f(def, v);
                }
            }
        } else if let Some(def) = schema.core_attribute(key) {
            exact &= *key == def.name;
            f(def, value);
        } else if urn {
            exact &= !super::names::names_core(key, schema);
        }
    }
    if exact { Spelled::AsTheSchema } else { Spelled::Otherwise }
}

/// `"urn:...:2.0:User:department": "x"` at the top of a body moves into the
/// extension object: `"urn:...:2.0:User": {"department": "x"}`.
/// Most bodies have no such key: only a URN key can be one, so the body is
/// left as it is (no key parsed, none moved) unless one is there.
fn nest_qualified_keys(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    let moved: Vec<String> =
        map.iter().filter(|(k, v)| qualified_path(k, v, schema).is_some()).map(|(k, _)| k.clone()).collect();
    if moved.is_empty() {
        return;
    }
    let mut qualified = Vec::new();
    for key in moved {
        let path = map.get(&key).and_then(|v| qualified_path(&key, v, schema));
        if let (Some(path), Some(value)) = (path, map.shift_remove(&key)) {
            qualified.push((path, value));
        }
    }
    let mut whole = Value::Object(std::mem::take(map));
    for (path, value) in qualified {
        if path.set(&mut whole, value, Some(schema)).is_ok() {
            r.add(N::QualifiedKey);
        }
    }
    if let Value::Object(m) = whole {
        *map = m;
    }
}

/// The attribute path of a top-level key qualified by a schema URN.
fn qualified_path(key: &str, value: &Value, schema: &ResourceSchema<'_>) -> Option<crate::path::Path> {
    if !is_urn(key) {
        return None;
    }
    match classify_key(key, value, schema) {
        Ok(TopKey::Attribute(path)) if path.urn.is_some() => Some(path),
        _ => None,
    }
}

/// Moves a top-level `manager` into the enterprise extension and gives it
/// the canonical `{"value": id}` shape.
fn fix_manager(map: &mut Obj, r: &mut Report) {
    let ext_key = find_key(map, ENTERPRISE_URN).unwrap_or_else(|| ENTERPRISE_URN.to_owned());
    if map.get(&ext_key).is_some_and(|e| !e.is_object()) {
        return; // a malformed extension is left for the backend to reject
    }
    let stray = find_key(map, "manager").and_then(|k| map.shift_remove(&k));
    let ext = map.entry(ext_key.clone()).or_insert_with(|| Value::Object(Obj::new()));
    let Some(ext_map) = ext.as_object_mut() else { return };
    let current = stray.or_else(|| find_key(ext_map, "manager").and_then(|k| ext_map.shift_remove(&k)));
    match current {
        Some(v) if v.is_null() || manager_is_canonical(&v) => {
            ext_map.insert("manager".into(), v);
        }
        Some(v) => {
            r.add(N::ManagerShape);
            if let Some(m) = manager_value(&v) {
                ext_map.insert("manager".into(), m);
            }
        }
        None => {}
    }
    if ext_map.is_empty() {
        map.shift_remove(&ext_key);
    }
}

fn drop_nulls(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    let before = map.len();
    if map.values().any(Value::is_null) {
        map.retain(|_, v| !v.is_null());
    }
    for _ in map.len()..before {
        r.add(N::NullValue);
    }
    for (key, value) in map.iter_mut() {
        // An extension's id is a URN (schemas are refused at load
        // otherwise): other keys need no lookup.
        if is_urn(key) && (value.is_object() || schema.extension(key).is_some()) {
            if let Some(ext) = value.as_object_mut() {
                let before = ext.len();
                ext.retain(|_, v| !v.is_null());
                for _ in ext.len()..before {
                    r.add(N::NullValue);
                }
                ext.values_mut().for_each(|v| drop_nested_nulls(v, r));
            }
        } else {
            drop_nested_nulls(value, r);
        }
    }
    let emptied = |k: &String, v: &Value| is_urn(k) && v.as_object().is_some_and(Obj::is_empty);
    if map.iter().any(|(k, v)| emptied(k, v)) {
        map.retain(|k, v| !emptied(k, v));
    }
}

fn strip_read_only(map: &mut Obj, schema: &ResourceSchema<'_>, r: &mut Report) {
    // A key can only name a read-only attribute if it is one's name in some
    // case: the few such names are looked at first, and the schema asked
    // only about a key that is one of them. The rest keep their order.
    let read_only = schema.read_only_core_or_common();
    map.retain(|k, _| {
        let doomed = read_only.iter().any(|n| n.eq_ignore_ascii_case(k))
            && schema.core_attribute(k).is_some_and(|d| d.mutability == Mutability::ReadOnly);
        if doomed {
            r.add(N::ReadOnlyStripped);
        }
        !doomed
    });
}

fn add_missing_urns(body: &mut Value, schema: &ResourceSchema<'_>, r: &mut Report) {
    let Some(map) = body.as_object() else { return };
    // `schemas` holds a URN or two: a look along it costs less than a set,
    // and a body's few keys are looked along for it, none hashed.
    let schemas = map.iter().find(|(k, _)| *k == "schemas").and_then(|(_, v)| v.as_array());
    let listed = schemas.into_iter().flatten().filter_map(Value::as_str);
    let extensions = map.iter().filter(|(k, v)| is_urn(k) && v.is_object() && !schema.is_core_urn(k));
    let candidates = std::iter::once(schema.core_urn())
        .chain(extensions.map(|(k, _)| schema.extension(k).map_or(k.as_str(), |e| e.id.as_str())));
    let mut missing: Vec<String> = Vec::new();
    for urn in candidates {
        let known = |u: &str| u.eq_ignore_ascii_case(urn);
        if !listed.clone().any(known) && !missing.iter().map(String::as_str).any(known) {
            missing.push(urn.to_owned());
        }
    }
    for urn in missing {
        ensure_schema_urn(body, &urn);
        r.add(N::MissingSchemaUrn);
    }
}

/// Drops URNs from `schemas` that are neither the core schema, nor a known
/// extension, nor the key of data in the body (Entra ID's extra ADSCIM Group URN).
fn drop_unknown_urns(body: &mut Value, schema: &ResourceSchema<'_>, r: &mut Report) {
    let Some(map) = body.as_object_mut() else { return };
    let known = |urn: &str| schema.is_core_urn(urn) || schema.extension(urn).is_some();
    let listed = |v: &Value| v.as_array().is_some_and(|l| l.iter().all(|s| s.as_str().is_some_and(known)));
    // Usually every URN listed is known: nothing is dropped, no key copied.
    if get_exact(map, "schemas").is_none_or(|v| !v.is_array() || listed(v)) {
        return;
    }
    let keys: Vec<String> = map.keys().map(|k| k.to_ascii_lowercase()).collect();
    let Some(Value::Array(list)) = get_exact_mut(map, "schemas") else { return };
    let before = list.len();
    list.retain(|s| {
        let Some(urn) = s.as_str() else { return false };
        known(urn) || keys.contains(&urn.to_ascii_lowercase())
    });
    for _ in list.len()..before {
        r.add(N::UnknownSchemaUrn);
    }
}
