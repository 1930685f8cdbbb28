//! From TOML text to a [`Config`]: every section is read on its own so that
//! one bad section does not hide the problems of the others.

use super::file::{
    AuthSection, LimitsSection, LogSection, MappingSection, PluginHostSection, RouteSection, ServerSection, TOP_KEYS,
    UpstreamSection,
};
use super::{
    AuthSettings, Cidr, Config, Limits, LogSettings, MappingSettings, Overrides, Route, TlsFiles, UpstreamSettings,
    UpstreamTarget,
};
use scim_core::normalize::Preset;
use scim_mapper::{Diagnostic, Sink, did_you_mean};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;
use toml::de::DeTable;

/// A route's base path: empty (the root) or `/seg/seg`, no trailing slash,
/// no empty, `.` or `..` segment, only unreserved characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BasePath(String);

impl BasePath {
    /// Validates a base path as written.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim_end_matches('/');
        if !text.starts_with('/') {
            return Err("a base path starts with `/`".into());
        }
        for seg in trimmed.split('/').skip(1) {
            if seg.is_empty() || seg == "." || seg == ".." {
                return Err(format!("`{text}` has an empty, `.` or `..` segment"));
            }
            if !seg.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)) {
                return Err(format!("`{seg}` may only hold letters, digits and - . _ ~"));
            }
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The path, `""` for the root.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The sections as read.
#[derive(Default)]
struct Raw {
    server: ServerSection,
    upstream: Option<UpstreamSection>,
    admin_listen: Option<Spanned<String>>,
    admin_present: bool,
    admin: Option<super::file::AdminSection>,
    audit: Option<super::file::AuditSection>,
    cluster: Option<super::file::ClusterSection>,
    telemetry: Option<super::file::TelemetrySection>,
    mapping: Option<MappingSection>,
    log: LogSection,
    routes: Vec<RouteSection>,
    plugin_host: PluginHostSection,
}

pub(super) fn validate(file: &str, text: &str, base: &Path, ov: &Overrides) -> (Option<Config>, Vec<Diagnostic>) {
    let mut sink = Sink::new(file, text);
    let raw = read_sections(text, &mut sink);
    let config = build(&raw, base, ov, &mut sink);
    let config = if sink.has_errors() { None } else { config };
    // In the file's order, whichever check found them first.
    let mut diagnostics = sink.into_diagnostics();
    diagnostics.sort_by_key(|d| (d.line, d.col));
    (config, diagnostics)
}

fn read_sections(text: &str, sink: &mut Sink<'_>) -> Raw {
    let (doc, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        sink.error(e.span().map_or(0, |s| s.start), format!("TOML syntax: {}", e.message().trim()), None);
    }
    let mut raw = Raw::default();
    for (key, value) in doc.get_ref() {
        match key.get_ref().as_ref() {
            "server" => raw.server = sink.de(value).unwrap_or_default(),
            "upstream" => raw.upstream = sink.de(value),
            "admin" => {
                raw.admin_present = true;
                raw.admin = sink.de::<super::file::AdminSection>(value);
                raw.admin_listen = raw.admin.as_ref().and_then(|a| a.listen.clone());
            }
            "mapping" => raw.mapping = sink.de(value),
            "log" => raw.log = sink.de(value).unwrap_or_default(),
            "route" => raw.routes = sink.de(value).unwrap_or_default(),
            "plugin_host" => raw.plugin_host = sink.de(value).unwrap_or_default(),
            "audit" => raw.audit = Some(sink.de(value).unwrap_or_default()),
            "cluster" => raw.cluster = Some(sink.de(value).unwrap_or_default()),
            "telemetry" => raw.telemetry = Some(sink.de(value).unwrap_or_default()),
            other => {
                let hint = did_you_mean(other, TOP_KEYS);
                sink.error(key.span().start, format!("unknown section `{other}`"), hint);
            }
        }
    }
    raw
}

