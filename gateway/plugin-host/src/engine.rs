//! The one wasmtime engine the gateway runs plugins on, and the bound on
//! concurrent calls.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::Semaphore;
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
        Ok(Self { engine, slots, settings, warnings })
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
}

/// Slots in the pool beyond the call bound: load-time probes.
const SPARE_SLOTS: u32 = 4;

fn engine_config(settings: &HostSettings) -> Result<Config, EngineError> {
    let max_memory = usize::try_from(settings.max_memory_bytes)
        .map_err(|_| EngineError(format!("max_memory {} does not fit this machine", settings.max_memory_bytes)))?;
    let slots = u32::try_from(settings.max_concurrent).unwrap_or(u32::MAX / 16).saturating_add(SPARE_SLOTS);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(slots)
        .max_core_instances_per_component(8)
        .total_core_instances(slots.saturating_mul(8))
        .max_memories_per_component(2)
        .total_memories(slots.saturating_mul(2))
        .max_tables_per_component(4)
        .total_tables(slots.saturating_mul(4))
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
