//! The mapping file as written, before validation.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// Keys a rule table may hold.
pub(crate) const RULE_KEYS: [&str; 13] = [
    "name",
    "target",
    "from",
    "first_of",
    "template",
    "value",
    "default",
    "transforms",
    "when",
    "on",
    "remove",
    "rename",
    "to",
];

/// One `[[User.request]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub(crate) name: Option<Spanned<String>>,
    pub(crate) target: Option<Spanned<String>>,
    pub(crate) from: Option<Spanned<String>>,
    pub(crate) first_of: Option<Spanned<Vec<Spanned<RawSource>>>>,
    pub(crate) template: Option<Spanned<String>>,
    pub(crate) value: Option<Spanned<toml::Value>>,
    pub(crate) default: Option<Spanned<toml::Value>>,
    pub(crate) transforms: Option<Vec<Spanned<RawTransform>>>,
    pub(crate) when: Option<Spanned<String>>,
    pub(crate) on: Option<Spanned<String>>,
    pub(crate) remove: Option<Spanned<String>>,
    pub(crate) rename: Option<Spanned<String>>,
    pub(crate) to: Option<Spanned<String>>,
}

/// An entry of `first_of`: a path, `{ template = "..." }` or `{ value = ... }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawSource {
    Path(String),
    Template(String),
    Const(toml::Value),
}

/// A transform: `"lower"`, or a table such as `{ split = "@", index = 0 }`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawTransform {
    Simple(String),
    Args(BTreeMap<String, toml::Value>),
}

impl<'de> Deserialize<'de> for RawSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SourceVisitor)
    }
}

struct SourceVisitor;

impl<'de> Visitor<'de> for SourceVisitor {
    type Value = RawSource;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a path string, { template = \"...\" } or { value = ... }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawSource, E> {
        Ok(RawSource::Path(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawSource, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<String>()? {
            let source = match key.as_str() {
                "template" => RawSource::Template(map.next_value()?),
                "value" => RawSource::Const(map.next_value()?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a first_of entry; expected `template` or `value`"
                    )));
                }
            };
            if found.replace(source).is_some() {
                return Err(de::Error::custom("a first_of entry holds one of `template` or `value`"));
            }
        }
        found.ok_or_else(|| de::Error::custom("an empty first_of entry; expected `template` or `value`"))
    }
}

impl<'de> Deserialize<'de> for RawTransform {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TransformVisitor)
    }
}

struct TransformVisitor;

impl<'de> Visitor<'de> for TransformVisitor {
    type Value = RawTransform;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a transform name or a table such as { split = \"@\", index = 0 }")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTransform, E> {
        Ok(RawTransform::Simple(v.to_owned()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTransform, A::Error> {
        let mut args = BTreeMap::new();
        while let Some((k, v)) = map.next_entry::<String, toml::Value>()? {
            args.insert(k, v);
        }
        Ok(RawTransform::Args(args))
    }
}
