//! A route's plugin chain: loaded with the route, run by the pipeline at the
//! points it chooses. Plugins run in the order the config lists them; each
//! failure becomes a SCIM error, or is passed over when the plugin fails
//! open or the request deprovisions.

use crate::config::{PluginSettings, Position};
use crate::error::GatewayError;
use crate::metrics::Metrics;
use scim_core::error::ScimType;
use scim_plugin_host::{CallContext, Direction, Failure, Host, Operation, Plugin, PluginSource};
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;

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
pub struct Step<'a> {
    pub position: Position,
    pub direction: Direction,
    pub resource_type: &'a str,
    pub operation: Operation,
    /// A deactivation: no plugin failure or refusal may stop it.
    pub deprovisioning: bool,
}

impl Chain {
    /// Loads every plugin; all failures are reported, each counted.
    pub fn load(
        host: Option<Arc<Host>>,
        list: &[PluginSettings],
        metrics: Option<&Metrics>,
    ) -> Result<Self, Vec<String>> {
        let Some(host) = host.filter(|_| !list.is_empty()) else {
            return Ok(Self::default());
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

    /// Whether any plugin runs at this step.
    pub fn applies(&self, position: Position, direction: Direction, resource_type: &str) -> bool {
        self.plugins.iter().any(|p| runs_at(&p.settings, position, direction, resource_type))
    }

    /// Runs the plugins of this step over `doc`, in order.
    pub async fn run(&self, metrics: &Metrics, step: Step<'_>, mut doc: Value) -> Result<Value, GatewayError> {
        let Some(host) = &self.host else { return Ok(doc) };
        for p in self.at(step) {
            let started = Instant::now();
            let result = host.call(&p.plugin, context(step), &doc).await;
            observe(metrics, p, &result, started);
            doc = settle(p, result, doc, step, Some(metrics))?;
        }
        Ok(doc)
    }

    /// [`Chain::run`] on this thread, without metrics: for `scim-gateway map`.
    pub fn run_blocking(&self, step: Step<'_>, mut doc: Value) -> Result<Value, GatewayError> {
        let Some(host) = &self.host else { return Ok(doc) };
        for p in self.at(step) {
            let result = host.call_blocking(&p.plugin, &context(step), &doc);
            doc = settle(p, result, doc, step, None)?;
        }
        Ok(doc)
    }

    fn at<'s>(&'s self, step: Step<'s>) -> impl Iterator<Item = &'s RoutePlugin> + 's {
        self.plugins.iter().filter(move |p| runs_at(&p.settings, step.position, step.direction, step.resource_type))
    }
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

fn context(step: Step<'_>) -> CallContext {
    CallContext { resource_type: step.resource_type.to_owned(), operation: step.operation, direction: step.direction }
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
    step: Step<'_>,
    metrics: Option<&Metrics>,
) -> Result<Value, GatewayError> {
    let failure = match result {
        Ok(out) => return Ok(out),
        Err(f) => f,
    };
    let passes = step.deprovisioning || (p.settings.fail_open && !matches!(failure, Failure::Rejected { .. }));
    if passes {
        tracing::warn!(
            plugin = p.settings.name.as_str(),
            outcome = failure.outcome().label(),
            "plugin passed over: {failure}"
        );
        if let Some(m) = metrics {
            m.plugin_fail_open.with_label_values(&[p.settings.name.as_str()]).inc();
        }
        return Ok(doc);
    }
    Err(match failure {
        Failure::Rejected { plugin, rejection } => GatewayError::PluginRejected {
            plugin,
            status: rejection.status,
            scim_type: rejection.scim_type.as_deref().and_then(ScimType::parse),
            detail: rejection.detail,
        },
        Failure::Failed { plugin, outcome, detail } => {
            GatewayError::PluginFailed { plugin, outcome: outcome.label(), detail }
        }
    })
}
