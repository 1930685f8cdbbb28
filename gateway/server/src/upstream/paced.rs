//! Pacing a route's upstream: an optional rate limit (a steady rate with a
//! burst; requests over it wait in a bounded queue or are refused with the
//! time to wait), and retries of idempotent requests that the backend
//! answers 429 or 529, within a bounded time budget and honouring
//! Retry-After. Everything the route sends upstream goes through here:
//! forwards, current-resource reads and lookups alike. With `[cluster]` the
//! rate limit is one for all replicas (kept in Redis), a backend's busy
//! answer holds every replica back, and when Redis fails each replica takes
//! its share of the limit (the rate divided by `expected_replicas`).

use super::{Forward, Reply, ReplyFuture, Upstream, UpstreamError, idempotent};
use crate::cluster::Cluster;
use crate::config::PaceSettings;
use crate::metrics::Metrics;
use http::{HeaderMap, Method};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// Wait when a 429 or 529 carries no usable Retry-After.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// An upstream behind the route's rate limit and busy retries.
#[derive(Debug)]
pub struct Paced {
    inner: Arc<dyn Upstream>,
    limiter: Option<Limiter>,
    settings: PaceSettings,
    metrics: Arc<Metrics>,
    route: String,
    /// The shared limit, and this replica's share for when Redis fails.
    cluster: Option<(Arc<Cluster>, Option<Limiter>)>,
}

impl Paced {
    pub fn new(inner: Arc<dyn Upstream>, settings: PaceSettings, metrics: Arc<Metrics>, route: &str) -> Self {
        let limiter = settings.rate_limit.map(Limiter::new);
        if let Some(limit) = &settings.rate_limit {
            let capacity = i64::try_from(limit.queue).unwrap_or(i64::MAX);
            metrics.rate_limit_capacity.with_label_values(&[route]).set(capacity);
        }
        Self { inner, limiter, settings, metrics, route: route.to_owned(), cluster: None }
    }

    /// The same, its rate limit shared with the other replicas.
    pub fn shared(mut self, cluster: Option<Arc<Cluster>>) -> Self {
        self.cluster = cluster.map(|c| {
            let n = c.settings.expected_replicas.max(1);
            let share = self.settings.rate_limit.map(|r| {
                Limiter::new(crate::config::RateLimit {
                    per_second: (r.per_second / n).max(1),
                    burst: (r.burst / n).max(1),
                    ..r
                })
            });
            (c, share)
        });
        self
    }

