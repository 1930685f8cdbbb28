//! `check --config`: the whole config and every mapping and plugin it
//! names, with every problem printed as file:line:col; `check --plugin`:
//! plugin files on their own.

use crate::config::{self, Overrides};
use crate::gateway;
use crate::plugins::Chain;
use scim_mapper::Severity;
use scim_plugin_host::{BreakerSettings, Host, HostSettings, Limits, PluginSource};
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

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
    let host = plugin_host(path, &loaded.config, out)?;
    for route in &loaded.config.routes {
        errors += route_problems(path, route, host.clone(), out)?;
    }
    if let Some(tls) = &loaded.config.tls
        && let Err(e) = crate::server::check_tls(tls)
    {
        writeln!(out, "{}: error: inbound TLS: {e}", path.display())?;
        errors += 1;
    }
    if errors > 0 {
        writeln!(out, "failed: {errors} error(s)")?;
        return Ok(1);
    }
    writeln!(out, "ok: {} route(s)", loaded.config.routes.len())?;
    Ok(0)
}

/// A route's mapping, secrets and plugins checked; the number of errors.
fn route_problems(
    path: &Path,
    route: &config::Route,
    host: Option<Arc<Host>>,
    out: &mut dyn Write,
) -> Result<usize, anyhow::Error> {
    let mut errors = 0;
    if let Err(problems) = gateway::program(route) {
        for p in &problems {
            writeln!(out, "{p}")?;
        }
        errors += problems.iter().filter(|p| !p.contains(": warning: ")).count();
    }
    errors += secrets(path, route, out)?;
    if let Err(problems) = Chain::load(host, &route.mapping.plugins, None) {
        for p in &problems {
            writeln!(out, "{}: error: route `{}`: {p}", path.display(), route.name)?;
        }
        errors += problems.len();
    }
    Ok(errors)
}

/// The plugin engine, when a route has plugins.
fn plugin_host(path: &Path, config: &config::Config, out: &mut dyn Write) -> Result<Option<Arc<Host>>, anyhow::Error> {
    if config.routes.iter().all(|r| r.mapping.plugins.is_empty()) {
        return Ok(None);
    }
    let host = Host::new(config.plugin_host.clone())?;
    for w in host.warnings() {
        writeln!(out, "{}: warning: {w}", path.display())?;
    }
    Ok(Some(Arc::new(host)))
}

/// `check --plugin`: each file loads with the default limits, imports
/// nothing and exports a compatible interface.
pub(super) fn plugins(paths: &[PathBuf], out: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let host = Host::new(HostSettings::default())?;
    let mut errors = 0;
    for path in paths {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let loaded = Host::read(path).and_then(|bytes| {
            let config = serde_json::json!({});
            let limits = Limits::default();
            let src = PluginSource {
                name: &name,
                bytes: &bytes,
                sha256: None,
                limits,
                breaker: BreakerSettings::default(),
                config: &config,
            };
            host.load(&src)
        });
        match loaded {
            Ok(p) => writeln!(out, "{}: ok: sha256 {}", path.display(), p.sha256())?,
            Err(e) => {
                writeln!(out, "{}: error: {e}", path.display())?;
                errors += 1;
            }
        }
    }
    if errors > 0 {
        writeln!(out, "failed: {errors} error(s)")?;
        return Ok(1);
    }
    writeln!(out, "ok: {} plugin(s)", paths.len())?;
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
    if let Some(f) = &route.upstream.token_file
        && let Err(e) = std::fs::metadata(f)
    {
        writeln!(out, "{}: error: route `{}`: cannot read {}: {e}", path.display(), route.name, f.display())?;
        errors += 1;
    }
    Ok(errors)
}
