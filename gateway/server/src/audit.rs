//! The provisioning audit trail: a record per provisioning write, written
//! off the request path through a bounded queue in batches, into SQLite
//! (embedded) or PostgreSQL (shared by replicas).
//!
//! The queue's room is taken before a write is forwarded ([`Audit::admit`]),
//! so under `on_failure = "block"` nothing provisioned goes unrecorded: a
//! write that finds no room within `max_wait` is answered 503 before it
//! reaches the backend. A deprovisioning never waits for the trail and is
//! never refused for it ([`admission`] is the one place that says so); a
//! record the queue cannot take is counted and, for a deprovisioning,
//! logged at error.

pub mod changes;
pub mod record;
pub mod store;
pub mod trail;

use crate::error::GatewayError;
use crate::metrics::Metrics;
use record::Record;
use scim_core::Intent;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use store::{PostgresStore, SqliteStore, Store};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

pub use changes::{ChangeLog, Stage, Values};
pub use trail::{Entry, Trail};

/// Where the records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// A SQLite file (`sqlite://path`, relative to the config file).
    Sqlite(PathBuf),
    /// A PostgreSQL URL without its password.
    Postgres(String),
}

/// A secret kept out of the config text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Secret {
    /// An environment variable's value.
    Env(String),
    /// A file's content, trimmed.
    File(PathBuf),
}

impl Secret {
    /// Reads the secret.
    pub fn read(&self) -> Result<String, String> {
        let value = match self {
            Self::Env(name) => std::env::var(name).map_err(|_| format!("environment variable {name} is not set"))?,
            Self::File(path) => crate::mapping::read_bounded(path).map_err(|e| e.to_string())?,
        };
        Ok(value.trim().to_owned())
    }
}

/// What happens to a write when the trail has no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Wait for room up to `max_wait`, else answer 503 before forwarding.
    Block,
    /// Forward anyway; the record is dropped and counted.
    Drop,
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    pub url: StoreUrl,
    /// Where the PostgreSQL password is read from at start.
    pub password: Option<Secret>,
    /// A CA (PEM) PostgreSQL's certificate is checked against, besides the
    /// system's roots.
    pub ca_file: Option<PathBuf>,
    pub values: Values,
    pub on_failure: OnFailure,
    /// Records the queue holds before writes wait (or drop).
    pub queue: usize,
    /// Most records one insert carries.
    pub batch: usize,
    /// Longest a write waits for room under `block`.
    pub max_wait: Duration,
    pub max_age: Duration,
    pub max_rows: u64,
    pub prune_every: Duration,
    /// This replica's name in its records.
    pub replica: String,
}

impl AuditSettings {
    /// The defaults: a SQLite file, `paths`, `block`, 90 days.
    pub fn sqlite(path: PathBuf) -> Self {
        Self {
            url: StoreUrl::Sqlite(path),
            password: None,
            ca_file: None,
            values: Values::Paths,
            on_failure: OnFailure::Block,
            queue: 10_000,
            batch: 256,
            max_wait: Duration::from_secs(5),
            max_age: Duration::from_secs(90 * 86_400),
            max_rows: 10_000_000,
            prune_every: Duration::from_secs(600),
            replica: replica_name(),
        }
    }
}

/// The host name, else `scim-gateway`.
pub fn replica_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "scim-gateway".into())
}

/// Records on their way to the store, with the queue room they hold.
struct Queued {
    records: Vec<Record>,
    room: Option<OwnedSemaphorePermit>,
}

