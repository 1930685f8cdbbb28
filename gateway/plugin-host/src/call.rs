//! One call: a fresh store and instance, the limits armed, the function
//! called, the failure (if any) named.

use crate::engine::Host;
use crate::error::{Failure, Outcome, Rejection};
use crate::load::Plugin;
use crate::logging::Logs;
use crate::output;
use serde_json::Value;
use std::task::Poll;
use std::time::Instant;
use wasmtime::component::Val;
use wasmtime::{ResourceLimiter, Store, Trap};

pub use scim_core::Direction;

/// What the IdP asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOperation {
    Create,
    Replace,
    /// The resource as it will be after the PATCH.
    Patch,
    Read,
}

/// What a plugin is told about the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallContext {
    pub resource_type: String,
    pub operation: CallOperation,
    pub direction: Direction,
}

/// What a call gave: the resource or why not, and what the plugin logged
/// (whatever the outcome: the messages before a trap are kept too).
#[derive(Debug)]
pub struct Called {
    pub result: Result<Value, Failure>,
    pub logs: Logs,
}

impl Called {
    fn refused(plugin: &Plugin) -> Self {
        let why = "its circuit is open after repeated failures";
        Self { result: Err(failed(plugin, Outcome::CircuitOpen, why)), logs: Logs::default() }
    }
}

/// What a store holds: the limiter's state and what the plugin logged.
#[derive(Debug)]
pub struct StoreState {
    /// The plugin's memory limit, for all its memories together.
    memory_bytes: usize,
    /// Bytes its memories hold now, all together.
    memory_used: usize,
    /// The last growth allowed, taken back if the growth then fails.
    memory_granted: usize,
    memory_denied: bool,
    /// When the call must end; checked at each fuel yield, and by `log`
    /// (whose fuel charge restarts the count to the next yield).
    pub(crate) deadline: Option<Instant>,
    /// Why a host function stopped the call, if one did.
    pub(crate) stopped: Option<Stop>,
    /// How many memories and tables its component declares.
    shape: Shape,
    pub(crate) logs: Logs,
}

/// Why a host function stopped a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// `log` was called past the call's deadline.
    Deadline,
    /// `log` was given a message that is not UTF-8.
    BadMessage,
}

/// What a plugin's component needs to instantiate, read at load: the
/// store allows exactly this many memories and tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub memories: usize,
    pub tables: usize,
}

impl ResourceLimiter for StoreState {
    fn memory_growing(&mut self, current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        let used = self.memory_used.saturating_sub(current).saturating_add(desired);
        let ok = used <= self.memory_bytes;
        if ok {
            self.memory_granted = desired.saturating_sub(current);
            self.memory_used = used;
        }
        self.memory_denied |= !ok;
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.memory_used = self.memory_used.saturating_sub(self.memory_granted);
        self.memory_granted = 0;
        Ok(())
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }

    fn instances(&self) -> usize {
        crate::engine::MAX_CORE_INSTANCES
    }
    fn tables(&self) -> usize {
        self.shape.tables
    }
    fn memories(&self) -> usize {
        self.shape.memories
    }
}

/// Fuel between yields: a call gives its thread back to the runtime at
/// least this often, so a plugin never holds a tokio worker for its whole
/// CPU budget. Each yield is also where the call's wall-clock deadline is
/// checked. Mapping JSON burns about ten units a nanosecond, so this is some
/// 20 µs of work: a call on a resource of a few kB ends before its first
/// yield (each costs about as much as a tenth of such a call), and a long
/// one yields as often as tokio asks of a task.
pub const YIELD_FUEL: u64 = 200_000;

impl Host {
    /// Maps `resource` through `plugin` once a call slot is free. The call
    /// runs on the calling task, yielding every [`YIELD_FUEL`]; the result
    /// is checked: an object of the same resource type, `id` and `meta`
    /// unchanged.
    pub async fn call(&self, plugin: &Plugin, ctx: CallContext, resource: &Value) -> Called {
        if !plugin.breaker.allow(Instant::now()) {
            return Called::refused(plugin);
        }
        let input = text_of(resource);
        let (text, logs) = {
            let _permit = self.slots.acquire().await;
            self.runner().invoke(plugin, &ctx, input).await
        };
        Called { result: self.finish(plugin, text, resource, &ctx.resource_type), logs }
    }

