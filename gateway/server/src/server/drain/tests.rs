use super::*;
use std::sync::atomic::AtomicUsize;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;

/// A connection that serves until it is told to close, then closes at its
/// next poll; `polls` counts its polls.
struct Conn {
    closing: bool,
    polls: Arc<AtomicUsize>,
}

impl Future for Conn {
    type Output = &'static str;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<&'static str> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.closing { Poll::Ready("closed") } else { Poll::Pending }
    }
}

fn conn() -> (Conn, Arc<AtomicUsize>) {
    let polls = Arc::new(AtomicUsize::new(0));
    (Conn { closing: false, polls: polls.clone() }, polls)
}

fn close(conn: Pin<&mut Conn>) {
    conn.get_mut().closing = true;
}

const SOON: Duration = Duration::from_secs(5);

#[tokio::test]
async fn an_idle_connection_is_woken_told_once_and_the_shutdown_waits_for_it() {
    let drain = Drain::new();
    let (c, polls) = conn();
    let watcher = drain.watcher();
    let task = tokio::spawn(async move { watcher.watch(c, close).await });
    tokio::task::yield_now().await;
    assert_eq!(polls.load(Ordering::SeqCst), 1, "polled once, then idle");
    tokio::time::timeout(SOON, drain.shutdown()).await.expect("the shutdown ends once the connection closed");
    assert_eq!(task.await.unwrap(), "closed");
    assert_eq!(polls.load(Ordering::SeqCst), 2, "woken by the shutdown alone");
}

#[tokio::test]
async fn a_connection_first_polled_after_the_shutdown_began_is_told_at_once() {
    let drain = Drain::new();
    let (c, _) = conn();
    let watcher = drain.watcher();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = rx.await;
        watcher.watch(c, close).await
    });
    let shutdown = tokio::spawn(drain.shutdown());
    tokio::task::yield_now().await;
    tx.send(()).unwrap();
    assert_eq!(tokio::time::timeout(SOON, task).await.unwrap().unwrap(), "closed");
    tokio::time::timeout(SOON, shutdown).await.unwrap().unwrap();
}

#[tokio::test]
async fn the_shutdown_waits_until_every_watcher_is_dropped() {
    let drain = Drain::new();
    tokio::time::timeout(SOON, Drain::new().shutdown()).await.expect("none open: at once");
    let (first, second) = (drain.watcher(), drain.watcher());
    let mut shutdown = tokio::spawn(drain.shutdown());
    drop(first);
    assert!(tokio::time::timeout(Duration::from_millis(50), &mut shutdown).await.is_err(), "one still open");
    drop(second);
    tokio::time::timeout(SOON, shutdown).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_connection_that_ends_by_itself_is_never_told() {
    let drain = Drain::new();
    let told = Arc::new(AtomicUsize::new(0));
    let counted = told.clone();
    let out = drain.watcher().watch(std::future::ready(7), move |_| _ = counted.fetch_add(1, Ordering::SeqCst)).await;
    assert_eq!(out, 7);
    tokio::time::timeout(SOON, drain.shutdown()).await.unwrap();
    assert_eq!(told.load(Ordering::SeqCst), 0);
}
