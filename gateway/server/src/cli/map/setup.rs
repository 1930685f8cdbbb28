//! What `map` maps with: mapping files and `--plugin`s, or a route of a
//! gateway config with its mappings, preset and plugins.

use crate::cli::{MapArgs, PresetArg};
use crate::config::{self, Overrides, PluginSettings, Position};
use crate::mapping;
use crate::plugins::Chain;
use anyhow::{Context, anyhow, bail};
use scim_core::normalize::Preset;
use scim_mapper::Program;
use scim_plugin_host::{BreakerSettings, Host, HostSettings, Limits};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

/// The compiled mapping, the preset and the plugin chain.
pub(crate) struct Setup {
    pub program: Program,
    pub preset: Preset,
    pub chain: Chain,
}

pub(crate) fn load(args: &MapArgs, err: &mut dyn Write) -> anyhow::Result<Setup> {
    match &args.config {
        Some(path) => from_route(path, args),
        None => from_files(args, err),
    }
}

fn from_files(args: &MapArgs, err: &mut dyn Write) -> anyhow::Result<Setup> {
    let registry = mapping::registry(&args.schemas).map_err(|e| anyhow!("{e}"))?;
    let compiled = mapping::load(&args.mappings, registry).map_err(|e| anyhow!("{e}"))?;
    for w in &compiled.warnings {
        writeln!(err, "{w}")?;
    }
    if args.plugin_configs.len() > args.plugins.len() {
        bail!("more --plugin-config than --plugin");
    }
    let mut settings = Vec::new();
    for (i, path) in args.plugins.iter().enumerate() {
        let config = match args.plugin_configs.get(i) {
            Some(text) => {
                serde_json::from_str(text).with_context(|| format!("--plugin-config {} is not JSON", i + 1))?
            }
            None => serde_json::json!({}),
        };
        settings.push(cli_plugin(path, config));
    }
    let host = (!settings.is_empty()).then(|| Host::new(HostSettings::default())).transpose()?.map(Arc::new);
    let chain = Chain::load(host, &settings, None).map_err(|e| anyhow!("{}", e.join("\n")))?;
    Ok(Setup { program: compiled.program, preset: args.preset.map_or(Preset::Generic, preset), chain })
}

/// A `--plugin`: after the rules, both directions, default limits.
fn cli_plugin(path: &Path, config: serde_json::Value) -> PluginSettings {
    PluginSettings {
        name: path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "plugin".into()),
        path: path.to_path_buf(),
        sha256: None,
        resources: vec!["User".into(), "Group".into()],
        request: true,
        response: true,
        position: Position::After,
        fail_open: false,
        limits: Limits::default(),
        breaker: BreakerSettings::default(),
        config,
    }
}

fn from_route(path: &Path, args: &MapArgs) -> anyhow::Result<Setup> {
    let loaded = config::load(path, &Overrides::default()).map_err(|e| anyhow!("{e}"))?;
    let routes = &loaded.config.routes;
    let route = match &args.route {
        Some(name) => routes.iter().find(|r| &r.name == name),
        None if routes.len() == 1 => routes.first(),
        None => routes.iter().find(|r| r.name == "default"),
    };
    let names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
    let route = route.ok_or_else(|| anyhow!("pick a route with --route: {}", names.join(", ")))?;
    let (program, _) = crate::gateway::program(route).map_err(|e| anyhow!("{}", e.join("\n")))?;
    let host = match route.mapping.plugins.is_empty() {
        true => None,
        false => Some(Arc::new(Host::new(loaded.config.plugin_host.clone())?)),
    };
    let chain = Chain::load(host, &route.mapping.plugins, None).map_err(|e| anyhow!("{}", e.join("\n")))?;
    Ok(Setup { program, preset: args.preset.map_or(route.mapping.preset, preset), chain })
}

pub(crate) fn preset(p: PresetArg) -> Preset {
    match p {
        PresetArg::Generic => Preset::Generic,
        PresetArg::Okta => Preset::Okta,
        PresetArg::Entra => Preset::Entra,
    }
}
