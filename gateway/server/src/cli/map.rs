//! `scim-gateway map`: one document through the mapping and plugins,
//! offline, in the order the gateway uses.

use super::{MapArgs, OperationArg, diff};
use crate::config::Position;
use crate::error::GatewayError;
use crate::mapping;
use crate::plugins::{AnswerStep, ChainStep, PatchThrough};
use anyhow::{Context, anyhow, bail};
use scim_core::Intent;
use scim_core::normalize::Normalizer;
use scim_core::patch::PatchOp;
use scim_core::schema::ResourceSchema;
use scim_mapper::{MapOptions, Operation, PatchOutcome, Program, Report};
use scim_plugin_host::CallOperation;
use serde_json::Value;
use std::io::{Read, Write};

/// Largest document read, in bytes.
const MAX_INPUT_BYTES: u64 = 16 << 20;

mod setup;

pub(super) fn run(
    args: &MapArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let setup = setup::load(args, err)?;
    let program = &setup.program;
    let input = read_input(args, stdin)?;
    let current = args.current.as_ref().map(|p| parse_file(p)).transpose()?;
    let resource = resource_type(args, program, current.as_ref().unwrap_or(&input));
    let schema = program.registry().resource(&resource).ok_or_else(|| anyhow!("unknown resource type {resource}"))?;
    let normalizer = Normalizer::new(setup.preset);
    let mut opts = MapOptions { explain: args.explain, ..MapOptions::default() };
    // Plugins run as async calls, as in the gateway.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut doc = input;
    if args.operation == OperationArg::Patch {
        normalizer.patch(&mut doc, &schema);
        let patch = PatchOp::from_json(&doc).map_err(|e| anyhow!("invalid PATCH: {}", e.detail))?;
        opts.intent = Some(Intent::of_patch(&patch));
        let how = PatchRun { setup: &setup, resource: &resource, schema: &schema, opts };
        let (ops, report) = runtime.block_on(how.run(&patch, current.as_ref()))?;
        return patch_out(&patch, ops, &report, args.diff, out);
    }
    if args.operation != OperationArg::Response {
        normalizer.resource(&mut doc, &schema);
        opts.intent = Some(Intent::of_resource(&doc));
    }
    let how = DocRun { setup: &setup, resource: &resource, op: args.operation, opts };
    let (mapped, report) = runtime.block_on(how.run(doc.clone(), current.as_ref()))?;
    if args.diff {
        write!(out, "{}", diff::diff(&doc, &mapped))?;
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&mapped)?)?;
    }
    print_report(&report, out)?;
    Ok(0)
}

/// A resource or list through plugins and rules, in the gateway's order.
struct DocRun<'a> {
    setup: &'a setup::Setup,
    resource: &'a str,
    op: OperationArg,
    opts: MapOptions,
}

impl DocRun<'_> {
    async fn run(&self, doc: Value, current: Option<&Value>) -> anyhow::Result<(Value, Report)> {
        let plugin_err = |e: GatewayError| anyhow!("{e}");
        if self.op == OperationArg::Response {
            let rt = self.program().registry().resource(self.resource).map(|s| static_rt(s.name()));
            let chain = &self.setup.chain;
            let at = |position| AnswerStep { position, resource_type: rt.flatten(), intent: Intent::Provision };
            let doc = chain.run_answer(None, at(Position::Before), doc).await.map_err(plugin_err)?;
            let (mapped, report) = self.rules(doc, current)?;
            let mapped = chain.run_answer(None, at(Position::After), mapped).await.map_err(plugin_err)?;
            return Ok((mapped, report));
        }
        let doc = self.request(Position::Before, doc).await.map_err(plugin_err)?;
        let (mapped, report) = self.rules(doc, current)?;
        let mapped = self.request(Position::After, mapped).await.map_err(plugin_err)?;
        Ok((mapped, report))
    }

    fn program(&self) -> &Program {
        &self.setup.program
    }

    async fn request(&self, position: Position, doc: Value) -> Result<Value, GatewayError> {
        let operation = if self.op == OperationArg::Replace { CallOperation::Replace } else { CallOperation::Create };
        let step = ChainStep {
            position,
            direction: scim_plugin_host::Direction::Request,
            resource_type: self.resource,
            operation,
            intent: self.opts.intent.unwrap_or_default(),
        };
        self.setup.chain.run(None, step, doc).await
    }

    fn rules(&self, doc: Value, current: Option<&Value>) -> anyhow::Result<(Value, Report)> {
        let (program, resource, opts) = (self.program(), self.resource, self.opts);
        let result = match self.op {
            OperationArg::Response if doc.get("Resources").is_some() => {
                program.map_list_response(Some(resource), doc, opts)
            }
            OperationArg::Response => program.map_resource(resource, Operation::Response, doc, None, opts),
            OperationArg::Replace => program.map_resource(resource, Operation::Replace, doc, current, opts),
            _ => program.map_resource(resource, Operation::Create, doc, current, opts),
        };
        result.map_err(|e| anyhow!("{}", e.to_scim().detail))
    }
}

