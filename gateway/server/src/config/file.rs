//! The config file as written: serde structs with defaults. Unknown keys
//! are refused everywhere; positions are kept where validation needs them.

use serde::Deserialize;
use toml::Spanned;

/// Keys allowed at the top of a config file.
pub(crate) const TOP_KEYS: [&str; 10] =
    ["server", "upstream", "admin", "mapping", "log", "route", "plugin_host", "audit", "cluster", "telemetry"];

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServerSection {
    #[serde(default = "default_listen")]
    pub(crate) listen: Spanned<String>,
    pub(crate) base_path: Option<Spanned<String>>,
    pub(crate) public_url: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) trusted_proxies: Vec<Spanned<String>>,
    pub(crate) tls: Option<TlsSection>,
    pub(crate) auth: Option<AuthSection>,
    #[serde(default)]
    pub(crate) limits: LimitsSection,
    pub(crate) workers: Option<Spanned<u64>>,
    /// The single route's mode (with `[[route]]` tables, each has its own).
    pub(crate) mode: Option<Spanned<String>>,
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            base_path: None,
            public_url: None,
            trusted_proxies: Vec::new(),
            tls: None,
            auth: None,
            limits: LimitsSection::default(),
            workers: None,
            mode: None,
        }
    }
}

fn default_listen() -> Spanned<String> {
    Spanned::new(0..0, "127.0.0.1:8080".to_owned())
}

/// `[server.tls]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsSection {
    pub(crate) cert_file: Spanned<String>,
    pub(crate) key_file: Spanned<String>,
}

/// `[server.auth]` or `[route.auth]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuthSection {
    pub(crate) tokens_env: Option<Spanned<String>>,
    pub(crate) tokens_file: Option<Spanned<String>>,
}

/// `[server.limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LimitsSection {
    pub(crate) max_body_bytes: Spanned<u64>,
    pub(crate) max_json_depth: Spanned<u64>,
    pub(crate) request_timeout_ms: Spanned<u64>,
    pub(crate) max_concurrent_requests: Spanned<u64>,
    pub(crate) shutdown_timeout_ms: Spanned<u64>,
    pub(crate) header_timeout_ms: Spanned<u64>,
}

impl Default for LimitsSection {
    fn default() -> Self {
        let n = |v| Spanned::new(0..0, v);
        Self {
            max_body_bytes: n(1 << 20),
            max_json_depth: n(64),
            request_timeout_ms: n(30_000),
            max_concurrent_requests: n(1024),
            shutdown_timeout_ms: n(10_000),
            header_timeout_ms: n(10_000),
        }
    }
}

/// `[upstream]` or `[route.upstream]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpstreamSection {
    pub(crate) url: Spanned<String>,
    pub(crate) token_env: Option<Spanned<String>>,
    pub(crate) token_file: Option<Spanned<String>>,
    #[serde(default = "default_timeout")]
    pub(crate) timeout_ms: Spanned<u64>,
    #[serde(default = "default_connect_timeout")]
    pub(crate) connect_timeout_ms: Spanned<u64>,
    pub(crate) ca_file: Option<Spanned<String>>,
    #[serde(default = "default_retries")]
    pub(crate) retries: Spanned<u64>,
    #[serde(default = "default_retries")]
    pub(crate) etag_retries: Spanned<u64>,
    #[serde(default = "default_max_response")]
    pub(crate) max_response_bytes: Spanned<u64>,
    #[serde(default)]
    pub(crate) http2_only: bool,
    #[serde(default = "default_pool_idle")]
    pub(crate) pool_idle_timeout_ms: Spanned<u64>,
    pub(crate) update: Option<Spanned<String>>,
    pub(crate) member_removal: Option<Spanned<String>>,
    pub(crate) max_member_changes: Option<Spanned<u64>>,
    pub(crate) rate_limit: Option<RateLimitSection>,
    pub(crate) busy_retries: Option<Spanned<u64>>,
    pub(crate) busy_budget_ms: Option<Spanned<u64>>,
    pub(crate) profile: Option<Spanned<String>>,
    pub(crate) notion: Option<NotionSection>,
    pub(crate) on_cluster_error: Option<Spanned<String>>,
}

/// `[upstream.rate_limit]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitSection {
    pub(crate) per_second: Spanned<u64>,
    pub(crate) burst: Option<Spanned<u64>>,
    pub(crate) queue: Option<Spanned<u64>>,
    pub(crate) max_wait_ms: Option<Spanned<u64>>,
}

/// `[upstream.notion]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NotionSection {
    #[serde(default)]
    pub(crate) roles: std::collections::BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    pub(crate) allow_owner: bool,
    pub(crate) manager_cache_ms: Option<Spanned<u64>>,
}