fn build(raw: &Raw, base: &Path, ov: &Overrides, sink: &mut Sink<'_>) -> Option<Config> {
    let listen = ov.listen.or_else(|| socket(&raw.server.listen, sink));
    let admin_listen = match (&ov.admin_listen, &raw.admin_listen) {
        (Some(a), _) => Some(*a),
        (None, Some(l)) => socket(l, sink),
        (None, None) if raw.admin_present => None,
        (None, None) => "127.0.0.1:9090".parse().ok(),
    };
    let tls = raw.server.tls.as_ref().map(|t| TlsFiles {
        cert_file: resolve(base, t.cert_file.get_ref()),
        key_file: resolve(base, t.key_file.get_ref()),
    });
    let trusted_proxies = raw.server.trusted_proxies.iter().filter_map(|c| cidr(c, sink)).collect();
    let limits = limits(&raw.server.limits, sink);
    let workers = raw
        .server
        .workers
        .as_ref()
        .map_or_else(default_workers, |w| usize::try_from(positive(w, "workers", 256, sink)).unwrap_or(1));
    let log = log(&raw.log, sink);
    let routes = routes(raw, base, ov, sink);
    let plugin_host = super::plugins::host(&raw.plugin_host, base, sink);
    let mut audit = raw.audit.as_ref().map(|a| super::audit::settings(a, base, sink));
    let cluster = raw.cluster.as_ref().and_then(|c| super::cluster::settings(c, base, sink));
    // One name per replica: the cluster's, unless the trail names its own.
    if let (Some(a), Some(c), None) = (&mut audit, &cluster, raw.audit.as_ref().and_then(|a| a.replica_name.as_ref())) {
        a.replica.clone_from(&c.replica);
    }
    let admin_tokens = raw.admin.as_ref().and_then(|a| super::audit::admin_tokens(a, base, sink));
    let telemetry = raw.telemetry.as_ref().and_then(|t| super::telemetry::settings(t, sink));
    let listen = listen?;
    Some(Config {
        source: PathBuf::new(),
        listen,
        tls,
        trusted_proxies,
        limits,
        workers,
        admin_listen,
        log,
        routes,
        plugin_host,
        audit,
        admin_tokens,
        cluster,
        telemetry,
    })
}

fn socket(value: &Spanned<String>, sink: &mut Sink<'_>) -> Option<SocketAddr> {
    let parsed = value.get_ref().parse().ok();
    if parsed.is_none() {
        sink.error(
            value.span().start,
            format!("`{}` is not an address", value.get_ref()),
            Some("write IP:PORT, such as 127.0.0.1:8080 or [::]:8080".into()),
        );
    }
    parsed
}

fn cidr(value: &Spanned<String>, sink: &mut Sink<'_>) -> Option<Cidr> {
    let text = value.get_ref();
    let (ip, prefix) = text.split_once('/').unwrap_or((text, ""));
    let addr: Option<IpAddr> = ip.parse().ok();
    let max = if matches!(addr, Some(IpAddr::V4(_))) { 32 } else { 128 };
    let prefix = if prefix.is_empty() { Some(max) } else { prefix.parse::<u8>().ok().filter(|p| *p <= max) };
    match (addr, prefix) {
        (Some(addr), Some(prefix)) => Some(Cidr { addr, prefix }),
        _ => {
            sink.error(
                value.span().start,
                format!("`{text}` is not an address or range"),
                Some("write 10.0.0.5 or 10.0.0.0/8".into()),
            );
            None
        }
    }
}

/// One worker per core.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

pub(super) fn positive(value: &Spanned<u64>, what: &str, max: u64, sink: &mut Sink<'_>) -> u64 {
    let v = *value.get_ref();
    if v == 0 || v > max {
        sink.error(value.span().start, format!("{what} must be between 1 and {max}"), None);
    }
    v.clamp(1, max)
}

pub(super) fn ms(value: &Spanned<u64>, what: &str, sink: &mut Sink<'_>) -> Duration {
    Duration::from_millis(positive(value, what, 3_600_000, sink))
}

/// The deepest nesting the JSON parser takes: a higher bound would be a
/// promise it cannot keep.
const PARSER_DEPTH: u64 = crate::json::PARSER_MAX_DEPTH as u64;

fn limits(l: &LimitsSection, sink: &mut Sink<'_>) -> Limits {
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Limits {
        max_body_bytes: size(positive(&l.max_body_bytes, "max_body_bytes", 64 << 20, sink)),
        max_json_depth: size(positive(&l.max_json_depth, "max_json_depth", PARSER_DEPTH, sink)),
        request_timeout: ms(&l.request_timeout_ms, "request_timeout_ms", sink),
        max_concurrent_requests: size(positive(&l.max_concurrent_requests, "max_concurrent_requests", 1 << 20, sink)),
        shutdown_timeout: ms(&l.shutdown_timeout_ms, "shutdown_timeout_ms", sink),
        header_timeout: ms(&l.header_timeout_ms, "header_timeout_ms", sink),
    }
}

