//! Per-plugin limits and their defaults.

use std::time::Duration;

/// What one call of a plugin may use. Each limit, when hit, is an
/// [`Outcome`](crate::Outcome) of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, all the plugin's memories together, in bytes
    /// (default 32 MiB: a SpiderMonkey call on a 2 kB User needs 10, a
    /// QuickJS one 2, a Rust one 6 with the SDK's arena). Growing beyond it fails
    /// the call with `memory`.
    pub memory_bytes: u64,
    /// Fuel: WebAssembly instructions, roughly (default 100 million, some
    /// tens of milliseconds). The same input always burns the same fuel,
    /// whatever the machine's load; running out fails the call with `fuel`.
    pub fuel: u64,
    /// Wall-clock backstop (default 100 ms): a call still running after it
    /// is interrupted and fails with `timeout`.
    pub timeout: Duration,
    /// Largest output, in bytes (default 1 MiB); larger fails with
    /// `bad_output`.
    pub output_bytes: usize,
}

impl Limits {
    pub const DEFAULT_MEMORY_BYTES: u64 = 32 << 20;
    pub const DEFAULT_FUEL: u64 = 100_000_000;
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
    pub const DEFAULT_OUTPUT_BYTES: usize = 1 << 20;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: Self::DEFAULT_MEMORY_BYTES,
            fuel: Self::DEFAULT_FUEL,
            timeout: Self::DEFAULT_TIMEOUT,
            output_bytes: Self::DEFAULT_OUTPUT_BYTES,
        }
    }
}

/// When a plugin's circuit opens and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Failures in a row that open the circuit (default 5). Rejections are
    /// answers, not failures, and do not count.
    pub failures: u32,
    /// How long an open circuit fails calls fast (default 30 s). The first
    /// call after it is a trial: success closes the circuit, failure opens
    /// it again.
    pub cooldown: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failures: 5, cooldown: Duration::from_secs(30) }
    }
}
