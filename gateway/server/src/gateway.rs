//! The running gateway: the config turned into routes ready to serve, each
//! with its tokens, normalizer, compiled mapping program and upstream. Built
//! at start and on every reload; requests only read it.

use crate::auth::Tokens;
use crate::config::{
    AuthSettings, BasePath, Cidr, Config, Limits, MemberRemoval, Route, UpdateMode, UpstreamSettings, UpstreamTarget,
};
use crate::locks::KeyedLocks;
use crate::mapping::{self, LoadError};
use crate::metrics::Metrics;
use crate::plugins::Chain;
use crate::store::MemoryStore;
use crate::upstream::{HttpUpstream, Paced, Upstream};
use hyper_util::client::proxy::matcher::Matcher;
use scim_core::normalize::Normalizer;
use scim_mapper::Program;
use scim_plugin_host::{Host, HostSettings};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A route ready to serve.
#[derive(Debug)]
pub struct RouteRuntime {
    pub name: String,
    pub base_path: BasePath,
    pub public_url: Option<String>,
    pub tokens: Tokens,
    pub normalizer: Normalizer,
    pub program: Arc<Program>,
    pub upstream: Arc<dyn Upstream>,
    pub etag_retries: u32,
    /// How updates reach the backend.
    pub update: UpdateMode,
    /// Which group members a translated write may remove.
    pub member_removal: MemberRemoval,
    /// The most member changes one group write carries, from the config or
    /// the profile; more are sent in consecutive PATCHes.
    pub member_batch: Option<usize>,
    /// The backend profile: what the backend needs beyond SCIM.
    pub profile: Box<dyn crate::pipeline::profile::BackendProfile>,
    /// One write built from the current resource at a time, per resource.
    pub write_locks: KeyedLocks,
    /// The route's WebAssembly plugins.
    pub plugins: Chain,
    /// A short digest of the mapping files (and, after a `+`, of the
    /// plugins), logged with each request.
    pub mapping_version: String,
    /// Whether the mapping reaches the backend or only the audit trail.
    pub mode: crate::config::RouteMode,
    /// The IdP preset's name.
    pub preset: &'static str,
    /// What a write that needs the cluster does when Redis fails.
    pub on_cluster_error: crate::cluster::OnClusterError,
    /// What the config settles per resource type, worked out here once.
    pub types: crate::pipeline::managed::ByType,
    /// The metrics every request and upstream call counts, as handles.
    pub metrics: crate::metrics::RouteMetrics,
}

impl RouteRuntime {
    /// How updates of `rt` reach the backend: the route's `update`, else
    /// what the backend profile says its backend takes.
    pub fn update_for(&self, rt: &str) -> UpdateMode {
        match (self.update, self.profile.update(rt)) {
            (UpdateMode::AsSent, Some(mode)) => mode,
            (mode, _) => mode,
        }
    }

    /// How many member changes a write of `rt` may carry at once: the
    /// route's batch size for groups, `None` for anything else.
    pub fn member_batch_for(&self, rt: &str) -> Option<usize> {
        self.member_batch.filter(|_| rt == "Group")
    }

    /// The schema of a resource type the route serves.
    pub fn schema(&self, rt: &str) -> Result<scim_core::schema::ResourceSchema<'_>, crate::error::GatewayError> {
        let registry = self.program.registry();
        registry.resource(rt).ok_or_else(|| crate::error::GatewayError::BadPath(format!("unknown resource type {rt}")))
    }
}

/// Everything a request needs, swapped whole on reload.
#[derive(Debug)]
pub struct Gateway {
    /// Longest base path first.
    pub routes: Vec<RouteRuntime>,
    pub limits: Limits,
    pub trusted_proxies: Vec<Cidr>,
    pub redact_pii: bool,
    pub metrics: Arc<Metrics>,
    /// The handles requests no route took are counted with (route `none`).
    pub unrouted: crate::metrics::RouteMetrics,
    /// The provisioning audit trail, when `[audit]` is on.
    pub audit: Option<Arc<crate::audit::Audit>>,
    /// The state shared with other replicas, when `[cluster]` is on.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// The tracer, when `[telemetry]` is on.
    pub telemetry: Option<Arc<crate::telemetry::Telemetry>>,
}

