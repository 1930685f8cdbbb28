//! scim-gateway: the command-line interface and (from the server issue on)
//! the proxy. Everything the binary does is reachable from here so that
//! tests drive it in-process.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod explain;
pub mod gateway;
pub mod json;
pub mod locks;
pub mod mapping;
pub mod metrics;
pub mod pipeline;
pub mod plugins;
pub mod proxy;
pub mod server;
pub mod store;
pub mod telemetry;
pub mod upstream;
pub mod whole_body;
mod workers;

/// `Box::pin(make())` with the future made straight into its allocation.
/// `Box::pin` of a future made first copies its whole state (the size of
/// every await it may reach, not just its arguments) from the stack into
/// the box; allocated first, the slot is where the future is made.
#[inline(always)]
pub(crate) fn pinned_in_place<F: Future>(make: impl FnOnce() -> F) -> std::pin::Pin<Box<F>> {
    Box::into_pin(Box::write(Box::new_uninit(), make()))
}

/// A property test's configuration: `default` cases, or `PROPTEST_CASES`
/// of them for a long run.
#[cfg(test)]
pub(crate) fn proptest_cases(default: u32) -> proptest::prelude::ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok());
    proptest::prelude::ProptestConfig::with_cases(cases.unwrap_or(default))
}
