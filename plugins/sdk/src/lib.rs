//! The SDK for scim-gateway mapping plugins written in Rust.
//!
//! A plugin implements [`Plugin`] over `serde_json::Value` and exports it
//! with [`export_plugin!`]; the SDK hides the component ABI (the WIT
//! contract in `plugins/wit/mapper.wit`). Objects in the result have their
//! keys sorted (by bytes) unless the `preserve-order` feature is on
//! (see plugins/README.md). The same code runs natively, so plugin logic is
//! unit-tested with plain `cargo test`:
//!
//! ```
//! use scim_plugin_sdk::{Context, Plugin, Rejection, Value, json};
//!
//! struct Upper;
//! impl Plugin for Upper {
//!     fn map(_ctx: &Context, mut user: Value) -> Result<Value, Rejection> {
//!         if let Some(name) = user["userName"].as_str() {
//!             user["userName"] = json!(name.to_uppercase());
//!         }
//!         Ok(user)
//!     }
//! }
//! scim_plugin_sdk::export_plugin!(Upper);
//!
//! let out = Upper::map(&Context::test("User"), json!({"userName": "bea"})).unwrap();
//! assert_eq!(out["userName"], "BEA");
//! ```

pub use serde_json::{self, Value, json};

// The SDK reads and writes the resource with [`json`], which gives what
// serde_json gives at about half its cost inside the sandbox; plugins may
// use it for JSON of their own too.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "scim_plugin_sdk::bindings",
        export_macro_name: "export",
    });
}

use bindings::exports::scim_gateway::plugin::mapper as abi;

#[cfg(any(test, all(target_arch = "wasm32", feature = "arena")))]
mod arena;
pub mod json;

#[cfg(all(target_arch = "wasm32", feature = "arena"))]
#[global_allocator]
static ALLOCATOR: arena::Bump = arena::Bump;

/// Which way the resource travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the IdP to the backend.
    Request,
    /// From the backend back to the IdP.
    Response,
}

/// What the request does to the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Create,
    Replace,
    /// The plugin gets the resource as it will be after the patch.
    Patch,
    /// A resource read back (a GET, or one entry of a list).
    Read,
}

/// What the plugin is called for.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// `User`, `Group`, ...
    pub resource_type: String,
    pub operation: Operation,
    pub direction: Direction,
    /// The plugin's `config` table from the gateway's configuration.
    pub config: Value,
}

impl Context {
    /// A create request for `resource_type` with an empty config: for tests.
    pub fn test(resource_type: &str) -> Self {
        Self {
            resource_type: resource_type.to_owned(),
            operation: Operation::Create,
            direction: Direction::Request,
            config: json!({}),
        }
    }

    /// The same context with `config` as the plugin's config: for tests.
    pub fn with_config(mut self, config: Value) -> Self {
        self.config = config;
        self
    }

    /// Whether the request deactivates the resource: plugins should never
    /// stand in its way (the gateway lets it through whatever they say).
    /// The gateway's own rule: `active` in any case or qualified by the core
    /// User URN, set to `false` or the string `"false"` in any case
    /// (`plugins/wit/deprovisioning-cases.json` holds the cases both are
    /// tested against). Deletes carry no body and never reach a plugin.
    pub fn is_deprovisioning(&self, resource: &Value) -> bool {
        self.direction == Direction::Request && resource.as_object().is_some_and(deactivates)
    }
}

const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";

/// An object that sets the core `active` to false (see
/// [`Context::is_deprovisioning`]).
fn deactivates(map: &serde_json::Map<String, Value>) -> bool {
    let is_false = |v: &Value| match v {
        Value::Bool(b) => !b,
        Value::String(s) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    };
    let is_active = |k: &str| {
        k.eq_ignore_ascii_case("active")
            || k.rsplit_once(':')
                .is_some_and(|(u, n)| n.eq_ignore_ascii_case("active") && u.eq_ignore_ascii_case(CORE_USER))
    };
    map.iter().any(|(k, v)| {
        (is_active(k) && is_false(v)) || (k.eq_ignore_ascii_case(CORE_USER) && v.as_object().is_some_and(deactivates))
    })
}

/// How much a log message matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

/// Sends a message to the plugin's log (contract 1.1.0): `scim-gateway map
/// --explain` prints it, and the gateway logs it at debug, redacted. A call
/// keeps at most 32 messages and 8 KiB; more are counted and dropped. Each
/// byte costs the call a unit of fuel. In native tests the messages are
/// kept for [`take_logs`].
pub fn log(level: Level, message: &str) {
    #[cfg(target_arch = "wasm32")]
    {
        use bindings::scim_gateway::plugin::logging::{Level as L, log as host_log};
        let level = match level {
            Level::Debug => L::Debug,
            Level::Info => L::Info,
            Level::Warn => L::Warn,
            Level::Error => L::Error,
        };
        host_log(level, message);
    }
    #[cfg(not(target_arch = "wasm32"))]
    NATIVE_LOGS.with(|logs| logs.borrow_mut().push((level, message.to_owned())));
}

