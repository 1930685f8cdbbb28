//! Values of multi-valued and complex attributes: identity, merging and
//! the primary flag.

use crate::path::{find_key, get_ci};
use crate::schema::{AttrType, Attribute};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Values of a multi-valued attribute by identity: their `value` (case
/// folded unless caseExact; members compare exactly), and their `type` when
/// both sides have one. Lookups are O(1), so large groups stay linear.
pub(super) struct ValueIndex {
    exact: bool,
    by_key: HashMap<String, Vec<(usize, Option<Value>)>>,
}

impl ValueIndex {
    pub(super) fn new(items: &[Value], def: Option<&Attribute>) -> Self {
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
        let field = |k: &str| v.as_object().and_then(|m| get_ci(m, k));
        let id = match v {
            Value::Object(_) => field("value").unwrap_or(v),
            other => other,
        };
        let key = match id {
            Value::String(s) if !self.exact => s.to_lowercase(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        (key, field("type").cloned())
    }

    pub(super) fn insert(&mut self, v: &Value, i: usize) {
        let (key, ty) = self.key(v);
        self.by_key.entry(key).or_default().push((i, ty));
    }

    pub(super) fn find(&self, v: &Value) -> Option<usize> {
        let (key, ty) = self.key(v);
        let found = self.by_key.get(&key)?;
        found.iter().find(|(_, t)| !matches!((t, &ty), (Some(a), Some(b)) if a != b)).map(|(i, _)| *i)
    }
}

pub(super) fn is_primary(v: &Value) -> bool {
    v.as_object().and_then(|m| get_ci(m, "primary")) == Some(&Value::Bool(true))
}

/// `v` with `field` set (case-insensitively matched); non-objects become one.
pub(super) fn with_field(v: &Value, field: &str, value: Value) -> Value {
    let mut m = v.as_object().cloned().unwrap_or_default();
    let key = find_key(&m, field).unwrap_or_else(|| field.to_owned());
    m.insert(key, value);
    Value::Object(m)
}

/// `old` with each of `fields` set; a null field removes it.
pub(super) fn merged(old: &Value, fields: &Map<String, Value>) -> Value {
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

pub(super) fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

pub(super) fn sub_name(def: Option<&Attribute>, sub: &str) -> String {
    def.and_then(|d| d.sub_attribute(sub)).map_or_else(|| sub.to_owned(), |s| s.name.clone())
}
