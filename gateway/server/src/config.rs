//! The gateway's config: read once, validated whole (every problem reported
//! with file:line:col and a hint), then handed to the server as plain,
//! already-checked values. Paths in the file are relative to the file.

mod audit;
mod backend;
mod cluster;
mod file;
mod plugins;
mod telemetry;
mod validate;

use scim_core::normalize::Preset;
use scim_mapper::{Diagnostic, Severity};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use validate::BasePath;

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from.
    pub source: PathBuf,
    pub listen: SocketAddr,
    pub tls: Option<TlsFiles>,
    pub trusted_proxies: Vec<Cidr>,
    pub limits: Limits,
    /// Threads serving IdP connections, each with its own runtime and
    /// upstream connection pool.
    pub workers: usize,
    /// `None`: no admin listener.
    pub admin_listen: Option<SocketAddr>,
    pub log: LogSettings,
    pub routes: Vec<Route>,
    /// The engine plugins run on; fixed for the life of the process.
    pub plugin_host: scim_plugin_host::HostSettings,
    /// The provisioning audit trail; `None` without an `[audit]` section.
    pub audit: Option<crate::audit::AuditSettings>,
    /// The admin API's and console's tokens; `None`: they are off.
    pub admin_tokens: Option<AuthSettings>,
    /// State shared with the other replicas; `None`: in-process only.
    pub cluster: Option<crate::cluster::ClusterSettings>,
    /// Where traces go; `None`: traces are off.
    pub telemetry: Option<crate::telemetry::TelemetrySettings>,
}

/// Inbound TLS certificate chain and key (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_json_depth: usize,
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    pub shutdown_timeout: Duration,
    pub header_timeout: Duration,
}

/// Logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub level: String,
    pub redact_pii: bool,
}

/// One route: a base path the IdP calls, its tokens, quirks, mappings and
/// upstream.
#[derive(Debug, Clone)]
pub struct Route {
    pub name: String,
    pub base_path: BasePath,
    pub public_url: Option<String>,
    pub auth: AuthSettings,
    pub upstream: UpstreamSettings,
    pub mapping: MappingSettings,
    /// `enforce` (the default) or `shadow`.
    pub mode: RouteMode,
}

/// Whether a route's mapping reaches the backend.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteMode {
    /// The mapped request is forwarded.
    #[default]
    Enforce,
    /// What the IdP sent is forwarded as sent and the backend's answer goes
    /// back unmapped; the mapping runs beside it, and the audit trail
    /// records what it would have changed.
    Shadow,
}

/// Where the inbound tokens come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSettings {
    pub tokens_env: Option<String>,
    pub tokens_file: Option<PathBuf>,
}

/// The upstream SCIM server of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSettings {
    pub target: UpstreamTarget,
    pub token_env: Option<String>,
    pub token_file: Option<PathBuf>,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub ca_file: Option<PathBuf>,
    pub retries: u32,
    pub etag_retries: u32,
    pub max_response_bytes: usize,
    pub http2_only: bool,
    pub pool_idle_timeout: Duration,
    /// How updates are sent: as the IdP sent them, or translated.
    pub update: UpdateMode,
    /// Which group members a translated write may remove.
    pub member_removal: MemberRemoval,
    /// The most member changes one group write may carry (`None`: the
    /// profile's limit, if it has one); more go in consecutive PATCHes.
    pub max_member_changes: Option<usize>,
    /// Rate limit and retries on 429/529.
    pub pace: PaceSettings,
    /// What the backend is, beyond SCIM.
    pub profile: Profile,
    /// What a write that needs the cluster does when Redis fails.
    pub on_cluster_error: crate::cluster::OnClusterError,
}

/// How fast the route talks to its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaceSettings {
    /// `None`: no limit of the gateway's own.
    pub rate_limit: Option<RateLimit>,
    /// How often an idempotent request answered 429 or 529 is sent again.
    pub busy_retries: u32,
    /// The longest a request may spend on those retries, waits included.
    pub busy_budget: Duration,
}

/// `[upstream.rate_limit]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_second: u32,
    pub burst: u32,
    /// Requests that may wait for their turn at once.
    pub queue: usize,
    /// The longest one waits; a longer wait is a 429 at once.
    pub max_wait: Duration,
}

/// A backend's own ways, beyond SCIM: the profile `profile = "..."` names
/// (`generic`, a compliant SCIM server, unless it says otherwise; the list
/// is `pipeline::profile::names`), and the sections some profiles take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub name: &'static str,
    /// `[upstream.notion]`, with `profile = "notion"` (docs/notion.md).
    pub notion: Option<NotionSettings>,
}

impl Default for Profile {
    fn default() -> Self {
        Self { name: "generic", notion: None }
    }
}

