//! The plugin host: loads WebAssembly mapping plugins (components exporting
//! `scim-gateway:plugin/mapper@1.0.0`, see plugins/wit/) and runs them under
//! hard limits. It knows SCIM resources as JSON and nothing of HTTP.
//!
//! - [`Host`] owns the one wasmtime engine (pooling allocator, fuel,
//!   optional on-disk compilation cache) and the bound on concurrent calls.
//! - [`Host::load`] compiles a plugin once and checks its contract: no
//!   imports, the interface version, the function's type, the sha256 pin.
//! - [`Host::call`] runs one call on a fresh instance in a fresh store, as
//!   an async call on the caller's task that yields every
//!   [`YIELD_FUEL`] units of fuel (a plugin never holds a tokio worker
//!   for long, and its wall-clock deadline is checked at each yield), and
//!   checks what comes back. Every way it can go wrong is an
//!   [`Outcome`] of its own.

mod breaker;
mod call;
mod engine;
mod error;
mod limits;
mod load;
mod output;

pub use call::{CallContext, CallOperation, Direction, YIELD_FUEL};
pub use engine::{Host, HostSettings};
pub use error::{Failure, LoadError, Outcome, Rejection};
pub use limits::{BreakerSettings, Limits};
pub use load::{Plugin, PluginSource, sha256_hex};

/// The interface a plugin must export, without its version.
pub const INTERFACE: &str = "scim-gateway:plugin/mapper";
/// The interface version this host speaks.
pub const INTERFACE_VERSION: &str = "1.0.0";
/// The function a plugin exports in [`INTERFACE`].
pub const FUNCTION: &str = "map-resource";
/// Imports a plugin may have. The gateway gives plugins nothing: no files,
/// no sockets, no clocks, no randomness.
pub const ALLOWED_IMPORTS: &[&str] = &[];
