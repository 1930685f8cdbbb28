//! What a top-level key of a resource, or of a path-less PATCH value, names:
//! the core schema, an extension object, or an attribute (plain, dotted or
//! URN-qualified). Every URN contains a dot (`2.0`), so the key's shape alone
//! cannot tell; the schema and the value decide.

use super::{AttrPath, Path};
use crate::error::ScimError;
use crate::schema::ResourceSchema;
use serde_json::Value;

/// The meaning of one top-level key.
#[derive(Debug, Clone, PartialEq)]
pub enum TopKey {
    /// The resource's core schema URN; its value holds core attributes.
    Core,
    /// An extension URN (canonical spelling when known); its value holds
    /// that extension's attributes.
    Extension(String),
    /// An attribute: `title`, `name.givenName`, `urn:...:User:department`.
    Attribute(Path),
}

impl TopKey {
    /// Whether this is an attribute written with a dot or a URN prefix.
    pub fn is_qualified_attribute(&self) -> bool {
        matches!(self, Self::Attribute(p) if p.urn.is_some() || p.sub.is_some())
    }
}

/// Whether `key` starts with `urn:` (any case).
pub fn is_urn(key: &str) -> bool {
    key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
}

/// Classifies `key`: a known schema URN is the core or an extension; a URN
/// whose prefix is a known schema is a qualified attribute; an unknown URN
/// holding an object is an extension; anything else parses as a path.
pub fn classify_key(key: &str, value: &Value, schema: &ResourceSchema<'_>) -> Result<TopKey, ScimError> {
    if !is_urn(key) {
        return Ok(TopKey::Attribute(Path::parse(key)?));
    }
    if schema.is_core_urn(key) {
        return Ok(TopKey::Core);
    }
    if let Some(ext) = schema.extension(key) {
        return Ok(TopKey::Extension(ext.id.clone()));
    }
    let parsed = AttrPath::parse(key);
    let known_prefix = parsed
        .as_ref()
        .ok()
        .and_then(|p| p.urn.as_deref())
        .is_some_and(|u| schema.is_core_urn(u) || schema.extension(u).is_some());
    match parsed {
        Ok(p) if known_prefix || !value.is_object() => Ok(TopKey::Attribute(Path::from(p))),
        _ if value.is_object() => Ok(TopKey::Extension(key.to_owned())),
        Ok(p) => Ok(TopKey::Attribute(Path::from(p))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Registry;
    use serde_json::json;

    #[test]
    fn urns_are_told_apart_by_schema_and_value() {
        let reg = Registry::core();
        let s = reg.resource("User").unwrap();
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let c = |k: &str, v: Value| classify_key(k, &v, &s).unwrap();
        assert_eq!(c("urn:ietf:params:scim:schemas:core:2.0:User", json!({})), TopKey::Core);
        assert_eq!(c(&ent.to_uppercase().replacen("URN", "urn", 1), json!({})), TopKey::Extension(ent.into()));
        assert!(c(&format!("{ent}:department"), json!("x")).is_qualified_attribute());
        assert!(c(&format!("{ent}:manager"), json!({"value": "m"})).is_qualified_attribute());
        assert_eq!(c("urn:x:Contoso:2.0:User", json!({"a": 1})), TopKey::Extension("urn:x:Contoso:2.0:User".into()));
        assert!(c("urn:x:Contoso:2.0:User:costCode", json!("c")).is_qualified_attribute());
        assert!(c("name.givenName", json!("g")).is_qualified_attribute());
        assert!(!c("title", json!("t")).is_qualified_attribute());
        assert!(classify_key("urn:x:bad key", &json!(1), &s).is_err());
    }
}
