//! A route's plugin chain: loaded with the route, run by the pipeline at the
//! points it chooses. Plugins run in the order the config lists them; each
//! failure becomes a SCIM error, or is passed over when the plugin fails
//! open or the request deprovisions.

use crate::config::{PluginSettings, Position};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use crate::telemetry::Trace;
use scim_core::error::ScimType;
use scim_core::patch::{ApplyOptions, PatchOp, apply, diff};
use scim_core::schema::{GROUP_URN, ResourceSchema, USER_URN};
use scim_core::{Intent, LIST_RESPONSE_URN};
use scim_mapper::{MapOptions, PatchOutcome, Program, Report};
use scim_plugin_host::{CallContext, CallOperation, Called, Direction, Failure, Host, Logs, Plugin, PluginSource};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

mod messages;

/// Told of each plugin call: its name, the document before and after it,
/// and what it logged.
pub type Note<'a> = dyn FnMut(&Pass<'_>) + Send + 'a;

/// One plugin's pass over a document, as a [`Note`] is told it.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    pub plugin: &'a str,
    pub before: &'a Value,
    pub after: &'a Value,
    pub logs: &'a Logs,
}

/// One plugin of a route, with where and how it runs.
#[derive(Debug)]
pub struct RoutePlugin {
    pub settings: PluginSettings,
    pub plugin: Arc<Plugin>,
}

/// A route's plugins, in order; empty for most routes.
#[derive(Debug, Default)]
pub struct Chain {
    host: Option<Arc<Host>>,
    plugins: Vec<RoutePlugin>,
}

/// Where in the pipeline a chain is run.
#[derive(Debug, Clone, Copy)]
pub struct ChainStep<'a> {
    pub position: Position,
    pub direction: Direction,
    pub resource_type: &'a str,
    pub operation: CallOperation,
    /// A deactivation: no plugin failure or refusal may stop it.
    pub intent: Intent,
    /// Where each plugin call's span goes.
    pub trace: &'a Trace,
}

impl Chain {
    /// Loads every plugin; all failures are reported, each counted.
    pub fn load(
        host: Option<Arc<Host>>,
        list: &[PluginSettings],
        metrics: Option<&Metrics>,
    ) -> Result<Self, Vec<String>> {
        if list.is_empty() {
            return Ok(Self::default());
        }
        let Some(host) = host else {
            return Err(vec!["plugins are configured but no plugin engine was started".into()]);
        };
        let mut plugins = Vec::new();
        let mut errors = Vec::new();
        for settings in list {
            match load_one(&host, settings) {
                Ok(plugin) => plugins.push(RoutePlugin { settings: settings.clone(), plugin: Arc::new(plugin) }),
                Err(e) => {
                    if let Some(m) = metrics {
                        m.plugin_load_failures.with_label_values(&[settings.name.as_str()]).inc();
                    }
                    errors.push(format!("plugin `{}` ({}): {e}", settings.name, settings.path.display()));
                }
            }
        }
        match errors.is_empty() {
            true => Ok(Self { host: Some(host), plugins }),
            false => Err(errors),
        }
    }

    pub fn plugins(&self) -> &[RoutePlugin] {
        &self.plugins
    }

    /// A short digest of the chain (each plugin's bytes and config), for
    /// the request log's `mapping_version`; `None` without plugins.
    pub fn version(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        if self.plugins.is_empty() {
            return None;
        }
        let mut digest = Sha256::new();
        for p in &self.plugins {
            digest.update(p.plugin.sha256().as_bytes());
            digest.update(p.settings.config.to_string().as_bytes());
        }
        Some(digest.finalize().iter().take(4).map(|b| format!("{b:02x}")).collect())
    }

    /// Whether any plugin runs at this step.
    pub fn applies(&self, position: Position, direction: Direction, resource_type: &str) -> bool {
        self.plugins.iter().any(|p| runs_at(&p.settings, position, direction, resource_type))
    }

    /// Whether any plugin runs over `resource_type` in `direction`, before
    /// or after the rules.
    pub fn applies_either_side(&self, direction: Direction, resource_type: &str) -> bool {
        [Position::Before, Position::After].into_iter().any(|p| self.applies(p, direction, resource_type))
    }

    /// Whether any plugin runs over an answer at `position`: one of
    /// `resource_type`, or (`None`, a search of any type) of Users or Groups.
    pub fn applies_to_answer(&self, position: Position, resource_type: Option<&str>) -> bool {
        let applies = |rt: &str| self.applies(position, Direction::Response, rt);
        resource_type.map_or(applies("User") || applies("Group"), applies)
    }