    /// [`Host::call`] run to completion on this thread, for the command line
    /// and benchmarks; it does not take a call slot.
    pub fn call_blocking(&self, plugin: &Plugin, ctx: &CallContext, resource: &Value) -> Called {
        if !plugin.breaker.allow(Instant::now()) {
            return Called::refused(plugin);
        }
        let (text, logs) = block_on(self.runner().invoke(plugin, ctx, text_of(resource)));
        Called { result: self.finish(plugin, text, resource, &ctx.resource_type), logs }
    }

    /// Checks the output and tells the breaker.
    fn finish(
        &self,
        plugin: &Plugin,
        text: Result<String, Failure>,
        input: &Value,
        rt: &str,
    ) -> Result<Value, Failure> {
        let result = text.and_then(|t| {
            output::check(&t, input, rt, plugin.limits.output_bytes)
                .map_err(|why| failed(plugin, Outcome::BadOutput, &why))
        });
        match &result {
            Ok(_) => plugin.breaker.success(),
            Err(f) if f.outcome().is_failure() => {
                plugin.breaker.failure(Instant::now());
            }
            Err(_) => {}
        }
        result
    }

    fn runner(&self) -> Runner {
        Runner { engine: self.engine.clone() }
    }

    /// Fresh instance, call, drop, on JSON text: a call without the host's
    /// serializing, parsing and checking (for benchmarks).
    #[doc(hidden)]
    pub fn call_text(&self, plugin: &Plugin, ctx: &CallContext, text: String) -> Result<String, Failure> {
        block_on(self.runner().invoke(plugin, ctx, text)).0
    }

    /// A fresh store and instance, dropped at once: the fixed part of every
    /// call (for benchmarks).
    #[doc(hidden)]
    pub fn instantiate_only(&self, plugin: &Plugin) -> bool {
        self.probe(plugin).is_ok()
    }

    /// Probes that the plugin instantiates within its limits, its time
    /// limit included (a start function could spin).
    pub(crate) fn probe(&self, plugin: &Plugin) -> Result<(), String> {
        let deadline = deadline(plugin);
        let mut store = self.runner().store(plugin, deadline);
        let made = block_on(within(deadline, plugin.pre.instantiate_async(&mut store)));
        match made {
            None => Err(TIMED_OUT.into()),
            Some(made) => made.map(drop).map_err(|e| classify(&e, store.data()).1),
        }
    }
}

/// Runs a future that only ever waits on itself (a plugin call yielding
/// for fuel wakes itself at once) to completion on this thread.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// What a call needs from the host.
struct Runner {
    engine: wasmtime::Engine,
}