fn log(l: &LogSection, sink: &mut Sink<'_>) -> LogSettings {
    let json = match l.format.get_ref().as_str() {
        "text" => false,
        "json" => true,
        other => {
            sink.error(
                l.format.span().start,
                format!("unknown log format `{other}`"),
                Some("use \"text\" or \"json\"".into()),
            );
            false
        }
    };
    let level = l.level.get_ref().to_ascii_lowercase();
    if !["trace", "debug", "info", "warn", "error"].contains(&level.as_str()) {
        sink.error(
            l.level.span().start,
            format!("unknown log level `{level}`"),
            Some("trace, debug, info, warn or error".into()),
        );
    }
    LogSettings { json, level, redact_pii: l.redact_pii }
}

fn routes(raw: &Raw, base: &Path, ov: &Overrides, sink: &mut Sink<'_>) -> Vec<Route> {
    if raw.routes.is_empty() {
        let base_path = raw.server.base_path.clone().unwrap_or_else(|| Spanned::new(0..0, "/scim/v2".into()));
        let one = RouteSection {
            name: Spanned::new(0..0, "default".into()),
            base_path,
            public_url: raw.server.public_url.clone(),
            auth: None,
            upstream: None,
            mapping: None,
            mode: raw.server.mode.clone(),
        };
        return route(&one, raw, base, ov, sink).into_iter().collect();
    }
    for key in [&raw.server.base_path, &raw.server.public_url, &raw.server.mode].into_iter().flatten() {
        let hint = Some("with [[route]] tables, each route has its own base_path, public_url and mode".into());
        sink.error(key.span().start, "this key belongs in each [[route]]", hint);
    }
    let mut out: Vec<Route> = Vec::new();
    for r in &raw.routes {
        let Some(route) = route(r, raw, base, ov, sink) else { continue };
        if out.iter().any(|o| o.name == route.name) {
            sink.error(r.name.span().start, format!("a second route named `{}`", route.name), None);
        }
        if out.iter().any(|o| o.base_path == route.base_path) {
            sink.error(r.base_path.span().start, "two routes have the same base_path", None);
        }
        out.push(route);
    }
    out
}

fn route(r: &RouteSection, raw: &Raw, base: &Path, ov: &Overrides, sink: &mut Sink<'_>) -> Option<Route> {
    let base_path = match BasePath::parse(r.base_path.get_ref()) {
        Ok(p) => Some(p),
        Err(e) => {
            sink.error(r.base_path.span().start, e, Some("for example \"/scim/v2\"".into()));
            None
        }
    };
    let public_url = r.public_url.as_ref().and_then(|u| http_url(u.get_ref(), u.span().start, sink));
    let auth = auth(r.auth.as_ref().or(raw.server.auth.as_ref()), base, r, sink);
    let upstream = upstream(r.upstream.as_ref().or(raw.upstream.as_ref()), base, ov, r, sink);
    let mapping = mapping(r.mapping.as_ref().or(raw.mapping.as_ref()), base, sink);
    let mode = super::audit::mode(r.mode.as_ref(), sink);
    Some(Route {
        name: r.name.get_ref().clone(),
        base_path: base_path?,
        public_url,
        auth,
        upstream: upstream?,
        mapping,
        mode,
    })
}

fn auth(a: Option<&AuthSection>, base: &Path, r: &RouteSection, sink: &mut Sink<'_>) -> AuthSettings {
    let a = a.cloned().unwrap_or(AuthSection { tokens_env: None, tokens_file: None });
    if a.tokens_env.is_none() && a.tokens_file.is_none() {
        let hint = Some("add [server.auth] tokens_env = \"SCIM_GATEWAY_TOKENS\" (or tokens_file)".into());
        sink.error(r.name.span().start, format!("route `{}` has no inbound tokens", r.name.get_ref()), hint);
    }
    if let Some(env) = &a.tokens_env {
        env_name(env, sink);
    }
    AuthSettings {
        tokens_env: a.tokens_env.map(Spanned::into_inner),
        tokens_file: a.tokens_file.map(|f| resolve(base, f.get_ref())),
    }
}

pub(super) fn env_name(value: &Spanned<String>, sink: &mut Sink<'_>) {
    let v = value.get_ref();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        let hint = Some("name the environment variable that holds the secret; never put a secret in the config".into());
        sink.error(value.span().start, format!("`{v}` is not an environment variable name"), hint);
    }
}

