//! The SCIM schema model (RFC 7643 sections 2 and 7): attribute definitions,
//! schemas, resource types and a [`Registry`] that resolves attribute names
//! case-insensitively.

mod registry;

pub use registry::{Registry, ResourceSchema, ResourceType, SchemaExtension, core_schema_texts};

use serde::{Deserialize, Serialize};

/// The URN of the core User schema.
pub const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The URN of the core Group schema.
pub const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The URN of the enterprise User extension.
pub const ENTERPRISE_URN: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// An attribute's data type (RFC 7643 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum AttrType {
    #[default]
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

/// When an attribute may be written (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Mutability {
    ReadOnly,
    #[default]
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// When an attribute is returned (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Returned {
    Always,
    Never,
    #[default]
    Default,
    Request,
}

/// How unique an attribute's value is (RFC 7643 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Uniqueness {
    #[default]
    None,
    Server,
    Global,
}

/// One attribute definition. Defaults follow RFC 7643 section 2.2.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attribute {
    pub name: String,
    #[serde(rename = "type", default)]
    pub ty: AttrType,
    #[serde(default)]
    pub multi_valued: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub canonical_values: Vec<serde_json::Value>,
    #[serde(default)]
    pub case_exact: bool,
    #[serde(default)]
    pub mutability: Mutability,
    #[serde(default)]
    pub returned: Returned,
    #[serde(default)]
    pub uniqueness: Uniqueness,
    #[serde(default)]
    pub reference_types: Vec<String>,
    #[serde(default)]
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// The sub-attribute `name`, matched case-insensitively.
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.sub_attributes, name)
    }

    /// Whether values of this attribute are compared case-sensitively.
    pub fn is_case_exact(&self) -> bool {
        self.case_exact || matches!(self.ty, AttrType::Binary)
    }
}

/// A schema (RFC 7643 section 7): a URN and its attributes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schema {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub attributes: Vec<Attribute>,
    /// Present when the schema comes from a server's `/Schemas` endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schemas: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl Schema {
    /// The attribute `name`, matched case-insensitively.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        find_attr(&self.attributes, name)
    }
}

/// A problem found while loading a schema: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {message}")]
pub struct SchemaError {
    /// `line:col` for syntax errors, or the schema URN and attribute path.
    pub location: String,
    pub message: String,
}

/// Whether two names (attribute names, schema URNs) are the same in any
/// ASCII case, as SCIM compares them: as written first (the usual case,
/// one `memcmp`), case folded only when that finds a difference and the
/// first bytes agree with their case bit set (as two equal in any ASCII
/// case do; most different names of one length part there).
#[inline]
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    let first = |s: &[u8]| s.first().map(|c| c | 0x20);
    a.len() == b.len() && (a == b || (first(a) == first(b) && a.eq_ignore_ascii_case(b)))
}

fn find_attr<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Parses schema definitions from JSON text: one schema object, an array of
/// them, or a `/Schemas` ListResponse. Every problem is reported.
pub fn parse_schemas(text: &str) -> Result<Vec<Schema>, Vec<SchemaError>> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| vec![json_error(&e)])?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        serde_json::Value::Object(mut map) if map.contains_key("Resources") => match map.remove("Resources") {
            Some(serde_json::Value::Array(items)) => items,
            _ => return Err(vec![error("Resources", "must be an array of schemas")]),
        },
        other => vec![other],
    };
    let mut schemas = Vec::new();
    let mut errors = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<Schema>(item) {
            Ok(schema) => {
                errors.extend(validate_schema(&schema));
                schemas.push(schema);
            }
            Err(e) => errors.push(error(&format!("schema #{}", i + 1), &e.to_string())),
        }
    }
    if errors.is_empty() { Ok(schemas) } else { Err(errors) }
}

fn json_error(e: &serde_json::Error) -> SchemaError {
    error(&format!("{}:{}", e.line(), e.column()), &e.to_string())
}

fn error(location: &str, message: &str) -> SchemaError {
    SchemaError { location: location.into(), message: message.into() }
}

/// Checks what serde cannot: URN ids, attribute name syntax, duplicate
/// names, and that only complex attributes have (non-complex) sub-attributes.
pub fn validate_schema(schema: &Schema) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    if !schema.id.to_ascii_lowercase().starts_with("urn:") {
        errors.push(error(&schema.id, "a schema id must be a URN (starting with \"urn:\")"));
    }
    validate_attrs(&schema.id, &schema.attributes, true, &mut errors);
    errors
}

fn validate_attrs(prefix: &str, attrs: &[Attribute], top: bool, errors: &mut Vec<SchemaError>) {
    for (i, attr) in attrs.iter().enumerate() {
        let here = format!("{prefix}:{}", attr.name);
        if !crate::path::is_attr_name(&attr.name) {
            errors
                .push(error(&here, "not a valid attribute name (ALPHA *(ALPHA / DIGIT / \"-\" / \"_\"), or \"$ref\")"));
        }
        if attrs.iter().take(i).any(|a| a.name.eq_ignore_ascii_case(&attr.name)) {
            errors.push(error(&here, "duplicate attribute (names are case-insensitive)"));
        }
        match (attr.ty, attr.sub_attributes.is_empty()) {
            (AttrType::Complex, true) => errors.push(error(&here, "a complex attribute needs subAttributes")),
            (AttrType::Complex, false) if !top => {
                errors.push(error(&here, "a sub-attribute cannot be complex (RFC 7643 section 2.3.8)"))
            }
            (AttrType::Complex, false) => validate_attrs(&here, &attr.sub_attributes, false, errors),
            (_, false) => errors.push(error(&here, "only complex attributes have subAttributes")),
            (_, true) => {}
        }
    }
}
