//! Evaluating a filter against a resource (RFC 7644 section 3.4.2.2): the
//! schema decides case sensitivity and how values compare.

use super::{CompareOp, Filter};
use crate::error::ScimError;
use crate::path::{AttrPath, get_ci};
use crate::schema::{AttrType, Attribute, ResourceSchema};
use serde_json::{Map, Value};
use std::cmp::Ordering;

/// What the paths in a filter are relative to.
#[derive(Clone, Copy)]
enum Scope<'a, 's> {
    /// Top-level attribute paths of a resource.
    Resource(Option<&'a ResourceSchema<'s>>),
    /// Sub-attributes of one value of a multi-valued attribute.
    Element(Option<&'a Attribute>),
}

impl Filter {
    /// Whether `resource` matches. Attributes the schema does not know are
    /// compared case-insensitively, by their JSON type.
    pub fn matches(&self, resource: &Value, schema: Option<&ResourceSchema<'_>>) -> bool {
        self.eval(resource, Scope::Resource(schema))
    }

    /// Whether one value of a multi-valued attribute matches a value filter;
    /// `parent` is that attribute's definition.
    pub fn matches_element(&self, elem: &Value, parent: Option<&Attribute>) -> bool {
        self.eval(elem, Scope::Element(parent))
    }

    fn eval(&self, target: &Value, scope: Scope<'_, '_>) -> bool {
        match self {
            Self::And(a, b) => a.eval(target, scope) && b.eval(target, scope),
            Self::Or(a, b) => a.eval(target, scope) || b.eval(target, scope),
            Self::Not(inner) => !inner.eval(target, scope),
            Self::Present(path) => {
                let (values, _) = lookup(target, path, scope);
                values.iter().any(|v| is_present(v))
            }
            Self::Compare { path, op, value } => {
                let (values, def) = lookup(target, path, scope);
                compare_any(&values, *op, value, def)
            }
            Self::ValuePath { path, filter, then } => {
                let (values, def) = lookup(target, path, scope);
                values.iter().flat_map(|v| elements(v)).any(|e| {
                    filter.eval(e, Scope::Element(def)) && then.as_ref().is_none_or(|t| t.eval(e, Scope::Element(def)))
                })
            }
        }
    }

    /// Checks the filter against a schema: ordering operators on booleans or
    /// binaries, and comparisons of a complex attribute without naming a
    /// sub-attribute, are `invalidFilter` (RFC 7644 section 3.4.2.2).
    pub fn validate(&self, schema: &ResourceSchema<'_>) -> Result<(), ScimError> {
        self.validate_in(Scope::Resource(Some(schema)))
    }

    fn validate_in(&self, scope: Scope<'_, '_>) -> Result<(), ScimError> {
        match self {
            Self::And(a, b) | Self::Or(a, b) => a.validate_in(scope).and_then(|_| b.validate_in(scope)),
            Self::Not(inner) => inner.validate_in(scope),
            Self::Present(_) => Ok(()),
            Self::Compare { path, op, .. } => check_compare(path, *op, definition(path, scope)),
            Self::ValuePath { path, filter, then } => {
                let def = definition(path, scope);
                filter.validate_in(Scope::Element(def))?;
                then.as_ref().map_or(Ok(()), |t| t.validate_in(Scope::Element(def)))
            }
        }
    }

    /// The value a filter of `eq` terms joined by `and` describes, used to
    /// create a value that a value-filter path did not find.
    pub fn eq_template(&self) -> Option<Map<String, Value>> {
        match self {
            Self::Compare { path, op: CompareOp::Eq, value } if path.urn.is_none() && path.sub.is_none() => {
                Some(Map::from_iter([(path.name.clone(), value.clone())]))
            }
            Self::And(a, b) => {
                let mut m = a.eq_template()?;
                m.extend(b.eq_template()?);
                Some(m)
            }
            _ => None,
        }
    }
}

fn check_compare(path: &AttrPath, op: CompareOp, def: Option<&Attribute>) -> Result<(), ScimError> {
    let Some(def) = def else { return Ok(()) };
    if op.is_ordering() && matches!(def.ty, AttrType::Boolean | AttrType::Binary) {
        return Err(ScimError::invalid_filter(format!("\"{}\" cannot be compared with \"{}\"", path, op.as_str())));
    }
    if def.ty == AttrType::Complex && !def.multi_valued {
        return Err(ScimError::invalid_filter(format!("\"{path}\" is complex: compare one of its sub-attributes")));
    }
    Ok(())
}

fn definition<'a>(path: &AttrPath, scope: Scope<'a, '_>) -> Option<&'a Attribute> {
    match scope {
        Scope::Resource(schema) => schema?.attribute(path),
        Scope::Element(parent) => {
            let sub = parent?.sub_attribute(&path.name)?;
            match &path.sub {
                None => Some(sub),
                Some(_) => None,
            }
        }
    }
}

/// The values `path` selects in `target` and their definition. A
/// multi-valued complex attribute compared without a sub-attribute is
/// compared by its `value` sub-attribute.
fn lookup<'v, 'a>(target: &'v Value, path: &AttrPath, scope: Scope<'a, '_>) -> (Vec<&'v Value>, Option<&'a Attribute>) {
    let def = definition(path, scope);
    let values = match scope {
        Scope::Resource(schema) => path.get(target, schema),
        Scope::Element(_) => element_get(target, path),
    };
    (values, def)
}

/// A sub-attribute of one value of a multi-valued attribute; the values of a
/// simple multi-valued attribute are addressed as `value` (`tags[value eq "a"]`).
fn element_get<'v>(elem: &'v Value, path: &AttrPath) -> Vec<&'v Value> {
    let Some(map) = elem.as_object() else {
        let scalar = !elem.is_array() && path.sub.is_none() && path.name.eq_ignore_ascii_case("value");
        return if scalar { vec![elem] } else { vec![] };
    };
    let mut v = get_ci(map, &path.name);
    if let Some(sub) = &path.sub {
        v = v.and_then(Value::as_object).and_then(|m| get_ci(m, sub));
    }
    v.into_iter().collect()
}

