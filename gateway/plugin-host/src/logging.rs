//! The one thing the host gives plugins (contract 1.1.0): `logging.log`,
//! messages for the plugin's author, bounded per call in count and bytes and
//! paid for in fuel, so that logging is never a way around the CPU limit.

use crate::call::{Stop, StoreState};
use std::time::Instant;
use wasmtime::StoreContextMut;
use wasmtime::component::{ComponentType, Lift, Linker, WasmStr};

/// The one interface the host provides, as plugins import it (without its
/// version). Plugins get nothing else: no files, sockets, clock or
/// randomness.
pub const LOGGING: &str = "scim-gateway:plugin/logging";
/// The function in [`LOGGING`].
const LOG: &str = "log";
/// Messages a call keeps; later ones are counted in [`Logs::dropped`].
pub const MAX_LOG_LINES: usize = 32;
/// Bytes of message text a call keeps, all messages together.
pub const MAX_LOG_BYTES: usize = 8 << 10;
/// Longest single message kept; longer ones are cut, marked with `…`.
pub const MAX_LOG_LINE_BYTES: usize = 1 << 10;
/// Fuel a `log` call costs besides a unit per byte of its message.
const LOG_CALL_FUEL: u64 = 1_000;

/// How much a message matters to the plugin's author.
#[derive(ComponentType, Lift, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[component(enum)]
#[repr(u8)]
pub enum LogLevel {
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

impl LogLevel {
    pub const ALL: [LogLevel; 4] = [Self::Debug, Self::Info, Self::Warn, Self::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// One message a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub level: LogLevel,
    pub message: String,
}

/// What a call logged: the messages kept, in order, and how many were
/// dropped past the bounds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Logs {
    pub lines: Vec<LogLine>,
    pub dropped: u32,
    bytes: usize,
}

impl Logs {
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.dropped == 0
    }

    /// Keeps `message` if the call's bounds allow, cut to
    /// [`MAX_LOG_LINE_BYTES`]; counts it as dropped otherwise.
    pub(crate) fn push(&mut self, level: LogLevel, message: &str) {
        let message = cut(message, MAX_LOG_LINE_BYTES);
        if self.lines.len() >= MAX_LOG_LINES || self.bytes + message.len() > MAX_LOG_BYTES {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.bytes += message.len();
        self.lines.push(LogLine { level, message });
    }
}

/// `text` cut to at most `max` bytes at a character boundary, with `…` when cut.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", text.get(..end).unwrap_or(""))
}

/// Defines `logging.log` at this host's version in `linker`. A component
/// importing an older 1.x `logging` is matched by semver.
pub(crate) fn link(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    let name = format!("{LOGGING}@{}", crate::INTERFACE_VERSION);
    linker.instance(&name)?.func_wrap(LOG, log)
}

/// The host side of `log`: charges a unit of fuel per byte of the message
/// (reading it costs the host that much), then keeps it within the bounds.
/// Charging fuel restarts wasmtime's count to the next yield, where the
/// deadline is checked, so the deadline is checked here too: a plugin that
/// logs in a loop still stops on time. A message that is not UTF-8 (no
/// SDK makes one) ends the call.
fn log(mut store: StoreContextMut<'_, StoreState>, (level, message): (LogLevel, WasmStr)) -> wasmtime::Result<()> {
    if store.data().deadline.is_some_and(|d| Instant::now() >= d) {
        return stop(&mut store, Stop::Deadline);
    }
    let Ok((text, len)) = message.to_str(&store).map(|t| (cut(&t, MAX_LOG_LINE_BYTES), t.len())) else {
        return stop(&mut store, Stop::BadMessage);
    };
    let cost = LOG_CALL_FUEL.saturating_add(u64::try_from(len).unwrap_or(u64::MAX));
    let fuel = store.get_fuel()?;
    store.set_fuel(fuel.saturating_sub(cost))?;
    store.data_mut().logs.push(level, &text);
    Ok(())
}

/// Ends the call from `log`, saying why.
fn stop(store: &mut StoreContextMut<'_, StoreState>, why: Stop) -> wasmtime::Result<()> {
    store.data_mut().stopped = Some(why);
    Err(wasmtime::format_err!("the host stopped the call"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_keep_within_count_and_bytes() {
        let mut logs = Logs::default();
        for i in 0..40 {
            logs.push(LogLevel::Info, &format!("message {i}"));
        }
        assert_eq!((logs.lines.len(), logs.dropped), (MAX_LOG_LINES, 8));
        let mut logs = Logs::default();
        let long = "é".repeat(4000);
        for _ in 0..10 {
            logs.push(LogLevel::Warn, &long);
        }
        let kept: usize = logs.lines.iter().map(|l| l.message.len()).sum();
        assert!(kept <= MAX_LOG_BYTES, "{kept}");
        assert!(logs.lines.iter().all(|l| l.message.len() <= MAX_LOG_LINE_BYTES && l.message.ends_with('…')));
        assert_eq!(logs.lines.len() + logs.dropped as usize, 10);
    }

    #[test]
    fn cut_keeps_characters_whole() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("aé€", 5), "a…");
        assert!(cut(&"€".repeat(10), 10).len() <= 10);
    }
}
