//! Computing one rule's value from a document. Pure: reads the document
//! and earlier outputs, writes nothing.

use crate::program::Source;
use crate::template::Template;
use crate::transform::{Transform, apply_chain};
use scim_core::path::{Located, Path};
use scim_core::schema::{AttrType, Attribute, ResourceSchema};
use serde_json::Value;
use std::borrow::Cow;
use std::ops::ControlFlow;

/// What a rule has produced so far, for `@` references.
#[derive(Debug, Clone, Default)]
pub(crate) enum Slot {
    /// The rule did not write (yet, or its condition was false).
    #[default]
    Unset,
    /// The rule wrote this (`None`: it removed its target).
    Value(Option<Value>),
}

/// What a rule reads.
pub(crate) struct Env<'a> {
    pub(crate) doc: &'a Value,
    pub(crate) schema: &'a ResourceSchema<'a>,
    pub(crate) slots: &'a [Slot],
    /// Filled with `(source, value)` pairs when explaining.
    pub(crate) inputs: Option<Vec<(String, Value)>>,
}

/// The first non-empty source, transformed and fitted to the target's
/// type; else the default; else `None`.
pub(crate) fn eval_set(
    env: &mut Env<'_>,
    fit: &Fit,
    sources: &[Source],
    transforms: &[Transform],
    default: Option<&Value>,
) -> Result<Option<Value>, String> {
    for source in sources {
        let Some(value) = read(env, source, fit.list)? else { continue };
        let value = apply_chain(transforms, value)?;
        if !is_empty(&value) {
            return fit.value(value).map(Some);
        }
    }
    Ok(default.cloned())
}

/// A request rule that produces nothing for a required attribute fails
/// instead of removing it.
pub(crate) fn require(target: &Path, fit: &Fit, value: Option<Value>) -> Result<Option<Value>, String> {
    match value {
        None if fit.required => Err(format!("produced no value for the required attribute `{target}`")),
        v => Ok(v),
    }
}

/// What a rule's target takes, asked of the schema once, when the rule is
/// compiled (the schema a rule list is compiled against is the one it is
/// applied with): the attribute it writes, whether it takes a whole list,
/// whether a request must produce it.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fit {
    /// The name and type of the attribute the target writes (the
    /// sub-attribute when it names one); `None` for one the schema lacks.
    attr: Option<(String, AttrType)>,
    /// [`takes_list`] of the target.
    pub(crate) list: bool,
    /// A required attribute, with no filter: producing nothing fails.
    required: bool,
    /// Where the target lies in the schema ([`Path::locate`]).
    pub(crate) at: Located,
}

impl Fit {
    /// What `target` takes in `schema`.
    pub(crate) fn of(target: &Path, schema: &ResourceSchema<'_>) -> Self {
        let attr = target_attribute(target, schema);
        Self {
            attr: attr.map(|a| (a.name.clone(), a.ty)),
            list: takes_list(target, schema),
            required: target.filter.is_none() && attr.is_some_and(|a| a.required),
            at: target.locate(schema),
        }
    }

    /// `value` fitted to the target's type: text into booleans and numbers
    /// where it parses, scalars into strings, one value into a list.
    pub(crate) fn value(&self, value: Value) -> Result<Value, String> {
        let Some((name, ty)) = &self.attr else { return Ok(value) };
        if self.list {
            let items = match value {
                Value::Array(items) => items,
                one => vec![one],
            };
            return items.into_iter().map(|v| fit_one(v, name, *ty)).collect::<Result<_, _>>().map(Value::Array);
        }
        fit_one(value, name, *ty)
    }
}

/// Whether `target` names a whole multi-valued attribute (`emails`), which
/// takes every value a source selects rather than the first.
pub(crate) fn takes_list(target: &Path, schema: &ResourceSchema<'_>) -> bool {
    target.filter.is_none() && target.sub.is_none() && target_attribute(target, schema).is_some_and(|a| a.multi_valued)
}

/// What `path` holds in `doc`, read the way a write to a target that
/// takes `fit` needs it: all values for a whole multi-valued target, else
/// the first.
pub(crate) fn value_for(path: &Path, doc: &Value, fit: &Fit, schema: &ResourceSchema<'_>) -> Option<Value> {
    pick_path(path, doc, schema, fit.list)
}

/// The schema attribute a target path writes (the sub-attribute when the
/// path has one).
pub(crate) fn target_attribute<'s>(target: &Path, schema: &ResourceSchema<'s>) -> Option<&'s Attribute> {
    schema.attribute(&target.attr_path())
}

