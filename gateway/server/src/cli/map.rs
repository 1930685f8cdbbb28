//! `scim-gateway map`: one document through the mapping, offline.

use super::{MapArgs, OperationArg, PresetArg, diff};
use crate::mapping;
use anyhow::{Context, anyhow, bail};
use scim_core::normalize::{Normalizer, Preset};
use scim_core::patch::PatchOp;
use scim_mapper::{MapOptions, Operation, PatchOutcome, Program, Report};
use serde_json::Value;
use std::io::{Read, Write};

/// Largest document read, in bytes.
const MAX_INPUT_BYTES: u64 = 16 << 20;

pub(super) fn run(
    args: &MapArgs,
    stdin: &mut dyn Read,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<u8> {
    let registry = mapping::registry(&args.schemas).map_err(|e| anyhow!("{e}"))?;
    let compiled = mapping::load(&args.mappings, registry).map_err(|e| anyhow!("{e}"))?;
    for w in &compiled.warnings {
        writeln!(err, "{w}")?;
    }
    let program = compiled.program;
    let input = read_input(args, stdin)?;
    let current = args.current.as_ref().map(|p| parse_file(p)).transpose()?;
    let resource = resource_type(args, &program, current.as_ref().unwrap_or(&input));
    let schema = program.registry().resource(&resource).ok_or_else(|| anyhow!("unknown resource type {resource}"))?;
    let normalizer = Normalizer::new(preset(args.preset));
    let opts = MapOptions { explain: args.explain };
    let mut doc = input;
    if args.operation == OperationArg::Patch {
        normalizer.patch(&mut doc, &schema);
        let patch = PatchOp::from_json(&doc).map_err(|e| anyhow!("invalid PATCH: {}", e.detail))?;
        return patch_out(&program, &resource, &patch, current.as_ref(), opts, args.diff, out);
    }
    if args.operation != OperationArg::Response {
        normalizer.resource(&mut doc, &schema);
    }
    let (mapped, report) = map_doc(&program, &resource, args.operation, doc.clone(), current.as_ref(), opts)?;
    if args.diff {
        write!(out, "{}", diff::diff(&doc, &mapped))?;
    } else {
        writeln!(out, "{}", serde_json::to_string_pretty(&mapped)?)?;
    }
    print_report(&report, out)?;
    Ok(0)
}

fn map_doc(
    program: &Program,
    resource: &str,
    op: OperationArg,
    doc: Value,
    current: Option<&Value>,
    opts: MapOptions,
) -> anyhow::Result<(Value, Report)> {
    let result = match op {
        OperationArg::Response if doc.get("Resources").is_some() => {
            program.map_list_response(Some(resource), doc, opts)
        }
        OperationArg::Response => program.map_resource(resource, Operation::Response, doc, None, opts),
        OperationArg::Replace => program.map_resource(resource, Operation::Replace, doc, current, opts),
        _ => program.map_resource(resource, Operation::Create, doc, current, opts),
    };
    result.map_err(|e| anyhow!("{}", e.to_scim().detail))
}

fn patch_out(
    program: &Program,
    resource: &str,
    patch: &PatchOp,
    current: Option<&Value>,
    opts: MapOptions,
    show_diff: bool,
    out: &mut dyn Write,
) -> anyhow::Result<u8> {
    let (outcome, report) =
        program.map_patch(resource, patch, current, opts).map_err(|e| anyhow!("{}", e.to_scim().detail))?;
    match outcome {
        PatchOutcome::Ops(ops) if show_diff => write!(out, "{}", diff::ops_diff(patch, &ops))?,
        PatchOutcome::Ops(ops) => writeln!(out, "{}", serde_json::to_string_pretty(&ops.to_json())?)?,
        PatchOutcome::Empty => writeln!(out, "no operations left: the gateway answers without calling the backend")?,
        PatchOutcome::NeedsCurrent(missing) => {
            bail!(
                "rules need attributes the PATCH does not carry ({}); pass the resource as the backend stores it with --current",
                missing.join(", ")
            )
        }
    }
    print_report(&report, out)?;
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

fn preset(p: PresetArg) -> Preset {
    match p {
        PresetArg::Generic => Preset::Generic,
        PresetArg::Okta => Preset::Okta,
        PresetArg::Entra => Preset::Entra,
    }
}
