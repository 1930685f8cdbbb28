//! The command line: `serve`, `check`, `map` and `audit`.

mod audit;
#[cfg(test)]
mod captured;
mod check;
mod diff;
mod log_fields;
mod log_format;
mod log_sink;
mod log_time;
mod map;
mod serve;

use crate::mapping::{self, LoadError};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::{Read, Write};
use std::path::PathBuf;

/// A SCIM 2.0 mapping gateway between identity providers and SCIM backends.
#[derive(Debug, Parser)]
#[command(name = "scim-gateway", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
    /// Validate a config (with the mappings and plugins it names), mapping
    /// files or plugin files: every problem is printed as file:line:col.
    Check {
        /// The gateway config file.
        #[arg(long, required_unless_present_any = ["mappings", "plugins"])]
        config: Option<PathBuf>,
        /// Plugin components (.wasm): each must load, import nothing and
        /// export a compatible scim-gateway:plugin/mapper.
        #[arg(long = "plugin", num_args = 1.., conflicts_with = "config")]
        plugins: Vec<PathBuf>,
        /// Mapping files, compiled together in order.
        #[arg(long = "mapping", num_args = 1..)]
        mappings: Vec<PathBuf>,
        /// Extension schema files (RFC 7643 section 7 JSON).
        #[arg(long = "schema")]
        schemas: Vec<PathBuf>,
    },
    /// Map one document offline and print the result.
    Map(MapArgs),
    /// Read the provisioning audit trail of a config's store, newest first.
    Audit(AuditArgs),
    /// List every Prometheus metric the gateway exports, with its kind and
    /// labels (what dashboards and alert rules may name).
    Metrics {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Arguments of `audit`: the store of `--config`, and filters.
#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// The gateway config file (its `[audit]` store is read).
    #[arg(long)]
    pub config: PathBuf,
    #[arg(long)]
    pub route: Option<String>,
    /// `User` or `Group`.
    #[arg(long)]
    pub resource_type: Option<String>,
    /// The backend's id of the resource.
    #[arg(long)]
    pub resource_id: Option<String>,
    #[arg(long)]
    pub external_id: Option<String>,
    /// `userName` of a User, `displayName` of a Group.
    #[arg(long)]
    pub subject: Option<String>,
    /// The request's trace id (from a trace, or the log line).
    #[arg(long)]
    pub trace_id: Option<String>,
    #[arg(long)]
    pub method: Option<String>,
    /// The status answered to the IdP.
    #[arg(long)]
    pub status: Option<u16>,
    /// `client`, `upstream` or `gateway`.
    #[arg(long)]
    pub fault: Option<String>,
    /// Only deprovisionings.
    #[arg(long)]
    pub deprovisioning: bool,
    /// From this time (RFC 3339, or milliseconds since the epoch).
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this time.
    #[arg(long)]
    pub until: Option<String>,
    /// Most records printed.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    /// One JSON record per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Keep printing new records as they are written.
    #[arg(long)]
    pub follow: bool,
}

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The gateway config file.
    #[arg(long)]
    pub config: PathBuf,
    /// Listen here instead of `server.listen`.
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve /metrics, /healthz and /readyz here instead of `admin.listen`.
    #[arg(long)]
    pub admin_listen: Option<std::net::SocketAddr>,
    /// Use this upstream for every route instead of `upstream.url`.
    #[arg(long)]
    pub upstream: Option<String>,
}