    /// A slot in the rate limit: the shared one, else this replica's own
    /// (or its share of the shared one while Redis fails).
    async fn acquire(&self) -> Result<(), UpstreamError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        let Some((cluster, share)) = &self.cluster else { return limiter.acquire(&self.metrics, &self.route).await };
        if limiter.waiting.load(Ordering::SeqCst) >= limiter.queue {
            self.metrics.rate_limited.with_label_values(&[self.route.as_str()]).inc();
            return Err(UpstreamError::RateLimited(limiter.interval));
        }
        match cluster.rate(&self.route, limiter.interval, limiter.tolerance, limiter.max_wait).await {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                let gauge = self.metrics.rate_limit_queue.with_label_values(&[self.route.as_str()]);
                limiter.waiting.fetch_add(1, Ordering::SeqCst);
                let _queued = Queued::enter(gauge, limiter.waiting.clone());
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(Ok(wait)) => {
                self.metrics.rate_limited.with_label_values(&[self.route.as_str()]).inc();
                Err(UpstreamError::RateLimited(wait.max(limiter.interval)))
            }
            Err(Err(_)) => {
                let reason = "rate_limit_share";
                self.metrics.cluster_fallbacks.with_label_values(&[self.route.as_str(), reason]).inc();
                share.as_ref().unwrap_or(limiter).acquire(&self.metrics, &self.route).await
            }
        }
    }

    /// How many times a busy answer to a `method` request is retried: never
    /// for a request that is not idempotent (a POST is never replayed).
    fn busy_retries(&self, method: &Method) -> u32 {
        if idempotent(method) { self.settings.busy_retries } else { 0 }
    }

    async fn paced(&self, request: Forward) -> Result<Reply, UpstreamError> {
        let started = Instant::now();
        let retries = self.busy_retries(&request.method);
        let mut attempt = 0;
        loop {
            self.acquire().await?;
            // The last attempt sends the request itself, not a copy.
            if attempt >= retries {
                return self.inner.call(request).await;
            }
            let reply = self.inner.call(request.clone()).await?;
            let status = reply.status.as_u16();
            if !matches!(status, 429 | 529) {
                return Ok(reply);
            }
            let wait = retry_after(&reply.headers, SystemTime::now()).unwrap_or(DEFAULT_RETRY_AFTER);
            if started.elapsed().saturating_add(wait) > self.settings.busy_budget {
                return Ok(reply);
            }
            let code = if status == 429 { "429" } else { "529" };
            self.metrics.upstream_retries.with_label_values(&[self.route.as_str(), code]).inc();
            if let Some((cluster, _)) = &self.cluster {
                cluster.hold_back(&self.route, wait).await;
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl Upstream for Paced {
    fn call(&self, request: Forward) -> ReplyFuture<'_> {
        // Nothing to pace (no rate limit, no busy retry for this request):
        // the call goes straight on, without a future of its own around it.
        if self.limiter.is_none() && self.busy_retries(&request.method) == 0 {
            return self.inner.call(request);
        }
        crate::pinned_in_place(|| self.paced(request))
    }

    fn base_url(&self) -> &str {
        self.inner.base_url()
    }
}

/// Retry-After as delay-seconds or an HTTP date; `None` when absent or
/// unreadable. However long, it is the backend's word: a wait past the
/// retry budget is not waited for, and the IdP gets the header as sent.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim();
    match text.parse::<u64>() {
        Ok(secs) => Some(Duration::from_secs(secs)),
        Err(_) => Some(httpdate::parse_http_date(text).ok()?.duration_since(now).unwrap_or(Duration::ZERO)),
    }
}

/// The rate limit as a generic cell rate algorithm: `tat` is when the
/// bucket is next empty; a request may start `tolerance` before it.
#[derive(Debug)]
struct Limiter {
    interval: Duration,
    tolerance: Duration,
    queue: usize,
    max_wait: Duration,
    tat: Mutex<Option<Instant>>,
    waiting: Arc<AtomicUsize>,
}

impl Limiter {
    fn new(s: crate::config::RateLimit) -> Self {
        let interval = Duration::from_secs_f64(1.0 / f64::from(s.per_second.max(1)));
        let tolerance = interval * s.burst.max(1).saturating_sub(1);
        let waiting = Arc::new(AtomicUsize::new(0));
        Self { interval, tolerance, queue: s.queue, max_wait: s.max_wait, tat: Mutex::new(None), waiting }
    }

    /// When this request may start, counted in the queue if it must wait;
    /// or the wait it would have had when the queue is full or too slow.
    fn reserve(&self, now: Instant) -> Result<Duration, Duration> {
        let mut tat = self.tat.lock().unwrap_or_else(PoisonError::into_inner);
        let next = tat.map_or(now, |t| t.max(now));
        let start = next.checked_sub(self.tolerance).map_or(now, |t| t.max(now));
        let wait = start.saturating_duration_since(now);
        if wait > self.max_wait || (!wait.is_zero() && self.waiting.load(Ordering::SeqCst) >= self.queue) {
            return Err(wait.max(self.interval));
        }
        *tat = Some(next + self.interval);
        if !wait.is_zero() {
            self.waiting.fetch_add(1, Ordering::SeqCst);
        }
        Ok(wait)
    }

    async fn acquire(&self, metrics: &Metrics, route: &str) -> Result<(), UpstreamError> {
        match self.reserve(Instant::now()) {
            Ok(wait) if wait.is_zero() => Ok(()),
            Ok(wait) => {
                let gauge = metrics.rate_limit_queue.with_label_values(&[route]);
                let _queued = Queued::enter(gauge, self.waiting.clone());
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(wait) => {
                metrics.rate_limited.with_label_values(&[route]).inc();
                Err(UpstreamError::RateLimited(wait))
            }
        }
    }
}

/// A request waiting in the queue; leaves it when done or dropped (a
/// request that timed out while waiting).
struct Queued {
    gauge: prometheus::IntGauge,
    waiting: Arc<AtomicUsize>,
}

impl Queued {
    fn enter(gauge: prometheus::IntGauge, waiting: Arc<AtomicUsize>) -> Self {
        gauge.inc();
        Self { gauge, waiting }
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.gauge.dec();
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests;
