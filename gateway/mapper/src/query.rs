//! Rewriting what the IdP asks for (filter, attributes,
//! excludedAttributes, sortBy) into what the backend stores.
//!
//! For a path the IdP names, in this order:
//! 1. a request rule that copies exactly that path, unconditionally, into
//!    a target moves the term onto the target, with the rule's transforms
//!    applied to the literal (renames move without transforms; in-place
//!    rules keep the path and transform the literal);
//! 2. a path a request rule removes or renames away is not stored by the
//!    backend: the query is refused;
//! 3. a path a response rule computes (from a template, several sources,
//!    a constant or with transforms) is refused; one a response rule merely
//!    copies from another path moves to that path;
//! 4. the target of a request rule whose transforms only normalize (case,
//!    spacing, diacritics) keeps its path and gets the literal normalized
//!    the same way;
//! 5. anything else passes unchanged.

use crate::error::MapError;
use crate::patch::ops_covers as covers;
use crate::paths::{AttrKey, path_key};
use crate::program::{Action, Direction, Program, Rule, Source};
use crate::transform::Transform;
use scim_core::filter::{CompareOp, Filter};
use scim_core::path::{AttrPath, Path};
use serde_json::Value;

/// The query parameters of a list or search request, as the IdP sent them.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub filter: Option<Filter>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
}

/// The same parameters in the backend's terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RewrittenQuery {
    pub filter: Option<Filter>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
    pub sort_by: Option<String>,
}

/// Where one IdP path lives in the backend.
enum Place<'p> {
    /// At `path`, with the literal transformed by `transforms`.
    At {
        path: Path,
        transforms: &'p [Transform],
    },
    Refused(String),
}

impl Program {
    /// Rewrites every query parameter; the first refusal is the error.
    pub fn rewrite_query(&self, resource_type: &str, query: &Query) -> Result<RewrittenQuery, MapError> {
        Ok(RewrittenQuery {
            filter: query.filter.as_ref().map(|f| self.rewrite_filter(resource_type, f)).transpose()?,
            attributes: self.rewrite_list_param(resource_type, query.attributes.as_deref(), true)?,
            excluded_attributes: self.rewrite_list_param(resource_type, query.excluded_attributes.as_deref(), false)?,
            sort_by: query.sort_by.as_deref().map(|s| self.rewrite_sort_by(resource_type, s)).transpose()?,
        })
    }

    /// Rewrites a filter onto the backend's attributes.
    pub fn rewrite_filter(&self, resource_type: &str, filter: &Filter) -> Result<Filter, MapError> {
        if self.list(resource_type, Direction::Request).is_none()
            && self.list(resource_type, Direction::Response).is_none()
        {
            return Ok(filter.clone());
        }
        self.rewriter(resource_type)?.filter(filter)
    }

    fn rewrite_attribute_list(&self, resource_type: &str, list: &str, requested: bool) -> Result<String, MapError> {
        let r = self.rewriter(resource_type)?;
        let mut out: Vec<String> = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let path = AttrPath::parse(item).map_err(MapError::Invalid)?;
            let names = r.attribute(&path, requested)?;
            for n in names {
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&n)) {
                    out.push(n);
                }
            }
        }
        Ok(out.join(","))
    }

    fn rewrite_list_param(
        &self,
        resource_type: &str,
        list: Option<&str>,
        requested: bool,
    ) -> Result<Option<String>, MapError> {
        let rewritten = list.map(|a| self.rewrite_attribute_list(resource_type, a, requested)).transpose()?;
        Ok(rewritten.filter(|s| !s.is_empty()))
    }

    fn rewrite_sort_by(&self, resource_type: &str, sort_by: &str) -> Result<String, MapError> {
        let r = self.rewriter(resource_type)?;
        let path = Path::from(AttrPath::parse(sort_by.trim()).map_err(MapError::Invalid)?);
        match r.place(&path, None) {
            Place::At { path, .. } => Ok(path.attr_path().to_string()),
            Place::Refused(msg) => Err(MapError::Filter(format!("sortBy: {msg}"))),
        }
    }
}

impl Program {
    fn rewriter<'a>(&'a self, resource_type: &'a str) -> Result<Rewriter<'a>, MapError> {
        Ok(Rewriter { program: self, resource_type, core: self.schema(resource_type)?.core_urn() })
    }
}

struct Rewriter<'a> {
    program: &'a Program,
    resource_type: &'a str,
    core: &'a str,
}

