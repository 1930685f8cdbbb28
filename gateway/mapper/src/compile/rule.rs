//! Compiling one rule table.

use crate::diag::{Sink, did_you_mean};
use crate::eval::Fit;
use crate::load::raw::RawRule;
use crate::paths::{AttrKey, path_key};
use crate::program::{Action, Direction, Origin, Rule, Source, When};
use scim_core::filter::Filter;
use scim_core::path::Path;
use scim_core::schema::{Mutability, ResourceSchema};
use std::collections::BTreeMap;
use std::sync::Arc;
use toml::Spanned;

/// What one rule is compiled against.
pub(crate) struct Ctx<'a, 's> {
    pub(crate) sink: &'a mut Sink<'s>,
    pub(crate) schema: &'a ResourceSchema<'a>,
    pub(crate) lookups: &'a BTreeMap<String, Arc<BTreeMap<String, String>>>,
    pub(crate) dir: Direction,
}

/// Byte offset of the first character inside a quoted string value.
pub(crate) fn inner(s: &Spanned<String>) -> usize {
    s.span().start + 1
}

impl Ctx<'_, '_> {
    /// Compiles a rule; `None` when it has errors (already reported).
    pub(crate) fn rule(&mut self, raw: &RawRule, at: usize, label: String) -> Option<Rule> {
        let errors_before = self.sink.out.len();
        let label = raw.name.as_ref().map_or(label, |n| n.get_ref().clone());
        let action = self.action(raw, at);
        let condition = raw.when.as_ref().and_then(|w| self.condition(w));
        let when = self.when(raw);
        let (line, col) = crate::diag::line_col(self.sink.text(), at);
        let origin = Origin { file: self.sink.file().to_owned(), line, col };
        let clean = !self
            .sink
            .out
            .get(errors_before..)
            .is_some_and(|new| new.iter().any(|d| d.severity == crate::diag::Severity::Error));
        let (action, when) = (action?, when?);
        let core = self.schema.core_urn();
        let condition_reads = condition.as_ref().map(|c| filter_keys(c, core)).unwrap_or_default();
        let reads = action_reads(&action, core).map(|mut keys| {
            keys.extend(condition_reads.iter().cloned());
            keys
        });
        let fit = action.target().map(|t| Fit::of(t, self.schema)).unwrap_or_default();
        Some(Rule { label, origin, action, condition, when, condition_reads, reads, fit }).filter(|_| clean)
    }

    fn action(&mut self, raw: &RawRule, at: usize) -> Option<Action> {
        let kinds = [raw.target.is_some(), raw.remove.is_some(), raw.rename.is_some()];
        match kinds {
            [true, false, false] => self.set_action(raw, at),
            [false, true, false] => self.remove_action(raw),
            [false, false, true] => self.rename_action(raw, at),
            [false, false, false] => {
                let hint =
                    Some("write `target` with a source, `remove = \"path\"`, or `rename = \"path\"` with `to`".into());
                self.sink.error(at, "a rule needs `target`, `remove` or `rename`", hint);
                None
            }
            _ => {
                self.sink.error(at, "a rule holds only one of `target`, `remove` and `rename`", None);
                None
            }
        }
    }

    fn set_action(&mut self, raw: &RawRule, at: usize) -> Option<Action> {
        self.refuse(raw.to.as_ref().map(|t| t.span().start), "`to` belongs to a `rename` rule");
        let target = raw.target.as_ref().and_then(|t| self.target(t))?;
        let sources = self.sources(raw, at)?;
        let transforms = self.transforms(raw.transforms.as_deref().unwrap_or(&[]));
        let default = raw.default.as_ref().map(|d| crate::compile::source::toml_to_json(d.get_ref()));
        let transforms = transforms?;
        let core = self.schema.core_urn();
        let in_place =
            matches!(sources.as_slice(), [Source::Path(s, _)] if path_key(s, core) == path_key(&target, core));
        if in_place && default.is_none() && raw.when.is_none() && raw.on.is_none() && !transforms.is_empty() {
            return Some(Action::Each { path: target, transforms });
        }
        Some(Action::Set { target, sources, transforms, default })
    }

    fn remove_action(&mut self, raw: &RawRule) -> Option<Action> {
        self.refuse_source_keys(raw, "a `remove` rule");
        let path = raw.remove.as_ref().and_then(|p| self.path(p, "remove"))?;
        Some(Action::Remove { path })
    }

    fn rename_action(&mut self, raw: &RawRule, at: usize) -> Option<Action> {
        self.refuse_source_keys(raw, "a `rename` rule");
        let from = raw.rename.as_ref().and_then(|p| self.path(p, "rename"));
        let Some(to) = raw.to.as_ref() else {
            self.sink.error(at, "a `rename` rule needs `to`, the new path", None);
            return None;
        };
        let to = self.target(to);
        Some(Action::Rename { from: from?, to: to? })
    }

    fn refuse_source_keys(&mut self, raw: &RawRule, what: &str) {
        let keys = [
            ("from", raw.from.as_ref().map(|s| s.span().start)),
            ("first_of", raw.first_of.as_ref().map(|s| s.span().start)),
            ("template", raw.template.as_ref().map(|s| s.span().start)),
            ("value", raw.value.as_ref().map(|s| s.span().start)),
            ("default", raw.default.as_ref().map(|s| s.span().start)),
            ("transforms", raw.transforms.as_ref().and_then(|t| t.first()).map(|s| s.span().start)),
        ];
        for (key, at) in keys {
            self.refuse(at, &format!("`{key}` does not belong in {what}"));
        }
        if raw.remove.is_some() {
            self.refuse(raw.to.as_ref().map(|t| t.span().start), "`to` belongs to a `rename` rule");
        }
        self.refuse(
            raw.on.as_ref().map(|o| o.span().start),
            &format!("`on` does not belong in {what}: only `target` rules can be create-only"),
        );
    }

