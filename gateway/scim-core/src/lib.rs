//! The SCIM core of scim-gateway: everything about reading SCIM 2.0
//! (RFC 7643 / RFC 7644) and what real identity providers send, with no
//! I/O, async runtime or HTTP in it.
//!
//! - [`schema`]: attribute definitions, core and extension schemas.
//! - [`path`]: attribute paths with get / set / remove on JSON resources.
//! - [`filter`]: the filter grammar: parse, print, evaluate.
//! - [`patch`]: PatchOp parsing, the RFC 7644 section 3.5.2 applier, and diffs.
//! - [`normalize`]: turning Okta's and Entra ID's quirks into canonical SCIM.
//! - [`json_text`]: scanning JSON text eight or sixteen bytes at a time,
//!   and a tree built straight from it.
//! - [`error`]: errors that know their HTTP status and `scimType`.

pub mod deprovision;
pub mod error;
pub mod filter;
pub mod json_text;
pub mod normalize;
pub mod patch;
pub mod path;
pub mod schema;

pub use deprovision::Intent;
pub use error::{ScimError, ScimType, error_body};

/// Which way a document travels through the gateway; one type for the
/// mapping rules and the plugins alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// From the IdP, toward the backend.
    Request,
    /// From the backend, back to the IdP.
    Response,
}

impl Direction {
    /// `request` or `response`, as mapping files and metrics write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }
}

/// The schema of a ListResponse (RFC 7644 section 3.4.2).
pub const LIST_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub use filter::Filter;
pub use patch::{PatchOp, PatchOperation};
pub use path::{AttrPath, Path};
pub use schema::{Registry, ResourceSchema};
