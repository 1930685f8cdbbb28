//! The log line's timestamp, as tracing-subscriber's `SystemTime` writes
//! it (RFC 3339 in UTC with microseconds: `2026-12-04T23:46:19.123456Z`),
//! with the part up to the second worked out once a second per thread
//! instead of for every line. A time this cannot write as four-digit years
//! (before 1970, after 9999) goes to tracing-subscriber's own timer.

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;

/// The timer: `tracing_subscriber::fmt().with_timer(Clock)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Clock;

impl FormatTime for Clock {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) if since.as_secs() < LAST_FOUR_DIGIT_SECOND => write_stamp(w, since),
            _ => tracing_subscriber::fmt::time::SystemTime.format_time(w),
        }
    }
}

/// 10000-01-01T00:00:00Z, in seconds since the epoch.
const LAST_FOUR_DIGIT_SECOND: u64 = 253_402_300_800;

thread_local! {
    /// The last second written on this thread, and its text up to the second.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes the time `since` the epoch (before 10000-01-01).
fn write_stamp(w: &mut dyn fmt::Write, since: Duration) -> fmt::Result {
    let secs = since.as_secs();
    SECOND.with(|cell| {
        let mut second = cell.borrow_mut();
        if second.0 != secs {
            *second = (secs, up_to_the_second(secs));
        }
        w.write_str(&second.1)
    })?;
    let fraction = fraction(since.subsec_micros());
    w.write_str(std::str::from_utf8(&fraction).map_err(|_| fmt::Error)?)
}

/// `YYYY-MM-DDTHH:MM:SS` of a second since the epoch.
fn up_to_the_second(secs: u64) -> String {
    let at = i64::try_from(secs).ok().and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok());
    let Some(t) = at else { return String::new() };
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `.uuuuuuZ`: the microseconds, six digits.
fn fraction(micros: u32) -> [u8; 8] {
    let mut out = *b".000000Z";
    for (slot, power) in out.iter_mut().skip(1).zip([100_000, 10_000, 1_000, 100, 10, 1]) {
        *slot = b'0' + u8::try_from(micros / power % 10).unwrap_or(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stamp(since: Duration) -> String {
        let mut out = String::new();
        write_stamp(&mut out, since).unwrap();
        out
    }

    /// The same instant as the `time` crate writes it.
    fn theirs(since: Duration) -> String {
        let t = time::OffsetDateTime::UNIX_EPOCH + since;
        let format =
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
        t.format(format).unwrap()
    }

    fn same_as_theirs(secs: u64, micros: u32) -> Result<(), TestCaseError> {
        let since = Duration::new(secs, micros * 1_000 + 999);
        prop_assert_eq!(stamp(since), theirs(since), "{} s {} µs", secs, micros);
        Ok(())
    }

    #[test]
    fn stamps_at_day_year_and_range_edges_are_rfc3339_with_microseconds() {
        let edges = [0, 59, 86_399, 951_782_400, 1_798_761_599, LAST_FOUR_DIGIT_SECOND - 1];
        for secs in edges {
            for micros in [0, 1, 999_999] {
                same_as_theirs(secs, micros).unwrap();
            }
        }
    }

    proptest! {
        /// The second instant falls in the same second as the first, so the
        /// cached part is both written and reused; the third in a second
        /// soon after, often in the same minute, hour and day.
        #[test]
        fn stamps_are_rfc3339_with_microseconds_whether_the_second_is_new_or_not(
            secs in 0..LAST_FOUR_DIGIT_SECOND - 90_000,
            micros in 0..1_000_000_u32,
            again in 0..1_000_000_u32,
            later in prop_oneof![1..60_u64, 1..90_000_u64],
        ) {
            same_as_theirs(secs, micros)?;
            same_as_theirs(secs, again)?;
            same_as_theirs(secs + later, micros)?;
        }
    }

    #[test]
    fn the_clock_writes_what_tracing_subscribers_timer_writes() {
        let write = |timer: &dyn FormatTime| {
            let mut out = String::new();
            timer.format_time(&mut Writer::new(&mut out)).unwrap();
            out
        };
        // Up to the second they agree, unless a second turned in between.
        let same_second = (0..5).any(|_| {
            let (ours, tracing) = (write(&Clock), write(&tracing_subscriber::fmt::time::SystemTime));
            assert_eq!(ours.len(), tracing.len(), "{ours} / {tracing}");
            assert!(ours.ends_with('Z') && ours.as_bytes().get(19) == Some(&b'.'), "{ours}");
            ours.get(..19) == tracing.get(..19)
        });
        assert!(same_second);
    }
}