    fn refuse(&mut self, at: Option<usize>, msg: &str) {
        if let Some(at) = at {
            self.sink.error(at, msg.to_owned(), None);
        }
    }

    fn when(&mut self, raw: &RawRule) -> Option<When> {
        let Some(on) = &raw.on else { return Some(When::Always) };
        let when = match on.get_ref().as_str() {
            "always" => When::Always,
            "create" => When::Create,
            other => {
                let hint = did_you_mean(other, ["always", "create"]).or(Some("`always` or `create`".into()));
                self.sink.error(inner(on), format!("unknown `on` value `{other}`"), hint);
                return None;
            }
        };
        if when == When::Create && self.dir == Direction::Response {
            self.sink.error(inner(on), "`on = \"create\"` only applies to request rules", None);
            return None;
        }
        Some(when)
    }

    fn condition(&mut self, when: &Spanned<String>) -> Option<Filter> {
        let filter = match Filter::parse(when.get_ref()) {
            Ok(f) => f,
            Err(e) => {
                let hint =
                    Some("conditions use the SCIM filter grammar: `userType eq \"Employee\" and title pr`".into());
                self.sink.error(inner(when), format!("bad `when` condition: {}", e.detail), hint);
                return None;
            }
        };
        if let Err(e) = filter.validate(self.schema) {
            self.sink.error(inner(when), format!("bad `when` condition: {}", e.detail), None);
            return None;
        }
        Some(filter)
    }

    /// A SCIM path that must name an attribute of the schema.
    pub(crate) fn path(&mut self, text: &Spanned<String>, key: &str) -> Option<Path> {
        let path = match Path::parse(text.get_ref()) {
            Ok(p) => p,
            Err(e) => {
                let hint = Some("SCIM paths look like `name.givenName`, `emails[type eq \"work\"].value` or `urn:...:User:department`".into());
                self.sink.error(inner(text), format!("bad path in `{key}`: {}", e.detail), hint);
                return None;
            }
        };
        self.known_attribute(&path, inner(text)).then_some(path)
    }

    fn target(&mut self, text: &Spanned<String>) -> Option<Path> {
        if text.get_ref().starts_with('$') || text.get_ref().starts_with('@') {
            self.sink.error(inner(text), "a target must be a SCIM path, not a JSONPath or a reference", None);
            return None;
        }
        let path = self.path(text, "target")?;
        let read_only = self.schema.attribute(&path.attr_path()).is_some_and(|a| a.mutability == Mutability::ReadOnly);
        if read_only && self.dir == Direction::Request {
            let msg = format!("`{}` is read-only: a request rule cannot write it", text.get_ref());
            self.sink.error(inner(text), msg, None);
            return None;
        }
        Some(path)
    }

    /// Whether the path names an attribute the schema knows. Attributes of
    /// extension schemas that are not loaded pass unchecked.
    pub(crate) fn known_attribute(&mut self, path: &Path, at: usize) -> bool {
        let attr = path.attr_path();
        if self.schema.attribute(&attr).is_some() {
            return true;
        }
        let unknown_extension =
            attr.urn.as_deref().is_some_and(|u| !self.schema.is_core_urn(u) && self.schema.extension(u).is_none());
        if unknown_extension {
            return true;
        }
        let top = self.schema.top_attribute(attr.urn.as_deref(), &attr.name);
        let (msg, hint) = match (top, &attr.sub) {
            (Some(top), Some(sub)) => (
                format!("`{}` has no sub-attribute `{sub}`", top.name),
                did_you_mean(sub, top.sub_attributes.iter().map(|a| a.name.as_str())),
            ),
            _ => (
                format!("`{attr}` is not an attribute of {}", self.schema.name()),
                did_you_mean(&attr.name, self.attribute_names()),
            ),
        };
        self.sink.error(at, msg, hint);
        false
    }

    fn attribute_names(&self) -> Vec<&str> {
        let core = self.schema.core().attributes.iter();
        let ext = self.schema.extensions().flat_map(|s| s.attributes.iter());
        core.chain(ext).map(|a| a.name.as_str()).collect()
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<BTreeMap<String, String>>> {
        self.lookups.get(name).cloned()
    }

    pub(crate) fn lookup_names(&self) -> Vec<&str> {
        self.lookups.keys().map(String::as_str).collect()
    }
}

/// The attributes an action reads; `None` when it may read anything.
fn action_reads(action: &Action, core: &str) -> Option<Vec<AttrKey>> {
    let mut keys = Vec::new();
    match action {
        Action::Set { sources, .. } => {
            for s in sources {
                source_keys(s, core, &mut keys)?;
            }
        }
        Action::Rename { from, .. } => keys.push(AttrKey::of_path(from, core)),
        Action::Remove { .. } | Action::Each { .. } => {}
    }
    Some(keys)
}

fn source_keys(source: &Source, core: &str, keys: &mut Vec<AttrKey>) -> Option<()> {
    match source {
        Source::Path(p, _) | Source::Ref { path: p, .. } => keys.push(AttrKey::of_path(p, core)),
        Source::JsonPath { top, .. } => keys.push(AttrKey::top(top.as_deref()?)),
        Source::Template(t) => {
            for f in &t.fields {
                source_keys(f, core, keys)?;
            }
        }
        Source::Const(_) => {}
    }
    Some(())
}

/// The top-level attributes a filter reads.
fn filter_keys(filter: &Filter, core: &str) -> Vec<AttrKey> {
    let mut keys = Vec::new();
    let mut f = filter.clone();
    f.visit_paths_mut(&mut |p, _| keys.push(AttrKey::of(&p.top(), core)));
    keys
}