#[cfg(not(target_arch = "wasm32"))]
thread_local! {
    static NATIVE_LOGS: std::cell::RefCell<Vec<(Level, String)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The messages [`log`] kept on this thread since the last call, in native
/// builds (plugin unit tests); empty on wasm, where the host has them.
pub fn take_logs() -> Vec<(Level, String)> {
    #[cfg(not(target_arch = "wasm32"))]
    return NATIVE_LOGS.with(|logs| std::mem::take(&mut *logs.borrow_mut()));
    #[cfg(target_arch = "wasm32")]
    Vec::new()
}

/// A refusal the gateway sends to the IdP as a SCIM error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// HTTP status, 400 to 599.
    pub status: u16,
    /// SCIM `scimType`, such as `invalidValue`.
    pub scim_type: Option<String>,
    /// What the IdP's admin reads.
    pub detail: String,
}

impl Rejection {
    /// 400 with scimType `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidValue".into()), detail: detail.into() }
    }

    /// 500: the plugin cannot do its work (a bad config, say).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self { status: 500, scim_type: None, detail: detail.into() }
    }
}

/// A mapping plugin. The default passes every resource through unchanged.
pub trait Plugin {
    /// Maps one resource (a JSON object) and returns it, or refuses it.
    fn map(ctx: &Context, resource: Value) -> Result<Value, Rejection> {
        let _ = ctx;
        Ok(resource)
    }
}

/// Exports a [`Plugin`] as the component's `mapper` interface.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        const _: () = {
            struct Export;
            impl $crate::bindings::exports::scim_gateway::plugin::mapper::Guest for Export {
                fn map_resource(
                    ctx: $crate::bindings::exports::scim_gateway::plugin::mapper::Context,
                    json: String,
                ) -> Result<String, $crate::bindings::exports::scim_gateway::plugin::mapper::Rejection> {
                    $crate::run::<$plugin>(ctx, json)
                }
            }
            $crate::bindings::export!(Export);
        };
    };
}

/// What the export runs: JSON in, the plugin, JSON out.
#[doc(hidden)]
pub fn run<P: Plugin>(ctx: abi::Context, json: String) -> Result<String, abi::Rejection> {
    let resource = json::from_str(&json).map_err(|e| lower(Rejection::internal(e.to_string())))?;
    let config = json::from_str(&ctx.config).unwrap_or_else(|_| json!({}));
    let ctx = Context {
        resource_type: ctx.resource_type,
        operation: match ctx.operation {
            abi::Operation::Create => Operation::Create,
            abi::Operation::Replace => Operation::Replace,
            abi::Operation::Patch => Operation::Patch,
            abi::Operation::Read => Operation::Read,
        },
        direction: match ctx.direction {
            abi::Direction::Request => Direction::Request,
            abi::Direction::Response => Direction::Response,
        },
        config,
    };
    let out = P::map(&ctx, resource).map_err(lower)?;
    // Room for the input's size and some more: the text is written once.
    let mut text = String::with_capacity(json.len() + json.len() / 4 + 64);
    json::write_value(&out, &mut text);
    discard((out, ctx, json));
    Ok(text)
}

/// Drops what a call is done with. In the arena, freeing is a no-op and
/// the instance is thrown away after the call, so walking the values to
/// free them would be wasted work.
fn discard<T>(done: T) {
    #[cfg(all(target_arch = "wasm32", feature = "arena"))]
    core::mem::forget(done);
    #[cfg(not(all(target_arch = "wasm32", feature = "arena")))]
    drop(done);
}

fn lower(r: Rejection) -> abi::Rejection {
    abi::Rejection { status: r.status, scim_type: r.scim_type, detail: r.detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Refuse;
    impl Plugin for Refuse {
        fn map(ctx: &Context, _: Value) -> Result<Value, Rejection> {
            Err(Rejection::invalid_value(format!("no {}", ctx.config["what"].as_str().unwrap_or("?"))))
        }
    }
    struct Same;
    impl Plugin for Same {}

    fn abi_ctx(config: &str) -> abi::Context {
        abi::Context {
            resource_type: "User".into(),
            operation: abi::Operation::Patch,
            direction: abi::Direction::Request,
            config: config.into(),
        }
    }

    #[test]
    fn run_passes_json_and_config_through() {
        assert_eq!(run::<Same>(abi_ctx("{}"), r#"{"a":1}"#.into()).unwrap(), r#"{"a":1}"#);
        let err = run::<Refuse>(abi_ctx(r#"{"what":"bots"}"#), "{}".into()).unwrap_err();
        assert_eq!((err.status, err.scim_type.as_deref(), err.detail.as_str()), (400, Some("invalidValue"), "no bots"));
        let bad = run::<Same>(abi_ctx("{}"), "{".into()).unwrap_err();
        assert_eq!(bad.status, 500);
    }

    #[test]
    fn logs_are_kept_natively_for_tests() {
        log(Level::Info, "one");
        log(Level::Warn, "two");
        assert_eq!(take_logs(), vec![(Level::Info, "one".to_owned()), (Level::Warn, "two".to_owned())]);
        assert!(take_logs().is_empty());
    }

    #[test]
    fn deprovisioning_is_decided_by_the_gateways_rule() {
        let cases: Value = serde_json::from_str(include_str!("../../wit/deprovisioning-cases.json")).unwrap();
        let ctx = Context::test("User");
        for case in cases["resource"].as_array().unwrap() {
            let expected = case["deprovisions"].as_bool().unwrap();
            assert_eq!(ctx.is_deprovisioning(&case["body"]), expected, "{}", case["name"]);
        }
        let mut response = Context::test("User");
        response.direction = Direction::Response;
        assert!(!response.is_deprovisioning(&json!({"active": false})), "answers deprovision nothing");
    }
}
