//! The log line's fields, written exactly as tracing-subscriber's default
//! text format writes them (`name=value`, a string quoted and escaped as
//! Rust's `Debug` does), with shortcuts for the usual fields: a string of
//! printable ASCII with no quote or backslash is written as it is, between
//! quotes, instead of going through `Debug` one character at a time, an
//! integer in decimal, and a float of a duration's magnitude (from 1e-4 up
//! to 1e14) by `ryu`, whose shortest digits are `Debug`'s there; all piece
//! by piece, not through `format_args!`; any other value (`%`, `?`, a
//! boolean, a 128-bit integer, bytes) after its name by its own `Debug`,
//! as the default visitor writes it.
//! A message given as a string of printable ASCII (`message = "..."`) is
//! written as it is; any other message, and every field of a line with
//! colours, is handed to tracing-subscriber's own visitor.

use arrayvec::ArrayString;
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
        FieldWriter { writer, is_empty: true, result: Ok(()), gathered: ArrayString::new() }
    }
}

/// How many bytes of plain fields are gathered before they are written:
/// the request's whole log line fits.
const GATHERED: usize = 512;

/// Writes one event's or span's fields.
#[derive(Debug)]
pub struct FieldWriter<'a> {
    writer: Writer<'a>,
    is_empty: bool,
    result: fmt::Result,
    /// The plain fields' pieces not written yet: written in one piece
    /// when full, before anything else is written, and at the end.
    gathered: ArrayString<GATHERED>,
}

/// A string `Debug` would write unchanged between its quotes: printable
/// ASCII without a quote or a backslash, looked at eight bytes at a time
/// (a control character, a quote, a backslash, a byte outside ASCII or
/// DEL stops it).
fn plain(s: &str) -> bool {
    let stops = |w: u64| crate::json::stop_bytes(w) | crate::json::any_byte(w, 0x7f);
    let stop = |b: u8| !(b' '..=b'~').contains(&b) || b == b'"' || b == b'\\';
    !crate::json::any_flagged(s.as_bytes(), stops, stop)
}

impl FieldWriter<'_> {
    /// The field through tracing-subscriber's own visitor.
    fn by_default(&mut self, field: &Field, record: impl FnOnce(&mut DefaultVisitor<'_>, &Field)) {
        self.result = self.result.and_then(|()| self.flush());
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
        if field.name() == "message" && self.result.is_ok() && !self.writer.has_ansi_escapes() && plain(value) {
            return self.result = self.message(value);
        }
        if !self.takes_shortcut(field.name()) || !plain(value) {
            return self.by_default(field, |v, f| v.record_str(f, value));
        }
        self.result = self.plain_field(field.name(), "=\"", &[value, "\""]);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if !self.takes_shortcut(field.name()) {
            return self.by_default(field, |v, f| v.record_u64(f, value));
        }
        self.result = self.plain_field(field.name(), "=", &[Digits::of(value).as_str()]);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if !self.takes_shortcut(field.name()) {
            return self.by_default(field, |v, f| v.record_i64(f, value));
        }
        let sign = if value < 0 { "-" } else { "" };
        self.result = self.plain_field(field.name(), "=", &[sign, Digits::of(value.unsigned_abs()).as_str()]);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if !self.takes_shortcut(field.name()) || !in_decimal(value) {
            return self.by_default(field, |v, f| v.record_f64(f, value));
        }
        self.result = self.plain_field(field.name(), "=", &[ryu::Buffer::new().format_finite(value)]);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if !self.takes_shortcut(field.name()) {
            return self.by_default(field, |v, f| v.record_debug(f, value));
        }
        self.result = self
            .plain_field(field.name(), "=", &[])
            .and_then(|()| self.flush())
            .and_then(|()| write!(self.writer, "{value:?}"));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.by_default(field, |v, f| v.record_error(f, value));
    }
}