/// Arguments of `map`.
#[derive(Debug, clap::Args)]
pub struct MapArgs {
    /// Mapping files, compiled together in order.
    #[arg(long = "mapping", required_unless_present = "config", num_args = 1..)]
    pub mappings: Vec<PathBuf>,
    /// Map as a route of this gateway config does: its mappings, schemas,
    /// IdP preset and plugins.
    #[arg(long, conflicts_with_all = ["mappings", "schemas"])]
    pub config: Option<PathBuf>,
    /// The route of `--config` (default: its only route, or `default`).
    #[arg(long, requires = "config")]
    pub route: Option<String>,
    /// A plugin component (.wasm) to run after the rules, in both
    /// directions; repeatable, run in order.
    #[arg(long = "plugin", conflicts_with = "config")]
    pub plugins: Vec<PathBuf>,
    /// The config (JSON) handed to the `--plugin` in the same position;
    /// `{}` for those without one.
    #[arg(long = "plugin-config")]
    pub plugin_configs: Vec<String>,
    /// Extension schema files.
    #[arg(long = "schema")]
    pub schemas: Vec<PathBuf>,
    /// The resource type; default: told from the document's schemas, else User.
    #[arg(long)]
    pub resource: Option<String>,
    /// What the document is.
    #[arg(long, value_enum, default_value_t = OperationArg::Create)]
    pub operation: OperationArg,
    /// The resource as the backend stores it (JSON file).
    #[arg(long)]
    pub current: Option<PathBuf>,
    /// The IdP's quirks to normalize first (default: the route's with
    /// `--config`, else generic).
    #[arg(long, value_enum)]
    pub preset: Option<PresetArg>,
    /// Show what changed instead of only the result.
    #[arg(long)]
    pub diff: bool,
    /// List each rule, whether it fired, its inputs and its output.
    #[arg(long)]
    pub explain: bool,
    /// The document (JSON file); standard input when absent.
    pub input: Option<PathBuf>,
}

/// `--operation` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OperationArg {
    /// A POST body.
    Create,
    /// A PUT body.
    Replace,
    /// A PatchOp body.
    Patch,
    /// A resource or ListResponse from the backend.
    Response,
}

/// `--preset` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    Generic,
    Okta,
    Entra,
}

/// Runs a command; returns the process exit code.
pub fn run(cli: Cli, stdin: &mut dyn Read, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let result = match cli.command {
        Command::Serve(args) => serve::run(&args, err),
        Command::Check { config: Some(config), .. } => check::config(&config, out),
        Command::Check { mappings, schemas, plugins, .. } => {
            let rules = if mappings.is_empty() { Ok(0) } else { check(&mappings, &schemas, out) };
            rules.and_then(|code| Ok(code.max(if plugins.is_empty() { 0 } else { check::plugins(&plugins, out)? })))
        }
        Command::Map(args) => map::run(&args, stdin, out, err),
        Command::Audit(args) => audit::run(&args, out),
        Command::Metrics { json: true } => metrics(Format::Json, out),
        Command::Metrics { json: false } => metrics(Format::Table, out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = write!(err, "{e}");
            if !e.to_string().ends_with('\n') {
                let _ = writeln!(err);
            }
            1
        }
    }
}

/// How `metrics` prints.
enum Format {
    Table,
    Json,
}

/// `metrics`: the catalog, as a Markdown table or JSON.
fn metrics(format: Format, out: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let all = crate::metrics::catalog();
    if let Format::Json = format {
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(0);
    }
    writeln!(out, "| metric | kind | labels | what it counts |\n|---|---|---|---|")?;
    for m in all {
        writeln!(out, "| `{}` | {} | {} | {} |", m.name, m.kind, m.labels.join(", "), m.help)?;
    }
    Ok(0)
}

fn check(mappings: &[PathBuf], schemas: &[PathBuf], out: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let registry = mapping::registry(schemas).map_err(anyhow::Error::msg)?;
    match mapping::load(mappings, registry) {
        Ok(compiled) => {
            for w in &compiled.warnings {
                writeln!(out, "{w}")?;
            }
            writeln!(out, "ok: {} file(s), {} warning(s)", mappings.len(), compiled.warnings.len())?;
            Ok(0)
        }
        Err(LoadError::Diagnostics(diags)) => {
            for d in &diags {
                writeln!(out, "{d}")?;
            }
            let errors = diags.iter().filter(|d| d.severity == scim_mapper::Severity::Error).count();
            writeln!(out, "failed: {errors} error(s), {} warning(s)", diags.len() - errors)?;
            Ok(1)
        }
        Err(e) => Err(anyhow::Error::msg(e.to_string())),
    }
}
