//! Compiling a rule's sources and transforms.

use super::rule::{Ctx, inner};
use crate::diag::did_you_mean;
use crate::load::raw::{RawRule, RawSource, RawTransform};
use crate::program::Source;
use crate::template::{self, Piece, Template};
use crate::transform::{SIMPLE, Transform, WITH_ARGS};
use regex::RegexBuilder;
use scim_core::path::Path;
use serde_json::Value;
use toml::Spanned;

/// Longest compiled regex program, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Ctx<'_, '_> {
    /// The rule's value sources, in the order they are tried.
    pub(crate) fn sources(&mut self, raw: &RawRule, at: usize) -> Option<Vec<Source>> {
        let given = [raw.from.is_some(), raw.first_of.is_some(), raw.template.is_some(), raw.value.is_some()];
        match given.iter().filter(|g| **g).count() {
            0 => {
                let hint = Some("add `from`, `first_of`, `template` or `value`".into());
                self.sink.error(at, "a `target` rule needs a source", hint);
                return None;
            }
            1 => {}
            _ => {
                self.sink.error(at, "use only one of `from`, `first_of`, `template` and `value`", None);
                return None;
            }
        }
        if let Some(from) = &raw.from {
            return self.source_path(from).map(|s| vec![s]);
        }
        if let Some(template) = &raw.template {
            return self.template(template).map(|t| vec![Source::Template(t)]);
        }
        if let Some(value) = &raw.value {
            return Some(vec![Source::Const(toml_to_json(value.get_ref()))]);
        }
        let list = raw.first_of.as_ref()?;
        if list.get_ref().is_empty() {
            self.sink.error(list.span().start, "`first_of` is empty", None);
            return None;
        }
        let sources: Vec<Option<Source>> = list.get_ref().iter().map(|s| self.first_of_entry(s)).collect();
        sources.into_iter().collect()
    }

    fn first_of_entry(&mut self, entry: &Spanned<RawSource>) -> Option<Source> {
        let at = entry.span().start;
        match entry.get_ref() {
            RawSource::Path(p) => self.source_path(&Spanned::new(entry.span(), p.clone())),
            RawSource::Template(t) => {
                // The span covers the inline table; point inside it.
                self.template(&Spanned::new(at..at, t.clone())).map(Source::Template)
            }
            RawSource::Const(v) => Some(Source::Const(toml_to_json(v))),
        }
    }

    /// A source string: a SCIM path, a JSONPath (`$...`) or a reference to
    /// another rule's target (`@path`).
    fn source_path(&mut self, text: &Spanned<String>) -> Option<Source> {
        let s = text.get_ref();
        if s.starts_with('$') {
            return self.json_path(text);
        }
        if let Some(r) = s.strip_prefix('@') {
            let path = self.path(&Spanned::new(text.span().start + 1..text.span().end, r.to_owned()), "@reference")?;
            return Some(Source::Ref { path, rules: vec![] });
        }
        self.path(text, "source").map(|p| self.source_at(p))
    }

    fn json_path(&mut self, text: &Spanned<String>) -> Option<Source> {
        match jsonpath_rust::parser::parse_json_path(text.get_ref()) {
            Ok(query) => {
                let top = json_path_top(&query, text.get_ref());
                Some(Source::JsonPath { query: Box::new(query), text: text.get_ref().clone(), top })
            }
            Err(e) => {
                let hint = Some("JSONPath looks like `$.emails[?(@.primary == true)].value`".into());
                self.sink.error(inner(text), format!("bad JSONPath: {}", first_line(&e.to_string())), hint);
                None
            }
        }
    }

    fn template(&mut self, text: &Spanned<String>) -> Option<Template> {
        let pieces = match template::parse(text.get_ref()) {
            Ok(p) => p,
            Err((offset, msg)) => {
                self.sink.error(inner(text) + offset, msg, None);
                return None;
            }
        };
        let mut lits = Vec::new();
        let mut fields = Vec::new();
        let mut ok = true;
        for piece in pieces {
            match piece {
                Piece::Lit(l) => lits.push(l),
                Piece::Field(f, offset) => {
                    let at = inner(text) + offset;
                    match self.template_field(&f, at) {
                        Some(s) => fields.push(s),
                        None => ok = false,
                    }
                }
            }
        }
        ok.then_some(Template { lits, fields })
    }

    fn template_field(&mut self, field: &str, at: usize) -> Option<Source> {
        let (is_ref, text) = match field.strip_prefix('@') {
            Some(r) => (true, r),
            None => (false, field),
        };
        let path = match Path::parse(text) {
            Ok(p) => p,
            Err(e) => {
                self.sink.error(at, format!("bad path in template: {}", e.detail), None);
                return None;
            }
        };
        if !self.known_attribute(&path, at) {
            return None;
        }
        Some(if is_ref { Source::Ref { path, rules: vec![] } } else { self.source_at(path) })
    }

    /// A path source, located once in the rule list's schema.
    fn source_at(&self, path: Path) -> Source {
        let at = path.locate(self.schema);
        Source::Path(path, at)
    }

    pub(crate) fn transforms(&mut self, raw: &[Spanned<RawTransform>]) -> Option<Vec<Transform>> {
        let compiled: Vec<Option<Transform>> = raw.iter().map(|t| self.transform(t)).collect();
        compiled.into_iter().collect()
    }

    fn transform(&mut self, raw: &Spanned<RawTransform>) -> Option<Transform> {
        let at = raw.span().start;
        match raw.get_ref() {
            RawTransform::Simple(name) => {
                let t = Transform::simple(name);
                if t.is_none() {
                    let (msg, hint) = if WITH_ARGS.contains(&name.as_str()) {
                        (
                            format!("transform `{name}` takes arguments: write it as a table, e.g. {{ {name} = ... }}"),
                            None,
                        )
                    } else {
                        let known = SIMPLE.iter().chain(WITH_ARGS.iter()).copied();
                        let all = format!("known transforms: {}, {}", SIMPLE.join(", "), WITH_ARGS.join(", "));
                        (format!("unknown transform `{name}`"), did_you_mean(name, known).or(Some(all)))
                    };
                    self.sink.error(at + 1, msg, hint);
                }
                t
            }
            RawTransform::Args(args) => self.transform_with_args(args, at),
        }
    }

    fn transform_with_args(
        &mut self,
        args: &std::collections::BTreeMap<String, toml::Value>,
        at: usize,
    ) -> Option<Transform> {
        let kinds: Vec<&str> = args.keys().map(String::as_str).filter(|k| WITH_ARGS.contains(k)).collect();
        let [kind] = kinds.as_slice() else {
            let names: Vec<&str> = args.keys().map(String::as_str).collect();
            let simple =
                names.iter().find(|n| SIMPLE.contains(n)).map(|n| format!("`{n}` takes no arguments: write \"{n}\""));
            let hint = simple.or_else(|| names.iter().find_map(|n| did_you_mean(n, WITH_ARGS)));
            let msg = format!(
                "a transform table names exactly one of {} (found: {})",
                WITH_ARGS.join(", "),
                names.join(", ")
            );
            self.sink.error(at, msg, hint);
            return None;
        };
        let allowed: &[&str] = match *kind {
            "replace" => &["replace", "with"],
            "split" => &["split", "index"],
            "lookup" => &["lookup", "default"],
            _ => &[kind],
        };
        if let Some(extra) = args.keys().find(|k| !allowed.contains(&k.as_str())) {
            let hint = did_you_mean(extra, allowed.iter().copied());
            self.sink.error(at, format!("`{kind}` takes no `{extra}` (it takes {})", allowed.join(", ")), hint);
            return None;
        }
        self.build_transform(kind, args, at)
    }

    fn build_transform(
        &mut self,
        kind: &str,
        args: &std::collections::BTreeMap<String, toml::Value>,
        at: usize,
    ) -> Option<Transform> {
        let string = |key: &str| args.get(key).and_then(toml::Value::as_str).map(str::to_owned);
        match kind {
            "replace" => {
                let (Some(pattern), Some(with)) = (string("replace"), string("with")) else {
                    self.sink.error(
                        at,
                        "`replace` needs a regex and `with`, both strings: { replace = \"\\\\s+\", with = \" \" }",
                        None,
                    );
                    return None;
                };
                match RegexBuilder::new(&pattern).size_limit(REGEX_SIZE_LIMIT).build() {
                    Ok(regex) => Some(Transform::Replace { regex, with }),
                    Err(e) => {
                        self.sink.error(at, format!("bad regex `{pattern}`: {}", last_line(&e.to_string())), None);
                        None
                    }
                }
            }
            "split" => {
                let index = args.get("index").map_or(Some(0), toml::Value::as_integer);
                match (string("split"), index) {
                    (Some(sep), Some(index)) if !sep.is_empty() => Some(Transform::Split { sep, index }),
                    _ => {
                        self.sink.error(at, "`split` needs a non-empty separator string and an integer `index`", None);
                        None
                    }
                }
            }
            "before" | "after" => match string(kind).filter(|s| !s.is_empty()) {
                Some(sep) if kind == "before" => Some(Transform::Before(sep)),
                Some(sep) => Some(Transform::After(sep)),
                None => {
                    self.sink.error(at, format!("`{kind}` needs a non-empty separator string"), None);
                    None
                }
            },
            _ => self.lookup_transform(args, at),
        }
    }

    fn lookup_transform(
        &mut self,
        args: &std::collections::BTreeMap<String, toml::Value>,
        at: usize,
    ) -> Option<Transform> {
        let default = match args.get("default") {
            None => None,
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.sink.error(at, "a lookup `default` must be a string", None);
                return None;
            }
        };
        let table = match args.get("lookup") {
            Some(toml::Value::String(name)) => match self.lookup(name) {
                Some(t) => t,
                None => {
                    let hint =
                        did_you_mean(name, self.lookup_names()).or(Some("declare it under [lookups.NAME]".into()));
                    self.sink.error(at, format!("no lookup table named `{name}`"), hint);
                    return None;
                }
            },
            Some(toml::Value::Table(inline)) => {
                let mut table = std::collections::BTreeMap::new();
                for (k, v) in inline {
                    let Some(v) = v.as_str() else {
                        self.sink.error(at, format!("lookup entry `{k}` must map to a string"), None);
                        return None;
                    };
                    table.insert(k.clone(), v.to_owned());
                }
                std::sync::Arc::new(table)
            }
            _ => {
                self.sink.error(at, "`lookup` names a [lookups] table or is an inline table", None);
                return None;
            }
        };
        Some(Transform::Lookup { table, default })
    }
}

/// The attribute a JSONPath starts at (`$.emails[...]` -> `emails`), when
/// it starts with a name and reads nothing else: a query that names the
/// root again (`$.emails[?@.type == $.userType]`, RFC 9535's absolute
/// queries in a filter) may read any attribute, so it has no top. A `$`
/// inside a string literal counts too: that errs towards reading more.
fn json_path_top(query: &jsonpath_rust::parser::model::JpQuery, text: &str) -> Option<String> {
    use jsonpath_rust::parser::model::{Segment, Selector};
    let after_root = text.trim_start().strip_prefix('$')?;
    if after_root.contains('$') {
        return None;
    }
    match query.segments.first()? {
        Segment::Selector(Selector::Name(n)) => Some(n.trim_matches(|c| c == '\'' || c == '"').to_owned()),
        _ => None,
    }
}

/// A TOML value as JSON; datetimes become their RFC 3339 text.
pub(crate) fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(items) => Value::Array(items.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

fn last_line(s: &str) -> &str {
    s.lines().rfind(|l| !l.trim().is_empty()).unwrap_or(s)
}
