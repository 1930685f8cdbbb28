//! The one wasmtime engine the gateway runs plugins on, and the bound on
//! concurrent calls.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;
use wasmtime::component::Component;
use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy, OptLevel, PoolingAllocationConfig,
};

/// Engine-wide settings. Unlike a plugin's [`Limits`](crate::Limits) they
/// are fixed for the life of the process: a reload that needs more than
/// they allow is refused and the running plugins keep serving.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSettings {
    /// The most memory any one plugin may be given (default 64 MiB); sizes
    /// the pooling allocator's slots.
    pub max_memory_bytes: u64,
    /// Plugin calls running at once (default twice the CPUs, at least 2);
    /// further calls wait for a slot.
    pub max_concurrent: usize,
    /// Compiled plugins are kept here (a private directory, created 0700)
    /// when set. Entries are keyed by the plugin's bytes, wasmtime's
    /// version and the engine's settings, so a stale artifact is never
    /// loaded. A directory that cannot be used means compiling in memory,
    /// with a warning.
    pub cache_dir: Option<PathBuf>,
}

impl Default for HostSettings {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        Self { max_memory_bytes: 64 << 20, max_concurrent: (cpus * 2).max(2), cache_dir: None }
    }
}

/// Why the engine could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("the WebAssembly engine could not start: {0}")]
pub struct EngineError(String);

/// Runs plugins: owns the engine and the call slots. Calls run on the
/// caller's task (wasmtime's async calls on a fiber), yielding to the
/// runtime as they burn fuel; the wall-clock deadline is checked at each
/// yield.
#[derive(Debug)]
pub struct Host {
    pub(crate) engine: Engine,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) settings: HostSettings,
    warnings: Vec<String>,
    /// Components compiled by this host, by the sha256 of their bytes: a
    /// reload that keeps a plugin does not compile it again.
    compiled: Mutex<Vec<(String, Component)>>,
}

impl Host {
    pub fn new(settings: HostSettings) -> Result<Self, EngineError> {
        let mut warnings = Vec::new();
        let mut config = engine_config(&settings)?;
        if let Some(dir) = &settings.cache_dir {
            match cache(dir) {
                Ok(cache) => {
                    config.cache(Some(cache));
                }
                Err(e) => warnings.push(format!(
                    "plugin cache {} is not usable ({e}); plugins are compiled in memory",
                    dir.display()
                )),
            }
        }
        let engine = Engine::new(&config).map_err(|e| EngineError(e.to_string()))?;
        let slots = Arc::new(Semaphore::new(settings.max_concurrent.max(1)));
        Ok(Self { engine, slots, settings, warnings, compiled: Mutex::new(Vec::new()) })
    }

    /// What the set-up had to give up on (an unusable cache directory).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Call slots free now.
    pub fn free_slots(&self) -> usize {
        self.slots.available_permits()
    }

    pub fn settings(&self) -> &HostSettings {
        &self.settings
    }

    /// The component of `bytes` (whose sha256 is `sha256`), compiled now
    /// or earlier by this host (from the disk cache when there is one).
    pub(crate) fn compile(&self, bytes: &[u8], sha256: &str) -> wasmtime::Result<Component> {
        if let Some(found) = self.kept().iter().find(|(sha, _)| sha == sha256) {
            return Ok(found.1.clone());
        }
        let component = Component::new(&self.engine, bytes)?;
        let mut kept = self.kept();
        if kept.len() >= MAX_COMPILED {
            kept.remove(0);
        }
        kept.push((sha256.to_owned(), component.clone()));
        Ok(component)
    }

    /// Forgets compiled components but those of `in_use` (sha256s): the
    /// gateway calls it once a load or reload has settled.
    pub fn keep_compiled(&self, in_use: &[&str]) {
        self.kept().retain(|(sha, _)| in_use.contains(&sha.as_str()));
    }

    /// How many compiled components are kept.
    pub fn compiled_count(&self) -> usize {
        self.kept().len()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Vec<(String, Component)>> {
        // A panic while holding the lock leaves a plain list behind.
        self.compiled.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Slots in the pool beyond the call bound: load-time probes.
const SPARE_SLOTS: u32 = 4;

/// Core instances one plugin may have: a Rust plugin has one to four; a
/// QuickJS one (componentize-qjs) 13; a SpiderMonkey one (componentize-js) 8.
pub const MAX_CORE_INSTANCES: usize = 16;
/// Linear memories one plugin may have (QuickJS: 3; Rust and SpiderMonkey:
/// 1 or 2). Its memory limit covers them all together.
pub const MAX_MEMORIES: usize = 4;
/// Tables one plugin may have.
pub const MAX_TABLES: usize = 8;
/// Compiled components kept for reloads (a SpiderMonkey one holds tens of
/// MB of code); beyond it the oldest go.
const MAX_COMPILED: usize = 16;

fn engine_config(settings: &HostSettings) -> Result<Config, EngineError> {
    let max_memory = usize::try_from(settings.max_memory_bytes)
        .map_err(|_| EngineError(format!("max_memory {} does not fit this machine", settings.max_memory_bytes)))?;
    let slots = u32::try_from(settings.max_concurrent).unwrap_or(u32::MAX / 16).saturating_add(SPARE_SLOTS);
    let mut pool = PoolingAllocationConfig::new();
    let per = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    pool.total_component_instances(slots)
        .max_core_instances_per_component(per(MAX_CORE_INSTANCES))
        .total_core_instances(slots.saturating_mul(per(MAX_CORE_INSTANCES)))
        .max_memories_per_component(per(MAX_MEMORIES))
        .total_memories(slots.saturating_mul(per(MAX_MEMORIES)))
        .max_tables_per_component(per(MAX_TABLES))
        .total_tables(slots.saturating_mul(per(MAX_TABLES)))
        .max_memory_size(max_memory)
        .total_stacks(slots)
        .linear_memory_keep_resident(4 << 20)
        .pagemap_scan(Enabled::Auto)
        .table_keep_resident(64 << 10);
    let mut config = Config::new();
    // Fuel is the CPU limit and, through its yields, the clock's: wasmtime
    // charges `memory.copy`, `memory.fill` and `memory.init` a unit per
    // byte, so an instruction does about the work its fuel says (cache
    // misses and failed `memory.grow`s aside), and a call reaches a yield,
    // where the deadline is checked, after some 20 µs of typical work (tens
    // of milliseconds at worst). Epoch interruption would check the clock
    // in every loop and function instead; it cost 8% of a call.
    config
        .consume_fuel(true)
        .max_wasm_stack(1 << 20)
        .async_stack_size(2 << 20)
        .cranelift_opt_level(OptLevel::Speed)
        .parallel_compilation(true)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Ok(config)
}

/// A compilation cache in a private directory, if the directory can be
/// made private and written.
fn cache(dir: &Path) -> Result<Cache, String> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let dir = std::path::absolute(dir).map_err(|e| e.to_string())?;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir).map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&dir).map_err(|e| e.to_string())?;
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("it is readable by others and cannot be made private: {e}"))?;
    }
    let probe = dir.join(".write-probe");
    std::fs::write(&probe, b"").map_err(|e| format!("it cannot be written: {e}"))?;
    let _ = std::fs::remove_file(&probe);
    let mut config = CacheConfig::new();
    config.with_directory(&dir);
    Cache::new(config).map_err(|e| e.to_string())
}