impl<'a> Rewriter<'a> {
    fn rules(&self, dir: Direction) -> &'a [Rule] {
        self.program.list(self.resource_type, dir).map_or(&[], |l| l.rules.as_slice())
    }

    fn filter(&self, f: &Filter) -> Result<Filter, MapError> {
        Ok(match f {
            Filter::And(a, b) => Filter::And(Box::new(self.filter(a)?), Box::new(self.filter(b)?)),
            Filter::Or(a, b) => Filter::Or(Box::new(self.filter(a)?), Box::new(self.filter(b)?)),
            Filter::Not(a) => Filter::Not(Box::new(self.filter(a)?)),
            Filter::Compare { path, op, value } => self.term(&Path::from(path.clone()), Some((*op, value)))?,
            Filter::Present(path) => self.term(&Path::from(path.clone()), None)?,
            Filter::ValuePath { path, filter, then: Some(then) } => match then.as_ref() {
                Filter::Compare { path: sub, op, value } if sub.sub.is_none() => {
                    let full = Path {
                        urn: path.urn.clone(),
                        name: path.name.clone(),
                        filter: Some(filter.clone()),
                        sub: Some(sub.name.clone()),
                    };
                    self.term(&full, Some((*op, value)))?
                }
                Filter::Present(sub) if sub.sub.is_none() => {
                    let full = Path {
                        urn: path.urn.clone(),
                        name: path.name.clone(),
                        filter: Some(filter.clone()),
                        sub: Some(sub.name.clone()),
                    };
                    self.term(&full, None)?
                }
                _ => self.whole(path, f)?,
            },
            Filter::ValuePath { path, .. } => self.whole(path, f)?,
        })
    }

    /// A value filter over a whole attribute: only allowed where the
    /// attribute stays where it is.
    fn whole(&self, path: &AttrPath, f: &Filter) -> Result<Filter, MapError> {
        match self.place(&Path::from(path.top()), None) {
            Place::At { path: p, .. } if path_key(&p, self.core) == path_key(&Path::from(path.top()), self.core) => {
                Ok(f.clone())
            }
            Place::At { .. } => Err(MapError::Filter(format!(
                "a value filter on `{}` cannot follow the mapping's rename; filter on its sub-attributes instead",
                path.top()
            ))),
            Place::Refused(msg) => Err(MapError::Filter(msg)),
        }
    }

    fn term(&self, path: &Path, cmp: Option<(CompareOp, &Value)>) -> Result<Filter, MapError> {
        let (to, transforms) = match self.place(path, cmp.map(|c| c.0)) {
            Place::At { path, transforms } => (path, transforms),
            Place::Refused(msg) => return Err(MapError::Filter(msg)),
        };
        let leaf = |p: AttrPath| match cmp {
            Some((op, value)) => Filter::Compare { path: p, op, value: literal(value, transforms, op) },
            None => Filter::Present(p),
        };
        Ok(match to.filter {
            None => leaf(to.attr_path()),
            Some(inner) => {
                let sub = to.sub.clone().unwrap_or_else(|| "value".to_owned());
                let head = AttrPath { urn: to.urn.clone(), name: to.name.clone(), sub: None };
                Filter::ValuePath {
                    path: head,
                    filter: inner,
                    then: Some(Box::new(leaf(AttrPath::new(None, &sub, None)))),
                }
            }
        })
    }

    /// Where `path` lives in the backend. `op`: the comparison, which
    /// limits the transforms that can be applied to a literal.
    fn place(&self, path: &Path, op: Option<CompareOp>) -> Place<'a> {
        let key = path_key(path, self.core);
        for rule in self.rules(Direction::Request) {
            if let Some(place) = self.moved_by(rule, path, &key, op) {
                return place;
            }
        }
        if let Some(rule) = self.rules(Direction::Request).iter().find(|r| self.consumes(r, path)) {
            return Place::Refused(format!(
                "`{path}` is not stored by the backend: mapping rule {} removes or renames it",
                rule.label
            ));
        }
        if let Some(place) = self.response_place(path, &key) {
            return place;
        }
        let normalizer = self.rules(Direction::Request).iter().find_map(|r| match &r.action {
            Action::Set { target, transforms, .. }
                if path_key(target, self.core) == key && transforms.iter().all(Transform::is_normalizer) =>
            {
                Some(transforms.as_slice())
            }
            _ => None,
        });
        Place::At { path: path.clone(), transforms: normalizer.unwrap_or(&[]) }
    }

    fn moved_by(&self, rule: &'a Rule, path: &Path, key: &str, op: Option<CompareOp>) -> Option<Place<'a>> {
        match &rule.action {
            Action::Rename { from, to } if path_key(from, self.core) == key => {
                Some(Place::At { path: to.clone(), transforms: &[] })
            }
            Action::Each { path: each, transforms }
                if AttrKey::of_path(each, self.core) == AttrKey::of_path(path, self.core)
                    && (each.filter.is_none() || path_key(each, self.core) == key) =>
            {
                Some(check(path, path, transforms, op))
            }
            Action::Set { target, sources, transforms, default: None }
                if rule.condition.is_none() && rule.when == crate::program::When::Always =>
            {
                let [Source::Path(src, _)] = sources.as_slice() else { return None };
                (path_key(src, self.core) == key).then(|| check(path, target, transforms, op))
            }
            _ => None,
        }
    }

    fn consumes(&self, rule: &Rule, path: &Path) -> bool {
        match &rule.action {
            Action::Remove { path: p } | Action::Rename { from: p, .. } => {
                covers(p, path, self.core) || covers(path, p, self.core)
            }
            _ => false,
        }
    }

    fn response_place(&self, path: &Path, key: &str) -> Option<Place<'a>> {
        let writes = |r: &Rule| r.target().is_some_and(|t| path_key(t, self.core) == key);
        if !self.rules(Direction::Response).iter().any(writes)
            && let Some(rule) = self.rules(Direction::Response).iter().find(|r| self.consumes(r, path))
        {
            let msg =
                format!("`{path}` is not part of the IdP's view: response rule {} removes or renames it", rule.label);
            return Some(Place::Refused(msg));
        }
        let rule = self
            .rules(Direction::Response)
            .iter()
            .find(|r| r.target().is_some_and(|t| path_key(t, self.core) == key))?;
        Some(match &rule.action {
            Action::Rename { from, .. } => Place::At { path: from.clone(), transforms: &[] },
            Action::Set { sources, transforms, default: None, .. }
                if transforms.is_empty() && rule.condition.is_none() =>
            {
                match sources.as_slice() {
                    [Source::Path(src, _)] => Place::At { path: src.clone(), transforms: &[] },
                    _ => computed(path, rule),
                }
            }
            Action::Each { .. } => return None,
            _ => computed(path, rule),
        })
    }

    /// The backend attributes to ask for (or exclude) for one IdP attribute.
    fn attribute(&self, path: &AttrPath, requested: bool) -> Result<Vec<String>, MapError> {
        let p = Path::from(path.clone());
        match self.place(&p, None) {
            Place::At { path, .. } => {
                let mut names = vec![path.attr_path().to_string()];
                if requested {
                    names.extend(self.response_inputs(&p));
                }
                Ok(names)
            }
            Place::Refused(_) if !requested => Ok(vec![]),
            Place::Refused(msg) => Err(MapError::Filter(format!("attributes: {msg}"))),
        }
    }

    /// What the response rules that produce `path` read, so asking for the
    /// attribute also fetches its inputs.
    fn response_inputs(&self, path: &Path) -> Vec<String> {
        let mut out = Vec::new();
        for rule in self.rules(Direction::Response) {
            let writes = rule.target().is_some_and(|t| covers(path, t, self.core) || covers(t, path, self.core));
            if let (true, Action::Set { sources, .. }) = (writes, &rule.action) {
                for s in sources {
                    push_inputs(s, &mut out);
                }
            }
        }
        out
    }
}

