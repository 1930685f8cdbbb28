//! Mapping whole resources: POST and PUT bodies on the way in, resources
//! and ListResponses on the way out.
//!
//! Two phases: every rule first computes its value from the incoming
//! document (in dependency order), then the writes are made in the order
//! the rules are declared. Sources therefore read what the IdP (or the
//! backend) sent, never another rule's output, unless they name it with `@`.

use crate::error::MapError;
use crate::eval::{Env, Slot, eval_set, value_for};
use crate::program::{Action, Direction, Program, Rule, RuleList, When};
use crate::report::{Failure, Outcome, Report, Trace};
use scim_core::path::Path;
use scim_core::schema::ResourceSchema;
use scim_core::{Intent, ScimError};
use serde_json::Value;

/// What kind of write a request body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// POST: create-only rules apply.
    Create,
    /// PUT: create-only targets are carried over from the current resource.
    Replace,
    /// A resource the backend returned, mapped with the response rules.
    Response,
}

/// Per-call switches.
#[derive(Debug, Clone, Copy, Default)]
pub struct MapOptions {
    /// Fill [`Report::traces`].
    pub explain: bool,
    /// Whether the request deprovisions, as the caller decided it once for
    /// the whole request ([`Intent`]); `None`: decided here from the input,
    /// by the same rule. On a deprovisioning, failed rules are left out
    /// instead of failing the request.
    pub intent: Option<Intent>,
}

impl MapOptions {
    /// The options for a request whose intent is known.
    pub fn for_intent(intent: Intent) -> Self {
        Self { intent: Some(intent), ..Self::default() }
    }
}

/// A write a rule decided on.
#[derive(Debug)]
enum Write {
    Nothing,
    Set(Option<Value>),
    Remove,
    Rename(Option<Value>),
    Each,
}

impl Program {
    /// Maps one resource. `current` is the resource as the backend stores
    /// it; a replace needs it to carry create-only targets over.
    pub fn map_resource(
        &self,
        resource_type: &str,
        op: Operation,
        mut doc: Value,
        current: Option<&Value>,
        opts: MapOptions,
    ) -> Result<(Value, Report), MapError> {
        if !doc.is_object() {
            return Err(MapError::Invalid(ScimError::invalid_syntax("the resource must be a JSON object")));
        }
        let dir = if op == Operation::Response { Direction::Response } else { Direction::Request };
        let mut report = Report::default();
        let Some(list) = self.list(resource_type, dir) else { return Ok((doc, report)) };
        let schema = self.schema(resource_type)?;
        let intent = opts.intent.unwrap_or_else(|| Intent::of_resource(&doc));
        let deprovision = dir == Direction::Request && intent.is_deprovision();
        let writes = {
            let mut run = Run { list, schema: &schema, op, current, deprovision, opts, report: &mut report };
            run.plan(&doc)?
        };
        // A rename moves what came in: every source goes before any rule
        // writes, so a rename into another rename's source (a swap) keeps
        // both values instead of removing the one just written.
        for (rule, write) in list.rules.iter().zip(&writes) {
            if let (Action::Rename { from, .. }, Write::Rename(_)) = (&rule.action, write) {
                remove_every_spelling(from, &mut doc, &schema);
            }
        }
        for (rule, write) in list.rules.iter().zip(writes) {
            if let Err(e) = commit(rule, write, &mut doc, &schema) {
                fail(&mut report, rule, e, deprovision)?;
            }
        }
        Ok((doc, report))
    }

    /// Maps every resource of a ListResponse with the response rules. A
    /// resource whose type cannot be told is left as it is.
    pub fn map_list_response(
        &self,
        resource_type: Option<&str>,
        mut body: Value,
        opts: MapOptions,
    ) -> Result<(Value, Report), MapError> {
        let mut report = Report::default();
        let Some(resources) = body.get_mut("Resources").and_then(Value::as_array_mut) else {
            return Ok((body, report));
        };
        for slot in resources.iter_mut() {
            let rt = match resource_type {
                Some(rt) => Some(rt.to_owned()),
                None => self.registry.resource_for(slot).map(|s| s.name().to_owned()),
            };
            let Some(rt) = rt else { continue };
            let (mapped, r) = self.map_resource(&rt, Operation::Response, std::mem::take(slot), None, opts)?;
            *slot = mapped;
            report.extend(r);
        }
        Ok((body, report))
    }

    pub(crate) fn schema(&self, resource_type: &str) -> Result<ResourceSchema<'_>, MapError> {
        self.registry.resource(resource_type).ok_or_else(|| MapError::UnknownResourceType(resource_type.to_owned()))
    }
}

/// Records a failed rule when deprovisioning; otherwise the request fails.
pub(crate) fn fail(report: &mut Report, rule: &Rule, message: String, deprovision: bool) -> Result<(), MapError> {
    let target = rule.target().map(ToString::to_string).unwrap_or_default();
    if !deprovision {
        return Err(MapError::Rule { rule: rule.label.clone(), target, message });
    }
    report.failures.push(Failure { rule: rule.label.clone(), target, message });
    Ok(())
}

struct Run<'a, 'r> {
    list: &'a RuleList,
    schema: &'a ResourceSchema<'a>,
    op: Operation,
    current: Option<&'a Value>,
    deprovision: bool,
    opts: MapOptions,
    report: &'r mut Report,
}

