//! Attribute paths (RFC 7644 sections 3.4.2.2 and 3.5.2): parsing, printing,
//! and get / set / remove on a `serde_json::Value` resource.

mod access;
mod key;

pub use access::{
    InOrder, Located, ensure_schema_urn, find_key, get_ci, get_ci_mut, get_exact, get_exact_mut, position_ci,
    prune_extension,
};
pub use key::{TopKey, classify_key, is_urn};

use crate::error::ScimError;
use crate::filter::Filter;
use std::fmt;

/// Longest path text accepted.
pub const MAX_PATH_LEN: usize = 4096;

/// `[URN ":"] ATTRNAME ["." subAttr]`: a path without a value filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// The schema URN prefix, as written.
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// A PATCH path: an attribute path, optionally with a value filter and a
/// sub-attribute after it (`emails[type eq "work"].value`).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub urn: Option<String>,
    pub name: String,
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

/// Whether `s` is an RFC 7643 ATTRNAME (or the `$ref` sub-attribute).
pub fn is_attr_name(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        Some('$') => s.eq_ignore_ascii_case("$ref"),
        _ => false,
    }
}

/// Splits `urn:...:name.sub` into its URN prefix and the rest. Attribute names
/// cannot contain ':', so the URN ends at the last colon.
fn split_urn(text: &str) -> (Option<&str>, &str) {
    let is_urn = text.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    match text.rfind(':') {
        Some(i) if is_urn => (text.get(..i), text.get(i + 1..).unwrap_or("")),
        _ => (None, text),
    }
}

impl AttrPath {
    /// Parses `name`, `name.sub` or `urn:...:name.sub`.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        if text.len() > MAX_PATH_LEN {
            return Err(ScimError::invalid_path(format!("path is longer than {MAX_PATH_LEN} bytes")));
        }
        let (urn, rest) = split_urn(text);
        let (name, sub) = match rest.split_once('.') {
            Some((n, s)) => (n, Some(s)),
            None => (rest, None),
        };
        let bad = |what: &str| ScimError::invalid_path(format!("{what} in path \"{}\"", truncate(text)));
        if !is_attr_name(name) {
            return Err(bad("expected an attribute name"));
        }
        if let Some(s) = sub.filter(|s| !is_attr_name(s)) {
            return Err(bad(&format!("\"{}\" is not a valid sub-attribute name", truncate(s))));
        }
        Ok(Self { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// A path to a top-level attribute.
    pub fn new(urn: Option<&str>, name: &str, sub: Option<&str>) -> Self {
        Self { urn: urn.map(str::to_owned), name: name.to_owned(), sub: sub.map(str::to_owned) }
    }

    /// This path without its sub-attribute.
    pub fn top(&self) -> Self {
        Self { urn: self.urn.clone(), name: self.name.clone(), sub: None }
    }
}

impl Path {
    /// Parses a PATCH path: `attrPath`, or `attrPath "[" valFilter "]" ["." subAttr]`.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let Some(open) = text.find('[') else {
            return Ok(Self::from(AttrPath::parse(text)?));
        };
        let close = text
            .rfind(']')
            .filter(|&c| c > open)
            .ok_or_else(|| ScimError::invalid_path(format!("unclosed '[' in path \"{}\"", truncate(text))))?;
        let head = AttrPath::parse(text.get(..open).unwrap_or(""))?;
        if head.sub.is_some() {
            return Err(ScimError::invalid_path("a value filter must follow the attribute, not a sub-attribute"));
        }
        let inner = text.get(open + 1..close).unwrap_or("");
        let filter =
            Filter::parse(inner).map_err(|e| ScimError::invalid_filter(format!("in path filter: {}", e.detail)))?;
        let sub = match text.get(close + 1..).unwrap_or("") {
            "" => None,
            tail => match tail.strip_prefix('.') {
                Some(s) if is_attr_name(s) => Some(s.to_owned()),
                _ => return Err(ScimError::invalid_path(format!("unexpected \"{}\" after ']'", truncate(tail)))),
            },
        };
        Ok(Self { urn: head.urn, name: head.name, filter: Some(Box::new(filter)), sub })
    }

    /// The attribute path with the filter left out (`emails.value`).
    pub fn attr_path(&self) -> AttrPath {
        AttrPath { urn: self.urn.clone(), name: self.name.clone(), sub: self.sub.clone() }
    }

    /// The path as text, as [`fmt::Display`] writes it; a bare attribute
    /// name is lent, not written again.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self.is_bare() {
            true => std::borrow::Cow::Borrowed(&self.name),
            false => std::borrow::Cow::Owned(self.to_string()),
        }
    }

    /// The path as text, as [`fmt::Display`] writes it; a bare attribute
    /// name is moved, not written again.
    pub fn into_text(self) -> String {
        match self.is_bare() {
            true => self.name,
            false => self.to_string(),
        }
    }

    /// Whether the path is an attribute's name alone (its text is the name).
    fn is_bare(&self) -> bool {
        self.urn.is_none() && self.filter.is_none() && self.sub.is_none()
    }
}

impl From<AttrPath> for Path {
    fn from(p: AttrPath) -> Self {
        Self { urn: p.urn, name: p.name, filter: None, sub: p.sub }
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(64) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

/// Prints `[urn:]name[[filter]][.sub]`: the one spelling of every path.
fn write_path(
    f: &mut fmt::Formatter<'_>,
    urn: Option<&str>,
    name: &str,
    filter: Option<&Filter>,
    sub: Option<&str>,
) -> fmt::Result {
    if let Some(urn) = urn {
        write!(f, "{urn}:")?;
    }
    f.write_str(name)?;
    if let Some(filter) = filter {
        write!(f, "[{filter}]")?;
    }
    match sub {
        Some(sub) => write!(f, ".{sub}"),
        None => Ok(()),
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, self.urn.as_deref(), &self.name, None, self.sub.as_deref())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_path(f, self.urn.as_deref(), &self.name, self.filter.as_deref(), self.sub.as_deref())
    }
}

#[cfg(test)]
mod tests;