/// The running trail: the queue, its writer and the store.
pub struct Audit {
    pub settings: AuditSettings,
    store: Arc<dyn Store>,
    tx: mpsc::UnboundedSender<Queued>,
    room: Arc<Semaphore>,
    metrics: Arc<Metrics>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Opens the store the settings name.
pub async fn open_store(settings: &AuditSettings) -> Result<Arc<dyn Store>, store::StoreError> {
    match &settings.url {
        StoreUrl::Sqlite(path) => {
            let path = path.clone();
            let s = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| store::StoreError(e.to_string()))??;
            Ok(Arc::new(s))
        }
        StoreUrl::Postgres(url) => {
            let password = settings.password.as_ref().map(Secret::read).transpose().map_err(store::StoreError)?;
            Ok(Arc::new(PostgresStore::new(url, password, settings.ca_file.as_deref())?))
        }
    }
}

/// Whether a write may go on without room in the queue, and whether it
/// waits for room: the one answer to "does the trail hold this write up?".
pub fn admission(policy: OnFailure, intent: Intent) -> Admission {
    match (intent.is_deprovision(), policy) {
        (true, _) => Admission::TakeIfFree,
        (false, OnFailure::Drop) => Admission::TakeIfFree,
        (false, OnFailure::Block) => Admission::WaitOrRefuse,
    }
}

/// See [`admission`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Take room if there is some; go on either way.
    TakeIfFree,
    /// Wait for room up to `max_wait`; refuse the write (503) without it.
    WaitOrRefuse,
}

impl Audit {
    /// Opens the store and starts the writer and the pruner on this runtime.
    pub async fn start(settings: AuditSettings, metrics: Arc<Metrics>) -> Result<Arc<Self>, store::StoreError> {
        let store = open_store(&settings).await?;
        Ok(Self::with_store(settings, store, metrics))
    }

    /// Starts the writer and pruner over a store already open (tests).
    pub fn with_store(settings: AuditSettings, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Arc<Self> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let room = Arc::new(Semaphore::new(settings.queue));
        let writer = Writer {
            store: store.clone(),
            metrics: metrics.clone(),
            room: room.clone(),
            capacity: settings.queue,
            batch: settings.batch,
        };
        let tasks = vec![
            tokio::spawn(writer.run(rx, stop_rx.clone())),
            tokio::spawn(prune_loop(store.clone(), settings.clone(), stop_rx)),
        ];
        Arc::new(Self { settings, store, tx, room, metrics, tasks: std::sync::Mutex::new(tasks), stop })
    }

    /// The store, for queries.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Takes room for `n` records before a write is forwarded, as
    /// [`admission`] says for its intent. `Err`: refused (503, nothing
    /// forwarded).
    pub async fn admit(&self, n: usize, intent: Intent) -> Result<Option<OwnedSemaphorePermit>, GatewayError> {
        let n = u32::try_from(n.clamp(1, self.settings.queue)).unwrap_or(1);
        let taken = self.room.clone().try_acquire_many_owned(n).ok();
        match (taken, admission(self.settings.on_failure, intent)) {
            (Some(room), _) => Ok(Some(room)),
            (None, Admission::TakeIfFree) => Ok(None),
            (None, Admission::WaitOrRefuse) => {
                match tokio::time::timeout(self.settings.max_wait, self.room.clone().acquire_many_owned(n)).await {
                    Ok(Ok(room)) => Ok(Some(room)),
                    _ => {
                        self.metrics.audit_refused.inc();
                        Err(GatewayError::AuditUnavailable)
                    }
                }
            }
        }
    }

    /// Queues a request's records with the room taken for them; records
    /// without room take what is free, else are dropped and counted.
    pub fn submit(&self, records: Vec<Record>, room: Option<OwnedSemaphorePermit>) {
        let need = u32::try_from(records.len()).unwrap_or(u32::MAX);
        let room = match room {
            Some(mut r) if r.num_permits() < need as usize => {
                match self.room.clone().try_acquire_many_owned(need - u32::try_from(r.num_permits()).unwrap_or(0)) {
                    Ok(more) => {
                        r.merge(more);
                        Some(r)
                    }
                    Err(_) => return self.dropped(&records, "queue_full"),
                }
            }
            Some(r) => Some(r),
            None => match self.room.clone().try_acquire_many_owned(need.max(1)) {
                Ok(r) => Some(r),
                Err(_) => return self.dropped(&records, "queue_full"),
            },
        };
        self.set_depth();
        if let Err(mpsc::error::SendError(q)) = self.tx.send(Queued { records, room }) {
            self.dropped(&q.records, "shutdown");
        }
    }

