//! Graceful shutdown of the connections a listener accepted: when the
//! listener stops, each connection is told to finish the request it is on
//! and close, an idle one at once, and the listener waits until every one
//! has closed.
//!
//! What hyper-util's `GracefulShutdown` does, without its cost on every
//! request: there, each poll of a connection also polls a watch channel's
//! `changed()` (a notification's waiter checked and its waker compared).
//! Here a connection registers its task's waker once, and again only when
//! its task's waker changes; each poll after that reads one flag.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Waker;
use tokio::sync::Notify;

/// The listener's side: hands out a [`Watcher`] per connection, and
/// [`Drain::shutdown`] tells them all.
#[derive(Debug, Default)]
pub struct Drain {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    /// Set once, by [`Drain::shutdown`].
    draining: AtomicBool,
    /// Wakes every connection waiting on `draining`.
    told: Notify,
    /// Watchers not dropped yet.
    open: AtomicUsize,
    /// Wakes the shutdown when the last watcher is dropped.
    closed: Notify,
}

/// One connection's side; the connection counts as open until it is
/// dropped.
#[derive(Debug)]
pub struct Watcher {
    shared: Arc<Shared>,
}

impl Drain {
    pub fn new() -> Self {
        Self::default()
    }

    /// A watcher for one more connection.
    pub fn watcher(&self) -> Watcher {
        self.shared.open.fetch_add(1, Ordering::SeqCst);
        Watcher { shared: self.shared.clone() }
    }

    /// Tells every connection to close once it is idle, and waits until
    /// all of them have (their watchers dropped).
    pub async fn shutdown(self) {
        self.shared.draining.store(true, Ordering::SeqCst);
        self.shared.told.notify_waiters();
        loop {
            let mut closed = pin!(self.shared.closed.notified());
            closed.as_mut().enable();
            if self.shared.open.load(Ordering::SeqCst) == 0 {
                return;
            }
            closed.await;
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        if self.shared.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.shared.closed.notify_waiters();
        }
    }
}

impl Watcher {
    /// Runs `conn` to its end; once shutdown begins, `close` is called on
    /// it once (hyper's `graceful_shutdown`).
    pub async fn watch<C: Future>(self, conn: C, close: impl FnOnce(Pin<&mut C>)) -> C::Output {
        let mut conn = pin!(conn);
        let mut told = pin!(self.shared.told.notified());
        let mut close = Some(close);
        let mut registered: Option<Waker> = None;
        poll_fn(|cx| {
            if close.is_some() {
                // The waiter is registered before the flag is read: a
                // shutdown either sees the waiter or is seen here.
                if !registered.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    let _ = told.as_mut().poll(cx);
                    registered = Some(cx.waker().clone());
                }
                if self.shared.draining.load(Ordering::SeqCst) {
                    close.take().into_iter().for_each(|close| close(conn.as_mut()));
                }
            }
            conn.as_mut().poll(cx)
        })
        .await
    }
}

#[cfg(test)]
mod tests;
