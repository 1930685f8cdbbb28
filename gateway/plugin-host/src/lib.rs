//! The plugin host: loads WebAssembly mapping plugins (components exporting
//! `scim-gateway:plugin/mapper@1.x`, see plugins/wit/; built from Rust, or
//! from JavaScript with QuickJS or SpiderMonkey) and runs them under hard
//! limits. It knows SCIM resources as JSON and nothing of HTTP.
//!
//! - [`Host`] owns the one wasmtime engine (pooling allocator, fuel,
//!   optional on-disk compilation cache) and the bound on concurrent calls.
//! - [`Host::load`] compiles a plugin once (a reload of the same bytes
//!   reuses it) and checks its contract: no imports but the host's
//!   `logging`, the interface version, the function's type, the sha256 pin.
//! - [`Host::call`] runs one call on a fresh instance in a fresh store, as
//!   an async call on the caller's task that yields every
//!   [`YIELD_FUEL`] units of fuel (a plugin never holds a tokio worker
//!   for long, and its wall-clock deadline is checked at each yield), and
//!   checks what comes back. Every way it can go wrong is an
//!   [`Outcome`] of its own. What the plugin logged comes back beside the
//!   result ([`Called`]), bounded.

mod breaker;
mod call;
mod engine;
mod error;
mod limits;
mod load;
mod logging;
mod output;

pub use call::{CallContext, CallOperation, Called, Direction, YIELD_FUEL};
pub use engine::{Host, HostSettings};
pub use error::{Failure, LoadError, Outcome, Rejection};
pub use limits::{BreakerSettings, Limits};
pub use load::{Plugin, PluginSource, sha256_hex};
pub use logging::{LOGGING, LogLevel, LogLine, Logs, MAX_LOG_BYTES, MAX_LOG_LINE_BYTES, MAX_LOG_LINES};

/// The interface a plugin must export, without its version.
pub const INTERFACE: &str = "scim-gateway:plugin/mapper";
/// The contract version this host speaks: it loads plugins that export the
/// mapper of any 1.x and import nothing newer than this.
pub const INTERFACE_VERSION: &str = "1.1.0";
/// The function a plugin exports in [`INTERFACE`].
pub const FUNCTION: &str = "map-resource";
