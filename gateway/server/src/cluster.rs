//! State shared by the replicas of one gateway, on Redis: a lease per
//! resource for the writes built from the current resource (one writer at
//! a time across replicas), each route's rate limit, and the lookups the
//! backend profiles cache. Without `[cluster]` nothing here runs and every
//! guarantee is kept in-process, as for one replica.
//!
//! A lease is a key set if absent with an expiry and a random owner token,
//! renewed while the write runs and released only by its owner, each in
//! one atomic step. A replica that dies holding one blocks that resource
//! only until the lease expires.

use crate::audit::Secret;
use crate::metrics::Metrics;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterSettings {
    /// `redis://host:port/db` or `rediss://` (TLS), without a password.
    pub url: String,
    pub password: Option<Secret>,
    /// This replica's name (in audit records and logs).
    pub replica: String,
    /// Put before every key, so that several gateways can share a Redis.
    pub key_prefix: String,
    /// Longest one Redis call may take.
    pub timeout: Duration,
    /// How long a lease lives unless renewed (renewed every third of it).
    pub lease_ttl: Duration,
    /// How many replicas share a route's rate limit: when Redis fails, each
    /// takes this share of it.
    pub expected_replicas: u32,
}

/// What a write that needs the cluster does when Redis fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnClusterError {
    /// Answer 503 with Retry-After: nothing is written unguarded.
    #[default]
    Refuse,
    /// Go on under this replica's own lock.
    Local,
}

/// What a write does without its lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Without {
    /// Refused with 503 before anything is forwarded.
    Refuse,
    /// Goes on under this replica's own lock (counted).
    Local,
}

/// The one answer to "may this write go on without its lease?": a
/// deprovisioning always may (under the local lock; it is never refused for
/// the cluster); any other write only under `on_cluster_error = "local"`
/// when Redis failed, never when another replica holds the resource.
pub fn without_lease(error: &LeaseError, policy: OnClusterError, intent: scim_core::Intent) -> Without {
    match (intent.is_deprovision(), error, policy) {
        (true, _, _) => Without::Local,
        (false, LeaseError::Down(_), OnClusterError::Local) => Without::Local,
        (false, LeaseError::Down(_), OnClusterError::Refuse) => Without::Refuse,
        (false, LeaseError::Busy, _) => Without::Refuse,
    }
}

/// Why a lease was not taken.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LeaseError {
    /// Another writer held the resource for the whole wait.
    #[error("another write to this resource is still in progress")]
    Busy,
    /// Redis could not be asked.
    #[error("the cluster state (Redis) is unavailable: {0}")]
    Down(String),
}

/// The connections to Redis, shared by every route: one per thread, so
/// that a worker's Redis calls never wake another worker's thread.
pub struct Cluster {
    pub settings: ClusterSettings,
    client: redis::Client,
    manager: ConnectionManagerConfig,
    /// The first connection, for a thread that cannot make its own.
    first: ConnectionManager,
    conns: std::sync::Mutex<std::collections::HashMap<std::thread::ThreadId, ConnectionManager>>,
    /// Until when the lookup caches skip Redis, after a failed call.
    cache_paused_until: std::sync::Mutex<Option<Instant>>,
    metrics: Arc<Metrics>,
    release: Script,
    renew: Script,
    rate: Script,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("replica", &self.settings.replica).finish_non_exhaustive()
    }
}

/// A generic cell rate algorithm on Redis's clock: KEYS[1] holds when the
/// bucket is next empty (µs), KEYS[2] exists while the backend said it is
/// busy. ARGV: interval, tolerance, longest wait (µs). Returns {1, wait} with
/// the slot taken, or {0, wait} when the wait would be too long.
const RATE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, tolerance, max_wait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
local busy = redis.call('PTTL', KEYS[2])
if busy > 0 and busy * 1000 > wait then wait = busy * 1000 end
if wait > max_wait then return {0, wait} end
local next = math.max(tat, now + wait) + interval
redis.call('SET', KEYS[1], next, 'PX', math.floor((next - now) / 1000) + 1000)
return {1, wait}
";

/// A duration in whole milliseconds, as Redis's `PX` takes it.
fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2)
}

/// The longest a lookup-cache call may take (capped by `timeout_ms`).
const CACHE_TIMEOUT: Duration = Duration::from_millis(100);
/// How long the lookup caches skip Redis after a failed call.
const CACHE_PAUSE: Duration = Duration::from_secs(1);

/// Deletes the lease only if this owner still holds it.
const RELEASE: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
/// Extends the lease only if this owner still holds it.
const RENEW: &str =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

