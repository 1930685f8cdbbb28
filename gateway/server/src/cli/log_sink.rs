//! Where the log lines go: standard error, each line in one `write`, with
//! no exclusive lock around most of them.
//!
//! std's `Stderr` takes a process-wide lock around every write. Two
//! workers logging at once then meet on it, and the one that waits sleeps
//! in the kernel (a `futex` wait and wake for about a third of the requests
//! under load, from the load harness with `strace`). A line short enough
//! that the kernel writes it whole and at once ([`ATOMIC_LINE`]: a pipe's
//! `PIPE_BUF`; a file's write is one too) needs no exclusive lock: lines
//! that short are written side by side, each by one `write` on a
//! duplicate of the standard error descriptor (the same open file), under
//! a shared lock that never keeps them apart. A longer line could be split
//! by a pipe, and another line land in it: it waits until it can be
//! written alone ([`LogSink::line`]). A write that fails (a closed or
//! non-blocking descriptor) drops its line, as std's handle does.

use std::fs::File;
use std::io::{self, Write};
use std::sync::{PoisonError, RwLock};
use tracing_subscriber::fmt::MakeWriter;

/// The longest line written without taking the lock for itself: what a
/// pipe writes at once (Linux's `PIPE_BUF`; POSIX's least elsewhere).
pub const ATOMIC_LINE: usize = if cfg!(target_os = "linux") { 4096 } else { 512 };

/// The log lines' writer: `tracing_subscriber::fmt().with_writer(sink)`.
#[derive(Debug)]
pub struct LogSink<W = Target> {
    target: W,
    /// Shared by the lines up to [`ATOMIC_LINE`], taken alone by longer ones.
    long: RwLock<()>,
}

/// Standard error: a duplicate of its descriptor, or std's own handle
/// where there is none to duplicate (it was closed, or not on Unix).
#[derive(Debug)]
pub enum Target {
    Duplicate(File),
    Std(io::Stderr),
}

impl LogSink {
    /// A sink writing to standard error.
    pub fn stderr() -> Self {
        Self::to(duplicate_stderr().map_or_else(|| Target::Std(io::stderr()), Target::Duplicate))
    }
}

#[cfg(unix)]
fn duplicate_stderr() -> Option<File> {
    use std::os::fd::AsFd;
    io::stderr().as_fd().try_clone_to_owned().ok().map(File::from)
}

#[cfg(not(unix))]
fn duplicate_stderr() -> Option<File> {
    None
}

impl<W> LogSink<W>
where
    for<'a> &'a W: Write,
{
    /// A sink writing to `target`.
    pub fn to(target: W) -> Self {
        Self { target, long: RwLock::new(()) }
    }

    /// Writes one whole line: beside other short lines when it is short,
    /// else alone.
    pub fn line(&self, line: &[u8]) -> io::Result<()> {
        let mut target = &self.target;
        if line.len() <= ATOMIC_LINE {
            let _beside = self.long.read().unwrap_or_else(PoisonError::into_inner);
            target.write_all(line)
        } else {
            let _alone = self.long.write().unwrap_or_else(PoisonError::into_inner);
            target.write_all(line)
        }
    }
}

impl Write for &Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Target::Duplicate(file) => (&*file).write(buf),
            Target::Std(stderr) => (&*stderr).write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One event's writer. tracing-subscriber hands it the whole formatted
/// line in one `write_all`.
#[derive(Debug)]
pub struct Line<'a, W> {
    sink: &'a LogSink<W>,
}

impl<W> Write for Line<'_, W>
where
    for<'a> &'a W: Write,
{
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sink.line(buf).map(|()| buf.len())
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.sink.line(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W> MakeWriter<'a> for LogSink<W>
where
    W: 'a,
    for<'b> &'b W: Write,
{
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line { sink: self }
    }
}

#[cfg(test)]
mod tests;