/// Looks up a secret by environment variable name.
type EnvLookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// What survives reloads: embedded stores (their data), the plugin engine
/// and the environment.
pub struct BuildContext {
    pub metrics: Arc<Metrics>,
    host: Mutex<Option<Arc<Host>>>,
    stores: Mutex<HashMap<String, Arc<MemoryStore>>>,
    env: EnvLookup,
    proxies: Box<dyn Fn() -> Matcher + Send + Sync>,
    audit: Mutex<Option<Arc<crate::audit::Audit>>>,
    cluster: Mutex<Option<Arc<crate::cluster::Cluster>>>,
    telemetry: Mutex<Option<Arc<crate::telemetry::Telemetry>>>,
}

impl std::fmt::Debug for BuildContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildContext").finish_non_exhaustive()
    }
}

impl BuildContext {
    /// Reads secrets from the process environment and proxies from
    /// `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`.
    pub fn from_env(metrics: Arc<Metrics>) -> Self {
        Self::new(metrics, |k| std::env::var(k).ok(), Matcher::from_env)
    }

    /// With an explicit environment and proxy matcher (tests).
    pub fn new(
        metrics: Arc<Metrics>,
        env: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
        proxies: impl Fn() -> Matcher + Send + Sync + 'static,
    ) -> Self {
        Self {
            metrics,
            host: Mutex::new(None),
            stores: Mutex::new(HashMap::new()),
            env: Box::new(env),
            proxies: Box::new(proxies),
            audit: Mutex::new(None),
            cluster: Mutex::new(None),
            telemetry: Mutex::new(None),
        }
    }

    /// The cluster state every gateway built from now on uses.
    pub fn set_cluster(&self, cluster: Option<Arc<crate::cluster::Cluster>>) {
        if let Ok(mut slot) = self.cluster.lock() {
            *slot = cluster;
        }
    }

    /// The cluster state in use.
    pub fn cluster(&self) -> Option<Arc<crate::cluster::Cluster>> {
        self.cluster.lock().ok().and_then(|c| c.clone())
    }

    /// Starts the tracer every gateway built from now on uses; `replica`
    /// names this process in its spans.
    pub fn start_telemetry(
        &self,
        settings: &crate::telemetry::TelemetrySettings,
        replica: &str,
    ) -> Result<Arc<crate::telemetry::Telemetry>, String> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| e.to_string())?;
        let telemetry = crate::telemetry::Telemetry::start(settings, replica, runtime, &self.env, (self.proxies)())?;
        if let Ok(mut slot) = self.telemetry.lock() {
            *slot = Some(telemetry.clone());
        }
        Ok(telemetry)
    }

    /// The tracer in use.
    pub fn telemetry(&self) -> Option<Arc<crate::telemetry::Telemetry>> {
        self.telemetry.lock().ok().and_then(|t| t.clone())
    }

    /// The audit trail every gateway built from now on writes to.
    pub fn set_audit(&self, audit: Option<Arc<crate::audit::Audit>>) {
        if let Ok(mut slot) = self.audit.lock() {
            *slot = audit;
        }
    }

    /// The audit trail in use.
    pub fn audit(&self) -> Option<Arc<crate::audit::Audit>> {
        self.audit.lock().ok().and_then(|a| a.clone())
    }

    /// The plugin engine: the one in use, or a new one for the first build
    /// that has plugins (kept by [`BuildContext::keep_plugin_host`] once that
    /// build succeeds). Its settings are fixed from then on: a reload that
    /// changes them is refused (the running gateway keeps serving) until a
    /// restart.
    fn plugin_host(&self, settings: &HostSettings) -> Result<Arc<Host>, String> {
        let slot = self.host.lock().map_err(|_| "the plugin engine is unavailable".to_owned())?;
        if let Some(host) = slot.as_ref() {
            if host.settings() != settings {
                return Err(
                    "[plugin_host] changed; the engine's settings apply at start, so restart to use them".into()
                );
            }
            return Ok(host.clone());
        }
        let host = Arc::new(Host::new(settings.clone()).map_err(|e| e.to_string())?);
        for w in host.warnings() {
            tracing::warn!("{w}");
        }
        Ok(host)
    }

    /// Keeps the engine of a build that succeeded, if none is kept yet.
    /// Lets go of the compiled plugins of earlier configs: a config
    /// without plugins keeps none.
    fn forget_compiled_plugins(&self) {
        if let Ok(slot) = self.host.lock()
            && let Some(host) = slot.as_ref()
        {
            host.keep_compiled(&[]);
        }
    }

    fn keep_plugin_host(&self, host: &Arc<Host>) {
        if let Ok(mut slot) = self.host.lock() {
            slot.get_or_insert_with(|| host.clone());
        }
    }

    fn store(&self, route: &str, program: &Program) -> Arc<MemoryStore> {
        let Ok(mut stores) = self.stores.lock() else {
            return Arc::new(MemoryStore::new(program.registry().clone()));
        };
        stores.entry(route.to_owned()).or_insert_with(|| Arc::new(MemoryStore::new(program.registry().clone()))).clone()
    }
}

