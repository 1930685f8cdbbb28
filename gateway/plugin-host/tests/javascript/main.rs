//! JavaScript plugins in the host: the QuickJS (componentize-qjs) and
//! SpiderMonkey (componentize-js) builds made by `cargo xtask plugin` from
//! plugins/*-js, next to the Rust ones.
//!
//! - `vectors`: the same test vectors through the Rust and JavaScript
//!   examples give the same output or the same rejection.
//! - `hostile`: misbehaving JavaScript is contained like misbehaving Rust.
//! - `logging`: contract 1.1.0's `log`, from both languages, bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

#[path = "../support/mod.rs"]
mod support;

mod hostile;
mod logging;
mod vectors;

use scim_plugin_host::{CallContext, CallOperation, Direction, Host, HostSettings};
use std::sync::OnceLock;

/// The JavaScript toolchains and the suffix of their builds' file names.
pub const TOOLCHAINS: [(&str, &str); 2] = [("quickjs", ""), ("spidermonkey", ".spidermonkey")];

/// One host for the whole binary, with the compilation cache under the
/// target directory: a SpiderMonkey component is some 12 MB of wasm, and
/// compiling it in a debug build takes a while; the tests share each
/// compilation, and later runs load it from the cache.
pub fn host() -> &'static Host {
    static HOST: OnceLock<Host> = OnceLock::new();
    HOST.get_or_init(|| {
        let cache_dir = Some(support::plugin_dir().join(".test-cache"));
        Host::new(HostSettings { max_concurrent: 4, cache_dir, ..HostSettings::default() }).unwrap()
    })
}

pub fn ctx(operation: CallOperation) -> CallContext {
    CallContext { resource_type: "User".into(), operation, direction: Direction::Request }
}