    fn dropped(&self, records: &[Record], reason: &str) {
        for r in records {
            let deprovisioning = if r.deprovisioning { "true" } else { "false" };
            self.metrics.audit_dropped.with_label_values(&[reason, deprovisioning]).inc();
            if r.deprovisioning {
                tracing::error!(
                    record = %r.id, route = %r.route, resource_id = r.resource_id.as_deref().unwrap_or("-"),
                    status = r.status, reason,
                    "a deprovisioning went through but its audit record could not be queued"
                );
            }
        }
    }

    fn set_depth(&self) {
        self.metrics.audit_queue.set(i64::try_from(self.settings.queue - self.room.available_permits()).unwrap_or(0));
    }

    /// Stops taking records, writes what is queued within `deadline`, and
    /// counts what could not be written as dropped.
    pub async fn shutdown(&self, deadline: Duration) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        let all = futures_join(tasks);
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!("the audit writer did not finish within the shutdown deadline");
        }
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

/// The task that writes queued records in batches, retrying a failed batch
/// (its records keep their room, so a store outage fills the queue and
/// `block` starts waiting).
struct Writer {
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    room: Arc<Semaphore>,
    capacity: usize,
    batch: usize,
}

impl Writer {
    async fn run(self, mut rx: mpsc::UnboundedReceiver<Queued>, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            let first = tokio::select! {
                q = rx.recv() => q,
                _ = stop.changed() => rx.try_recv().ok(),
            };
            let Some(first) = first else { break };
            let (mut records, mut rooms) = (first.records, vec![first.room]);
            while records.len() < self.batch {
                match rx.try_recv() {
                    Ok(q) => {
                        records.extend(q.records);
                        rooms.push(q.room);
                    }
                    Err(_) => break,
                }
            }
            let stopping = *stop.borrow();
            self.write(&records, stopping).await;
            drop(rooms);
            let used = self.capacity.saturating_sub(self.room.available_permits());
            self.metrics.audit_queue.set(i64::try_from(used).unwrap_or(0));
        }
        // Stopping: whatever is still queued is lost, and counted.
        while let Ok(q) = rx.try_recv() {
            self.count_lost(&q.records);
        }
    }

    /// Writes one batch, retrying with backoff until it lands (or, when
    /// stopping, once more).
    async fn write(&self, records: &[Record], stopping: bool) {
        let mut wait = Duration::from_millis(50);
        loop {
            let started = std::time::Instant::now();
            match self.store.insert(records).await {
                Ok(()) => {
                    self.metrics.audit_write_duration.observe(started.elapsed().as_secs_f64());
                    self.metrics.audit_written.inc_by(records.len() as u64);
                    return;
                }
                Err(e) => {
                    self.metrics.audit_store_errors.inc();
                    tracing::warn!(error = %e, records = records.len(), "audit records not written yet; retrying");
                    if stopping {
                        return self.count_lost(records);
                    }
                }
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(5));
        }
    }

    fn count_lost(&self, records: &[Record]) {
        for r in records {
            let d = if r.deprovisioning { "true" } else { "false" };
            self.metrics.audit_dropped.with_label_values(&["shutdown", d]).inc();
        }
        tracing::error!(records = records.len(), "audit records lost at shutdown: the store did not take them");
    }
}

/// Deletes records past the retention, at start and every `prune_every`.
async fn prune_loop(store: Arc<dyn Store>, settings: AuditSettings, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(settings.prune_every);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        match store.prune(settings.max_age, settings.max_rows).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "audit records past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "audit retention not applied this time"),
        }
    }
}