impl Gateway {
    /// Builds the gateway; every problem is returned, not just the first.
    pub fn build(config: &Config, ctx: &BuildContext) -> Result<Self, Vec<String>> {
        let mut errors = Vec::new();
        let mut routes = Vec::new();
        let host = match config.routes.iter().any(|r| !r.mapping.plugins.is_empty()) {
            true => Some(ctx.plugin_host(&config.plugin_host).map_err(|e| vec![e])?),
            false => None,
        };
        for route in &config.routes {
            match build_route(route, config.workers, host.clone(), ctx) {
                Ok(r) => routes.push(r),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Compiled plugins this config no longer uses are let go; a later
        // reload of the same bytes reuses the ones it keeps.
        match &host {
            Some(host) => {
                ctx.keep_plugin_host(host);
                let in_use: Vec<&str> =
                    routes.iter().flat_map(|r| r.plugins.plugins().iter().map(|p| p.plugin.sha256())).collect();
                host.keep_compiled(&in_use);
            }
            None => ctx.forget_compiled_plugins(),
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.base_path.as_str().len()));
        Ok(Self {
            routes,
            limits: config.limits,
            trusted_proxies: config.trusted_proxies.clone(),
            redact_pii: config.log.redact_pii,
            metrics: ctx.metrics.clone(),
            unrouted: crate::metrics::RouteMetrics::new("none"),
            audit: ctx.audit(),
            cluster: ctx.cluster(),
            telemetry: ctx.telemetry(),
        })
    }

    /// The route serving `path` and the rest of the path after its base.
    pub fn route_for<'p>(&self, path: &'p str) -> Option<(&RouteRuntime, &'p str)> {
        self.routes
            .iter()
            .find_map(|r| crate::proxy::paths::strip_base(path, r.base_path.as_str()).map(|rest| (r, rest)))
    }
}

fn build_route(
    route: &Route,
    workers: usize,
    host: Option<Arc<Host>>,
    ctx: &BuildContext,
) -> Result<RouteRuntime, Vec<String>> {
    let at = |e: String| format!("route `{}`: {e}", route.name);
    let tokens = tokens(&route.auth, ctx).map_err(|e| vec![at(e)]);
    let program = program(route).map_err(|e| e.into_iter().map(at).collect::<Vec<_>>());
    let plugins =
        Chain::load(host, &route.mapping.plugins, Some(&ctx.metrics)).map_err(|e| e.into_iter().map(at).collect());
    let (tokens, (program, mapping_version), plugins) = match (tokens, program, plugins) {
        (Ok(t), Ok(p), Ok(c)) => (t, p, c),
        (t, p, c) => {
            let errors = [t.err(), p.err(), c.err()];
            return Err(errors.into_iter().flatten().flatten().collect());
        }
    };
    let program = Arc::new(program);
    let mapping_version = match plugins.version() {
        Some(v) => format!("{mapping_version}+{v}"),
        None => mapping_version,
    };
    let upstream = upstream(&route.name, &route.upstream, &program, workers, ctx).map_err(|e| vec![at(e)])?;
    let profile = crate::pipeline::profile::build(&route.upstream.profile);
    let normalizer = Normalizer::new(route.mapping.preset);
    let types = crate::pipeline::managed::ByType::new(&program, &plugins, profile.as_ref(), &normalizer);
    Ok(RouteRuntime {
        name: route.name.clone(),
        base_path: route.base_path.clone(),
        public_url: route.public_url.clone(),
        tokens,
        normalizer,
        program,
        upstream,
        etag_retries: route.upstream.etag_retries,
        update: route.upstream.update,
        member_removal: route.upstream.member_removal,
        member_batch: route.upstream.max_member_changes.or(profile.max_member_changes()),
        profile,
        write_locks: KeyedLocks::default(),
        plugins,
        mapping_version,
        mode: route.mode,
        preset: route.mapping.preset.as_str(),
        on_cluster_error: route.upstream.on_cluster_error,
        types,
        metrics: crate::metrics::RouteMetrics::new(&route.name),
    })
}