    /// Runs the plugins of this step over `doc`, in order. Without metrics
    /// (`scim-gateway map`) nothing is counted.
    pub async fn run(&self, metrics: Option<&Metrics>, step: ChainStep<'_>, doc: Value) -> Result<Value, GatewayError> {
        self.run_noting(metrics, step, doc, None).await
    }

    /// [`Chain::run`], telling `note` of each plugin's pass (for change
    /// lists and `map --explain`; the copy is made only then).
    pub async fn run_noting(
        &self,
        metrics: Option<&Metrics>,
        step: ChainStep<'_>,
        mut doc: Value,
        mut note: Option<&mut Note<'_>>,
    ) -> Result<Value, GatewayError> {
        let Some(host) = &self.host else { return Ok(doc) };
        for p in self.at(step) {
            let started = Instant::now();
            let before = note.is_some().then(|| doc.clone());
            let span = step.trace.plugin(&p.settings.name);
            let Called { result, logs } = host.call(&p.plugin, context(step), &doc).await;
            traced(&span, step, &result);
            drop(span);
            if let Some(m) = metrics {
                observe(m, p, &result, started);
            }
            messages::report(&p.settings.name, &logs, [&doc, result.as_ref().unwrap_or(&Value::Null)], metrics);
            let settled = settle(p, result, doc, step, metrics);
            if let (Some(n), Some(before)) = (note.as_mut(), &before) {
                // A refused document is noted unchanged, with the messages
                // that may say why.
                let after = settled.as_ref().unwrap_or(before);
                n(&Pass { plugin: &p.settings.name, before, after, logs: &logs });
            }
            doc = settled?;
        }
        Ok(doc)
    }

    /// The response plugins at `position` over an answer: the resource, or
    /// each resource of a list on its own (a list without resources is left
    /// alone). `rt` is the resource type, or `None` for a list of any type
    /// (told per resource by its schemas or `meta.resourceType`). After a
    /// deprovisioning, failures pass over as they do on the request.
    pub async fn run_answer(
        &self,
        metrics: Option<&Metrics>,
        answer: AnswerStep<'_>,
        body: Value,
    ) -> Result<Value, GatewayError> {
        self.run_answer_noting(metrics, answer, body, None).await
    }

    /// [`Chain::run_answer`], telling `note` of each plugin's pass.
    pub async fn run_answer_noting(
        &self,
        metrics: Option<&Metrics>,
        answer: AnswerStep<'_>,
        mut body: Value,
        mut note: Option<&mut Note<'_>>,
    ) -> Result<Value, GatewayError> {
        let AnswerStep { position, resource_type: rt, intent, trace } = answer;
        if !self.applies_to_answer(position, rt) {
            return Ok(body);
        }
        let applies = |rt: &str| self.applies(position, Direction::Response, rt);
        let step = |rt| ChainStep {
            position,
            direction: Direction::Response,
            resource_type: rt,
            operation: CallOperation::Read,
            intent,
            trace,
        };
        if !is_list(&body) {
            return match rt.or_else(|| resource_type(&body)).filter(|rt| applies(rt)) {
                Some(rt) => self.run_noting(metrics, step(rt), body, note).await,
                None => Ok(body),
            };
        }
        let Some(items) = body.get_mut("Resources").and_then(Value::as_array_mut) else { return Ok(body) };
        // One span for the whole list, not one per resource and plugin.
        let span = trace.phase("plugins on a list");
        span.set("scim.items", i64::try_from(items.len()).unwrap_or(i64::MAX));
        for item in items.iter_mut() {
            let Some(rt) = rt.or_else(|| resource_type(item)).filter(|rt| applies(rt)) else { continue };
            let quiet = ChainStep { trace: &crate::telemetry::OFF, ..step(rt) };
            let noted = self.run_noting(metrics, quiet, item.take(), note.as_deref_mut()).await;
            *item = noted.inspect_err(|e| span.fail(e.kind()))?;
        }
        Ok(body)
    }

    /// Counts and logs every request plugin for `rt` as passed over: a
    /// deprovisioning that could not go through them goes on without them.
    pub fn pass_over_all(&self, metrics: Option<&Metrics>, rt: &str, why: &str) {
        let on_request = |p: &&RoutePlugin| p.settings.request && p.settings.resources.iter().any(|r| r == rt);
        for p in self.plugins.iter().filter(on_request) {
            pass_over(p, why, metrics);
        }
    }

    fn at<'s>(&'s self, step: ChainStep<'s>) -> impl Iterator<Item = &'s RoutePlugin> + 's {
        self.plugins.iter().filter(move |p| runs_at(&p.settings, step.position, step.direction, step.resource_type))
    }
}