fn default_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 10_000)
}
fn default_connect_timeout() -> Spanned<u64> {
    Spanned::new(0..0, 3_000)
}
fn default_retries() -> Spanned<u64> {
    Spanned::new(0..0, 2)
}
fn default_max_response() -> Spanned<u64> {
    Spanned::new(0..0, 16 << 20)
}
fn default_pool_idle() -> Spanned<u64> {
    Spanned::new(0..0, 60_000)
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AdminSection {
    pub(crate) listen: Option<Spanned<String>>,
    pub(crate) tokens_env: Option<Spanned<String>>,
    pub(crate) tokens_file: Option<Spanned<String>>,
}

/// `[cluster]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterSection {
    pub(crate) redis_url: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) replica_name: Option<Spanned<String>>,
    pub(crate) key_prefix: Option<Spanned<String>>,
    pub(crate) timeout_ms: Option<Spanned<u64>>,
    pub(crate) lease_ttl_ms: Option<Spanned<u64>>,
    pub(crate) expected_replicas: Option<Spanned<u64>>,
}

/// `[telemetry]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TelemetrySection {
    pub(crate) otlp_endpoint: Option<Spanned<String>>,
    pub(crate) sampling_ratio: Option<Spanned<Ratio>>,
    pub(crate) service_name: Option<Spanned<String>>,
    pub(crate) headers_env: Option<Spanned<String>>,
    pub(crate) timeout_ms: Option<Spanned<u64>>,
    pub(crate) max_queue: Option<Spanned<u64>>,
    pub(crate) export_interval_ms: Option<Spanned<u64>>,
}

/// A number written with or without a fraction (`1` or `0.25`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub(crate) enum Ratio {
    Whole(i64),
    Fraction(f64),
}

/// `[audit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditSection {
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) password_env: Option<Spanned<String>>,
    pub(crate) password_file: Option<Spanned<String>>,
    pub(crate) ca_file: Option<Spanned<String>>,
    pub(crate) values: Option<Spanned<String>>,
    pub(crate) on_failure: Option<Spanned<String>>,
    pub(crate) queue: Option<Spanned<u64>>,
    pub(crate) batch: Option<Spanned<u64>>,
    pub(crate) max_wait_ms: Option<Spanned<u64>>,
    pub(crate) retention_days: Option<Spanned<u64>>,
    pub(crate) max_rows: Option<Spanned<u64>>,
    pub(crate) prune_interval_ms: Option<Spanned<u64>>,
    pub(crate) replica_name: Option<Spanned<String>>,
}

/// `[mapping]` or `[route.mapping]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MappingSection {
    #[serde(default)]
    pub(crate) files: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) schemas: Vec<Spanned<String>>,
    pub(crate) preset: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) plugins: Vec<PluginSection>,
}

/// One `[[mapping.plugins]]`: a WebAssembly plugin in the route's chain.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginSection {
    pub(crate) name: Spanned<String>,
    pub(crate) path: Spanned<String>,
    pub(crate) sha256: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) resources: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) directions: Vec<Spanned<String>>,
    pub(crate) position: Option<Spanned<String>>,
    pub(crate) on_failure: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) limits: PluginLimitsSection,
    #[serde(default)]
    pub(crate) breaker: BreakerSection,
    #[serde(default)]
    pub(crate) config: toml::Table,
}

/// `[mapping.plugins.limits]`; unset keys take the host's defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginLimitsSection {
    pub(crate) memory_bytes: Option<Spanned<u64>>,
    pub(crate) fuel: Option<Spanned<u64>>,
    pub(crate) timeout_ms: Option<Spanned<u64>>,
    pub(crate) output_bytes: Option<Spanned<u64>>,
}

/// `[mapping.plugins.breaker]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BreakerSection {
    pub(crate) failures: Option<Spanned<u64>>,
    pub(crate) cooldown_ms: Option<Spanned<u64>>,
}

/// `[plugin_host]`: the engine all plugins run on, fixed for the life of
/// the process.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PluginHostSection {
    pub(crate) max_memory_bytes: Option<Spanned<u64>>,
    pub(crate) max_concurrent: Option<Spanned<u64>>,
    pub(crate) cache_dir: Option<Spanned<String>>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct LogSection {
    pub(crate) format: Spanned<String>,
    pub(crate) level: Spanned<String>,
    pub(crate) redact_pii: bool,
}

impl Default for LogSection {
    fn default() -> Self {
        Self { format: Spanned::new(0..0, "text".into()), level: Spanned::new(0..0, "info".into()), redact_pii: true }
    }
}

/// One `[[route]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RouteSection {
    pub(crate) name: Spanned<String>,
    pub(crate) base_path: Spanned<String>,
    pub(crate) public_url: Option<Spanned<String>>,
    pub(crate) auth: Option<AuthSection>,
    pub(crate) upstream: Option<UpstreamSection>,
    pub(crate) mapping: Option<MappingSection>,
    pub(crate) mode: Option<Spanned<String>>,
}