/// Tokens from an environment variable and/or a file.
pub(crate) fn tokens(auth: &AuthSettings, ctx: &BuildContext) -> Result<Tokens, String> {
    let mut all = Tokens::default();
    if let Some(var) = &auth.tokens_env {
        let value = (ctx.env)(var).ok_or_else(|| format!("environment variable {var} (inbound tokens) is not set"))?;
        all.extend(Tokens::parse(value.split(',')).map_err(|e| format!("{var}: {e}"))?);
    }
    if let Some(file) = &auth.tokens_file {
        let text = mapping::read_bounded(file).map_err(|e| e.to_string())?;
        all.extend(Tokens::parse(text.lines()).map_err(|e| format!("{}: {e}", file.display()))?);
    }
    if all.is_empty() {
        return Err("no inbound tokens".into());
    }
    Ok(all)
}

/// Compiles a route's mappings; returns the program and a short digest.
pub fn program(route: &Route) -> Result<(Program, String), Vec<String>> {
    let files = &route.mapping.files;
    let registry = mapping::registry(&route.mapping.schemas).map_err(|e| vec![e.to_string()])?;
    if files.is_empty() {
        return Ok((Program::identity(registry), "identity".into()));
    }
    let texts = mapping::read_all(files).map_err(|e| vec![e.to_string()])?;
    let mut digest = Sha256::new();
    for (_, text) in &texts {
        digest.update(text.as_bytes());
    }
    let version: String = digest.finalize().iter().take(6).map(|b| format!("{b:02x}")).collect();
    match mapping::compile(&texts, registry) {
        Ok(compiled) => Ok((compiled.program, version)),
        Err(LoadError::Diagnostics(d)) => Err(d.iter().map(ToString::to_string).collect()),
        Err(e) => Err(vec![e.to_string()]),
    }
}

fn upstream(
    name: &str,
    u: &UpstreamSettings,
    program: &Program,
    workers: usize,
    ctx: &BuildContext,
) -> Result<Arc<dyn Upstream>, String> {
    match &u.target {
        UpstreamTarget::Memory => Ok(ctx.store(name, program)),
        UpstreamTarget::Http(uri) => {
            let token = upstream_token(u, ctx)?;
            let client = HttpUpstream::new(u, uri, token.as_deref(), (ctx.proxies)(), workers)?;
            let paced = Paced::new(Arc::new(client), u.pace, ctx.metrics.clone(), name).shared(ctx.cluster());
            Ok(Arc::new(paced))
        }
    }
}

fn upstream_token(u: &UpstreamSettings, ctx: &BuildContext) -> Result<Option<String>, String> {
    if let Some(var) = &u.token_env {
        let t = (ctx.env)(var).map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        return t.map(Some).ok_or_else(|| format!("environment variable {var} (upstream token) is not set or empty"));
    }
    if let Some(file) = &u.token_file {
        return Ok(Some(read_secret(file)?));
    }
    Ok(None)
}

fn read_secret(file: &Path) -> Result<String, String> {
    let text = mapping::read_bounded(file).map_err(|e| e.to_string())?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(format!("{}: the upstream token file is empty", file.display()));
    }
    Ok(token)
}
