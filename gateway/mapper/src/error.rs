//! Mapping errors, and the SCIM error each one becomes.

use scim_core::{ScimError, ScimType};

/// Why a document could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    /// A rule failed on a request that is not a deprovisioning.
    #[error("mapping rule {rule} failed for {target}: {message}")]
    Rule { rule: String, target: String, message: String },
    /// The document is not a JSON object, or a PATCH is malformed.
    #[error("{0}")]
    Invalid(ScimError),
    /// A filter names an attribute the mapping computes in a way that
    /// cannot be turned into a backend filter.
    #[error("{0}")]
    Filter(String),
    /// The resource type is not one the registry knows.
    #[error("unknown resource type {0}")]
    UnknownResourceType(String),
}

impl MapError {
    /// The SCIM error to answer with (request side: the IdP's input could
    /// not be mapped).
    pub fn to_scim(&self) -> ScimError {
        match self {
            Self::Rule { .. } => ScimError::new(ScimType::InvalidValue, self.to_string()),
            Self::Invalid(e) => e.clone(),
            Self::Filter(msg) => ScimError::invalid_filter(msg.clone()),
            Self::UnknownResourceType(_) => ScimError::new(ScimType::InvalidSyntax, self.to_string()),
        }
    }
}