impl Cluster {
    /// Makes the (lazy) connection: nothing is asked of Redis until the
    /// first lease, so a replica starts while Redis is down.
    pub fn connect(settings: ClusterSettings, metrics: Arc<Metrics>) -> Result<Arc<Self>, String> {
        let mut info: redis::ConnectionInfo =
            redis::IntoConnectionInfo::into_connection_info(settings.url.as_str()).map_err(|e| e.to_string())?;
        if let Some(secret) = &settings.password {
            let password = secret.read()?;
            let redis_settings = info.redis_settings().clone().set_password(password);
            info = info.set_redis_settings(redis_settings);
        }
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(settings.timeout))
            .set_connection_timeout(Some(settings.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        // Checks the settings once; each thread makes its own later.
        let first =
            ConnectionManager::new_lazy_with_config(client.clone(), config.clone()).map_err(|e| e.to_string())?;
        let conns = std::sync::Mutex::default();
        metrics.cluster_up.set(1);
        let (release, renew, rate) = (Script::new(RELEASE), Script::new(RENEW), Script::new(RATE));
        let cache_paused_until = std::sync::Mutex::new(None);
        Ok(Arc::new(Self {
            settings,
            client,
            manager: config,
            first,
            conns,
            cache_paused_until,
            metrics,
            release,
            renew,
            rate,
        }))
    }

    /// This thread's connection (made, lazily, at its first call).
    fn conn(&self) -> ConnectionManager {
        let mut conns = self.conns.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = std::thread::current().id();
        if let Some(c) = conns.get(&id) {
            return c.clone();
        }
        // The settings were checked at start; should making another fail
        // all the same, this thread shares the first.
        match ConnectionManager::new_lazy_with_config(self.client.clone(), self.manager.clone()) {
            Ok(c) => conns.entry(id).or_insert(c).clone(),
            Err(_) => self.first.clone(),
        }
    }

    fn key(&self, what: &str, name: &str) -> String {
        format!("{}{what}:{name}", self.settings.key_prefix)
    }

    fn failed(&self, operation: &str, e: &redis::RedisError) -> LeaseError {
        self.metrics.cluster_up.set(0);
        self.metrics.cluster_errors.with_label_values(&[operation]).inc();
        LeaseError::Down(e.to_string())
    }

    /// Takes the lease on `resource`, waiting up to `wait` for its holder.
    pub async fn lease(self: &Arc<Self>, resource: &str, wait: Duration) -> Result<Lease, LeaseError> {
        let key = self.key("lease", resource);
        let token = uuid::Uuid::new_v4().to_string();
        let ttl = millis(self.settings.lease_ttl);
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            let mut conn = self.conn();
            let set: Result<Option<String>, _> =
                redis::cmd("SET").arg(&key).arg(&token).arg("NX").arg("PX").arg(ttl).query_async(&mut conn).await;
            match set {
                Ok(Some(_)) => {
                    self.metrics.cluster_up.set(1);
                    self.metrics.cluster_lease_wait.observe(started.elapsed().as_secs_f64());
                    return Ok(Lease::held(self.clone(), key, token));
                }
                Ok(None) if started.elapsed() + pause < wait => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(100));
                }
                Ok(None) => {
                    self.metrics.cluster_lease_wait.observe(started.elapsed().as_secs_f64());
                    return Err(LeaseError::Busy);
                }
                Err(e) => return Err(self.failed("lease", &e)),
            }
        }
    }

    /// A slot in `route`'s shared rate limit: the wait before sending, or
    /// `Err(Ok(wait))` when it would be longer than `max_wait` (nothing
    /// taken); `Err(Err(_))` when Redis failed.
    pub async fn rate(
        &self,
        route: &str,
        interval: Duration,
        tolerance: Duration,
        max_wait: Duration,
    ) -> Result<Duration, Result<Duration, LeaseError>> {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2);
        let mut conn = self.conn();
        let answer: Result<(i64, i64), _> = self
            .rate
            .key(self.key("rate", route))
            .key(self.key("busy", route))
            .arg(us(interval))
            .arg(us(tolerance))
            .arg(us(max_wait))
            .invoke_async(&mut conn)
            .await;
        match answer {
            Ok((taken, wait)) => {
                self.metrics.cluster_up.set(1);
                let wait = Duration::from_micros(u64::try_from(wait).unwrap_or(0));
                if taken == 1 { Ok(wait) } else { Err(Ok(wait)) }
            }
            Err(e) => Err(Err(self.failed("rate", &e))),
        }
    }

    /// Tells the other replicas that the backend asked for `wait` of quiet.
    pub async fn hold_back(&self, route: &str, wait: Duration) {
        let ms = millis(wait).max(1);
        let mut conn = self.conn();
        let set: Result<(), _> =
            redis::cmd("SET").arg(self.key("busy", route)).arg(1).arg("PX").arg(ms).query_async(&mut conn).await;
        if let Err(e) = set {
            self.failed("busy", &e);
        }
    }

    /// A value a replica cached under `key` for every replica, or `None`
    /// (also when Redis failed: a cache miss costs only a lookup).
    pub async fn cached(&self, key: &str) -> Option<String> {
        let mut conn = self.conn();
        let key = self.key("cache", key);
        self.cache_call(async move { conn.get::<_, Option<String>>(key).await }).await.flatten()
    }

    /// Caches `entries` for every replica for `ttl`, in one round trip.
    pub async fn cache(&self, entries: &[(String, String)], ttl: Duration) {
        let ms = millis(ttl).max(1);
        let mut pipe = redis::pipe();
        for (k, v) in entries {
            pipe.cmd("SET").arg(self.key("cache", k)).arg(v).arg("PX").arg(ms).ignore();
        }
        let mut conn = self.conn();
        self.cache_call(async move { pipe.query_async::<()>(&mut conn).await }).await;
    }

    /// Forgets `keys` for every replica.
    pub async fn uncache(&self, keys: &[String]) {
        let keys: Vec<String> = keys.iter().map(|k| self.key("cache", k)).collect();
        let mut conn = self.conn();
        self.cache_call(async move { conn.del::<_, ()>(keys).await }).await;
    }

    /// One call for the lookup caches, which must never hold a request up:
    /// at most `CACHE_TIMEOUT`, and none at all for `CACHE_PAUSE` after one
    /// failed (a hung Redis then costs one short wait a second, not one
    /// per lookup). `None` when it failed or was skipped.
    async fn cache_call<T>(&self, call: impl Future<Output = redis::RedisResult<T>>) -> Option<T> {
        let paused = self.cache_paused_until.lock().ok().and_then(|p| *p).is_some_and(|t| Instant::now() < t);
        if paused {
            return None;
        }
        let error = match tokio::time::timeout(CACHE_TIMEOUT.min(self.settings.timeout), call).await {
            Ok(Ok(value)) => {
                self.metrics.cluster_up.set(1);
                return Some(value);
            }
            Ok(Err(e)) => e,
            Err(_) => redis::RedisError::from((redis::ErrorKind::Io, "the cache call timed out")),
        };
        self.failed("cache", &error);
        if let Ok(mut p) = self.cache_paused_until.lock() {
            *p = Some(Instant::now() + CACHE_PAUSE);
        }
        None
    }

    /// Whether Redis answers now (for the console's health page).
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn();
        let up = tokio::time::timeout(self.settings.timeout, conn.ping::<String>()).await.is_ok_and(|r| r.is_ok());
        self.metrics.cluster_up.set(i64::from(up));
        up
    }
}

