//! Loading a plugin: pin, compile once, check the contract, prepare the
//! instance template that every call instantiates afresh.

use crate::breaker::Breaker;
use crate::call::{Shape, StoreState};
use crate::error::LoadError;
use crate::limits::{BreakerSettings, Limits};
use crate::logging;
use crate::{FUNCTION, Host, INTERFACE, INTERFACE_VERSION};
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, ComponentExportIndex, InstancePre, Linker};

/// Largest plugin file read, in bytes.
pub const MAX_PLUGIN_BYTES: u64 = 64 << 20;

/// A plugin to load: its bytes and how it is to run.
#[derive(Debug, Clone)]
pub struct PluginSource<'a> {
    /// The plugin's name in errors, logs and metrics.
    pub name: &'a str,
    pub bytes: &'a [u8],
    /// Hex sha256 the bytes must have, when pinned.
    pub sha256: Option<&'a str>,
    pub limits: Limits,
    pub breaker: BreakerSettings,
    /// The plugin's own config, handed to it on every call as JSON text.
    pub config: &'a serde_json::Value,
}

/// A loaded plugin: compiled, checked, ready to instantiate per call.
pub struct Plugin {
    pub(crate) name: String,
    pub(crate) sha256: String,
    pub(crate) limits: Limits,
    pub(crate) config: String,
    pub(crate) shape: Shape,
    pub(crate) pre: InstancePre<StoreState>,
    pub(crate) func: ComponentExportIndex,
    pub(crate) breaker: Breaker,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("name", &self.name).field("sha256", &self.sha256).finish_non_exhaustive()
    }
}

impl Plugin {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its circuit breaker: `closed`, `open` or `half_open`.
    pub fn breaker_state(&self) -> &'static str {
        self.breaker.state(std::time::Instant::now())
    }
    /// The hex sha256 of the plugin's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }
    pub fn limits(&self) -> Limits {
        self.limits
    }
}

/// The hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

impl Host {
    /// Reads a plugin file of at most [`MAX_PLUGIN_BYTES`].
    pub fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
        let io = |e: std::io::Error| LoadError::Read { path: path.to_owned(), error: e.to_string() };
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path).and_then(|f| f.take(MAX_PLUGIN_BYTES + 1).read_to_end(&mut bytes)).map_err(io)?;
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if len > MAX_PLUGIN_BYTES {
            return Err(LoadError::TooLarge { len, max: MAX_PLUGIN_BYTES });
        }
        Ok(bytes)
    }

    /// Compiles and checks a plugin. Nothing is called; one instance is
    /// made and dropped to prove it fits its limits.
    pub fn load(&self, src: &PluginSource<'_>) -> Result<Plugin, LoadError> {
        let sha256 = sha256_hex(src.bytes);
        check_pin(src.sha256, &sha256)?;
        if src.limits.memory_bytes > self.settings.max_memory_bytes {
            return Err(LoadError::MemoryAboveEngine {
                limit: src.limits.memory_bytes,
                max: self.settings.max_memory_bytes,
            });
        }
        let component = self.compile(src.bytes, &sha256).map_err(|e| compile_error(&e))?;
        check_imports(&self.engine, &component)?;
        let func = find_function(&self.engine, &component)?;
        let mut linker = Linker::new(&self.engine);
        logging::link(&mut linker).map_err(|e| LoadError::Instantiate(root_cause(&e)))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| LoadError::Instantiate(root_cause(&e)))?;
        let plugin = Plugin {
            name: src.name.to_owned(),
            sha256,
            limits: src.limits,
            config: src.config.to_string(),
            shape: shape(&component),
            pre,
            func,
            breaker: Breaker::new(src.breaker),
        };
        self.probe(&plugin).map_err(LoadError::Instantiate)?;
        Ok(plugin)
    }
}

fn check_pin(pin: Option<&str>, actual: &str) -> Result<(), LoadError> {
    let Some(pin) = pin else { return Ok(()) };
    if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LoadError::BadPin(pin.to_owned()));
    }
    if !pin.eq_ignore_ascii_case(actual) {
        return Err(LoadError::PinMismatch { expected: pin.to_ascii_lowercase(), actual: actual.to_owned() });
    }
    Ok(())
}

/// Why compiling failed: a component too big for the pool is told apart
/// from one that is not a component at all.
fn compile_error(e: &wasmtime::Error) -> LoadError {
    let cause = root_cause(e);
    match format!("{e:#}").contains("pooling allocator") {
        true => LoadError::TooBig(cause),
        false => LoadError::NotAComponent(cause),
    }
}

/// How many memories and tables the component declares; the most the pool
/// allows when it cannot say.
fn shape(component: &Component) -> Shape {
    let most = Shape { memories: crate::engine::MAX_MEMORIES, tables: crate::engine::MAX_TABLES };
    let Some(needs) = component.resources_required() else { return most };
    let count = |n: u32, max: usize| usize::try_from(n).map_or(max, |n| n.min(max));
    Shape { memories: count(needs.num_memories, most.memories), tables: count(needs.num_tables, most.tables) }
}

/// Every import must be one the host provides: `logging` at this host's
/// major version and a minor version no newer than its own.
fn check_imports(engine: &Engine, component: &Component) -> Result<(), LoadError> {
    let ty = component.component_type();
    let refused: Vec<&str> = ty.imports(engine).map(|(name, _)| name).filter(|n| !provided(n)).collect();
    match refused.is_empty() {
        true => Ok(()),
        false => Err(LoadError::Imports(refused.join(", "))),
    }
}