fn upstream(
    u: Option<&UpstreamSection>,
    base: &Path,
    ov: &Overrides,
    r: &RouteSection,
    sink: &mut Sink<'_>,
) -> Option<UpstreamSettings> {
    let Some(u) = u else {
        let hint = Some(
            "add [upstream] url = \"https://backend.example.com/scim/v2\", or \"memory:\" for the embedded store"
                .into(),
        );
        sink.error(r.name.span().start, format!("route `{}` has no upstream", r.name.get_ref()), hint);
        return None;
    };
    let url = ov.upstream.clone().unwrap_or_else(|| u.url.get_ref().clone());
    let target = upstream_target(&url, u.url.span().start, sink);
    if let Some(env) = &u.token_env {
        env_name(env, sink);
    }
    if let (Some(_), Some(f)) = (&u.token_env, &u.token_file) {
        sink.error(f.span().start, "token_env and token_file are both set", Some("keep one".into()));
    }
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    let retries = |v: &Spanned<u64>, sink: &mut Sink<'_>| {
        if *v.get_ref() > 10 {
            sink.error(v.span().start, "at most 10 retries", None);
        }
        u32::try_from(*v.get_ref()).unwrap_or(10).min(10)
    };
    Some(UpstreamSettings {
        target: target?,
        token_env: u.token_env.clone().map(Spanned::into_inner),
        token_file: u.token_file.as_ref().map(|f| resolve(base, f.get_ref())),
        timeout: ms(&u.timeout_ms, "timeout_ms", sink),
        connect_timeout: ms(&u.connect_timeout_ms, "connect_timeout_ms", sink),
        ca_file: u.ca_file.as_ref().map(|f| resolve(base, f.get_ref())),
        retries: retries(&u.retries, sink),
        etag_retries: retries(&u.etag_retries, sink),
        max_response_bytes: size(positive(&u.max_response_bytes, "max_response_bytes", 256 << 20, sink)),
        http2_only: u.http2_only,
        pool_idle_timeout: ms(&u.pool_idle_timeout_ms, "pool_idle_timeout_ms", sink),
        update: super::backend::update_mode(u.update.as_ref(), sink),
        member_removal: super::backend::member_removal(u.member_removal.as_ref(), sink),
        max_member_changes: u
            .max_member_changes
            .as_ref()
            .map(|v| size(positive(v, "max_member_changes", 100_000, sink))),
        pace: super::backend::pace(u, sink),
        profile: super::backend::profile(u, sink),
        on_cluster_error: super::cluster::policy(u.on_cluster_error.as_ref(), sink),
    })
}

fn upstream_target(url: &str, at: usize, sink: &mut Sink<'_>) -> Option<UpstreamTarget> {
    if url == "memory:" {
        return Some(UpstreamTarget::Memory);
    }
    let parsed = http_url(url, at, sink)?;
    parsed.parse().ok().map(UpstreamTarget::Http)
}

/// An absolute http(s) URL without query or fragment; returned without a
/// trailing slash.
fn http_url(url: &str, at: usize, sink: &mut Sink<'_>) -> Option<String> {
    let ok = url
        .parse::<http::Uri>()
        .ok()
        .filter(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.authority().is_some() && u.query().is_none());
    if ok.is_none() || url.contains('#') {
        let hint = Some("write http(s)://host[:port]/path, or \"memory:\" for an upstream".into());
        sink.error(at, format!("`{url}` is not an http(s) URL"), hint);
        return None;
    }
    Some(url.trim_end_matches('/').to_owned())
}

fn mapping(m: Option<&MappingSection>, base: &Path, sink: &mut Sink<'_>) -> MappingSettings {
    let m = m.cloned().unwrap_or_default();
    let preset = match &m.preset {
        None => Preset::Generic,
        Some(p) => Preset::parse(p.get_ref()).unwrap_or_else(|| {
            let hint = did_you_mean(p.get_ref(), ["generic", "okta", "entra"])
                .unwrap_or_else(|| "use \"generic\", \"okta\" or \"entra\"".into());
            sink.error(p.span().start, format!("unknown IdP preset `{}`", p.get_ref()), Some(hint));
            Preset::Generic
        }),
    };
    MappingSettings {
        files: m.files.iter().map(|f| resolve(base, f.get_ref())).collect(),
        schemas: m.schemas.iter().map(|f| resolve(base, f.get_ref())).collect(),
        preset,
        plugins: super::plugins::plugins(&m.plugins, base, sink),
    }
}

pub(super) fn resolve(base: &Path, file: &str) -> PathBuf {
    let p = Path::new(file);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}