/// A held lease: renewed in the background while held, released on drop.
#[derive(Debug)]
pub struct Lease {
    cluster: Arc<Cluster>,
    key: String,
    token: String,
    renewing: tokio::task::JoinHandle<()>,
}

impl Lease {
    fn held(cluster: Arc<Cluster>, key: String, token: String) -> Self {
        let renewing = tokio::spawn(renew_loop(cluster.clone(), key.clone(), token.clone()));
        Self { cluster, key, token, renewing }
    }
}

async fn renew_loop(cluster: Arc<Cluster>, key: String, token: String) {
    let ttl = cluster.settings.lease_ttl;
    let ms = millis(ttl);
    loop {
        tokio::time::sleep(ttl / 3).await;
        let mut conn = cluster.conn();
        let renewed: Result<i64, _> = cluster.renew.key(&key).arg(&token).arg(ms).invoke_async(&mut conn).await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(key, "a write's lease was lost before it finished; the backend's ETag is the guard now");
                return;
            }
            Err(e) => {
                cluster.failed("renew", &e);
            }
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewing.abort();
        let (cluster, key, token) =
            (self.cluster.clone(), std::mem::take(&mut self.key), std::mem::take(&mut self.token));
        // Outside a runtime (a shutdown dropping the request), the lease is
        // left to expire.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let mut conn = cluster.conn();
            let released: Result<i64, _> = cluster.release.key(&key).arg(&token).invoke_async(&mut conn).await;
            if let Err(e) = released {
                cluster.failed("release", &e);
            }
        });
    }
}