/// Whether the host provides the import `name`.
fn provided(name: &str) -> bool {
    let Some(version) = name.strip_prefix(logging::LOGGING).and_then(|v| v.strip_prefix('@')) else {
        return false;
    };
    match (major_minor(version), major_minor(INTERFACE_VERSION)) {
        (Some((major, minor)), Some((ours, our_minor))) => major == ours && minor <= our_minor,
        _ => false,
    }
}

/// The major and minor numbers of a semver version.
fn major_minor(version: &str) -> Option<(u64, u64)> {
    let mut it = version.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// The export index of `map-resource` in the mapper interface, after
/// checking the interface's version and the function's type.
fn find_function(engine: &Engine, component: &Component) -> Result<ComponentExportIndex, LoadError> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let prefix = format!("{INTERFACE}@");
    let Some(name) = exports.iter().copied().find(|n| n.starts_with(&prefix)) else {
        let found = if exports.is_empty() { "nothing".to_owned() } else { exports.join(", ") };
        return Err(LoadError::NoInterface { found });
    };
    if !compatible(name.get(prefix.len()..).unwrap_or("")) {
        return Err(LoadError::WrongVersion { found: name.to_owned() });
    }
    let Some(ComponentItem::ComponentInstance(iface)) = ty.get_export(engine, name).map(|e| e.ty) else {
        return Err(LoadError::NoInterface { found: format!("{name} (not an interface)") });
    };
    let Some(ComponentItem::ComponentFunc(func)) = iface.get_export(engine, FUNCTION).map(|e| e.ty) else {
        return Err(LoadError::WrongFunction { why: "it is missing".into() });
    };
    check_signature(&func)?;
    let wrong = || LoadError::WrongFunction { why: "it cannot be looked up".into() };
    let iface_index = component.get_export_index(None, name).ok_or_else(wrong)?;
    component.get_export_index(Some(&iface_index), FUNCTION).ok_or_else(wrong)
}

/// Semver compatibility with [`INTERFACE_VERSION`]: the same major version,
/// and (for 0.x) the same minor one.
fn compatible(version: &str) -> bool {
    match (major_minor(version), major_minor(INTERFACE_VERSION)) {
        (Some((0, minor)), Some((0, ours))) => minor == ours,
        (Some((major, _)), Some((ours, _))) => major == ours,
        _ => false,
    }
}

/// The function's type as plugins/wit/mapper.wit declares it, written
/// out: the host builds these values by name and order on every call, so
/// anything else (an extra field, another enum case) is refused at load
/// instead of failing every call.
const SIGNATURE: &str = "(record { resource-type: string, operation: enum { create, replace, patch, read }, \
direction: enum { request, response }, config: string }, string) -> result<string, record { status: u16, \
scim-type: option<string>, detail: string }>";

/// `map-resource` must have exactly [`SIGNATURE`].
fn check_signature(func: &wasmtime::component::types::ComponentFunc) -> Result<(), LoadError> {
    let params: Vec<String> = func.params().map(|(_, ty)| describe(&ty)).collect();
    let results: Vec<String> = func.results().map(|ty| describe(&ty)).collect();
    let found = format!("({}) -> {}", params.join(", "), results.join(", "));
    match found == SIGNATURE {
        true => Ok(()),
        false => Err(LoadError::WrongFunction { why: format!("it is {found}; expected {SIGNATURE}") }),
    }
}

/// A component type in WIT-like text, as far as the contract uses types.
fn describe(ty: &Type) -> String {
    match ty {
        Type::String => "string".into(),
        Type::U16 => "u16".into(),
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Record(r) => {
            let fields: Vec<String> = r.fields().map(|f| format!("{}: {}", f.name, describe(&f.ty))).collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Option(o) => format!("option<{}>", describe(&o.ty())),
        Type::Result(r) => {
            let side = |t: Option<Type>| t.map_or_else(|| "_".to_owned(), |t| describe(&t));
            format!("result<{}, {}>", side(r.ok()), side(r.err()))
        }
        other => format!("{other:?}").split('(').next().unwrap_or("?").to_ascii_lowercase(),
    }
}

/// The innermost message of a wasmtime error.
pub(crate) fn root_cause(e: &wasmtime::Error) -> String {
    e.root_cause().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compatible_by_semver() {
        assert!(compatible("1.0.0"));
        assert!(compatible("1.3.0"));
        assert!(!compatible("2.0.0"));
        assert!(!compatible("0.9.0"));
        assert!(!compatible("one"));
    }

    #[test]
    fn only_logging_up_to_this_version_is_provided() {
        assert!(provided("scim-gateway:plugin/logging@1.1.0"));
        assert!(provided("scim-gateway:plugin/logging@1.0.0"));
        assert!(!provided("scim-gateway:plugin/logging@1.2.0"));
        assert!(!provided("scim-gateway:plugin/logging@2.0.0"));
        assert!(!provided("scim-gateway:plugin/logging"));
        assert!(!provided("wasi:random/random@0.2.0"));
    }

    #[test]
    fn pins_are_checked() {
        let actual = sha256_hex(b"plugin");
        assert!(check_pin(None, &actual).is_ok());
        assert!(check_pin(Some(&actual.to_ascii_uppercase()), &actual).is_ok());
        let other = sha256_hex(b"other");
        assert!(matches!(check_pin(Some(&other), &actual), Err(LoadError::PinMismatch { .. })));
        assert!(matches!(check_pin(Some("abc"), &actual), Err(LoadError::BadPin(_))));
    }
}