impl FieldWriter<'_> {
    /// Whether this field may take a shortcut: not the message, not log
    /// metadata, not a raw identifier, no colours (the name would be in
    /// italics), nothing failed before.
    fn takes_shortcut(&self, name: &str) -> bool {
        let plain_name = name != "message" && !name.starts_with("log.") && !name.starts_with("r#");
        self.result.is_ok() && plain_name && !self.writer.has_ansi_escapes()
    }

    /// A message given as a plain string (`message = "..."`): written as
    /// the default visitor writes it (by `Display`, without its name;
    /// nothing in it for its escaping of control characters to change),
    /// not through the formatting machinery.
    fn message(&mut self, value: &str) -> fmt::Result {
        self.pad()?;
        self.put(value)
    }

    /// ` name`, `opening` (`=`, or `="` before a string) and then `parts`,
    /// the separator left out before the first field.
    fn plain_field(&mut self, name: &str, opening: &str, parts: &[&str]) -> fmt::Result {
        self.pad()?;
        self.put(name)?;
        self.put(opening)?;
        parts.iter().try_for_each(|p| self.put(p))
    }

    /// The space between two fields: none before the first.
    fn pad(&mut self) -> fmt::Result {
        match std::mem::replace(&mut self.is_empty, false) {
            true => Ok(()),
            false => self.put(" "),
        }
    }

    /// `piece` gathered, the gathered pieces written first when it does
    /// not fit; one longer than the whole gathering is written as it is.
    fn put(&mut self, piece: &str) -> fmt::Result {
        // A one-byte piece (a space, `=`, a quote) is pushed as a byte,
        // not copied as a string.
        let pushed = match piece.as_bytes() {
            &[byte] => self.gathered.try_push(char::from(byte)).is_ok(),
            _ => self.gathered.try_push_str(piece).is_ok(),
        };
        if pushed {
            return Ok(());
        }
        self.flush()?;
        match self.gathered.try_push_str(piece) {
            Ok(()) => Ok(()),
            Err(_) => self.writer.write_str(piece),
        }
    }

    /// The gathered pieces written, in one piece.
    fn flush(&mut self) -> fmt::Result {
        if self.gathered.is_empty() {
            return Ok(());
        }
        let written = self.writer.write_str(&self.gathered);
        self.gathered.clear();
        written
    }
}

impl Drop for FieldWriter<'_> {
    /// Nothing gathered is lost, should the writer be dropped unfinished.
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Whether `ryu` writes `value` as `Debug` does. Both write the shortest
/// digits that read back as `value` and, of those, the nearest; they part
/// only on a tie between two nearest, where `value`'s exact decimals end
/// one place after theirs. With `s` the value's step (its last bit is
/// 2^-s), the shortest digits stop within a place of the step's, so a tie
/// needs exact decimals that stop by place 1 + ceil(s log10 2) after the
/// point. A value's exact decimals stop at its last nonzero bit's place
/// (`places`: `s` less the mantissa's trailing zero bits), so one with
/// more than 3 + 0.31 s places cannot tie; a duration's, with no zeros to
/// spare, has `s`. And from 1e-4 up to 1e14 both write decimals.
fn in_decimal(value: f64) -> bool {
    let bits = value.to_bits();
    // value = mantissa * 2^(stored exponent - 1075), for a normal value.
    let stored = i64::try_from(bits >> 52 & 0x7ff).unwrap_or_default();
    let mantissa = bits & ((1 << 52) - 1) | 1 << 52;
    let step_bits = 1075 - stored;
    let places = step_bits - i64::from(mantissa.trailing_zeros());
    (1e-4..1e14).contains(&value.abs()) && places > 3 + step_bits * 31 / 100
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
    fn finish(mut self) -> fmt::Result {
        let flushed = self.flush();
        self.result.and(flushed)
    }
}