fn elements(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => a.iter().any(is_present),
        Value::Object(m) => m.values().any(is_present),
        _ => true,
    }
}

fn compare_any(values: &[&Value], op: CompareOp, literal: &Value, def: Option<&Attribute>) -> bool {
    let scalar_def = def.and_then(|d| if d.ty == AttrType::Complex { d.sub_attribute("value") } else { Some(d) });
    let mut scalars = values.iter().flat_map(|v| elements(v)).filter_map(|v| match v {
        Value::Object(m) => get_ci(m, "value"),
        other => Some(other),
    });
    match (op, literal) {
        (CompareOp::Eq, Value::Null) => !scalars.any(|v| !v.is_null()),
        (CompareOp::Ne, Value::Null) => scalars.any(|v| !v.is_null()),
        (CompareOp::Ne, _) => !scalars.any(|v| compare(v, CompareOp::Eq, literal, scalar_def)),
        _ => scalars.any(|v| compare(v, op, literal, scalar_def)),
    }
}

fn compare(actual: &Value, op: CompareOp, literal: &Value, def: Option<&Attribute>) -> bool {
    match (actual, literal) {
        (Value::String(a), Value::String(b)) => compare_str(a, op, b, def),
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b).is_some_and(|o| ordering_holds(op, o)),
            _ => false,
        },
        (Value::Bool(a), Value::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            _ => false,
        },
        _ => false,
    }
}

fn compare_str(a: &str, op: CompareOp, b: &str, def: Option<&Attribute>) -> bool {
    if def.is_some_and(|d| d.ty == AttrType::DateTime)
        && let (Some(x), Some(y)) = (parse_time(a), parse_time(b))
    {
        return ordering_holds(op, x.cmp(&y)) && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    }
    let exact = def.is_some_and(Attribute::is_case_exact);
    if exact || (a.is_ascii() && b.is_ascii()) {
        return compare_folded(a, op, b, !exact);
    }
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    compare_folded(&a, op, &b, false)
}

/// Compares without allocating; `fold` folds ASCII case (callers fold
/// anything else beforehand).
fn compare_folded(a: &str, op: CompareOp, b: &str, fold: bool) -> bool {
    let eq = |x: &[u8], y: &[u8]| if fold { x.eq_ignore_ascii_case(y) } else { x == y };
    let (x, y) = (a.as_bytes(), b.as_bytes());
    match op {
        CompareOp::Sw => x.get(..y.len()).is_some_and(|p| eq(p, y)),
        CompareOp::Ew => x.len() >= y.len() && x.get(x.len() - y.len()..).is_some_and(|p| eq(p, y)),
        CompareOp::Co if fold => a.to_ascii_lowercase().contains(&b.to_ascii_lowercase()),
        CompareOp::Co => a.contains(b),
        _ if fold => ordering_holds(op, x.iter().map(u8::to_ascii_lowercase).cmp(y.iter().map(u8::to_ascii_lowercase))),
        _ => ordering_holds(op, x.cmp(y)),
    }
}

fn ordering_holds(op: CompareOp, o: Ordering) -> bool {
    match op {
        CompareOp::Eq => o == Ordering::Equal,
        CompareOp::Ne => o != Ordering::Equal,
        CompareOp::Gt => o == Ordering::Greater,
        CompareOp::Ge => o != Ordering::Less,
        CompareOp::Lt => o == Ordering::Less,
        CompareOp::Le => o != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}
