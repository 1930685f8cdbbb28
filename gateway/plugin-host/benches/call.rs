//! What a plugin call costs: a realistic 2 kB User (Okta's create, from the
//! mapper's benchmarks) through the full-name plugin, with a fresh instance
//! per call, in Rust and in JavaScript (QuickJS and SpiderMonkey builds);
//! its parts; a cold start with three cached plugins; and a JavaScript
//! plugin's load from a warm cache.
//!
//! Needs the plugins built: `cargo xtask plugin`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use scim_plugin_host::{CallContext, CallOperation, Direction, Host, HostSettings, Plugin};
use serde_json::{Value, json};
use std::hint::black_box;

#[path = "support/shared.rs"]
mod support;
use support::{load_bytes, plugin_dir, user};

// The gateway's allocator, so that the host's share costs what it does there.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn load(host: &Host, name: &str, config: &Value) -> Plugin {
    let path = plugin_dir().map(|d| d.join(format!("{name}.wasm")));
    let bytes = path.and_then(|p| std::fs::read(p).ok()).expect("run `cargo xtask plugin` first");
    load_bytes(host, name, &bytes, config)
}

fn calls(c: &mut Criterion) {
    let host = Host::new(HostSettings::default()).unwrap();
    let config = json!({"format": "{family}, {given}"});
    let full_name = load(&host, "full-name", &config);
    let echo = load(&host, "hostile", &json!({"do": "echo"}));
    let raw = load(&host, "hostile", &json!({"do": "raw"}));
    let ctx =
        CallContext { resource_type: "User".into(), operation: CallOperation::Create, direction: Direction::Request };
    let doc = user();
    let len = serde_json::to_string(&doc).unwrap().len();
    assert!((1950..2300).contains(&len), "a realistic 2 kB User, not {len} bytes");
    let mut g = c.benchmark_group("plugin");
    let text = serde_json::to_string(&doc).unwrap();
    g.bench_function("full-name call: fresh instance, call, drop (JSON text in and out)", |b| {
        b.iter(|| host.call_text(&full_name, &ctx, black_box(text.clone())).unwrap())
    });
    g.bench_function("full-name through Host::call: the User to text, the call, the output parsed and checked", |b| {
        b.iter(|| host.call_blocking(&full_name, &ctx, black_box(&doc)).result.unwrap())
    });
    g.bench_function("echo call with serde_json inside wasm (parse + serialize)", |b| {
        b.iter(|| host.call_blocking(&echo, &ctx, black_box(&doc)).result.unwrap())
    });
    g.bench_function("raw call, 2 kB User (text back unparsed; host JSON and checks)", |b| {
        b.iter(|| host.call_blocking(&raw, &ctx, black_box(&doc)).result.unwrap())
    });
    g.bench_function("instantiation alone (fresh store and instance, dropped)", |b| {
        b.iter(|| assert!(host.instantiate_only(&full_name)))
    });
    for (toolchain, build) in JS_BUILDS {
        let js = load(&host, build, &config);
        g.bench_function(format!("full-name-js ({toolchain}) through Host::call: fresh instance, call, drop"), |b| {
            b.iter(|| host.call_blocking(&js, &ctx, black_box(&doc)).result.unwrap())
        });
        g.bench_function(format!("full-name-js ({toolchain}) instantiation alone"), |b| {
            b.iter(|| assert!(host.instantiate_only(&js)))
        });
    }
    g.bench_function("native serde_json parse + serialize, 2 kB User", |b| {
        let text = doc.to_string();
        b.iter(|| serde_json::to_string(&serde_json::from_str::<Value>(black_box(&text)).unwrap()).unwrap())
    });
    g.finish();
}

/// A new engine with a warm cache directory loading three plugins: what a
/// gateway restart spends on plugins.
fn cold_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let settings = HostSettings { cache_dir: Some(dir.path().join("cache")), ..HostSettings::default() };
    let config = json!({"allowed": ["example.com"]});
    let start = || {
        let host = Host::new(settings.clone()).unwrap();
        let plugins: Vec<Plugin> =
            ["full-name", "email-domain-policy", "hostile"].iter().map(|n| load(&host, n, &config)).collect();
        (host, plugins)
    };
    drop(start()); // fills the cache
    let mut g = c.benchmark_group("plugin");
    g.sample_size(20);
    g.bench_function("cold start: engine + 3 cached plugins", |b| b.iter(start));
    g.finish();
}

/// The JavaScript builds of full-name, by toolchain.
const JS_BUILDS: [(&str, &str); 2] = [("quickjs", "full-name-js"), ("spidermonkey", "full-name-js.spidermonkey")];

/// One JavaScript plugin loaded by a new engine from a warm cache: what a
/// restart spends on it (the engine itself made outside the timing).
fn js_cold_start(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let settings = HostSettings { cache_dir: Some(dir.path().join("cache")), ..HostSettings::default() };
    let config = json!({});
    let mut g = c.benchmark_group("plugin");
    g.sample_size(20);
    for (toolchain, build) in JS_BUILDS {
        drop(load(&Host::new(settings.clone()).unwrap(), build, &config)); // fills the cache
        g.bench_function(format!("cold start, warm cache: load full-name-js ({toolchain})"), |b| {
            b.iter_batched(
                || Host::new(settings.clone()).unwrap(),
                |host| {
                    let plugin = load(&host, build, &config);
                    (host, plugin) // dropped after the timing
                },
                criterion::BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, calls, cold_start, js_cold_start);
criterion_main!(benches);
