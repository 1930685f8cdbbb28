//! Mapping PATCH requests.
//!
//! IdP operations that touch no rule pass through untouched. Operations on
//! attributes a rule removes are dropped; operations on a rule's own target
//! are replaced by the rule's output. A rule whose inputs an operation
//! changes is recomputed on the resource as it will be after the PATCH, and
//! its target is written (or removed, when the result is empty) with extra
//! operations.
//!
//! Without the current resource, only inputs that the operations fully
//! determine are known; a rule that needs anything else makes the outcome
//! [`PatchOutcome::NeedsCurrent`]. Given the current resource (as the
//! backend stores it), the engine maps it through the response rules to
//! recover the IdP's view, applies the operations, and computes; a rule
//! whose input cannot be recovered that way is skipped and reported.

pub(crate) use ops::covers as ops_covers;

mod known;
mod ops;

use crate::apply::{MapOptions, Operation, current_value};
use crate::error::MapError;
use crate::eval::{Env, Slot, eval_set, value_for};
use crate::program::{Action, Direction, Program, Rule, RuleList, When};
use crate::report::{Failure, Outcome, Report, Skip, Trace};
use known::Known;
use scim_core::Intent;
use scim_core::patch::{ApplyOptions, OpKind, PatchOp, PatchOperation, apply};
use scim_core::path::Path;
use scim_core::schema::ResourceSchema;
use serde_json::{Map, Value};

/// What a PATCH maps to.
#[derive(Debug, Clone, PartialEq)]
pub enum PatchOutcome {
    /// Operations to send upstream.
    Ops(PatchOp),
    /// Nothing is left to send: answer the IdP without calling the backend.
    Empty,
    /// Rules need attributes the PATCH does not carry: call again with the
    /// current resource. Lists the missing inputs.
    NeedsCurrent(Vec<String>),
}

/// What one PATCH mapping works with.
pub(crate) struct Ctx<'a> {
    pub(crate) program: &'a Program,
    pub(crate) list: &'a RuleList,
    pub(crate) schema: &'a ResourceSchema<'a>,
    pub(crate) core: &'a str,
}

impl Program {
    /// Maps a (normalized) PATCH. `current` is the resource as the backend
    /// stores it; pass it after a [`PatchOutcome::NeedsCurrent`].
    pub fn map_patch(
        &self,
        resource_type: &str,
        patch: &PatchOp,
        current: Option<&Value>,
        opts: MapOptions,
    ) -> Result<(PatchOutcome, Report), MapError> {
        let mut report = Report::default();
        let Some(list) = self.list(resource_type, Direction::Request) else {
            return Ok((outcome(patch.operations.clone()), report));
        };
        let schema = self.schema(resource_type)?;
        let ctx = Ctx { program: self, list, schema: &schema, core: schema.core_urn() };
        let expanded = ops::expand(&ctx, patch)?;
        let deprovision = opts.intent.unwrap_or_else(|| Intent::of_patch(patch)).is_deprovision();
        let mut affected = vec![false; list.rules.len()];
        let mut out = Vec::new();
        for op in &expanded {
            ops::classify(&ctx, op, &mut affected, &mut out, &mut report, deprovision)?;
        }
        ops::close_over_refs(list, &mut affected);
        let can_ask = current.is_none();
        let (before, current) = self.idp_view(resource_type, current, deprovision, &mut report)?;
        let after = apply_each(&before, &expanded, &schema);
        let known = match current {
            Some(_) => Known::current(&ctx, &expanded),
            None => Known::from_ops(&ctx, &expanded),
        };
        let mut run =
            Recompute { ctx: &ctx, after: &after, current, can_ask, known: &known, opts, report: &mut report };
        let needs = run.rules(&affected, deprovision, &mut out)?;
        if !needs.is_empty() {
            return Ok((PatchOutcome::NeedsCurrent(needs), report));
        }
        Ok((outcome(out), report))
    }
}

impl Program {
    /// The IdP's view of the stored resource: the current resource mapped
    /// through the response rules. When that fails on a deprovisioning,
    /// the PATCH goes on without it and the failure is reported.
    fn idp_view<'c>(
        &self,
        resource_type: &str,
        current: Option<&'c Value>,
        deprovision: bool,
        report: &mut Report,
    ) -> Result<(Value, Option<&'c Value>), MapError> {
        let Some(cur) = current else { return Ok((Value::Object(Map::new()), None)) };
        match self.map_resource(resource_type, Operation::Response, cur.clone(), None, MapOptions::default()) {
            Ok((doc, _)) => Ok((doc, Some(cur))),
            Err(e) if deprovision => {
                let failure = Failure { rule: "response rules".into(), target: String::new(), message: e.to_string() };
                report.failures.push(failure);
                Ok((Value::Object(Map::new()), None))
            }
            Err(e) => Err(e),
        }
    }
}

fn outcome(ops: Vec<PatchOperation>) -> PatchOutcome {
    if ops.is_empty() { PatchOutcome::Empty } else { PatchOutcome::Ops(PatchOp { operations: ops }) }
}

/// The IdP's view after the PATCH. Operations the reconstruction cannot
/// apply (a remove of something it does not hold) are skipped: the backend
/// judges them.
fn apply_each(before: &Value, ops: &[PatchOperation], schema: &ResourceSchema<'_>) -> Value {
    let opts = ApplyOptions { replace_missing_adds: true, reject_unknown_attributes: false };
    let mut doc = before.clone();
    for op in ops {
        let one = PatchOp { operations: vec![op.clone()] };
        if let Ok(next) = apply(&doc, &one, schema, opts) {
            doc = next;
        }
    }
    doc
}

