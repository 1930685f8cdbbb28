//! Integration tests of the gateway over HTTP: the real scim2-server (PyPI)
//! and the embedded store as upstreams, plus purpose-built fake upstreams
//! for failures (gzip, slow, down, HTML errors, 412s).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

// The gateway's allocator (src/main.rs), so the tests run what ships; the
// suite also runs on musl, whose own allocator is slow under many threads.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod gateway {
    pub mod pg;
    #[path = "../../../testing/plugin_dir.rs"]
    pub mod plugin_dir;
    pub mod replicas;
    pub mod support;

    mod admin;
    mod audit;
    mod aws;
    mod batches;
    mod bulk;
    mod cluster;
    mod conformance;
    mod deprovisioning;
    mod e2e;
    mod endpoints;
    mod entra_suite;
    mod failures;
    mod js_plugins;
    mod kept_text;
    mod notion;
    mod okta_suite;
    mod operations;
    mod paths;
    mod plugins;
    mod pool;
    mod traces;
    mod transport;
    mod updates;
}
