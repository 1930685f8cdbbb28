//! The log line's fields, written exactly as tracing-subscriber's default
//! text format writes them (`name=value`, a string quoted and escaped as
//! Rust's `Debug` does), with a shortcut for the usual string: printable
//! ASCII with no quote or backslash is written as it is, between quotes,
//! instead of going through `Debug` one character at a time. Everything
//! else is handed to tracing-subscriber's own visitor.

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
        let name = field.name();
        if self.result.is_err()
            || name == "message"
            || name.starts_with("log.")
            || name.starts_with("r#")
            || !plain(value)
        {
            return self.by_default(field, |v, f| v.record_str(f, value));
        }
        let pad = if self.is_empty { "" } else { " " };
        self.is_empty = false;
        self.result = write!(self.writer, "{pad}{name}=\"{value}\"");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.by_default(field, |v, f| v.record_debug(f, value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.by_default(field, |v, f| v.record_error(f, value));
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
