//! What can go wrong loading or calling a plugin.

use std::path::PathBuf;

/// Why a plugin could not be loaded. Each message names what is wrong and,
/// where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{path}: {error}")]
    Read { path: PathBuf, error: String },
    #[error("the plugin is over {max} bytes (read {len}); the largest accepted is {max}")]
    TooLarge { len: u64, max: u64 },
    #[error("sha256 pin mismatch: the configuration pins {expected}, the file is {actual}")]
    PinMismatch { expected: String, actual: String },
    #[error("the sha256 pin {0:?} is not 64 hex digits")]
    BadPin(String),
    #[error("not a WebAssembly component ({0}); build plugins with `cargo xtask plugin`, which makes the component")]
    NotAComponent(String),
    #[error(
        "the plugin imports {0}; plugins may import only {logging}@1.0 to @{version} (no WASI, no other host functions)",
        logging = crate::LOGGING,
        version = crate::INTERFACE_VERSION
    )]
    Imports(String),
    #[error(
        "the plugin needs more than the host gives one plugin ({0}); the host allows {instances} core instances, {memories} memories and {tables} tables per plugin",
        instances = crate::engine::MAX_CORE_INSTANCES,
        memories = crate::engine::MAX_MEMORIES,
        tables = crate::engine::MAX_TABLES
    )]
    TooBig(String),
    #[error(
        "the plugin exports {found}; this gateway expects {expected}@{version} (rebuild it against this gateway's plugins/wit)",
        expected = crate::INTERFACE,
        version = crate::INTERFACE_VERSION
    )]
    WrongVersion { found: String },
    #[error(
        "the plugin does not export {expected}@{version} (it exports: {found}); is it built with the scim-plugin-sdk?",
        expected = crate::INTERFACE,
        version = crate::INTERFACE_VERSION
    )]
    NoInterface { found: String },
    #[error("{iface}'s `{func}` does not have the type in plugins/wit/mapper.wit: {why}", iface = crate::INTERFACE, func = crate::FUNCTION)]
    WrongFunction { why: String },
    #[error(
        "the memory limit {limit} bytes is above the engine's maximum {max} (raise plugin_host.max_memory and restart)"
    )]
    MemoryAboveEngine { limit: u64, max: u64 },
    #[error("the plugin cannot be instantiated within its limits: {0}")]
    Instantiate(String),
}

/// How a call ended. Also the `outcome` label of
/// `scim_gateway_plugin_invocations_total`; the set is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The plugin returned a resource that passed the checks.
    Ok,
    /// The plugin refused the resource (its answer, not a failure).
    Rejected,
    /// The plugin trapped: a panic, a stack overflow, any other trap.
    Trap,
    /// The plugin used up its fuel.
    Fuel,
    /// The plugin ran past its wall-clock deadline.
    Timeout,
    /// The plugin tried to grow its memory past its limit.
    Memory,
    /// The output is not JSON, not an object of the same resource type,
    /// changes `id` or `meta`, is too large, or the rejection is malformed.
    BadOutput,
    /// The plugin's circuit is open after repeated failures; not called.
    CircuitOpen,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Self::Ok,
        Self::Rejected,
        Self::Trap,
        Self::Fuel,
        Self::Timeout,
        Self::Memory,
        Self::BadOutput,
        Self::CircuitOpen,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Rejected => "rejected",
            Self::Trap => "trap",
            Self::Fuel => "fuel",
            Self::Timeout => "timeout",
            Self::Memory => "memory",
            Self::BadOutput => "bad_output",
            Self::CircuitOpen => "circuit_open",
        }
    }

    /// Whether this outcome counts toward opening the circuit.
    pub fn is_failure(self) -> bool {
        !matches!(self, Self::Ok | Self::Rejected | Self::CircuitOpen)
    }
}

/// A plugin's refusal, as it sends it: the gateway answers the IdP with
/// this status, scimType and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub scim_type: Option<String>,
    pub detail: String,
}

/// A call that produced no resource.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The plugin refused the resource.
    #[error("plugin {plugin} refused the resource: {}", .rejection.detail)]
    Rejected { plugin: String, rejection: Rejection },
    /// The plugin failed; `detail` says how in words fit for the IdP (never
    /// the plugin's own messages or internals).
    #[error("plugin {plugin} failed ({}): {detail}", .outcome.label())]
    Failed { plugin: String, outcome: Outcome, detail: String },
}

impl Failure {
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Rejected { .. } => Outcome::Rejected,
            Self::Failed { outcome, .. } => *outcome,
        }
    }
}
