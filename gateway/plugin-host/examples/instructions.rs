//! Calls a plugin N times on the benchmark's 2 kB User, for counting
//! instructions under callgrind, which (unlike timings on a shared machine)
//! repeat closely: `scripts/bench-plugin-instructions` runs it at two N and
//! divides the difference.
//!
//! `cargo run --release -p scim-plugin-host --example instructions -- PLUGIN.wasm CONFIG-JSON CALLS [text|value]`

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use scim_plugin_host::{CallContext, CallOperation, Direction, Host, HostSettings};
use serde_json::Value;
use std::hint::black_box;

#[path = "../benches/support/shared.rs"]
mod support;
use support::{load_bytes, user};

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, config, calls, mode] = args.as_slice() else {
        panic!("usage: instructions PLUGIN.wasm CONFIG-JSON CALLS text|value");
    };
    let calls: usize = calls.parse().expect("CALLS is a number");
    let config: Value = serde_json::from_str(config).expect("CONFIG-JSON is JSON");
    // One call slot: a small pool, which valgrind can map.
    let host = Host::new(HostSettings { max_concurrent: 1, ..HostSettings::default() }).unwrap();
    let plugin = load_bytes(&host, "plugin", &std::fs::read(path).unwrap(), &config);
    let ctx =
        CallContext { resource_type: "User".into(), operation: CallOperation::Create, direction: Direction::Request };
    let doc = user();
    let text = serde_json::to_string(&doc).unwrap();
    for _ in 0..calls {
        if mode == "text" {
            black_box(host.call_text(&plugin, &ctx, text.clone()).unwrap());
        } else {
            black_box(host.call_blocking(&plugin, &ctx, &doc).result.unwrap());
        }
    }
}
