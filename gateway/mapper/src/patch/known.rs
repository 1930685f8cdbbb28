//! Which inputs a PATCH mapping knows.

use super::Ctx;
use super::ops::covers;
use crate::eval::{Env, Slot, is_empty, read};
use crate::paths::AttrKey;
use crate::program::{Action, Direction, Rule, Source};
use crate::transform::apply_chain;
use scim_core::patch::{OpKind, PatchOperation};
use scim_core::path::Path;
use serde_json::Value;

/// What is known about the resource after the PATCH.
#[derive(Debug)]
pub(crate) enum Known {
    /// Only what the operations determine, as paths that are fully known.
    Ops(Vec<Path>),
    /// The current resource is known, except the first paths, which the
    /// request rules consume and no response rule gives back, unless the
    /// operations determine them (the second paths).
    Current(Vec<Path>, Vec<Path>),
}

impl Known {
    pub(crate) fn from_ops(ctx: &Ctx<'_>, ops: &[PatchOperation]) -> Self {
        let mut facts = Vec::new();
        for op in ops {
            facts.extend(determined(ctx, op));
        }
        Self::Ops(facts)
    }

    pub(crate) fn current(ctx: &Ctx<'_>, ops: &[PatchOperation]) -> Self {
        let response = ctx.program.list(ctx.schema.name(), Direction::Response);
        let given_back = |p: &Path| {
            response.is_some_and(|l| {
                l.rules.iter().filter_map(Rule::target).any(|t| covers(t, p, ctx.core) || covers(p, t, ctx.core))
            })
        };
        // What the backend holds at a removed or renamed path is not the
        // IdP's, and neither is what it holds at a rule's target: that is
        // the rule's output.
        let consumed = ctx.list.rules.iter().flat_map(|r| match &r.action {
            Action::Remove { path } => vec![path],
            Action::Rename { from, to } => vec![from, to],
            Action::Set { target, .. } => vec![target],
            Action::Each { .. } => vec![],
        });
        let lost = consumed.filter(|p| !given_back(p)).cloned().collect();
        let Self::Ops(facts) = Self::from_ops(ctx, ops) else { return Self::Current(lost, vec![]) };
        Self::Current(lost, facts)
    }

    fn knows(&self, path: &Path, core: &str) -> bool {
        match self {
            Self::Ops(facts) => facts.iter().any(|f| covers(f, path, core)),
            Self::Current(lost, facts) => {
                facts.iter().any(|f| covers(f, path, core))
                    || !lost.iter().any(|l| covers(l, path, core) || covers(path, l, core))
            }
        }
    }

    /// The inputs of `rule` that are not known, in the order the rule would
    /// read them. A fallback chain stops at its first known, non-empty source.
    pub(crate) fn missing(&self, ctx: &Ctx<'_>, rule: &Rule, after: &Value, slots: &[Slot]) -> Vec<String> {
        let mut missing = Vec::new();
        for k in &rule.condition_reads {
            let p = key_path(k);
            if !self.knows(&p, ctx.core) {
                missing.push(p.to_string());
            }
        }
        match &rule.action {
            Action::Set { sources, transforms, .. } => {
                let mut env = Env { doc: after, schema: ctx.schema, slots, inputs: None };
                for s in sources {
                    let unknown = self.unknown_inputs(ctx, s, slots);
                    if !unknown.is_empty() {
                        missing.extend(unknown);
                        break;
                    }
                    // The chain stops where evaluation will: the first
                    // source that is not empty after the transforms.
                    let value = read(&mut env, s, false).ok().flatten();
                    let value = value.and_then(|v| apply_chain(transforms, v).ok());
                    if value.is_some_and(|v| !is_empty(&v)) {
                        break;
                    }
                }
            }
            Action::Rename { from, .. } if !self.knows(from, ctx.core) => missing.push(from.to_string()),
            _ => {}
        }
        missing
    }

    fn unknown_inputs(&self, ctx: &Ctx<'_>, source: &Source, slots: &[Slot]) -> Vec<String> {
        match source {
            Source::Path(p, _) if !self.knows(p, ctx.core) => vec![p.to_string()],
            Source::Ref { path, rules } => {
                let computed = rules.iter().any(|&i| matches!(slots.get(i), Some(Slot::Value(_))));
                if computed || self.knows(path, ctx.core) { vec![] } else { vec![format!("@{path}")] }
            }
            Source::JsonPath { top, text, .. } => {
                let known = top.as_deref().is_some_and(|t| self.knows(&key_path(&AttrKey::top(t)), ctx.core));
                if known { vec![] } else { vec![text.clone()] }
            }
            Source::Template(t) => t.fields.iter().flat_map(|f| self.unknown_inputs(ctx, f, slots)).collect(),
            _ => vec![],
        }
    }
}

fn key_path(key: &AttrKey) -> Path {
    let (urn, name) = match key.top.rfind(':') {
        Some(i) => (key.top.get(..i), key.top.get(i + 1..).unwrap_or("")),
        None => (None, key.top.as_str()),
    };
    Path { urn: urn.map(str::to_owned), name: name.to_owned(), filter: None, sub: key.sub.clone() }
}

/// The paths an operation fully determines. A replace or add of a complex
/// single-valued attribute determines only the sub-attributes it names
/// (RFC 7644 section 3.5.2.3 leaves the others alone); an add to a
/// multi-valued attribute determines nothing, since the values already
/// there are unknown.
fn determined(ctx: &Ctx<'_>, op: &PatchOperation) -> Vec<Path> {
    let Some(path) = &op.path else {
        return vec![];
    };
    let attr = ctx.schema.top_attribute(path.urn.as_deref(), &path.name);
    let whole = path.filter.is_none() && path.sub.is_none();
    let multi = attr.is_some_and(|a| a.multi_valued);
    match (op.op, &op.value) {
        (OpKind::Remove, _) => vec![path.clone()],
        (OpKind::Add, _) if multi && whole => vec![],
        (_, Some(Value::Object(fields))) if whole && !multi => {
            fields.keys().map(|k| Path { sub: Some(k.clone()), ..path.clone() }).collect()
        }
        _ => vec![path.clone()],
    }
}
