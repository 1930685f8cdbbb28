//! Worker threads: one single-threaded tokio runtime per thread, each
//! serving whole connections. A connection, its requests and the upstream
//! connections they use stay on one thread, so a request never waits for a
//! cross-thread wake-up or contends for a shared scheduler (see
//! docs/benchmarks.md for what that saves).

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

thread_local! {
    static INDEX: Cell<Option<usize>> = const { Cell::new(None) };
}

/// The index of the worker running the caller, if it runs on one.
pub(crate) fn current() -> Option<usize> {
    INDEX.with(Cell::get)
}

/// A fixed set of worker threads.
#[derive(Debug)]
pub(crate) struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
    stops: Mutex<Vec<oneshot::Sender<()>>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts `count` workers (at least one).
    pub(crate) fn start(count: usize) -> std::io::Result<Self> {
        let count = count.max(1);
        let (mut handles, mut stops, mut threads) = (Vec::new(), Vec::new(), Vec::new());
        for index in 0..count {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            handles.push(runtime.handle().clone());
            stops.push(stop);
            let thread = std::thread::Builder::new().name(format!("scim-worker-{index}")).spawn(move || {
                INDEX.with(|i| i.set(Some(index)));
                // Runs until told to stop (or the sender is dropped); dropping
                // the runtime then drops whatever tasks are left.
                runtime.block_on(async move {
                    let _ = stopped.await;
                });
            })?;
            threads.push(thread);
        }
        Ok(Self { handles, next: AtomicUsize::new(0), stops: Mutex::new(stops), threads: Mutex::new(threads) })
    }

    /// How many workers there are.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.handles.len()
    }

    /// Runs `task` on the next worker, round robin.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.handles.len().max(1);
        if let Some(handle) = self.handles.get(n) {
            drop(handle.spawn(task));
        }
    }

    /// Stops every worker and waits for its thread to end. Blocks: call it
    /// from outside the workers, off any async runtime's own threads.
    pub(crate) fn stop(&self) {
        let stops = self.stops.lock().map(|mut s| std::mem::take(&mut *s)).unwrap_or_default();
        for stop in stops {
            let _ = stop.send(());
        }
        let threads = self.threads.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default();
        for thread in threads {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};

    #[test]
    fn tasks_are_spread_round_robin_and_know_their_worker() {
        let workers = Workers::start(3).unwrap();
        assert_eq!(workers.count(), 3);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        for _ in 0..6 {
            let seen = seen.clone();
            let tx = tx.clone();
            workers.spawn(async move {
                seen.lock().unwrap().push(current());
                tx.send(()).unwrap();
            });
        }
        for _ in 0..6 {
            rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        }
        let seen = seen.lock().unwrap().clone();
        let distinct: HashSet<_> = seen.iter().copied().collect();
        assert_eq!(distinct, HashSet::from([Some(0), Some(1), Some(2)]));
        assert_eq!(current(), None, "the test thread is no worker");
        workers.stop();
    }

    #[test]
    fn zero_workers_means_one() {
        let workers = Workers::start(0).unwrap();
        assert_eq!(workers.count(), 1);
        workers.stop();
    }
}
