//! The one answer to "does this request take a user's access away?".
//!
//! A deprovisioning must never be blocked by a mapping rule, a plugin or
//! anything else the gateway adds: a leaver left active is the incident the
//! gateway exists to prevent. Every part of the gateway that asks the
//! question asks [`Intent`], so that they cannot disagree.
//!
//! A request deprovisions when it is a DELETE, or when it sets `active` to
//! false, spelled in any of the ways SCIM allows and IdPs send:
//!
//! - the attribute name in any case (`active`, `Active`): SCIM attribute
//!   names are case-insensitive;
//! - qualified by the core User URN (`urn:...:core:2.0:User:active`), as a
//!   PATCH path or as a key, or nested under the core URN as an object;
//! - `false` as a JSON boolean or as the string Entra ID sends (`"False"`,
//!   `"false"`);
//! - in a resource (POST, PUT), a PATCH operation with a path, or the value
//!   of a path-less PATCH `add` or `replace`.

use crate::patch::{OpKind, PatchOp, PatchOperation};
use crate::path::{Path, get_ci};
use crate::schema::USER_URN;
use serde_json::{Map, Value};

/// Whether a request provisions (creates, updates, reads) or deprovisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Intent {
    /// Anything that does not take access away.
    #[default]
    Provision,
    /// A deactivation (`active` set to false) or a DELETE.
    Deprovision,
}

impl Intent {
    /// A DELETE: always a deprovisioning.
    pub const DELETE: Self = Self::Deprovision;

    /// Whether this is a deprovisioning.
    pub fn is_deprovision(self) -> bool {
        self == Self::Deprovision
    }

    /// The intent of a POST or PUT body (or any resource-shaped object).
    pub fn of_resource(doc: &Value) -> Self {
        Self::from(doc.as_object().is_some_and(object_deactivates))
    }

    /// The intent of a parsed PATCH: a deprovisioning when any of its
    /// operations is one.
    pub fn of_patch(patch: &PatchOp) -> Self {
        Self::from(patch.operations.iter().any(operation_deactivates))
    }

    /// The intent of one PATCH operation.
    pub fn of_operation(op: &PatchOperation) -> Self {
        Self::from(operation_deactivates(op))
    }

    /// The intent of a PATCH body as the IdP sent it, before it is
    /// normalized or parsed: `Operations` and `op` in any case, operations
    /// that do not parse skipped. What normalization makes of the body
    /// cannot lose a deactivation this saw.
    pub fn of_patch_json(body: &Value) -> Self {
        let ops = body.as_object().and_then(|m| get_ci(m, "Operations")).and_then(Value::as_array);
        Self::from(ops.into_iter().flatten().any(raw_operation_deactivates))
    }

    /// The intent of a request as it arrives, before its body is
    /// normalized or parsed: a DELETE, a PUT of a User by
    /// [`Intent::of_resource`], a PATCH of a User by
    /// [`Intent::of_patch_json`], a /Bulk request (`resource_type`
    /// `"Bulk"`) when any of its operations is one of these. Normalization
    /// can only add deactivations to what this sees (see
    /// [`Intent::of_patch_json`]).
    pub fn of_request(method: &str, resource_type: &str, body: Option<&Value>) -> Self {
        let body = body.unwrap_or(&Value::Null);
        match (method, resource_type) {
            ("DELETE", _) => Self::DELETE,
            ("PUT", "User") => Self::of_resource(body),
            ("PATCH", "User") => Self::of_patch_json(body),
            ("POST", "Bulk") => {
                let ops = body.as_object().and_then(|m| get_ci(m, "Operations")).and_then(Value::as_array);
                Self::from(ops.into_iter().flatten().any(|op| Self::of_bulk_operation(op).is_deprovision()))
            }
            _ => Self::Provision,
        }
    }

    /// The intent of one /Bulk operation as it arrives.
    pub fn of_bulk_operation(op: &Value) -> Self {
        let text = |k: &str| op.get(k).and_then(Value::as_str).unwrap_or("");
        let method = text("method").to_ascii_uppercase();
        let rt = match text("path").split('/').nth(1) {
            Some("Users") => "User",
            _ => "Other",
        };
        Self::of_request(&method, rt, op.get("data"))
    }

    /// The metric and log label: `provision` or `deprovision`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provision => "provision",
            Self::Deprovision => "deprovision",
        }
    }
}

impl From<bool> for Intent {
    fn from(deprovision: bool) -> Self {
        if deprovision { Self::Deprovision } else { Self::Provision }
    }
}

/// `false`, as a boolean or as a string in any case.
pub fn is_false(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// Whether `key` names the core User `active`: `active` in any case, or
/// `urn:ietf:params:scim:schemas:core:2.0:User:active`. A deprovisioning
/// is decided on the members it names: a reader must never drop one.
pub fn is_active_key(key: &str) -> bool {
    let Some(tail) = key.len().checked_sub(6).and_then(|i| key.get(i..)) else { return false };
    if !tail.eq_ignore_ascii_case("active") {
        return false;
    }
    key.len() == 6 || key.strip_suffix(tail).and_then(|k| k.strip_suffix(':')).is_some_and(is_core_user)
}

fn is_core_user(urn: &str) -> bool {
    urn.eq_ignore_ascii_case(USER_URN)
}

/// An object (a resource, or a path-less PATCH value) that sets `active`
/// to false, at the top or under the core User URN.
fn object_deactivates(map: &Map<String, Value>) -> bool {
    map.iter().any(|(k, v)| {
        (is_active_key(k) && is_false(v)) || (is_core_user(k) && v.as_object().is_some_and(object_deactivates))
    })
}

fn operation_deactivates(op: &PatchOperation) -> bool {
    deactivates(op.op, op.path.as_ref(), op.value.as_ref())
}

fn raw_operation_deactivates(op: &Value) -> bool {
    let Some(m) = op.as_object() else { return false };
    let kind = match get_ci(m, "op").and_then(Value::as_str).map(str::to_ascii_lowercase).as_deref() {
        Some("add") => OpKind::Add,
        Some("replace") => OpKind::Replace,
        _ => return false,
    };
    let path = match get_ci(m, "path") {
        Some(Value::String(p)) => match Path::parse(p) {
            Ok(path) => Some(path),
            Err(_) => return false,
        },
        _ => None,
    };
    deactivates(kind, path.as_ref(), get_ci(m, "value"))
}

fn deactivates(kind: OpKind, path: Option<&Path>, value: Option<&Value>) -> bool {
    if kind == OpKind::Remove {
        return false;
    }
    let Some(value) = value else { return false };
    match path {
        None => value.as_object().is_some_and(object_deactivates),
        Some(path) if names_core_user(path) => value.as_object().is_some_and(object_deactivates),
        Some(path) => names_active(path) && is_false(value),
    }
}

/// A path to the core `active`: no filter, no sub-attribute, no URN or the
/// core User URN.
fn names_active(path: &Path) -> bool {
    path.filter.is_none()
        && path.sub.is_none()
        && path.name.eq_ignore_ascii_case("active")
        && path.urn.as_deref().is_none_or(is_core_user)
}

/// A path that is the core User URN itself (it parses as the URN
/// `urn:...:core:2.0` and the name `User`).
fn names_core_user(path: &Path) -> bool {
    match (&path.urn, &path.filter, &path.sub) {
        (Some(urn), None, None) => is_core_user(&format!("{urn}:{}", path.name)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