impl Runner {
    fn store(&self, plugin: &Plugin, deadline: Option<Instant>) -> Store<StoreState> {
        let memory_bytes = usize::try_from(plugin.limits.memory_bytes).unwrap_or(usize::MAX);
        let state = StoreState {
            memory_bytes,
            memory_used: 0,
            memory_granted: 0,
            memory_denied: false,
            deadline,
            stopped: None,
            shape: plugin.shape,
            logs: Logs::default(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| s);
        // Fuel is on for the engine and the interval is not zero, so
        // neither can fail.
        let _ = store.set_fuel(plugin.limits.fuel);
        let _ = store.fuel_async_yield_interval(Some(YIELD_FUEL));
        store
    }

    /// Instantiates afresh and calls `map-resource`, giving up at the
    /// first yield past the plugin's deadline; the store (and with it every
    /// byte the plugin touched) is dropped on return.
    async fn invoke(&self, plugin: &Plugin, ctx: &CallContext, input: String) -> (Result<String, Failure>, Logs) {
        let deadline = deadline(plugin);
        let mut store = self.store(plugin, deadline);
        let params = [context(ctx, &plugin.config), Val::String(input)];
        let result = match within(deadline, run(plugin, &mut store, &params)).await {
            None => Err(failed(plugin, Outcome::Timeout, TIMED_OUT)),
            Some(Err(e)) => {
                let (outcome, detail) = classify(&e, store.data());
                Err(failed(plugin, outcome, &detail))
            }
            Some(Ok(result)) => answer(plugin, result),
        };
        (result, std::mem::take(&mut store.data_mut().logs))
    }
}

/// A fresh instance of `plugin` in `store`, and its function called.
async fn run(plugin: &Plugin, store: &mut Store<StoreState>, params: &[Val]) -> wasmtime::Result<Val> {
    let instance = plugin.pre.instantiate_async(&mut *store).await?;
    let func =
        instance.get_func(&mut *store, plugin.func).ok_or_else(|| wasmtime::format_err!("the function is gone"))?;
    let mut results = [Val::Bool(false)];
    func.call_async(&mut *store, params, &mut results).await?;
    let [result] = results;
    Ok(result)
}

const TIMED_OUT: &str = "it ran past its time limit";

/// When a call of `plugin` starting now must end; `None` for a time limit
/// too far off for the clock, which is no limit.
fn deadline(plugin: &Plugin) -> Option<Instant> {
    Instant::now().checked_add(plugin.limits.timeout)
}

/// What `future` gives, or `None` if it is still pending when polled after
/// `deadline`. A plugin call is pending only at its fuel yields, so that is
/// where the deadline is checked; dropping the call there unwinds it.
async fn within<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| match future.as_mut().poll(cx) {
        Poll::Ready(out) => Poll::Ready(Some(out)),
        Poll::Pending if deadline.is_some_and(|d| Instant::now() >= d) => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await
}

/// The resource as JSON text. Serializing a `Value` cannot fail (its keys
/// are strings); were it to, the plugin would get "" and fail on it.
fn text_of(resource: &Value) -> String {
    serde_json::to_string(resource).unwrap_or_default()
}

fn context(ctx: &CallContext, config: &str) -> Val {
    let operation = match ctx.operation {
        CallOperation::Create => "create",
        CallOperation::Replace => "replace",
        CallOperation::Patch => "patch",
        CallOperation::Read => "read",
    };
    Val::Record(vec![
        ("resource-type".into(), Val::String(ctx.resource_type.clone())),
        ("operation".into(), Val::Enum(operation.into())),
        ("direction".into(), Val::Enum(ctx.direction.as_str().into())),
        ("config".into(), Val::String(config.to_owned())),
    ])
}

/// The function's `result<string, rejection>`.
fn answer(plugin: &Plugin, result: Val) -> Result<String, Failure> {
    match result {
        Val::Result(Ok(Some(ok))) => match *ok {
            Val::String(text) => Ok(text),
            _ => Err(failed(plugin, Outcome::BadOutput, "the result is not a string")),
        },
        Val::Result(Err(Some(err))) => Err(rejection(plugin, *err)),
        _ => Err(failed(plugin, Outcome::BadOutput, "the result is not result<string, rejection>")),
    }
}

/// A rejection as the plugin sent it, if it is well formed: a 4xx or 5xx
/// status and a detail of reasonable length.
fn rejection(plugin: &Plugin, val: Val) -> Failure {
    let Val::Record(fields) = val else {
        return failed(plugin, Outcome::BadOutput, "the rejection is not a record");
    };
    let (mut status, mut scim_type, mut detail) = (0u16, None, String::new());
    for (name, v) in fields {
        match (name.as_str(), v) {
            ("status", Val::U16(s)) => status = s,
            ("scim-type", Val::Option(Some(t))) => {
                if let Val::String(t) = *t {
                    scim_type = Some(t);
                }
            }
            ("detail", Val::String(d)) => detail = d,
            _ => {}
        }
    }
    if !(400..=599).contains(&status) {
        return failed(plugin, Outcome::BadOutput, &format!("it refused with status {status}, not a 4xx or 5xx"));
    }
    if detail.len() > 1024 || scim_type.as_ref().is_some_and(|t| t.len() > 64) {
        return failed(plugin, Outcome::BadOutput, "its rejection is too long");
    }
    Failure::Rejected { plugin: plugin.name.clone(), rejection: Rejection { status, scim_type, detail } }
}

/// Names a failed call's outcome, in words that reveal nothing of the
/// plugin's internals.
fn classify(e: &wasmtime::Error, state: &StoreState) -> (Outcome, String) {
    match state.stopped {
        Some(Stop::Deadline) => return (Outcome::Timeout, TIMED_OUT.into()),
        Some(Stop::BadMessage) => return (Outcome::Trap, "it logged a message that is not UTF-8".into()),
        None => {}
    }
    if state.memory_denied {
        return (Outcome::Memory, "it needed more memory than its limit".into());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => (Outcome::Fuel, "it used up its fuel (CPU limit)".into()),
        Some(Trap::StackOverflow) => (Outcome::Trap, "it overflowed its stack".into()),
        Some(Trap::UnreachableCodeReached) => (Outcome::Trap, "it panicked or aborted".into()),
        Some(trap) => (Outcome::Trap, format!("it trapped ({trap})")),
        None => (Outcome::Trap, "it could not run".into()),
    }
}

pub(crate) fn failed(plugin: &Plugin, outcome: Outcome, detail: &str) -> Failure {
    Failure::Failed { plugin: plugin.name.clone(), outcome, detail: detail.to_owned() }
}
