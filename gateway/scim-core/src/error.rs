//! SCIM errors: every failure in this crate is a [`ScimError`], which knows its
//! HTTP status and RFC 7644 section 3.12 `scimType`. [`error_body`] is the one
//! place that renders an Error response body.

use serde_json::{Value, json};
use std::fmt;

/// The URN of SCIM error responses.
pub const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values of RFC 7644 section 3.12, table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    const ALL: [Self; 10] = [
        Self::InvalidFilter,
        Self::TooMany,
        Self::Uniqueness,
        Self::Mutability,
        Self::InvalidSyntax,
        Self::InvalidPath,
        Self::NoTarget,
        Self::InvalidValue,
        Self::InvalidVers,
        Self::Sensitive,
    ];

    /// The type with this wire spelling (RFC 7644 table 9), if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }

    /// The wire spelling, e.g. `invalidFilter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFilter => "invalidFilter",
            Self::TooMany => "tooMany",
            Self::Uniqueness => "uniqueness",
            Self::Mutability => "mutability",
            Self::InvalidSyntax => "invalidSyntax",
            Self::InvalidPath => "invalidPath",
            Self::NoTarget => "noTarget",
            Self::InvalidValue => "invalidValue",
            Self::InvalidVers => "invalidVers",
            Self::Sensitive => "sensitive",
        }
    }

    /// The HTTP status RFC 7644 pairs with this `scimType`.
    pub fn status(self) -> u16 {
        match self {
            Self::Uniqueness => 409,
            Self::Sensitive => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM protocol error: a `scimType` and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{scim_type}: {detail}")]
pub struct ScimError {
    pub scim_type: ScimType,
    pub detail: String,
}

impl ScimError {
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self { scim_type, detail: detail.into() }
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(ScimType::TooMany, detail)
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> u16 {
        self.scim_type.status()
    }

    /// The RFC 7644 Error response body of this error.
    pub fn to_body(&self) -> Value {
        error_body(self.status(), Some(self.scim_type), &self.detail)
    }
}

/// Renders a SCIM Error body (RFC 7644 section 3.12). `status` is a string on
/// the wire; `scimType` is left out when there is none (401, 404, 5xx).
pub fn error_body(status: u16, scim_type: Option<ScimType>, detail: &str) -> Value {
    let mut body = json!({
        "schemas": [ERROR_URN],
        "status": status.to_string(),
        "detail": detail,
    });
    if let (Some(t), Some(map)) = (scim_type, body.as_object_mut()) {
        map.insert("scimType".into(), Value::String(t.as_str().into()));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_string_status_and_scim_type() {
        let body = ScimError::invalid_filter("at column 3: expected operator").to_body();
        assert_eq!(body["schemas"][0], ERROR_URN);
        assert_eq!(body["status"], "400");
        assert_eq!(body["scimType"], "invalidFilter");
        assert_eq!(body["detail"], "at column 3: expected operator");
    }

    #[test]
    fn scim_types_parse_back_from_their_wire_spelling() {
        for t in ScimType::ALL {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
        }
        assert_eq!(ScimType::parse("InvalidValue"), None, "the spelling is exact");
        assert_eq!(ScimType::parse("madeUp"), None);
    }

    #[test]
    fn statuses_follow_rfc_table() {
        assert_eq!(ScimType::Uniqueness.status(), 409);
        assert_eq!(ScimType::Sensitive.status(), 403);
        assert_eq!(ScimType::NoTarget.status(), 400);
        assert!(error_body(404, None, "x").get("scimType").is_none());
    }
}
