//! The shared store: PostgreSQL, for several replicas writing one trail.
//! The password comes from the environment or a file, never the URL; a
//! lost connection is made again on the next call. TLS (rustls) is used
//! as the URL's `sslmode` says (`require` in production), the server's
//! certificate checked against the system's roots and `ca_file`.

use super::{
    COLUMNS, Filter, INSERT, MIGRATIONS, Param, Store, StoreError, TRACE_INDEX, columns, cutoff_ms, decode, prune_sql,
};
use crate::audit::record::Record;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config};
use tokio_postgres_rustls::MakeRustlsConnect;

/// Longest any one statement may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Records in a PostgreSQL database.
pub struct PostgresStore {
    config: Config,
    tls: MakeRustlsConnect,
    client: Mutex<Option<Client>>,
    /// Whether this process has started building the trace index.
    indexing: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("config", &self.config).finish_non_exhaustive()
    }
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl PostgresStore {
    /// Parses the URL, which must not hold a password. Nothing connects
    /// yet: the first call does, and brings the schema up to date (as
    /// every call after a lost connection does).
    pub fn new(url: &str, password: Option<String>, ca_file: Option<&std::path::Path>) -> Result<Self, StoreError> {
        let mut config: Config = url.parse().map_err(|e| StoreError(format!("the PostgreSQL URL: {e}")))?;
        if config.get_password().is_some() {
            return Err(StoreError(
                "the PostgreSQL URL holds a password; give it with password_env or password_file instead".into(),
            ));
        }
        if let Some(p) = password {
            config.password(p);
        }
        config.connect_timeout(Duration::from_secs(5));
        let tls = crate::upstream::tls_config(ca_file).map_err(|e| StoreError(format!("TLS for PostgreSQL: {e}")))?;
        Ok(Self { config, tls: MakeRustlsConnect::new(tls), client: Mutex::new(None), indexing: Default::default() })
    }

    /// Runs `f` on a live connection (made again if it was lost), within
    /// [`CALL_TIMEOUT`].
    async fn call<T>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Client) -> std::pin::Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>,
    ) -> Result<T, StoreError> {
        let mut slot = self.client.lock().await;
        if slot.as_ref().is_none_or(Client::is_closed) {
            let (client, connection) = tokio::time::timeout(CALL_TIMEOUT, self.config.connect(self.tls.clone()))
                .await
                .map_err(err)?
                .map_err(err)?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "the audit store's PostgreSQL connection closed");
                }
            });
            let mut client = client;
            tokio::time::timeout(CALL_TIMEOUT, migrate(&mut client)).await.map_err(err)??;
            if !self.indexing.swap(true, std::sync::atomic::Ordering::AcqRel) {
                tokio::spawn(trace_index(self.config.clone(), self.tls.clone()));
            }
            *slot = Some(client);
        }
        let Some(client) = slot.as_mut() else { return Err(StoreError("no connection".into())) };
        tokio::time::timeout(CALL_TIMEOUT, f(client))
            .await
            .map_err(|_| StoreError("PostgreSQL did not answer in time".into()))?
    }
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await.map_err(err)?;
    // Replicas starting together migrate one at a time.
    tx.batch_execute("SELECT pg_advisory_xact_lock(7064023); CREATE TABLE IF NOT EXISTS audit_schema (version BIGINT PRIMARY KEY, applied_at_ms BIGINT NOT NULL)")
        .await
        .map_err(err)?;
    let done: i64 = tx.query_one("SELECT COALESCE(MAX(version), 0) FROM audit_schema", &[]).await.map_err(err)?.get(0);
    for (n, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
        tx.batch_execute(step).await.map_err(|e| StoreError(format!("migration {}: {e}", n + 1)))?;
        let version = i64::try_from(n + 1).unwrap_or(i64::MAX);
        tx.execute("INSERT INTO audit_schema VALUES ($1, $2)", &[&version, &cutoff_ms(Duration::ZERO)])
            .await
            .map_err(err)?;
    }
    tx.commit().await.map_err(err)
}

/// Builds [`TRACE_INDEX`] concurrently on a connection of its own, with no
/// time limit: inserts and queries go on meanwhile (a trace id query scans
/// until it is done). An index a failed build left invalid is dropped and
/// built again. A failure is logged; the next start tries again.
async fn trace_index(config: Config, tls: MakeRustlsConnect) {
    let build = async {
        let (client, connection) = config.connect(tls).await.map_err(err)?;
        tokio::spawn(connection);
        let valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'audit_records_trace'";
        if let Some(row) = client.query_opt(valid, &[]).await.map_err(err)? {
            if row.get::<_, bool>(0) {
                return Ok(());
            }
            client.batch_execute("DROP INDEX CONCURRENTLY IF EXISTS audit_records_trace").await.map_err(err)?;
        }
        client.batch_execute(&format!("CREATE INDEX CONCURRENTLY IF NOT EXISTS {TRACE_INDEX}")).await.map_err(err)
    };
    if let Err(e) = build.await {
        tracing::warn!(error = %e, "the audit trail's trace index could not be built; trace id queries scan the table");
    }
}

fn boxed(p: Param) -> Box<dyn ToSql + Sync + Send> {
    match p {
        Param::Text(t) => Box::new(t),
        Param::Int(i) => Box::new(i),
    }
}

fn refs(params: &[Box<dyn ToSql + Sync + Send>]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p.as_ref() as &(dyn ToSql + Sync)).collect()
}

#[async_trait::async_trait]
impl Store for PostgresStore {
    async fn insert(&self, records: &[Record]) -> Result<(), StoreError> {
        let mut params = Vec::with_capacity(records.len() * COLUMNS);
        let mut rows = Vec::with_capacity(records.len());
        for r in records {
            let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("${}", params.len() + i)).collect();
            rows.push(format!("({})", marks.join(", ")));
            params.extend(columns(r)?.into_iter().map(boxed));
        }
        let sql = format!("{INSERT} {}", rows.join(", "));
        self.call(move |c| {
            Box::pin(async move {
                c.execute(sql.as_str(), &refs(&params)).await.map_err(err)?;
                Ok(())
            })
        })
        .await
    }

    async fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let (sql, params) = filter.sql(|n| format!("${n}"));
        let params: Vec<_> = params.into_iter().map(boxed).collect();
        self.call(move |c| {
            Box::pin(async move {
                let rows = c.query(sql.as_str(), &refs(&params)).await.map_err(err)?;
                rows.iter().map(|r| decode(r.get::<_, &str>(0))).collect()
            })
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_owned();
        self.call(move |c| {
            Box::pin(async move {
                let row = c.query_opt("SELECT record FROM audit_records WHERE id = $1", &[&id]).await.map_err(err)?;
                row.map(|r| decode(r.get::<_, &str>(0))).transpose()
            })
        })
        .await
    }

    async fn prune(&self, max_age: Duration, max_rows: u64) -> Result<u64, StoreError> {
        let cutoff = cutoff_ms(max_age);
        let keep = i64::try_from(max_rows.max(1) - 1).unwrap_or(i64::MAX);
        let [by_age, by_count] = prune_sql(|n| format!("${n}"));
        self.call(move |c| {
            Box::pin(async move {
                let old = c.execute(by_age.as_str(), &[&cutoff]).await.map_err(err)?;
                let over = c.execute(by_count.as_str(), &[&keep]).await.map_err(err)?;
                Ok(old + over)
            })
        })
        .await
    }
}
