//! One document through normalization, the plugins and the rules, offline
//! and in the gateway's order, with the change list and the rules' traces.
//! `scim-gateway map --explain` and the admin console's playground both
//! run this; neither writes anything anywhere.

use crate::audit::{ChangeLog, Stage, Values};
use crate::config::Position;
use crate::error::GatewayError;
use crate::plugins::{AnswerStep, Chain, ChainStep, Pass, PatchThrough};
use crate::telemetry::OFF;
use scim_core::Intent;
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::PatchOp;
use scim_mapper::{Direction, MapOptions, Operation, PatchOutcome, Program, Report};
use scim_plugin_host::CallOperation;
use serde_json::Value;
use std::sync::Mutex;

/// What the document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A POST body.
    Create,
    /// A PUT body.
    Replace,
    /// A PatchOp body.
    Patch,
    /// A resource or ListResponse from the backend.
    Response,
}

/// Whether the rules' traces are kept (each rule's outcome and output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Traces {
    Kept,
    Dropped,
}

/// What a document is mapped with.
#[derive(Debug, Clone, Copy)]
pub struct Engine<'a> {
    pub program: &'a Program,
    pub preset: Preset,
    pub chain: &'a Chain,
}

/// The outcome of mapping one document.
#[derive(Debug)]
pub struct Explained {
    /// The document as normalized (what the rules were given first).
    pub normalized: Value,
    /// The mapped document; a PATCH's mapped operations; `None`: a PATCH
    /// left with no operations (the gateway answers it without a call).
    pub output: Option<Value>,
    /// What each stage changed, values included (never a secret's).
    pub changes: ChangeLog,
    /// The rules' traces (with `explain`), failures, skips and drops.
    pub report: Report,
    /// What the request plugins logged, in order, as they logged it.
    pub messages: Vec<Message>,
}

/// One message a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Message {
    pub plugin: String,
    /// `debug`, `info`, `warn`, `error`, or `dropped` for the count of
    /// messages past the call's bounds.
    pub level: &'static str,
    pub text: String,
}

impl Message {
    /// The messages of one plugin call.
    fn of<'a>(pass: &'a Pass<'_>) -> impl Iterator<Item = Message> + 'a {
        let message = |level, text| Message { plugin: pass.plugin.to_owned(), level, text };
        let dropped = (pass.logs.dropped > 0)
            .then(|| format!("{} more messages dropped past the call's bounds", pass.logs.dropped));
        let lines = pass.logs.lines.iter().map(move |l| message(l.level.as_str(), l.message.clone()));
        lines.chain(dropped.map(move |text| message("dropped", text)))
    }
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "plugin {} [{}]: {}", self.plugin, self.level, self.text)
    }
}

/// The end of the message when the current resource is missing; the
/// command line says how to give it.
pub const GIVE_CURRENT: &str = "give the resource as the backend stores it";

/// Why a document could not be mapped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExplainError(pub String);

impl From<GatewayError> for ExplainError {
    fn from(e: GatewayError) -> Self {
        Self(e.to_string())
    }
}

impl Engine<'_> {
    /// Maps `doc` of `resource` as the gateway would, `current` being the
    /// resource as the backend stores it (for create-only carry-over, and
    /// a PATCH through plugins).
    pub async fn run(
        &self,
        resource: &str,
        kind: Kind,
        mut doc: Value,
        current: Option<&Value>,
        traces: Traces,
    ) -> Result<Explained, ExplainError> {
        let schema = self.program.registry().resource(resource).ok_or_else(|| unknown(resource))?;
        let normalizer = Normalizer::new(self.preset);
        let mut changes = ChangeLog::new(Values::Full);
        let sent = doc.clone();
        changes.requested(&sent);
        let (intent, normalized) = match kind {
            Kind::Patch => {
                let report = normalizer.patch(&mut doc, &schema);
                (Intent::of_patch_json(&sent), report)
            }
            Kind::Response => (Intent::Provision, scim_core::normalize::Report::default()),
            _ => {
                let report = normalizer.resource(&mut doc, &schema);
                (Intent::of_resource(&doc), report)
            }
        };
        let kinds = crate::audit::changes::normalization_author(&normalized);
        changes.stage(Stage::Normalization, &sent, &doc, &|_| kinds.clone());
        let opts = MapOptions { explain: traces == Traces::Kept, intent: Some(intent) };
        let run = Run { engine: *self, resource, kind, opts, messages: Mutex::new(Vec::new()) };
        let (output, report) = match kind {
            Kind::Patch => run.patch(&doc, current, &mut changes).await?,
            _ => run.document(doc.clone(), current, &mut changes).await.map(|(v, r)| (Some(v), r))?,
        };
        let messages = run.messages.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(Explained { normalized: doc, output, changes, report, messages })
    }
}

fn unknown(resource: &str) -> ExplainError {
    ExplainError(format!("unknown resource type {resource}"))
}

/// One run's settings.
struct Run<'a> {
    engine: Engine<'a>,
    resource: &'a str,
    kind: Kind,
    opts: MapOptions,
    /// What the plugins logged so far.
    messages: Mutex<Vec<Message>>,
}