/// Reads one source. `multi`: keep every value instead of the first.
pub(crate) fn read(env: &mut Env<'_>, source: &Source, multi: bool) -> Result<Option<Value>, String> {
    let value = match source {
        Source::Path(p, _) if multi => pick_path(p, env.doc, env.schema, multi),
        Source::Path(p, at) => first_located(p, env.doc, at).cloned(),
        Source::JsonPath { query, .. } => {
            let found = jsonpath_rust::query::js_path_process(query, env.doc).map_err(|e| format!("JSONPath: {e}"))?;
            pick(found.into_iter().map(|r| r.val).collect(), multi)
        }
        Source::Ref { path, rules } => {
            let written = rules.iter().rev().find_map(|&i| match env.slots.get(i) {
                Some(Slot::Value(v)) => Some(v.clone()),
                _ => None,
            });
            written.unwrap_or_else(|| pick_path(path, env.doc, env.schema, multi))
        }
        Source::Template(t) => render(env, t)?.map(Value::String),
        Source::Const(v) => Some(v.clone()),
    };
    if let Some(inputs) = env.inputs.as_mut() {
        inputs.push((source_text(source), value.clone().unwrap_or(Value::Null)));
    }
    Ok(value.filter(|v| !is_empty(v)))
}

fn render(env: &mut Env<'_>, t: &Template) -> Result<Option<String>, String> {
    let doc = env.doc;
    let mut values = Vec::with_capacity(t.fields.len());
    for field in &t.fields {
        // A path's value is read where it lies, not copied out; when
        // explaining, `read` records what each field read.
        let value = match field {
            Source::Path(p, at) if env.inputs.is_none() => first_located(p, doc, at).map(Cow::Borrowed),
            _ => read(env, field, false)?.map(Cow::Owned),
        };
        values.push(value.map(|v| field_text(v, field)).transpose()?);
    }
    Ok(t.render(&values))
}

/// A template field's value as text: a string as it is (borrowed where
/// the value is), a number or a boolean as JSON writes it.
fn field_text<'v>(value: Cow<'v, Value>, field: &Source) -> Result<Cow<'v, str>, String> {
    match value {
        Cow::Borrowed(Value::String(s)) => Ok(Cow::Borrowed(s)),
        Cow::Owned(Value::String(s)) => Ok(Cow::Owned(s)),
        v if matches!(*v, Value::Number(_) | Value::Bool(_)) => Ok(Cow::Owned(v.to_string())),
        _ => Err(format!("template field `{}` is not a single value", source_text(field))),
    }
}

/// The text a source was written as.
pub(crate) fn source_text(source: &Source) -> String {
    match source {
        Source::Path(p, _) => p.to_string(),
        Source::JsonPath { text, .. } => text.clone(),
        Source::Ref { path, .. } => format!("@{path}"),
        Source::Template(_) => "template".into(),
        Source::Const(_) => "value".into(),
    }
}

/// The first value, or all of them (arrays flattened) when `multi`.
pub(crate) fn pick(values: Vec<&Value>, multi: bool) -> Option<Value> {
    if multi {
        let mut all = Vec::new();
        for v in values {
            match v {
                Value::Array(items) => all.extend(items.iter().filter(|i| !is_empty(i)).cloned()),
                other => all.push(other.clone()),
            }
        }
        return Some(Value::Array(all)).filter(|v| !is_empty(v));
    }
    values.into_iter().find(|v| !is_empty(v)).and_then(first_filled).cloned()
}

/// What `path` holds in `doc`, as [`pick`] takes it: the first value
/// (looked for without gathering the others), or all of them when `multi`.
pub(crate) fn pick_path(path: &Path, doc: &Value, schema: &ResourceSchema<'_>, multi: bool) -> Option<Value> {
    if multi {
        return pick(path.get(doc, Some(schema)), multi);
    }
    first_found(|each| path.visit(doc, Some(schema), each)).cloned()
}

/// [`pick_path`]'s first value, where it lies, for a path located once
/// in the schema ([`Path::locate`]).
fn first_located<'d>(path: &Path, doc: &'d Value, at: &Located) -> Option<&'d Value> {
    first_found(|each| path.visit_located(doc, at, each))
}

/// The first value a visit of a path gives that is not empty (an array's
/// first item that is not), looked for without gathering the others:
/// [`pick`]'s first value, where it lies.
fn first_found<'d>(visit: impl FnOnce(&mut dyn FnMut(&'d Value) -> ControlFlow<()>)) -> Option<&'d Value> {
    let mut first = None;
    visit(&mut |v| match is_empty(v) {
        true => ControlFlow::Continue(()),
        false => {
            first = Some(v);
            ControlFlow::Break(())
        }
    });
    first.and_then(first_filled)
}

/// The first value not empty: an array's first item that is not.
fn first_filled(value: &Value) -> Option<&Value> {
    match value {
        Value::Array(items) => items.iter().find(|v| !is_empty(v)),
        other => Some(other),
    }
}

/// Null, a blank string, an empty array or an empty object.
pub(crate) fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => crate::transform::trimmed(s).is_empty(),
        Value::Array(a) => a.iter().all(is_empty),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