fn push_inputs(source: &Source, out: &mut Vec<String>) {
    match source {
        Source::Path(p, _) | Source::Ref { path: p, .. } => out.push(p.attr_path().to_string()),
        Source::Template(t) => t.fields.iter().for_each(|f| push_inputs(f, out)),
        Source::JsonPath { top: Some(t), .. } => out.push(t.clone()),
        _ => {}
    }
}

fn computed<'a>(path: &Path, rule: &Rule) -> Place<'a> {
    Place::Refused(format!("`{path}` is computed by response rule {}; a backend filter cannot express it", rule.label))
}

/// Whether a term on the IdP's `path` can move to `to` with `transforms`
/// applied to a literal compared with `op`.
fn check<'a>(path: &Path, to: &Path, transforms: &'a [Transform], op: Option<CompareOp>) -> Place<'a> {
    let lossy = transforms.iter().any(|t| !matches!(t, Transform::Lower | Transform::Upper | Transform::Ascii));
    let refused = match op {
        Some(op) if op.is_ordering() && !transforms.is_empty() => true,
        Some(CompareOp::Co | CompareOp::Sw | CompareOp::Ew) => lossy,
        _ => false,
    };
    if refused {
        let op = op.map_or("", CompareOp::as_str);
        return Place::Refused(format!(
            "`{path}` is transformed on the way in; a `{op}` comparison on it cannot be rewritten"
        ));
    }
    Place::At { path: to.clone(), transforms }
}

/// The literal as the backend stores such values. For substring
/// comparisons only case folding and transliteration apply: trimming or
/// title-casing a fragment would change what it matches.
fn literal(value: &Value, transforms: &[Transform], op: CompareOp) -> Value {
    let substring = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let applies = |t: &&Transform| !substring || matches!(t, Transform::Lower | Transform::Upper | Transform::Ascii);
    match value {
        Value::String(s) if !transforms.is_empty() => {
            Value::String(transforms.iter().filter(applies).fold(s.clone(), |acc, t| t.apply(acc)))
        }
        other => other.clone(),
    }
}
