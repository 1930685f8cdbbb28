//! The text log line's frame (time, level, target), written as
//! tracing-subscriber's `Full` format writes it, without its formatting
//! machinery for the usual line: no colours, no span in scope, not an
//! event from the `log` crate. Every other line goes to the `Full` format
//! itself. The fields are written by the field formatter, as before.

use std::fmt;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::{Format, Full, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter: `tracing_subscriber::fmt().event_format(Frame::new(timer))`.
#[derive(Debug, Clone)]
pub struct Frame<T> {
    timer: T,
    full: Format<Full, T>,
}

impl<T: FormatTime + Clone> Frame<T> {
    /// A frame with `timer`'s time.
    pub fn new(timer: T) -> Self {
        Self { full: tracing_subscriber::fmt::format().with_timer(timer.clone()), timer }
    }
}

/// The level as `Full` pads it, and the space after it.
fn level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE ",
        Level::DEBUG => "DEBUG ",
        Level::INFO => " INFO ",
        Level::WARN => " WARN ",
        Level::ERROR => "ERROR ",
    }
}

impl<S, N, T> FormatEvent<S, N> for Frame<T>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    T: FormatTime,
{
    fn format_event(&self, ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        // A `log` record's metadata is normalized by `Full` (its target is
        // the record's); colours and spans are written by it too.
        if writer.has_ansi_escapes() || meta.target() == "log" || ctx.event_scope().is_some() {
            return self.full.format_event(ctx, writer, event);
        }
        if self.timer.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        writer.write_char(' ')?;
        writer.write_str(level(meta.level()))?;
        writer.write_str(meta.target())?;
        writer.write_str(": ")?;
        ctx.format_fields(writer.by_ref(), event)?;
        writer.write_char('\n')
    }
}

#[cfg(test)]
mod tests;