impl Run<'_, '_> {
    /// Phase one: what each rule will write, indexed like the rules.
    fn plan(&mut self, doc: &Value) -> Result<Vec<Write>, MapError> {
        let n = self.list.rules.len();
        let mut slots: Vec<Slot> = (0..n).map(|_| Slot::Unset).collect();
        let mut writes: Vec<Write> = (0..n).map(|_| Write::Nothing).collect();
        let mut traces: Vec<Option<Trace>> = if self.opts.explain { vec![None; n] } else { Vec::new() };
        for &i in &self.list.order {
            let Some(rule) = self.list.rules.get(i) else { continue };
            let mut env = Env { doc, schema: self.schema, slots: &slots, inputs: self.opts.explain.then(Vec::new) };
            let (write, outcome) = self.decide(rule, &mut env)?;
            let inputs = env.inputs.take().unwrap_or_default();
            // Kept only for the rules that read it back (`@`).
            if let Write::Set(v) | Write::Rename(v) = &write
                && self.list.read_back.get(i) == Some(&true)
                && let Some(s) = slots.get_mut(i)
            {
                *s = Slot::Value(v.clone());
            }
            if self.opts.explain {
                let output = match &write {
                    Write::Set(v) | Write::Rename(v) => Some(v.clone().unwrap_or(Value::Null)),
                    _ => None,
                };
                let at = rule.origin.to_string();
                if let Some(t) = traces.get_mut(i) {
                    *t = Some(Trace { rule: rule.label.clone(), at, outcome, inputs, output });
                }
            }
            if let Some(w) = writes.get_mut(i) {
                *w = write;
            }
        }
        self.report.traces.extend(traces.into_iter().flatten());
        Ok(writes)
    }

    fn decide(&mut self, rule: &Rule, env: &mut Env<'_>) -> Result<(Write, Outcome), MapError> {
        if rule.condition.as_ref().is_some_and(|c| !c.matches(env.doc, Some(self.schema))) {
            return Ok((Write::Nothing, Outcome::ConditionFalse));
        }
        if rule.when == When::Create && self.op == Operation::Replace {
            return Ok((self.carry(rule), Outcome::CarriedOver));
        }
        match &rule.action {
            Action::Set { target, sources, transforms, default } => {
                let value = eval_set(env, &rule.fit, sources, transforms, default.as_ref());
                let value = if self.op == Operation::Response {
                    value
                } else {
                    value.and_then(|v| crate::eval::require(target, &rule.fit, v))
                };
                match value {
                    Ok(v) => Ok((Write::Set(v), Outcome::Fired)),
                    Err(e) => {
                        fail(self.report, rule, e, self.deprovision)?;
                        Ok((self.carry(rule), Outcome::Failed))
                    }
                }
            }
            Action::Remove { .. } => Ok((Write::Remove, Outcome::Fired)),
            Action::Each { .. } => Ok((Write::Each, Outcome::Fired)),
            Action::Rename { from, .. } => {
                Ok((Write::Rename(value_for(from, env.doc, &rule.fit, self.schema)), Outcome::Fired))
            }
        }
    }

    /// The current value of a rule's target, or a note that it is needed.
    fn carry(&mut self, rule: &Rule) -> Write {
        let Some(target) = rule.target() else { return Write::Nothing };
        match self.current {
            Some(cur) => Write::Set(current_value(target, cur, self.schema)),
            None => {
                self.report.needs_current.push(target.to_string());
                Write::Set(None)
            }
        }
    }
}

/// The value at `target` in the backend's current resource.
pub(crate) fn current_value(target: &Path, current: &Value, schema: &ResourceSchema<'_>) -> Option<Value> {
    crate::eval::pick(target.get(current, Some(schema)), crate::eval::takes_list(target, schema))
}

/// Removes what `path` names. A top-level attribute can arrive under
/// several spellings (`password` and `PASSWORD`); every one goes.
fn remove_every_spelling(path: &Path, doc: &mut Value, schema: &ResourceSchema<'_>) {
    let core = path.urn.as_deref().is_none_or(|u| schema.is_core_urn(u));
    match doc.as_object_mut() {
        Some(m) if core && path.filter.is_none() && path.sub.is_none() => {
            // An attribute the document lacks (the IdP did not send it,
            // or the gateway left it out unread) is looked for among the
            // keys alone: none is hashed.
            if !m.keys().any(|k| k.eq_ignore_ascii_case(&path.name)) {
                return;
            }
            // One by one, in order: a `retain` would rebuild the map's
            // whole index for the one or two keys removed.
            m.shift_remove(path.name.as_str());
            while let Some(k) = m.keys().find(|k| k.eq_ignore_ascii_case(&path.name)).cloned() {
                m.shift_remove(&k);
            }
        }
        _ => {
            path.remove(doc, Some(schema));
        }
    }
}

/// Phase two: one rule's write.
fn commit(rule: &Rule, write: Write, doc: &mut Value, schema: &ResourceSchema<'_>) -> Result<(), String> {
    match (&rule.action, write) {
        (_, Write::Nothing) => Ok(()),
        (Action::Remove { path }, Write::Remove) => {
            remove_every_spelling(path, doc, schema);
            Ok(())
        }
        // The source went before any write (see `map_resource`).
        (Action::Rename { .. }, Write::Rename(v)) => write_target(rule, v, doc, schema),
        (Action::Each { path, transforms }, Write::Each) => {
            crate::each::transform_in(doc, path, transforms, &rule.fit.at)
        }
        (_, Write::Set(v)) => write_target(rule, v, doc, schema),
        _ => Ok(()),
    }
}

/// Writes `value` at the rule's target (a rename's `to`), with where it
/// lies as the rule was compiled (its `Fit`); `None` removes the target.
fn write_target(rule: &Rule, value: Option<Value>, doc: &mut Value, schema: &ResourceSchema<'_>) -> Result<(), String> {
    let Some(target) = rule.target() else { return Ok(()) };
    match value {
        Some(v) => target.set_located(doc, v, &rule.fit.at).map(|_| ()).map_err(|e| e.detail),
        None => {
            target.remove(doc, Some(schema));
            Ok(())
        }
    }
}