struct Recompute<'a, 'r> {
    ctx: &'a Ctx<'a>,
    after: &'a Value,
    current: Option<&'a Value>,
    /// Whether missing inputs make the outcome NeedsCurrent (else they are
    /// skipped and reported).
    can_ask: bool,
    known: &'a Known,
    opts: MapOptions,
    report: &'r mut Report,
}

impl Recompute<'_, '_> {
    /// Recomputes the affected rules, appending their operations to `out`.
    /// Returns the inputs that are missing (only without a current resource).
    fn rules(
        &mut self,
        affected: &[bool],
        deprovision: bool,
        out: &mut Vec<PatchOperation>,
    ) -> Result<Vec<String>, MapError> {
        let list = self.ctx.list;
        let mut slots = vec![Slot::Unset; list.rules.len()];
        let mut needs: Vec<String> = Vec::new();
        for &i in &list.order {
            let (Some(rule), Some(true)) = (list.rules.get(i), affected.get(i)) else { continue };
            let Some(target) = rule.target() else { continue };
            if rule.when == When::Create {
                self.trace(rule, Outcome::NotApplicable, None);
                continue;
            }
            let missing = self.known.missing(self.ctx, rule, self.after, &slots);
            if !missing.is_empty() {
                self.missing(rule, target, missing, &mut needs);
                continue;
            }
            if rule.condition.as_ref().is_some_and(|c| !c.matches(self.after, Some(self.ctx.schema))) {
                self.trace(rule, Outcome::ConditionFalse, None);
                continue;
            }
            let value = match self.value(rule, &slots) {
                Ok(v) => v,
                Err(e) => {
                    crate::apply::fail(self.report, rule, e, deprovision)?;
                    self.trace(rule, Outcome::Failed, None);
                    continue;
                }
            };
            self.trace(rule, Outcome::Fired, Some(value.clone().unwrap_or(Value::Null)));
            let touched = out.iter().any(|o| o.path.as_ref().is_some_and(|p| ops_covers(p, target, self.ctx.core)));
            out.extend(self.emit(target, value.clone(), touched));
            if let Some(s) = slots.get_mut(i) {
                *s = Slot::Value(value);
            }
        }
        needs.sort();
        needs.dedup();
        Ok(needs)
    }

    fn missing(&mut self, rule: &Rule, target: &Path, missing: Vec<String>, needs: &mut Vec<String>) {
        if self.can_ask {
            needs.extend(missing);
            return;
        }
        self.trace(rule, Outcome::Skipped, None);
        self.report.skipped.push(Skip { rule: rule.label.clone(), target: target.to_string(), missing });
    }

    fn value(&self, rule: &Rule, slots: &[Slot]) -> Result<Option<Value>, String> {
        let mut env = Env { doc: self.after, schema: self.ctx.schema, slots, inputs: None };
        match &rule.action {
            Action::Set { target, sources, transforms, default } => {
                let v = eval_set(&mut env, &rule.fit, sources, transforms, default.as_ref())?;
                crate::eval::require(target, &rule.fit, v)
            }
            Action::Rename { from, .. } => Ok(value_for(from, self.after, &rule.fit, self.ctx.schema)),
            Action::Remove { .. } | Action::Each { .. } => Ok(None),
        }
    }

    /// The operation that writes `value` at `target`; none when the backend
    /// already holds it.
    /// `touched`: a forwarded operation writes the target or an ancestor,
    /// so the backend's value after the PATCH is not the one held now.
    fn emit(&self, target: &Path, value: Option<Value>, touched: bool) -> Option<PatchOperation> {
        let schema = self.ctx.schema;
        let held = self.current.map(|cur| current_value(target, cur, schema)).filter(|_| !touched);
        if let Some(held) = &held
            && *held == value
        {
            return None;
        }
        match value {
            None if matches!(held, Some(None)) => None,
            None => Some(PatchOperation::new(OpKind::Remove, target.clone(), None)),
            Some(v) => Some(set_op(target, v, self.current, schema)),
        }
    }

    fn trace(&mut self, rule: &Rule, outcome: Outcome, output: Option<Value>) {
        if self.opts.explain {
            let at = rule.origin.to_string();
            self.report.traces.push(Trace { rule: rule.label.clone(), at, outcome, inputs: vec![], output });
        }
    }
}

/// `replace target value`, or, when the backend holds no value the
/// target's filter selects, an `add` of a new element built from the
/// filter's `eq` terms.
fn set_op(target: &Path, value: Value, current: Option<&Value>, schema: &ResourceSchema<'_>) -> PatchOperation {
    let (Some(filter), Some(cur)) = (&target.filter, current) else {
        return PatchOperation::new(OpKind::Replace, target.clone(), Some(value));
    };
    let whole = Path { urn: target.urn.clone(), name: target.name.clone(), filter: None, sub: None };
    let exists = !Path { sub: None, ..target.clone() }.get(cur, Some(schema)).is_empty();
    match (exists, filter.eq_template()) {
        (false, Some(mut element)) => {
            match &target.sub {
                Some(sub) => {
                    element.insert(sub.clone(), value);
                }
                None => {
                    if let Value::Object(fields) = value {
                        element.extend(fields);
                    }
                }
            }
            PatchOperation::new(OpKind::Add, whole, Some(Value::Array(vec![Value::Object(element)])))
        }
        _ => PatchOperation::new(OpKind::Replace, target.clone(), Some(value)),
    }
}
