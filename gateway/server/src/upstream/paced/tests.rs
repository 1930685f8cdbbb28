use super::*;
use crate::config::RateLimit;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};

#[test]
fn retry_after_reads_seconds_and_http_dates() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777); // Sun, 06 Nov 1994 08:49:37 GMT
    let at = |v: &str| {
        let mut h = HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, HeaderValue::from_str(v).unwrap());
        retry_after(&h, now)
    };
    assert_eq!(at("7"), Some(Duration::from_secs(7)));
    assert_eq!(at("Sun, 06 Nov 1994 08:49:47 GMT"), Some(Duration::from_secs(10)));
    assert_eq!(at("Sun, 06 Nov 1994 08:49:00 GMT"), Some(Duration::ZERO), "a date in the past: now");
    assert_eq!(at("soon"), None);
    assert_eq!(at("86400"), Some(Duration::from_secs(86400)), "however long: the budget decides");
    assert_eq!(retry_after(&HeaderMap::new(), now), None);
}

fn limiter(per_second: u32, burst: u32, queue: usize, max_wait_ms: u64) -> Limiter {
    Limiter::new(RateLimit { per_second, burst, queue, max_wait: Duration::from_millis(max_wait_ms) })
}

#[test]
fn a_burst_goes_at_once_then_requests_are_spaced_by_the_rate() {
    let l = limiter(10, 3, 100, 10_000);
    let now = Instant::now();
    let waits: Vec<Duration> = (0..5).map(|_| l.reserve(now).unwrap()).collect();
    let ms: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
    assert_eq!(ms, [0, 0, 0, 100, 200]);
    assert_eq!(l.waiting.load(Ordering::SeqCst), 2, "the two that wait are in the queue");
    // A second later the bucket has refilled.
    let later = now + Duration::from_secs(2);
    l.waiting.store(0, Ordering::SeqCst);
    assert_eq!(l.reserve(later).unwrap(), Duration::ZERO);
}

#[test]
fn a_full_queue_or_a_wait_over_the_limit_is_refused_with_the_wait() {
    let l = limiter(1, 1, 1, 60_000);
    let now = Instant::now();
    assert_eq!(l.reserve(now).unwrap(), Duration::ZERO);
    assert_eq!(l.reserve(now).unwrap(), Duration::from_secs(1));
    assert_eq!(l.reserve(now).unwrap_err(), Duration::from_secs(2), "the queue holds one");
    let l = limiter(1, 1, 100, 1500);
    assert!(l.reserve(now).is_ok() && l.reserve(now).is_ok());
    assert_eq!(l.reserve(now).unwrap_err(), Duration::from_secs(2), "a 2 s wait is over max_wait");
}

/// An upstream answering from a list of statuses, counting calls.
#[derive(Debug)]
struct Script {
    statuses: Mutex<Vec<u16>>,
    calls: AtomicUsize,
}

impl Upstream for Script {
    fn call(&self, _: Forward) -> ReplyFuture<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let mut s = self.statuses.lock().unwrap();
        let status = if s.len() > 1 { s.remove(0) } else { s[0] };
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("0"));
        let reply = Reply { status: StatusCode::from_u16(status).unwrap(), headers, body: Bytes::new() };
        Box::pin(async move { Ok(reply) })
    }
    fn base_url(&self) -> &str {
        "http://backend"
    }
}

async fn run(statuses: Vec<u16>, method: Method, busy_retries: u32) -> (u16, usize, f64) {
    let script = Arc::new(Script { statuses: Mutex::new(statuses), calls: AtomicUsize::new(0) });
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(Metrics::register(&registry).unwrap());
    let settings = PaceSettings { rate_limit: None, busy_retries, busy_budget: Duration::from_secs(10) };
    let paced = Paced::new(script.clone(), settings, metrics.clone(), "r");
    let f = Forward { method, path: "/Users".into(), query: None, headers: HeaderMap::new(), body: Bytes::new() };
    let reply = paced.call(f).await.unwrap();
    let retries = metrics.upstream_retries.with_label_values(&["r", "429"]).get()
        + metrics.upstream_retries.with_label_values(&["r", "529"]).get();
    (reply.status.as_u16(), script.calls.load(Ordering::SeqCst), retries as f64)
}

#[tokio::test]
async fn idempotent_requests_are_retried_on_429_and_529_within_the_budget() {
    assert_eq!(run(vec![429, 529, 200], Method::GET, 2).await, (200, 3, 2.0));
    assert_eq!(run(vec![529, 200], Method::PUT, 2).await, (200, 2, 1.0));
    assert_eq!(
        run(vec![429], Method::DELETE, 2).await,
        (429, 3, 2.0),
        "the last answer goes back when retries run out"
    );
}

#[tokio::test]
async fn other_requests_and_other_errors_are_not_retried() {
    assert_eq!(run(vec![429, 200], Method::POST, 2).await, (429, 1, 0.0));
    assert_eq!(run(vec![429, 200], Method::PATCH, 2).await, (429, 1, 0.0));
    assert_eq!(run(vec![503, 200], Method::GET, 2).await, (503, 1, 0.0));
    assert_eq!(run(vec![429, 200], Method::GET, 0).await, (429, 1, 0.0));
}

#[tokio::test]
async fn a_post_with_nothing_to_retry_still_keeps_the_rate_limit() {
    let script = Arc::new(Script { statuses: Mutex::new(vec![201]), calls: AtomicUsize::new(0) });
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(Metrics::register(&registry).unwrap());
    let limit = RateLimit { per_second: 1, burst: 1, queue: 0, max_wait: Duration::from_secs(60) };
    let settings = PaceSettings { rate_limit: Some(limit), busy_retries: 0, busy_budget: Duration::from_secs(10) };
    let paced = Paced::new(script.clone(), settings, metrics.clone(), "r");
    let post = || Forward {
        method: Method::POST,
        path: "/Users".into(),
        query: None,
        headers: HeaderMap::new(),
        body: Bytes::new(),
    };
    assert_eq!(paced.call(post()).await.unwrap().status.as_u16(), 201);
    assert!(matches!(paced.call(post()).await, Err(UpstreamError::RateLimited(_))), "over the limit, no queue");
    assert_eq!(script.calls.load(Ordering::SeqCst), 1);
    assert_eq!(metrics.rate_limited.with_label_values(&["r"]).get(), 1);
}
