//! SCIM PATCH (RFC 7644 section 3.5.2): the PatchOp message, an applier with
//! the RFC's semantics, and a diff that turns two resources into a PatchOp.

mod apply;
mod diff;

pub use apply::{ApplyOptions, apply, expand_key};
pub use diff::diff;

use crate::error::ScimError;
use crate::path::Path;
use serde_json::{Map, Value};

/// The URN of PATCH request bodies.
pub const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Most operations accepted in one PatchOp. Entra ID's member removal
/// becomes one operation per member, so this leaves room for large batches.
pub const MAX_PATCH_OPERATIONS: usize = 10_000;

/// Whether a body is a PatchOp: its `schemas` lists the PatchOp URN.
pub fn is_patch_op(body: &Value) -> bool {
    body.get("schemas").and_then(Value::as_array).is_some_and(|s| s.iter().any(|u| u == PATCH_URN))
}

/// The three PATCH operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpKind {
    Add,
    Remove,
    Replace,
}

impl OpKind {
    /// The wire spelling (lower case, as RFC 7644 writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Remove => "remove",
            Self::Replace => "replace",
        }
    }
}

/// One operation of a PatchOp.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: OpKind,
    pub path: Option<Path>,
    pub value: Option<Value>,
}

/// A PatchOp request body.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchOp {
    pub operations: Vec<PatchOperation>,
}

impl PatchOperation {
    /// An operation with a path.
    pub fn new(op: OpKind, path: Path, value: Option<Value>) -> Self {
        Self { op, path: Some(path), value }
    }

    fn from_json(i: usize, v: &Value) -> Result<Self, ScimError> {
        let at = |msg: &str| ScimError::invalid_syntax(format!("Operations[{i}]: {msg}"));
        let map = v.as_object().ok_or_else(|| at("must be an object"))?;
        let op = match map.get("op").and_then(Value::as_str) {
            Some("add") => OpKind::Add,
            Some("remove") => OpKind::Remove,
            Some("replace") => OpKind::Replace,
            Some(other) => return Err(at(&format!("unknown op \"{}\" (add, remove or replace)", short(other)))),
            None => return Err(at("\"op\" is missing or not a string")),
        };
        let path = match map.get("path") {
            None | Some(Value::Null) => None,
            Some(Value::String(p)) => Some(Path::parse(p).map_err(|e| prefix(i, e))?),
            Some(_) => return Err(at("\"path\" must be a string")),
        };
        if let Some(key) = map.keys().find(|k| !matches!(k.as_str(), "op" | "path" | "value")) {
            return Err(at(&format!("unexpected member \"{}\"", short(key))));
        }
        Ok(Self { op, path, value: map.get("value").cloned() })
    }

    /// The operation as JSON.
    pub fn to_json(&self) -> Value {
        self.clone().into_json()
    }

    /// The operation as JSON, its value moved rather than copied.
    pub fn into_json(self) -> Value {
        let mut m = Map::with_capacity(3);
        m.insert("op".into(), Value::String(self.op.as_str().into()));
        if let Some(p) = self.path {
            m.insert("path".into(), Value::String(p.into_text()));
        }
        if let Some(v) = self.value {
            m.insert("value".into(), v);
        }
        Value::Object(m)
    }
}

fn prefix(i: usize, e: ScimError) -> ScimError {
    ScimError::new(e.scim_type, format!("Operations[{i}]: {}", e.detail))
}

fn short(s: &str) -> &str {
    s.char_indices().nth(40).map_or(s, |(i, _)| s.get(..i).unwrap_or(s))
}

impl PatchOp {
    /// Parses a PatchOp body strictly: the PatchOp URN in `schemas`, an
    /// `Operations` array, lower-case op names (the normalizer folds case
    /// first for IdPs that capitalize), paths that parse.
    pub fn from_json(body: &Value) -> Result<Self, ScimError> {
        let map = body.as_object().ok_or_else(|| ScimError::invalid_syntax("a PatchOp must be a JSON object"))?;
        let has_urn = map
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(PATCH_URN)));
        if !has_urn {
            return Err(ScimError::invalid_syntax(format!("\"schemas\" must contain \"{PATCH_URN}\"")));
        }
        let ops = map
            .get("Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| ScimError::invalid_syntax("\"Operations\" is missing or not an array"))?;
        if ops.is_empty() {
            return Err(ScimError::invalid_syntax("\"Operations\" is empty"));
        }
        if ops.len() > MAX_PATCH_OPERATIONS {
            return Err(ScimError::invalid_value(format!(
                "more than {MAX_PATCH_OPERATIONS} operations in one PatchOp"
            )));
        }
        let operations =
            ops.iter().enumerate().map(|(i, v)| PatchOperation::from_json(i, v)).collect::<Result<_, _>>()?;
        Ok(Self { operations })
    }

    /// The PatchOp as a request body.
    pub fn to_json(&self) -> Value {
        self.clone().into_json()
    }

    /// The PatchOp as JSON, its values moved rather than copied. Built
    /// directly: `json!` would serialize every value into a fresh copy.
    pub fn into_json(self) -> Value {
        let mut m = Map::with_capacity(2);
        m.insert("schemas".into(), Value::Array(vec![Value::String(PATCH_URN.into())]));
        m.insert(
            "Operations".into(),
            Value::Array(self.operations.into_iter().map(PatchOperation::into_json).collect()),
        );
        Value::Object(m)
    }

    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.operations.is_empty()
    }
}

#[cfg(test)]
mod tests;
