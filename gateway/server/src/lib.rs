//! scim-gateway: the command-line interface and (from the server issue on)
//! the proxy. Everything the binary does is reachable from here so that
//! tests drive it in-process.

pub mod cli;
pub mod mapping;
pub mod auth;
pub mod config;
pub mod error;
pub mod upstream;
pub mod store;
pub mod metrics;
pub mod proxy;
pub mod gateway;
pub mod pipeline;
pub mod server;