/// Where in an answer a chain runs.
#[derive(Debug, Clone, Copy)]
pub struct AnswerStep<'a> {
    pub position: Position,
    /// The answer's resource type; `None` for a list of any type.
    pub resource_type: Option<&'static str>,
    /// The answer to a deprovisioning request.
    pub intent: Intent,
    /// Where each plugin call's span goes.
    pub trace: &'a Trace,
}

/// A ListResponse, with or without `Resources` (RFC 7644 allows leaving it
/// out when there are none).
fn is_list(body: &Value) -> bool {
    body.get("Resources").is_some()
        || body
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u.as_str().is_some_and(|u| u.eq_ignore_ascii_case(LIST_RESPONSE_URN))))
}

/// A resource's type told by its core schema, else by `meta.resourceType`.
fn resource_type(doc: &Value) -> Option<&'static str> {
    let schemas = doc.get("schemas").and_then(Value::as_array);
    let named = doc.pointer("/meta/resourceType").and_then(Value::as_str);
    let found = [("User", USER_URN), ("Group", GROUP_URN)].into_iter().find(|(rt, urn)| {
        let by_schema =
            schemas.is_some_and(|s| s.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(urn))));
        by_schema || named.is_some_and(|n| n.eq_ignore_ascii_case(rt))
    });
    found.map(|(rt, _)| rt)
}

fn load_one(host: &Host, s: &PluginSettings) -> Result<Plugin, String> {
    let bytes = Host::read(&s.path).map_err(|e| e.to_string())?;
    let src = PluginSource {
        name: &s.name,
        bytes: &bytes,
        sha256: s.sha256.as_deref(),
        limits: s.limits,
        breaker: s.breaker,
        config: &s.config,
    };
    host.load(&src).map_err(|e| e.to_string())
}

fn runs_at(s: &PluginSettings, position: Position, direction: Direction, resource_type: &str) -> bool {
    let dir = match direction {
        Direction::Request => s.request,
        Direction::Response => s.response,
    };
    dir && s.position == position && s.resources.iter().any(|r| r == resource_type)
}

fn context(step: ChainStep<'_>) -> CallContext {
    CallContext { resource_type: step.resource_type.to_owned(), operation: step.operation, direction: step.direction }
}

/// A plugin call's span: where it ran and how it ended (the outcome label
/// the metrics use; never the plugin's words, which may hold personal data).
fn traced(span: &crate::telemetry::Span, step: ChainStep<'_>, result: &Result<Value, Failure>) {
    if !span.is_recording() {
        return;
    }
    span.set("scim.plugin.position", step.position.as_str());
    span.set("scim.plugin.direction", step.direction.as_str());
    span.set_with("scim.resource", || step.resource_type.to_owned());
    let outcome = result.as_ref().map_or_else(Failure::outcome, |_| scim_plugin_host::Outcome::Ok);
    match outcome {
        scim_plugin_host::Outcome::Ok => span.set("scim.plugin.outcome", outcome.label()),
        _ => span.fail(outcome.label()),
    }
}

fn observe(m: &Metrics, p: &RoutePlugin, result: &Result<Value, Failure>, started: Instant) {
    let name = p.settings.name.as_str();
    let outcome = result.as_ref().map_or_else(Failure::outcome, |_| scim_plugin_host::Outcome::Ok);
    m.plugin_invocations.with_label_values(&[name, outcome.label()]).inc();
    m.plugin_duration.with_label_values(&[name]).observe(started.elapsed().as_secs_f64());
}

/// The document after one plugin: its output, or the input passed on
/// (fail open, deprovisioning), or the error for the IdP.
fn settle(
    p: &RoutePlugin,
    result: Result<Value, Failure>,
    doc: Value,
    step: ChainStep<'_>,
    metrics: Option<&Metrics>,
) -> Result<Value, GatewayError> {
    let failure = match result {
        Ok(out) if undoes_deactivation(step, &doc, &out) => {
            pass_over(p, "its output would undo the deactivation", metrics);
            return Ok(doc);
        }
        Ok(out) => return Ok(out),
        Err(f) => f,
    };
    let passes = step.intent.is_deprovision() || (p.settings.fail_open && !matches!(failure, Failure::Rejected { .. }));
    if passes {
        // The plugin's own words (a rejection's detail) may hold personal
        // data: only the outcome is logged.
        pass_over(p, failure.outcome().label(), metrics);
        return Ok(doc);
    }
    Err(match failure {
        Failure::Rejected { plugin, rejection } => GatewayError::PluginRejected {
            plugin,
            status: rejection.status,
            scim_type: rejection.scim_type.as_deref().and_then(ScimType::parse),
            detail: rejection.detail,
        },
        Failure::Failed { plugin, outcome, detail } => GatewayError::PluginFailed { plugin, outcome, detail },
    })
}