impl Run<'_> {
    async fn document(
        &self,
        doc: Value,
        current: Option<&Value>,
        changes: &mut ChangeLog,
    ) -> Result<(Value, Report), ExplainError> {
        let doc = self.plugins(Position::Before, doc, changes).await?;
        let (mapped, report) = self.rules(doc.clone(), current)?;
        let dir = if self.kind == Kind::Response { Direction::Response } else { Direction::Request };
        let author = |p: &str| self.engine.program.author_of(self.resource, dir, p).unwrap_or_else(|| "rules".into());
        changes.stage(Stage::Rule, &doc, &mapped, &author);
        let mapped = self.plugins(Position::After, mapped, changes).await?;
        Ok((mapped, report))
    }

    /// The plugins at one position, each one's changes recorded.
    async fn plugins(&self, position: Position, doc: Value, changes: &mut ChangeLog) -> Result<Value, ExplainError> {
        let chain = self.engine.chain;
        let intent = self.opts.intent.unwrap_or_default();
        let rt = static_rt(self.resource);
        match self.kind {
            Kind::Response => {
                let before = doc.clone();
                let at = AnswerStep { position, resource_type: rt, intent: Intent::Provision, trace: &OFF };
                let mut note = self.keep_messages();
                let out = chain.run_answer_noting(None, at, doc, Some(&mut note)).await;
                let out = out.map_err(|e| self.refused(&e))?;
                changes.stage(Stage::Plugin, &before, &out, &|_| "response plugins".into());
                Ok(out)
            }
            _ => {
                let operation = if self.kind == Kind::Replace { CallOperation::Replace } else { CallOperation::Create };
                let direction = Direction::Request;
                let step =
                    ChainStep { position, direction, resource_type: self.resource, operation, intent, trace: &OFF };
                let mut keep = self.keep_messages();
                let mut note = |pass: &Pass<'_>| {
                    changes.stage(Stage::Plugin, pass.before, pass.after, &|_| pass.plugin.to_owned());
                    keep(pass);
                };
                let out = chain.run_noting(None, step, doc, Some(&mut note)).await;
                out.map_err(|e| self.refused(&e))
            }
        }
    }

    /// A note that keeps what each plugin logged.
    fn keep_messages(&self) -> impl FnMut(&Pass<'_>) + Send + '_ {
        |pass| {
            if let Ok(mut kept) = self.messages.lock() {
                kept.extend(Message::of(pass));
            }
        }
    }

    /// A refusal, explained with what the plugins said before it.
    fn refused(&self, e: &GatewayError) -> ExplainError {
        let said = self.messages.lock().map(|m| m.iter().map(|m| format!("\n{m}")).collect::<String>());
        ExplainError(format!("{e}{}", said.unwrap_or_default()))
    }

    fn rules(&self, doc: Value, current: Option<&Value>) -> Result<(Value, Report), ExplainError> {
        let (program, resource, opts) = (self.engine.program, self.resource, self.opts);
        let result = match self.kind {
            Kind::Response if doc.get("Resources").is_some() => program.map_list_response(Some(resource), doc, opts),
            Kind::Response => program.map_resource(resource, Operation::Response, doc, None, opts),
            Kind::Replace => program.map_resource(resource, Operation::Replace, doc, current, opts),
            _ => program.map_resource(resource, Operation::Create, doc, current, opts),
        };
        result.map_err(|e| ExplainError(e.to_scim().detail))
    }

    /// A PATCH through the rules, and through plugins as the gateway does
    /// it (which needs the current resource).
    async fn patch(
        &self,
        doc: &Value,
        current: Option<&Value>,
        changes: &mut ChangeLog,
    ) -> Result<(Option<Value>, Report), ExplainError> {
        let patch = PatchOp::from_json(doc).map_err(|e| ExplainError(format!("invalid PATCH: {}", e.detail)))?;
        let (program, chain) = (self.engine.program, self.engine.chain);
        let plugged = [Position::Before, Position::After]
            .into_iter()
            .any(|p| chain.applies(p, Direction::Request, self.resource));
        let (ops, report) = match plugged {
            false => self.patch_rules(&patch, current)?,
            true => {
                let current =
                    current.ok_or_else(|| ExplainError(format!("plugins see whole resources: {GIVE_CURRENT}")))?;
                let schema = program.registry().resource(self.resource).ok_or_else(|| unknown(self.resource))?;
                let intent = self.opts.intent.unwrap_or_default();
                let through = PatchThrough {
                    chain,
                    metrics: None,
                    program,
                    schema: &schema,
                    resource_type: self.resource,
                    intent,
                    trace: &OFF,
                };
                let mut note = self.keep_messages();
                let ran = through.run_noting(&patch, current, Some(&mut note)).await;
                let (ops, report) = ran.map_err(|e| self.refused(&e))?;
                ((!ops.is_empty()).then_some(ops), report)
            }
        };
        let out = ops.map(|o| o.to_json());
        let author =
            |p: &str| program.author_of(self.resource, Direction::Request, p).unwrap_or_else(|| "rules".into());
        changes.stage(Stage::Rule, doc, out.as_ref().unwrap_or(&serde_json::json!({"Operations": []})), &author);
        Ok((out, report))
    }

    fn patch_rules(&self, patch: &PatchOp, current: Option<&Value>) -> Result<(Option<PatchOp>, Report), ExplainError> {
        let program = self.engine.program;
        let (outcome, report) = program
            .map_patch(self.resource, patch, current, self.opts)
            .map_err(|e| ExplainError(e.to_scim().detail))?;
        match outcome {
            PatchOutcome::Ops(ops) => Ok((Some(ops), report)),
            PatchOutcome::Empty => Ok((None, report)),
            PatchOutcome::NeedsCurrent(missing) => Err(ExplainError(format!(
                "rules need attributes the PATCH does not carry ({}); {GIVE_CURRENT}",
                missing.join(", ")
            ))),
        }
    }
}

/// The resource types plugins know, as static names.
fn static_rt(name: &str) -> Option<&'static str> {
    ["User", "Group"].into_iter().find(|rt| *rt == name)
}
