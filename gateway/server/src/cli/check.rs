//! `check --config`: the whole config and every mapping it names, with
//! every problem printed as file:line:col.

use crate::config::{self, Overrides};
use crate::gateway;
use scim_mapper::Severity;
use std::io::Write;
use std::path::Path;

pub(super) fn config(path: &Path, out: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let loaded = match config::load(path, &Overrides::default()) {
        Ok(l) => l,
        Err(e) => {
            for d in &e.0 {
                writeln!(out, "{d}")?;
            }
            let errors = e.0.iter().filter(|d| d.severity == Severity::Error).count();
            writeln!(out, "failed: {errors} error(s)")?;
            return Ok(1);
        }
    };
    for w in &loaded.warnings {
        writeln!(out, "{w}")?;
    }
    let mut errors = 0;
    for route in &loaded.config.routes {
        if let Err(problems) = gateway::program(route) {
            for p in &problems {
                writeln!(out, "{p}")?;
            }
            errors += problems.iter().filter(|p| !p.contains(": warning: ")).count();
        }
        for f in route.auth.tokens_file.iter().chain(route.upstream.token_file.iter()) {
            if let Err(e) = std::fs::metadata(f) {
                writeln!(out, "{}: error: cannot read {}: {e}", path.display(), f.display())?;
                errors += 1;
            }
        }
    }
    if errors > 0 {
        writeln!(out, "failed: {errors} error(s)")?;
        return Ok(1);
    }
    writeln!(out, "ok: {} route(s)", loaded.config.routes.len())?;
    Ok(0)
}