impl VisitFmt for FieldWriter<'_> {
    fn writer(&mut self) -> &mut dyn fmt::Write {
        // Whatever is written there comes after what was gathered.
        self.result = self.result.and_then(|()| self.flush());
        &mut self.writer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::captured::Captured;

    /// What one event comes to, with the given field formatter.
    fn line(fields: impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static) -> String {
        line_with(fields, false)
    }

    fn line_with(
        fields: impl for<'w> tracing_subscriber::fmt::FormatFields<'w> + Send + Sync + 'static,
        ansi: bool,
    ) -> String {
        let out = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .without_time()
            .with_ansi(ansi)
            .fmt_fields(fields)
            .with_writer(out.clone())
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
                tiny = 1e-7,
                large = 2.5e17,
                negative = -0.5,
                whole = 3.0,
                not_a_number = f64::NAN,
                shown = %"display: no quotes",
                listed = ?["a", "b"],
                flag = true,
                error = &error as &(dyn std::error::Error + 'static),
                trace_id = Option::<&str>::None,
                "request {}", "done"
            );
            tracing::warn!(only = "plain", "second");
            tracing::info!("bell \x07, escape \x1b[31m, delete \x7f, C1 \u{9b}, Zoë");
            tracing::info!(message = "as a field", status = 200u16);
            tracing::info!(status = 200u16, message = "a string after a field");
            // Past what is gathered: one piece longer than all of it, and
            // fields that fill it between them.
            let (long, half) = ("x".repeat(GATHERED + 88), "y".repeat(GATHERED / 2));
            tracing::info!(first = half.as_str(), long = long.as_str(), status = 201u16, again = half.as_str());
            tracing::info!(a = half.as_str(), b = half.as_str(), c = half.as_str(), shown = %"after", d = 1.5);
            tracing::info!(message = "", status = 204u16);
            tracing::info!(message = "a \"quoted\" bell \x07 and Zoë", route = "default");
        });
        out.text()
    }

    #[test]
    fn fields_are_written_byte_for_byte_as_tracing_subscriber_writes_them() {
        let ours = line(Fields);
        let theirs = line(tracing_subscriber::fmt::format::DefaultFields::new());
        assert_eq!(ours, theirs);
        assert!(ours.contains(r#"route="default" quoted="say \"hi\"" newline="a\nb""#), "{ours}");
        assert!(ours.contains("status=200 a string after a field\n"), "{ours}");
        assert!(ours.contains(&format!("long=\"{}\" status=201", "x".repeat(GATHERED + 88))), "{ours}");
    }

    #[test]
    fn a_line_with_colours_is_written_as_tracing_subscriber_writes_it() {
        let ours = line_with(Fields, true);
        assert_eq!(ours, line_with(tracing_subscriber::fmt::format::DefaultFields::new(), true));
        assert!(ours.contains("\u{1b}[3mroute\u{1b}[0m"), "the name in italics: {ours}");
    }

    #[test]
    fn a_float_is_written_as_debug_writes_it() {
        let ryu_or_debug = |v: f64| {
            if in_decimal(v) { ryu::Buffer::new().format_finite(v).to_owned() } else { format!("{v:?}") }
        };
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let edges = [0.0, -0.0, 1e-4, 1e14, 99_999_999_999_999.98, 0.1, 1.0, 3.0, 0.063, 12_345.678, 6.1e14, 1.25];
        let drawn = (0..300_000).map(|_| {
            let r = next();
            match r % 4 {
                // Durations in milliseconds, to the nanosecond.
                0 => (r >> 8) as f64 % 3_600_000_000.0 / 1e6,
                // Any digits around the range's edges.
                1 => f64::from_bits(r >> 2 | 0x3f00_0000_0000_0000) * if r & 2 == 0 { 1.0 } else { 1e13 },
                // Few bits after the point: where ties are.
                2 => (r >> 12) as f64 / 2f64.powi(i32::try_from(r % 40).unwrap()),
                _ => f64::from_bits(r),
            }
        });
        let (mut decimal, mut ties) = (0, 0);
        for v in edges.into_iter().chain(drawn).filter(|v| v.is_finite()) {
            decimal += usize::from(in_decimal(v));
            let ryu = ryu::Buffer::new().format_finite(v).to_owned();
            ties += usize::from((1e-4..1e14).contains(&v.abs()) && ryu != format!("{v:?}"));
            assert_eq!(ryu_or_debug(v), format!("{v:?}"), "{:#x}", v.to_bits());
        }
        assert!(decimal > 100_000, "most drawn floats take the shortcut: {decimal}");
        assert!(ties > 100, "the drawing reaches ties, where ryu and Debug part: {ties}");
        assert!(in_decimal(0.063) && in_decimal(12_345.678));
        assert!(!in_decimal(f64::NAN) && !in_decimal(f64::INFINITY) && !in_decimal(1e14) && !in_decimal(9e-5));
        assert!(!in_decimal(1.25) && !in_decimal(3.0) && !in_decimal(0.0), "few places: Debug writes them");
    }

    #[test]
    fn only_printable_ascii_without_quotes_or_backslashes_is_plain() {
        assert!(plain("default") && plain("") && plain("a b/c:d"));
        assert!(!plain("a\"b") && !plain("a\\b") && !plain("a\nb") && !plain("Zoë") && !plain("\u{7f}"));
        // Every byte value at every place of strings from 1 to 20 bytes
        // (in the steps of eight and in the rest), against the definition.
        let by_byte = |s: &str| s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
        for len in 1..=20 {
            for at in 0..len {
                for b in 0..=0x7f_u8 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    let s = std::str::from_utf8(&text).unwrap();
                    assert_eq!(plain(s), by_byte(s), "{len} bytes, {b:#x} at {at}");
                }
                let mut text = "a".repeat(len - 1);
                text.insert(at, 'ë');
                assert!(!plain(&text), "non-ASCII at {at} of {len}");
            }
        }
    }
}
