use super::*;
use crate::cli::captured::Captured;
use crate::cli::log_fields::Fields;

/// One time for every line, so that two runs can be compared.
#[derive(Debug, Clone)]
struct Fixed;

impl FormatTime for Fixed {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        w.write_str("2026-12-05T10:00:00.000001Z")
    }
}

/// A timer that fails: the line says `<unknown time>`.
#[derive(Debug, Clone)]
struct Broken;

impl FormatTime for Broken {
    fn format_time(&self, _: &mut Writer<'_>) -> fmt::Result {
        Err(fmt::Error)
    }
}

/// Events of every level, another target, inside a span and with one as
/// explicit parent, a field of every kind the request line has, and a
/// record of the `log` crate (its target is the record's, not `log`).
fn events() {
    tracing::trace!(n = 1u64, "trace line");
    tracing::debug!(quoted = "say \"hi\"", "debug line");
    tracing::info!(request_id = "0f3a", route = "default", status = 201u16, duration_ms = 1.25, error = %"-", "request");
    tracing::warn!(target: "other::place", detail = "a\nb", "warned");
    tracing::error!(error = %std::io::Error::other("disk full"), "failed");
    tracing::info!(fields_only = true);
    let span = tracing::info_span!("job", id = 7u64);
    {
        let _in = span.enter();
        tracing::info!(k = "v", "inside a span");
    }
    tracing::info!(parent: &span, "with an explicit parent");
    tracing::info!(parent: None, "with no parent");
    let args = format_args!("from the log crate");
    let record = log::Record::builder().target("dep::module").level(log::Level::Warn).args(args).build();
    tracing_log::format_trace(&record).unwrap();
}

fn lines<T: FormatTime + Clone + Send + Sync + 'static>(timer: T, with_frame: bool, ansi: bool) -> String {
    let out = Captured::default();
    let builder = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_ansi(ansi)
        .with_timer(timer.clone())
        .fmt_fields(Fields)
        .with_writer(out.clone());
    if with_frame {
        tracing::subscriber::with_default(builder.event_format(Frame::new(timer)).finish(), events);
    } else {
        tracing::subscriber::with_default(builder.finish(), events);
    }
    out.text()
}

#[test]
fn the_frame_writes_every_line_as_the_full_format_does() {
    for ansi in [false, true] {
        let (full, frame) = (lines(Fixed, false, ansi), lines(Fixed, true, ansi));
        assert_eq!(frame, full, "ansi {ansi}");
        assert_eq!(full.lines().count(), 10, "{full}");
    }
    let plain = lines(Fixed, true, false);
    assert!(
        plain.contains(
            "2026-12-05T10:00:00.000001Z  INFO scim_gateway::cli::log_format::tests: request request_id=\"0f3a\""
        ),
        "{plain}"
    );
    assert!(plain.contains("Z  WARN other::place: warned detail=\"a\\nb\"\n"), "{plain}");
    assert!(plain.contains("Z  WARN dep::module: from the log crate"), "{plain}");
}

#[test]
fn a_time_that_cannot_be_written_is_unknown_in_both() {
    let (full, frame) = (lines(Broken, false, false), lines(Broken, true, false));
    assert_eq!(frame, full);
    assert!(frame.starts_with("<unknown time> TRACE "), "{frame}");
}
