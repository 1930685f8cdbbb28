//! Normalizing filters from query strings and `/.search` bodies.

use super::values::parse_bool;
use super::{Normalization as N, Normalizer, Report};
use crate::error::ScimError;
use crate::filter::{Filter, Mode};
use crate::path::AttrPath;
use crate::schema::{AttrType, Attribute, ResourceSchema};
use serde_json::Value;

/// Decodes one `application/x-www-form-urlencoded` query value: `+` is a
/// space and `%XX` a byte (so a literal plus arrives as `%2B`). Malformed
/// escapes are kept as written; invalid UTF-8 becomes U+FFFD.
pub fn form_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'+', _, _) => out.push(b' '),
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 2;
            }
            (b, _, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Normalizer {
    /// Parses a (decoded) filter the way this IdP writes them: leniently
    /// when [`N::LenientFilter`] is on, with attribute names put in the
    /// schema's spelling and string booleans made booleans, then checks it
    /// against the schema. Errors are `invalidFilter`.
    pub fn filter(&self, text: &str, schema: &ResourceSchema<'_>) -> Result<(Filter, Report), ScimError> {
        let mut r = Report::default();
        let lenient = self.is_enabled(N::LenientFilter);
        let mut filter = Filter::parse_with(text, if lenient { Mode::Lenient } else { Mode::Strict })?;
        if lenient && Filter::parse(text).is_err() {
            r.add(N::LenientFilter);
        }
        let fix_bools = self.is_enabled(N::StringBoolean);
        let names = self.is_enabled(N::AttributeNameCase);
        walk(&mut filter, Scope::Resource, schema, &mut |path, value, top, def| {
            if names && canonical_names(path, top, def) {
                r.add(N::AttributeNameCase);
            }
            let (Some(v), Some(d)) = (value, def) else { return };
            if fix_bools
                && d.ty == AttrType::Boolean
                && let Some(b) = v.as_str().and_then(parse_bool)
            {
                *v = Value::Bool(b);
                r.add(N::StringBoolean);
            }
            let textual = matches!(d.ty, AttrType::String | AttrType::Reference | AttrType::Binary);
            if lenient && textual && (v.is_number() || v.is_boolean()) {
                *v = Value::String(v.to_string());
                r.add(N::LenientFilter);
            }
        });
        filter.validate(schema)?;
        Ok((filter, r))
    }
}

/// Renames `path` to the schema's spelling; true when it changed.
fn canonical_names(path: &mut AttrPath, top: Option<&Attribute>, def: Option<&Attribute>) -> bool {
    let mut changed = false;
    if let Some(top) = top.filter(|t| t.name != path.name) {
        path.name = top.name.clone();
        changed = true;
    }
    if let (Some(sub), Some(def)) = (path.sub.as_mut(), def)
        && *sub != def.name
    {
        *sub = def.name.clone();
        changed = true;
    }
    changed
}

#[derive(Clone, Copy)]
enum Scope<'a> {
    Resource,
    Element(Option<&'a Attribute>),
}

type Visit<'f> = dyn FnMut(&mut AttrPath, Option<&mut Value>, Option<&Attribute>, Option<&Attribute>) + 'f;

/// Visits each path with its top-level attribute and the definition it
/// points at (the sub-attribute when it has one).
fn walk(filter: &mut Filter, scope: Scope<'_>, schema: &ResourceSchema<'_>, f: &mut Visit<'_>) {
    let defs = |p: &AttrPath| -> (Option<&Attribute>, Option<&Attribute>) {
        let top = match scope {
            Scope::Resource => schema.top_attribute(p.urn.as_deref(), &p.name),
            Scope::Element(parent) => parent.and_then(|a| a.sub_attribute(&p.name)),
        };
        let def = match &p.sub {
            Some(s) => top.and_then(|t| t.sub_attribute(s)),
            None => top,
        };
        (top, def)
    };
    match filter {
        Filter::Compare { path, value, .. } => {
            let (top, def) = defs(path);
            f(path, Some(value), top, def);
        }
        Filter::Present(path) => {
            let (top, def) = defs(path);
            f(path, None, top, def);
        }
        Filter::ValuePath { path, filter, then } => {
            let (top, def) = defs(path);
            f(path, None, top, def);
            walk(filter, Scope::Element(def), schema, f);
            if let Some(t) = then {
                walk(t, Scope::Element(def), schema, f);
            }
        }
        Filter::And(a, b) | Filter::Or(a, b) => {
            walk(a, scope, schema, f);
            walk(b, scope, schema, f);
        }
        Filter::Not(inner) => walk(inner, scope, schema, f),
    }
}
