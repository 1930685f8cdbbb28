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
        errors += secrets(path, route, out)?;
    }
    if let Some(tls) = &loaded.config.tls {
        if let Err(e) = crate::server::check_tls(tls) {
            writeln!(out, "{}: error: inbound TLS: {e}", path.display())?;
            errors += 1;
        }
    }
    if errors > 0 {
        writeln!(out, "failed: {errors} error(s)")?;
        return Ok(1);
    }
    writeln!(out, "ok: {} route(s)", loaded.config.routes.len())?;
    Ok(0)
}

/// Token files must parse; environment variables are only warned about,
/// since `check` often runs where the secrets are not.
fn secrets(path: &Path, route: &config::Route, out: &mut dyn Write) -> Result<usize, anyhow::Error> {
    let mut errors = 0;
    if let Some(f) = &route.auth.tokens_file {
        let parsed = crate::mapping::read_bounded(f)
            .map_err(|e| e.to_string())
            .and_then(|text| crate::auth::Tokens::parse(text.lines()).map_err(|e| format!("{}: {e}", f.display())));
        if let Err(e) = parsed {
            writeln!(out, "{}: error: route `{}`: {e}", path.display(), route.name)?;
            errors += 1;
        }
    }
    for var in route.auth.tokens_env.iter().chain(route.upstream.token_env.iter()) {
        if std::env::var_os(var).is_none() {
            writeln!(
                out,
                "{}: warning: route `{}`: {var} is not set here; serve needs it",
                path.display(),
                route.name
            )?;
        }
    }
    if let Some(f) = &route.upstream.token_file {
        if let Err(e) = std::fs::metadata(f) {
            writeln!(out, "{}: error: route `{}`: cannot read {}: {e}", path.display(), route.name, f.display())?;
            errors += 1;
        }
    }
    Ok(errors)
}
