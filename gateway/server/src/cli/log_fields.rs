//! The log line's fields, written exactly as tracing-subscriber's default
//! text format writes them (`name=value`, a string quoted and escaped as
//! Rust's `Debug` does), with shortcuts for the usual fields: a string of
//! printable ASCII with no quote or backslash is written as it is, between
//! quotes, instead of going through `Debug` one character at a time, and an
//! integer in decimal; both piece by piece, not through `format_args!`.
//! Everything else is handed to tracing-subscriber's own visitor.

use std::fmt;
use tracing::field::{Field, Visit};
use tracing_subscriber::field::{MakeVisitor, VisitFmt, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};

/// The field formatter: `tracing_subscriber::fmt().fmt_fields(Fields)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fields;

impl<'a> MakeVisitor<Writer<'a>> for Fields {
    type Visitor = FieldWriter<'a>;

    fn make_visitor(&self, writer: Writer<'a>) -> Self::Visitor {
        FieldWriter { writer, is_empty: true, result: Ok(()) }
    }
}

/// Writes one event's or span's fields.
#[derive(Debug)]
pub struct FieldWriter<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
}

/// A string `Debug` would write unchanged between its quotes.
fn plain(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

impl FieldWriter<'_> {
    /// The field through tracing-subscriber's own visitor.
    fn by_default(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>, &Field)) {
        if self.result.is_err() {
            return;
        }
        let mut visitor = DefaultVisitor::new(self.writer.by_ref(), self.is_empty);
        record(&mut visitor, field);
        self.result = visitor.finish();
        // Log metadata fields (`log.*`) are skipped without a separator.
        self.is_empty &= field.name().starts_with("log.");
    }
}

impl Visit for FieldWriter<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.takes_shortcut(field.name()) || !plain(value) {
            return self.by_default(field, |v, f| v.record_str(f, value));
        }
        self.result = self.plain_field(field.name(), &["\"", value, "\""]);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.takes_shortcut(field.name()) {
            return self.by_default(field, |v, f| v.record_u64(f, value));
        }
        self.result = self.plain_field(field.name(), &[Digits::of(value).as_str()]);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.takes_shortcut(field.name()) {
            return self.by_default(field, |v, f| v.record_i64(f, value));
        }
        let sign = if value < 0 { "-" } else { "" };
        self.result = self.plain_field(field.name(), &[sign, Digits::of(value.unsigned_abs()).as_str()]);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.by_default(field, |v, f| v.record_debug(f, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.by_default(field, |v, f| v.record_error(f, value));
    }
}

impl FieldWriter<'_> {
    /// Whether this field may take a shortcut: not the message, not log
    /// metadata, not a raw identifier, nothing failed before.
    fn takes_shortcut(&self, name: &str) -> bool {
        self.result.is_ok() && name != "message" && !name.starts_with("log.") && !name.starts_with("r#")
    }

    /// ` name=` and then `parts`, the separator left out before the first
    /// field.
    fn plain_field(&mut self, name: &str, parts: &[&str]) -> fmt::Result {
        let pad = if self.is_empty { "" } else { " " };
        self.is_empty = false;
        [pad, name, "="].iter().chain(parts).try_for_each(|p| self.writer.write_str(p))
    }
}

/// An integer's decimal digits, written without the formatting machinery.
#[derive(Debug)]
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    fn of(mut n: u64) -> Self {
        let mut d = Self { buf: [b'0'; 20], start: 20 };
        loop {
            d.start -= 1;
            if let Some(slot) = d.buf.get_mut(d.start) {
                *slot = u8::try_from(n % 10).map_or(b'0', |digit| b'0' + digit);
            }
            n /= 10;
            if n == 0 || d.start == 0 {
                return d;
            }
        }
    }

    fn as_str(&self) -> &str {
        self.buf.get(self.start..).and_then(|d| std::str::from_utf8(d).ok()).unwrap_or("0")
    }
}

impl VisitOutput<fmt::Result> for FieldWriter<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

impl VisitFmt for FieldWriter<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What one event comes to, with the given field formatter.
    fn line(fields: impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static) -> String {
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let subscriber = tracing_subscriber::fmt()
            .without_time()
            .with_ansi(false)
            .fmt_fields(fields)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let error = std::io::Error::other("disk \"full\"");
            tracing::info!(
                request_id = "0f3a-77",
                route = "default",
                quoted = "say \"hi\"",
                newline = "a\nb",
                unicode = "Zoë",
                empty = "",
                status = 201u16,
                zero = 0u64,
                largest = u64::MAX,
                below = -42i64,
                smallest = i64::MIN,
                r#type = 7u64,
                duration_ms = 1.25,
                shown = %"display: no quotes",
                error = &error as &(dyn std::error::Error + 'static),
                trace_id = Option::<&str>::None,
                "request {}", "done"
            );
            tracing::warn!(only = "plain", "second");
        });
        let bytes = out.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fields_are_written_byte_for_byte_as_tracing_subscriber_writes_them() {
        let ours = line(Fields);
        let theirs = line(tracing_subscriber::fmt::format::DefaultFields::new());
        assert_eq!(ours, theirs);
        assert!(ours.contains(r#"route="default" quoted="say \"hi\"" newline="a\nb""#), "{ours}");
    }

    #[test]
    fn only_printable_ascii_without_quotes_or_backslashes_is_plain() {
        assert!(plain("default") && plain("") && plain("a b/c:d"));
        assert!(!plain("a\"b") && !plain("a\\b") && !plain("a\nb") && !plain("Zoë") && !plain("\u{7f}"));
    }
}
