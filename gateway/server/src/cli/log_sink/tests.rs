use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A target that records its writes: how many were in flight at once, and
/// whether a long one ever overlapped another.
#[derive(Default)]
struct State {
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
    /// Writes begun so far (only ever goes up).
    arrived: AtomicUsize,
    longs_in_flight: AtomicUsize,
    long_overlapped: AtomicUsize,
    writes: Mutex<Vec<Vec<u8>>>,
    /// Short writes wait here until this many are in flight (or a while).
    meet: usize,
}

/// A [`State`] shared by the sink and the test.
#[derive(Clone, Default)]
struct Recorder(Arc<State>);

impl Recorder {
    fn meeting(meet: usize) -> Self {
        Self(Arc::new(State { meet, ..State::default() }))
    }
}

impl std::ops::Deref for Recorder {
    type Target = State;
    fn deref(&self) -> &State {
        &self.0
    }
}

impl Write for &Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let long = buf.len() > ATOMIC_LINE;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.arrived.fetch_add(1, Ordering::SeqCst);
        self.longs_in_flight.fetch_add(usize::from(long), Ordering::SeqCst);
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        self.check_overlap(long);
        if long {
            std::thread::sleep(Duration::from_millis(2));
        } else {
            let until = Instant::now() + Duration::from_secs(2);
            while self.arrived.load(Ordering::SeqCst) < self.meet && Instant::now() < until {
                std::thread::yield_now();
            }
        }
        self.check_overlap(long);
        self.writes.lock().unwrap().push(buf.to_vec());
        self.longs_in_flight.fetch_sub(usize::from(long), Ordering::SeqCst);
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl State {
    /// Counts a long write with another in flight, or a short one while a
    /// long one is.
    fn check_overlap(&self, long: bool) {
        let others = self.in_flight.load(Ordering::SeqCst) > 1;
        if (long && others) || (!long && self.longs_in_flight.load(Ordering::SeqCst) > 0) {
            self.long_overlapped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn on_threads(sink: &Arc<LogSink<Recorder>>, threads: usize, lines: impl Fn(usize) -> Vec<Vec<u8>> + Sync) {
    std::thread::scope(|s| {
        for t in 0..threads {
            let (sink, lines) = (sink.clone(), &lines);
            s.spawn(move || lines(t).iter().for_each(|l| sink.line(l).unwrap()));
        }
    });
}

#[test]
fn short_lines_from_two_threads_are_written_side_by_side() {
    let sink = Arc::new(LogSink::to(Recorder::meeting(2)));
    on_threads(&sink, 2, |t| vec![format!("short line {t}\n").into_bytes()]);
    assert_eq!(sink.target.most_at_once.load(Ordering::SeqCst), 2, "a lock kept the short lines apart");
    assert_eq!(sink.target.writes.lock().unwrap().len(), 2);
}

#[test]
fn a_line_longer_than_a_pipe_writes_at_once_is_written_alone() {
    let sink = Arc::new(LogSink::to(Recorder::meeting(1)));
    let long = vec![b'x'; ATOMIC_LINE + 1];
    on_threads(&sink, 4, |t| {
        (0..20).map(|i| if (i + t) % 4 == 0 { long.clone() } else { b"short\n".to_vec() }).collect()
    });
    assert_eq!(sink.target.long_overlapped.load(Ordering::SeqCst), 0, "a long line was written beside another");
    assert_eq!(sink.target.writes.lock().unwrap().len(), 80);
}

#[test]
fn a_line_of_exactly_a_pipes_atomic_size_is_short() {
    let sink = Arc::new(LogSink::to(Recorder::meeting(2)));
    on_threads(&sink, 2, |_| vec![vec![b'y'; ATOMIC_LINE]]);
    assert_eq!(sink.target.most_at_once.load(Ordering::SeqCst), 2);
}

/// The lines of many threads, short and long, written into a real pipe
/// (`cat`'s standard input) and read back from `cat`: each whole, none lost.
/// A long line is larger than the pipe holds, so that its write must wait
/// for `cat` partway: without the lock, another line would land in it.
#[cfg(unix)]
#[test]
fn lines_from_many_threads_reach_a_pipe_whole() {
    const LONG: usize = 20 * ATOMIC_LINE;
    let mut cat = Command::new("cat").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let pipe = File::from(std::os::fd::OwnedFd::from(cat.stdin.take().unwrap()));
    let out = cat.stdout.take().unwrap();
    let reader = std::thread::spawn(move || BufReader::new(out).lines().map(Result::unwrap).collect::<Vec<_>>());
    let sink = Arc::new(LogSink::to(pipe));
    std::thread::scope(|s| {
        for t in 0..6_usize {
            let sink = sink.clone();
            s.spawn(move || {
                for i in 0..300_usize {
                    let width = if i % 10 == 0 { LONG } else { 40 + i % 200 };
                    let mark = char::from(b'a' + u8::try_from(t).unwrap());
                    let line = format!("{t} {i} {}\n", mark.to_string().repeat(width));
                    sink.line(line.as_bytes()).unwrap();
                }
            });
        }
    });
    drop(sink);
    let lines = reader.join().unwrap();
    cat.wait().unwrap();
    assert_eq!(lines.len(), 6 * 300);
    for line in &lines {
        let mut parts = line.splitn(3, ' ');
        let (t, i) = (parts.next().unwrap(), parts.next().unwrap().parse::<usize>().unwrap());
        let body = parts.next().unwrap();
        let mark = char::from(b'a' + t.parse::<u8>().unwrap());
        let width = if i % 10 == 0 { LONG } else { 40 + i % 200 };
        assert!(
            body.len() == width && body.chars().all(|c| c == mark),
            "a line was cut or mixed: {}",
            &line[..60.min(line.len())]
        );
    }
}

/// tracing-subscriber hands the sink each event's whole line at once: one
/// write, ending in the newline.
#[test]
fn an_event_reaches_the_sink_as_one_whole_line() {
    let recorder = Recorder::meeting(1);
    let sink = LogSink::to(recorder.clone());
    let subscriber = tracing_subscriber::fmt().without_time().with_ansi(false).with_writer(sink).finish();
    tracing::subscriber::with_default(subscriber, || {
        tracing::info!(route = "default", status = 201u16, "request");
        tracing::warn!(detail = "x".repeat(2 * ATOMIC_LINE), "long");
    });
    let writes = recorder.writes.lock().unwrap().clone();
    assert_eq!(writes.len(), 2, "one write per event");
    let first = String::from_utf8(writes[0].clone()).unwrap();
    assert!(first.contains("request route=\"default\" status=201") && first.ends_with('\n'), "{first}");
    assert!(writes[1].len() > 2 * ATOMIC_LINE && writes[1].ends_with(b"\n"));
}