fn fit_one(value: Value, name: &str, ty: AttrType) -> Result<Value, String> {
    let wrong = |v: &Value| format!("`{name}` takes a {ty:?} value, not {}", kind(v));
    match (ty, value) {
        (AttrType::Boolean, Value::String(s)) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        (AttrType::Boolean, Value::String(s)) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        (AttrType::Boolean, v @ Value::Bool(_)) => Ok(v),
        (AttrType::Integer, v @ Value::Number(_)) if v.is_i64() || v.is_u64() => Ok(v),
        (AttrType::Integer, Value::String(s)) => {
            s.trim().parse::<i64>().map(Value::from).map_err(|_| wrong(&Value::String(s)))
        }
        (AttrType::Decimal, v @ Value::Number(_)) => Ok(v),
        (AttrType::Decimal, Value::String(s)) => {
            let n = s.trim().parse::<f64>().ok().and_then(serde_json::Number::from_f64);
            n.map(Value::Number).ok_or_else(|| wrong(&Value::String(s)))
        }
        (AttrType::Complex, v @ Value::Object(_)) => Ok(v),
        (AttrType::String | AttrType::Reference | AttrType::DateTime | AttrType::Binary, v) => match v {
            Value::String(_) => Ok(v),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(v.to_string())),
            other => Err(wrong(&other)),
        },
        (_, v) => Err(wrong(&v)),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn emptiness() {
        for v in [json!(null), json!(""), json!("  "), json!([]), json!([null, ""]), json!({})] {
            assert!(is_empty(&v), "{v}");
        }
        for v in [json!(0), json!(false), json!("x"), json!([1]), json!({"a": null})] {
            assert!(!is_empty(&v), "{v}");
        }
    }

    #[test]
    fn pick_first_or_all() {
        let a = json!(["", "x", "y"]);
        let b = json!("z");
        assert_eq!(pick(vec![&a, &b], false), Some(json!("x")));
        assert_eq!(pick(vec![&a, &b], true), Some(json!(["x", "y", "z"])));
        assert_eq!(pick(vec![], false), None);
        assert_eq!(pick(vec![&json!(null)], true), None);
    }

    #[test]
    fn a_path_read_for_its_first_value_is_the_first_of_all_its_values() {
        let registry = scim_core::Registry::core();
        let user = registry.resource("User").unwrap();
        let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let doc = json!({
            "userName": "  ", "displayName": "D", "nickName": null, "phoneNumbers": [],
            "emails": [
                {"value": " ", "primary": true},
                {"value": "b@x", "type": "work"},
                {"value": "c@x", "primary": true, "type": "work"}
            ],
            "name": {"givenName": "G"},
            ent: {"department": "", "manager": {"value": "m"}}
        });
        let paths = [
            "userName",
            "displayName",
            "nickName",
            "title",
            "emails",
            "emails.value",
            "phoneNumbers",
            "emails[primary eq true].value",
            "emails[type eq \"work\"]",
            "emails[type eq \"home\"].value",
            "name",
            "name.givenName",
            "name.familyName",
        ];
        let extension = ["department", "manager", "manager.value"].map(|a| format!("{ent}:{a}"));
        for p in paths.iter().copied().chain(extension.iter().map(String::as_str)) {
            let path = Path::parse(p).unwrap();
            for multi in [false, true] {
                let all = pick(path.get(&doc, Some(&user)), multi);
                assert_eq!(pick_path(&path, &doc, &user, multi), all, "{p}, multi: {multi}");
            }
        }
        let first = |p: &str| pick_path(&Path::parse(p).unwrap(), &doc, &user, false);
        assert_eq!(first("emails[primary eq true].value"), Some(json!("c@x")), "a blank first match is passed over");
        assert_eq!(first("emails.value"), Some(json!("b@x")));
        assert_eq!(first(&format!("{ent}:manager.value")), Some(json!("m")));
    }

    #[test]
    fn fitting_values_to_types() {
        let registry = scim_core::Registry::core();
        let user = registry.resource("User").unwrap();
        let fit = |p: &str, v: Value| Fit::of(&Path::parse(p).unwrap(), &user).value(v);
        assert_eq!(fit("active", json!("False")), Ok(json!(false)));
        assert!(fit("active", json!("maybe")).is_err());
        assert_eq!(fit("userName", json!(42)), Ok(json!("42")));
        assert!(fit("userName", json!({"a": 1})).is_err());
        assert_eq!(fit("emails", json!({"value": "a@x"})), Ok(json!([{"value": "a@x"}])));
        assert_eq!(fit("emails.value", json!(["a@x"])), Err("`value` takes a String value, not a list".into()));
        assert_eq!(fit("shoeSize", json!(["a@x"])), Ok(json!(["a@x"])));
    }
}
