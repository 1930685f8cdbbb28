//! `scim-gateway map`: one document through the mapping and plugins,
//! offline, in the order the gateway uses.

use super::{MapArgs, OperationArg, diff};
use crate::explain::{Engine, Explained, Kind, Traces};
use crate::mapping;
use anyhow::{Context, anyhow, bail};
use scim_core::patch::PatchOp;
use scim_mapper::{Program, Report};
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
    let kind = match args.operation {
        OperationArg::Create => Kind::Create,
        OperationArg::Replace => Kind::Replace,
        OperationArg::Patch => Kind::Patch,
        OperationArg::Response => Kind::Response,
    };
    let engine = Engine { program, preset: setup.preset, chain: &setup.chain };
    // Plugins run as async calls, as in the gateway.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let traces = if args.explain { Traces::Kept } else { Traces::Dropped };
    let explained = runtime.block_on(engine.run(&resource, kind, input, current.as_ref(), traces)).map_err(|e| {
        anyhow!(
            "{}",
            e.0.replace(crate::explain::GIVE_CURRENT, "pass the resource as the backend stores it with --current")
        )
    })?;
    print_output(&explained, kind, args.diff, out)?;
    print_report(&explained.report, out)?;
    if args.explain {
        print_changes(&explained.changes, out)?;
        for m in &explained.messages {
            writeln!(out, "{m}")?;
        }
    }
    Ok(0)
}

/// The mapped document, or its difference from the input with `--diff`.
fn print_output(explained: &Explained, kind: Kind, as_diff: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    match (&explained.output, kind, as_diff) {
        (None, _, _) => writeln!(out, "no operations left: the gateway answers without calling the backend")?,
        (Some(ops), Kind::Patch, true) => {
            let (before, after) = (PatchOp::from_json(&explained.normalized), PatchOp::from_json(ops));
            if let (Ok(before), Ok(after)) = (before, after) {
                write!(out, "{}", diff::ops_diff(&before, &after))?;
            }
        }
        (Some(mapped), _, true) => write!(out, "{}", diff::diff(&explained.normalized, mapped))?,
        (Some(mapped), _, false) => writeln!(out, "{}", serde_json::to_string_pretty(mapped)?)?,
    }
    Ok(())
}

/// The change list, as the audit trail records it.
fn print_changes(changes: &crate::audit::ChangeLog, out: &mut dyn Write) -> std::io::Result<()> {
    for c in &changes.changes {
        let values = match (&c.before, &c.after) {
            (Some(b), Some(a)) => format!(": {b} -> {a}"),
            (None, Some(a)) => format!(": {a}"),
            (Some(b), None) => format!(": was {b}"),
            (None, None) => String::new(),
        };
        let kind = serde_json::to_value(c.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        writeln!(out, "change {} {kind} by {} ({}){values}", c.path, c.stage.as_str(), c.author)?;
    }
    Ok(())
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