/// `profile = "notion"` and `[upstream.notion]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotionSettings {
    /// IdP role value (case-insensitive) to Notion workspace role.
    pub roles: Vec<(String, String)>,
    /// Whether a role may map to `owner`.
    pub allow_owner: bool,
    /// How long a manager's id-to-email lookup is reused.
    pub manager_cache: Duration,
}

impl Default for NotionSettings {
    fn default() -> Self {
        Self { roles: Vec::new(), allow_owner: false, manager_cache: Duration::from_secs(60) }
    }
}

/// How a route sends updates (PUT and PATCH) to its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateMode {
    /// PUT and PATCH go on as the IdP sent them (after mapping).
    #[default]
    AsSent,
    /// The backend takes only PATCH: a PUT becomes the minimal PATCH from the
    /// current resource, and a full replace of members becomes adds and
    /// removes.
    Patch,
    /// The backend takes only PUT: a PATCH becomes a PUT of the current
    /// resource with the operations applied.
    Put,
}

impl UpdateMode {
    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AsSent => "as-sent",
            Self::Patch => "patch",
            Self::Put => "put",
        }
    }
}

/// Which members of a group a translated write may remove.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MemberRemoval {
    /// Only members the backend knows as provisioned (their resource has an
    /// `externalId`) or no longer finds; members added by hand in the
    /// backend stay.
    #[default]
    Provisioned,
    /// Any member the IdP's list leaves out.
    Any,
}

/// An upstream: a SCIM base URL or the embedded store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTarget {
    /// `http(s)://host[:port]/base`, without a trailing slash.
    Http(http::Uri),
    /// `memory:`: the embedded in-process store.
    Memory,
}

/// The mappings of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingSettings {
    pub files: Vec<PathBuf>,
    pub schemas: Vec<PathBuf>,
    pub preset: Preset,
    /// WebAssembly plugins, in chain order.
    pub plugins: Vec<PluginSettings>,
}

/// One plugin in a route's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginSettings {
    /// Unique in the route; the `plugin` label of the metrics.
    pub name: String,
    pub path: PathBuf,
    pub sha256: Option<String>,
    /// Resource types it sees (`User`, `Group`).
    pub resources: Vec<String>,
    pub request: bool,
    pub response: bool,
    pub position: Position,
    /// Forward unmapped (counted) instead of refusing when it fails.
    pub fail_open: bool,
    pub limits: scim_plugin_host::Limits,
    pub breaker: scim_plugin_host::BreakerSettings,
    /// Its `[config]` table, as JSON.
    pub config: serde_json::Value,
}

/// Where a plugin runs relative to the TOML rules, in the direction the
/// resource travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    Before,
    After,
}

impl Position {
    /// As written in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Before => "before",
            Self::After => "after",
        }
    }
}

/// An address range of trusted proxies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => prefix_eq(&a.octets(), &b.octets(), self.prefix),
            (IpAddr::V6(a), IpAddr::V6(b)) => prefix_eq(&a.octets(), &b.octets(), self.prefix),
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let bits = usize::from(prefix);
    a.iter().zip(b).enumerate().all(|(i, (x, y))| {
        let start = i * 8;
        if start >= bits {
            return true;
        }
        let mask: u8 = if bits - start >= 8 { 0xff } else { !(0xff >> (bits - start)) };
        x & mask == y & mask
    })
}

/// Command-line values that win over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub admin_listen: Option<SocketAddr>,
    pub upstream: Option<String>,
}

/// Why a config could not be used: every diagnostic found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", render(.0))]
pub struct ConfigError(pub Vec<Diagnostic>);

fn render(diags: &[Diagnostic]) -> String {
    diags.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

/// A loaded config with its warnings.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Largest config file read.
const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Reads and validates a config file (not the mappings it names).
pub fn load(path: &Path, overrides: &Overrides) -> Result<Loaded, ConfigError> {
    let name = path.display().to_string();
    let text = read(path).map_err(|e| ConfigError(vec![diag_at(&name, 1, 1, e)]))?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let (config, diags) = validate::validate(&name, &text, &base, overrides);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.severity == Severity::Error);
    match config {
        Some(mut config) if errors.is_empty() => {
            config.source = path.to_path_buf();
            Ok(Loaded { config, warnings })
        }
        _ => Err(ConfigError(errors.into_iter().chain(warnings).collect())),
    }
}

fn read(path: &Path) -> Result<String, String> {
    let len = std::fs::metadata(path).map_err(|e| format!("cannot read the config: {e}"))?.len();
    if len > MAX_CONFIG_BYTES {
        return Err(format!("the config is larger than {MAX_CONFIG_BYTES} bytes"));
    }
    std::fs::read_to_string(path).map_err(|e| format!("cannot read the config: {e}"))
}

fn diag_at(file: &str, line: usize, col: usize, message: String) -> Diagnostic {
    Diagnostic { severity: Severity::Error, file: file.to_owned(), line, col, message, hint: None }
}

#[cfg(test)]
mod tests;
