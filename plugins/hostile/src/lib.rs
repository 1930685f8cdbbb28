//! `hostile`: a plugin for testing the host, never for production. Its
//! config's `do` picks how it misbehaves:
//!
//! | `do` | what it does |
//! |---|---|
//! | `loop` | spins forever |
//! | `fill` | fills 8 MiB over and over, forever: few instructions, much work each (`memory.fill`) |
//! | `fill-once` | fills 8 MiB once (one `memory.fill`), then returns the resource |
//! | `memory` | allocates a MiB at a time until memory runs out |
//! | `recursion` | recurses without end |
//! | `panic` | panics |
//! | `bad-json` | returns text that is not JSON |
//! | `not-object` | returns a JSON array |
//! | `change-id` | returns the resource with another `id` |
//! | `activate` | returns the resource with `active: true` |
//! | `huge` | returns a resource with a 4 MiB attribute |
//! | `count` | puts how often this instance was called in `callCount` (state surviving between calls would show as more than 1) |
//! | `reject` | refuses with a 403 |
//! | `raw` | returns the text it got without parsing it (the cost of a call minus the JSON work in wasm) |
//! | `log` | logs a message at each level through the SDK's `log` |
//! | `log-flood` | logs 1,000 messages of 1 kB |
//! | `log-loop` | logs in an endless loop |
//! | anything else | returns the resource unchanged |
//!
//! It implements the raw interface (not the SDK's `Plugin` trait) so that it
//! can return what the SDK would never produce.

use scim_plugin_sdk::bindings::exports::scim_gateway::plugin::mapper::{Context, Guest, Rejection};
use scim_plugin_sdk::{Level, Value, json, log};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

static CALLS: AtomicU64 = AtomicU64::new(0);

pub struct Hostile;

impl Guest for Hostile {
    fn map_resource(ctx: Context, text: String) -> Result<String, Rejection> {
        let config: Value = scim_plugin_sdk::serde_json::from_str(&ctx.config).unwrap_or_default();
        let action = config.get("do").and_then(Value::as_str).unwrap_or("echo");
        if action == "raw" {
            return Ok(text);
        }
        let mut doc: Value = scim_plugin_sdk::serde_json::from_str(&text).unwrap_or_default();
        match action {
            "loop" => spin(),
            "fill" => fill(),
            "fill-once" => doc["filled"] = json!(fill_once()),
            "memory" => hog(),
            "recursion" => return Ok(deep(black_box(u64::MAX)).to_string()),
            "panic" => panic!("the hostile plugin panics on purpose"),
            "bad-json" => return Ok("{this is not json".into()),
            "not-object" => return Ok("[1, 2, 3]".into()),
            "change-id" => doc["id"] = json!("someone-else"),
            "activate" => doc["active"] = json!(true),
            "huge" => doc["huge"] = json!("x".repeat(4 << 20)),
            "count" => doc["callCount"] = json!(CALLS.fetch_add(1, Ordering::Relaxed) + 1),
            "log" => {
                for (level, name) in
                    [(Level::Debug, "debug"), (Level::Info, "info"), (Level::Warn, "warn"), (Level::Error, "error")]
                {
                    log(level, &format!("a {name} message from Rust"));
                }
            }
            "log-flood" => {
                let line = "y".repeat(1000);
                for _ in 0..1_000 {
                    log(Level::Info, &line);
                }
            }
            "log-loop" => loop {
                log(Level::Debug, "again");
            },
            "reject" => {
                return Err(Rejection { status: 403, scim_type: None, detail: "refused on purpose".into() });
            }
            _ => {}
        }
        Ok(scim_plugin_sdk::serde_json::to_string(&doc).unwrap_or_default())
    }
}

scim_plugin_sdk::bindings::export!(Hostile);

fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

fn fill() -> ! {
    let mut buf = vec![0u8; 8 << 20];
    let mut n = 0u8;
    loop {
        n = black_box(n.wrapping_add(1));
        buf.fill(n);
        black_box(&buf);
    }
}

fn fill_once() -> u8 {
    let mut buf = vec![0u8; 8 << 20];
    buf.fill(black_box(7));
    black_box(&buf).last().copied().unwrap_or(0)
}

fn hog() -> ! {
    let mut held: Vec<Vec<u8>> = Vec::new();
    loop {
        held.push(vec![1u8; 1 << 20]);
        black_box(&held);
    }
}

fn deep(n: u64) -> u64 {
    if black_box(n) == 0 { 0 } else { deep(n - 1).wrapping_add(black_box(1)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(action: &str, doc: &str) -> Result<String, Rejection> {
        let ctx = Context {
            resource_type: "User".into(),
            operation: scim_plugin_sdk::bindings::exports::scim_gateway::plugin::mapper::Operation::Create,
            direction: scim_plugin_sdk::bindings::exports::scim_gateway::plugin::mapper::Direction::Request,
            config: json!({ "do": action }).to_string(),
        };
        Hostile::map_resource(ctx, doc.into())
    }

    #[test]
    fn cheap_misbehaviours() {
        assert!(scim_plugin_sdk::serde_json::from_str::<Value>(&call("bad-json", "{}").unwrap()).is_err());
        assert_eq!(call("change-id", r#"{"id":"1"}"#).unwrap(), r#"{"id":"someone-else"}"#);
        assert_eq!(call("echo", r#"{"id":"1"}"#).unwrap(), r#"{"id":"1"}"#);
        assert_eq!(call("reject", "{}").unwrap_err().status, 403);
        assert_eq!(call("not-object", "{}").unwrap(), "[1, 2, 3]");
        assert_eq!(call("activate", r#"{"active":false}"#).unwrap(), r#"{"active":true}"#);
        assert_eq!(call("raw", "{ not parsed }").unwrap(), "{ not parsed }");
        let first = call("count", "{}").unwrap();
        assert!(first.starts_with(r#"{"callCount":"#), "{first}");
        assert_ne!(
            call("count", "{}").unwrap(),
            first,
            "natively the counter survives: only a fresh instance resets it"
        );
    }
}