/// The resource types plugins know, as static names.
fn static_rt(name: &str) -> Option<&'static str> {
    ["User", "Group"].into_iter().find(|rt| *rt == name)
}

/// A PATCH through the rules, and through plugins as the gateway does it
/// (which needs the current resource).
struct PatchRun<'a> {
    setup: &'a setup::Setup,
    resource: &'a str,
    schema: &'a ResourceSchema<'a>,
    opts: MapOptions,
}

impl PatchRun<'_> {
    async fn run(&self, patch: &PatchOp, current: Option<&Value>) -> anyhow::Result<(Option<PatchOp>, Report)> {
        let chain = &self.setup.chain;
        let plugged = [Position::Before, Position::After]
            .into_iter()
            .any(|p| chain.applies(p, scim_plugin_host::Direction::Request, self.resource));
        if !plugged {
            let (outcome, report) = self
                .setup
                .program
                .map_patch(self.resource, patch, current, self.opts)
                .map_err(|e| anyhow!("{}", e.to_scim().detail))?;
            return match outcome {
                PatchOutcome::Ops(ops) => Ok((Some(ops), report)),
                PatchOutcome::Empty => Ok((None, report)),
                PatchOutcome::NeedsCurrent(missing) => bail!(
                    "rules need attributes the PATCH does not carry ({}); pass the resource as the backend stores it with --current",
                    missing.join(", ")
                ),
            };
        }
        let current = current.ok_or_else(|| {
            anyhow!("plugins see whole resources: pass the resource as the backend stores it with --current")
        })?;
        let through = PatchThrough {
            chain,
            metrics: None,
            program: &self.setup.program,
            schema: self.schema,
            resource_type: self.resource,
            intent: self.opts.intent.unwrap_or_default(),
        };
        let (ops, report) = through.run(patch, current).await.map_err(|e| anyhow!("{e}"))?;
        Ok(((!ops.is_empty()).then_some(ops), report))
    }
}

fn patch_out(
    patch: &PatchOp,
    ops: Option<PatchOp>,
    report: &Report,
    show_diff: bool,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    match ops {
        Some(ops) if show_diff => write!(out, "{}", diff::ops_diff(patch, &ops))?,
        Some(ops) => writeln!(out, "{}", serde_json::to_string_pretty(&ops.to_json())?)?,
        None => writeln!(out, "no operations left: the gateway answers without calling the backend")?,
    }
    print_report(report, out)?;
    Ok(0)
}

fn print_report(report: &Report, out: &mut dyn Write) -> std::io::Result<()> {
    for t in &report.traces {
        let outcome =
            serde_json::to_value(&t.outcome).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        writeln!(out, "rule {} ({}): {outcome}", t.rule, t.at)?;
        for (source, value) in &t.inputs {
            writeln!(out, "    input  {source} = {value}")?;
        }
        if let Some(o) = &t.output {
            writeln!(out, "    output {o}")?;
        }
    }
    for f in &report.failures {
        writeln!(out, "failed: rule {} ({}): {}", f.rule, f.target, f.message)?;
    }
    for s in &report.skipped {
        writeln!(out, "skipped: rule {} ({}): cannot recover {}", s.rule, s.target, s.missing.join(", "))?;
    }
    for d in &report.dropped {
        writeln!(out, "dropped: {d}")?;
    }
    for n in &report.needs_current {
        writeln!(out, "warning: create-only target {n} left out: pass --current to carry it over")?;
    }
    Ok(())
}

fn read_input(args: &MapArgs, stdin: &mut dyn Read) -> anyhow::Result<Value> {
    match &args.input {
        Some(p) => parse_file(p),
        None => {
            let mut text = String::new();
            stdin.take(MAX_INPUT_BYTES + 1).read_to_string(&mut text).context("reading standard input")?;
            if text.len() as u64 > MAX_INPUT_BYTES {
                bail!("standard input is larger than {MAX_INPUT_BYTES} bytes");
            }
            serde_json::from_str(&text).context("standard input is not JSON")
        }
    }
}

fn parse_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = mapping::read_bounded(path).map_err(|e| anyhow!("{e}"))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn resource_type(args: &MapArgs, program: &Program, doc: &Value) -> String {
    if let Some(r) = &args.resource {
        return r.clone();
    }
    let told = program.registry().resource_for(doc).map(|s| s.name().to_owned());
    let from_list = doc
        .get("Resources")
        .and_then(Value::as_array)
        .and_then(|r| r.first())
        .and_then(|first| program.registry().resource_for(first))
        .map(|s| s.name().to_owned());
    told.or(from_list).unwrap_or_else(|| "User".to_owned())
}