/// A deactivation stays one: on a deprovisioning request, a plugin's output
/// that loses the input's `active: false` is not used. (After rules that
/// name the flag otherwise, the input has none and there is nothing to
/// lose.)
fn undoes_deactivation(step: ChainStep<'_>, input: &Value, out: &Value) -> bool {
    let inactive = |v: &Value| Intent::of_resource(v).is_deprovision();
    step.intent.is_deprovision() && step.direction == Direction::Request && inactive(input) && !inactive(out)
}

/// Logs and counts a plugin whose changes are left out.
fn pass_over(p: &RoutePlugin, why: &str, metrics: Option<&Metrics>) {
    tracing::warn!(
        plugin = p.settings.name.as_str(),
        why,
        "plugin passed over; the resource goes on without its changes"
    );
    if let Some(m) = metrics {
        m.plugin_fail_open.with_label_values(&[p.settings.name.as_str()]).inc();
    }
}

/// A PATCH through a chain: plugins never see operations, only whole
/// resources. The plugins before the rules get the IdP's view of the
/// current resource with the IdP's operations applied; what they leave,
/// diffed against that view, is what the rules map. The plugins after the
/// rules get the upstream's resource with the mapped operations applied;
/// what they leave, diffed against the current resource, is the PATCH sent.
#[derive(Debug, Clone, Copy)]
pub struct PatchThrough<'a> {
    pub chain: &'a Chain,
    pub metrics: Option<&'a Metrics>,
    pub program: &'a Program,
    pub schema: &'a ResourceSchema<'a>,
    pub resource_type: &'a str,
    pub intent: Intent,
    pub trace: &'a Trace,
}

impl PatchThrough<'_> {
    /// The operations to send upstream (empty: nothing to do) and the
    /// rules' report.
    pub async fn run(&self, ops: &PatchOp, current: &Value) -> Result<(PatchOp, Report), GatewayError> {
        self.run_noting(ops, current, None).await
    }

    /// [`PatchThrough::run`], telling `note` of each plugin's pass over the
    /// whole resource.
    pub async fn run_noting(
        &self,
        ops: &PatchOp,
        current: &Value,
        mut note: Option<&mut Note<'_>>,
    ) -> Result<(PatchOp, Report), GatewayError> {
        let rt = self.resource_type;
        let mut ops = ops.clone();
        if self.chain.applies(Position::Before, Direction::Request, rt) {
            let response = scim_mapper::Operation::Response;
            let (idp, _) = self.program.map_resource(rt, response, current.clone(), None, MapOptions::default())?;
            let after = self.step(Position::Before, &idp, &ops, note.as_deref_mut()).await?;
            ops = diff(&idp, &after, self.schema)?;
        }
        let opts = MapOptions::for_intent(self.intent);
        let span = self.trace.phase("map request");
        let mapped = self.program.map_patch(rt, &ops, Some(current), opts).map_err(|e| {
            let e = GatewayError::from(e);
            span.fail(e.kind());
            e
        });
        drop(span);
        let (outcome, report) = mapped?;
        let mut mapped = match outcome {
            PatchOutcome::Ops(mapped) => mapped,
            PatchOutcome::Empty => PatchOp { operations: Vec::new() },
            PatchOutcome::NeedsCurrent(missing) => return Err(unrecoverable(&missing)),
        };
        if self.chain.applies(Position::After, Direction::Request, rt) {
            let after = self.step(Position::After, current, &mapped, note).await?;
            mapped = diff(current, &after, self.schema)?;
        }
        Ok((mapped, report))
    }

    /// `base` with `ops` applied, through the plugins at `position`.
    async fn step(
        &self,
        position: Position,
        base: &Value,
        ops: &PatchOp,
        note: Option<&mut Note<'_>>,
    ) -> Result<Value, GatewayError> {
        let opts = ApplyOptions { replace_missing_adds: true, reject_unknown_attributes: false };
        let after = apply(base, ops, self.schema, opts)?;
        let step = ChainStep {
            position,
            direction: Direction::Request,
            resource_type: self.resource_type,
            operation: CallOperation::Patch,
            intent: self.intent,
            trace: self.trace,
        };
        self.chain.run_noting(self.metrics, step, after, note).await
    }
}

/// A PATCH whose rules need values the current resource does not have.
pub fn unrecoverable(missing: &[String]) -> GatewayError {
    let detail = format!("the PATCH cannot be mapped: {} cannot be recovered", missing.join(", "));
    GatewayError::Scim(scim_core::ScimError::invalid_value(detail))
}
