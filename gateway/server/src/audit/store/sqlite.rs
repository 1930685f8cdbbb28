//! The embedded store: SQLite in a file, in WAL mode. Calls run on the
//! blocking pool, one at a time.

use super::{
    COLUMNS, Filter, INSERT, MIGRATIONS, Param, Store, StoreError, TRACE_INDEX, columns, cutoff_ms, decode, prune_sql,
};
use crate::audit::record::Record;
use rusqlite::{Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Records in a SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl SqliteStore {
    /// Opens (or creates) the file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError(format!("cannot create {}: {e}", dir.display())))?;
        }
        let mut conn =
            Connection::open(path).map_err(|e| StoreError(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        // The indexes take random inserts: keep their pages in memory
        // (64 MiB at most) instead of reading them back for each batch.
        conn.pragma_update(None, "cache_size", -65_536).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(err)?;
        migrate(&mut conn)?;
        conn.execute_batch(&format!("CREATE INDEX IF NOT EXISTS {TRACE_INDEX}")).map_err(err)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().map_err(|_| StoreError("the SQLite connection is poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(err)?
    }
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS audit_schema (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL)",
    )
    .map_err(err)?;
    let done: i64 =
        tx.query_row("SELECT COALESCE(MAX(version), 0) FROM audit_schema", [], |r| r.get(0)).map_err(err)?;
    for (n, step) in MIGRATIONS.iter().enumerate().skip(usize::try_from(done).unwrap_or(0)) {
        tx.execute_batch(step).map_err(|e| StoreError(format!("migration {}: {e}", n + 1)))?;
        tx.execute(
            "INSERT INTO audit_schema VALUES (?1, ?2)",
            (i64::try_from(n + 1).unwrap_or(i64::MAX), cutoff_ms(Duration::ZERO)),
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

fn value(p: Param) -> rusqlite::types::Value {
    match p {
        Param::Text(t) => rusqlite::types::Value::Text(t),
        Param::Int(i) => rusqlite::types::Value::Integer(i),
    }
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    async fn insert(&self, records: &[Record]) -> Result<(), StoreError> {
        let rows = records.iter().map(columns).collect::<Result<Vec<_>, _>>()?;
        self.with(move |conn| {
            let tx = conn.transaction().map_err(err)?;
            {
                let marks: Vec<String> = (1..=COLUMNS).map(|i| format!("?{i}")).collect();
                let sql = format!("{INSERT} ({})", marks.join(", "));
                let mut stmt = tx.prepare_cached(&sql).map_err(err)?;
                for row in rows {
                    stmt.execute(rusqlite::params_from_iter(row.into_iter().map(value))).map_err(err)?;
                }
            }
            tx.commit().map_err(err)
        })
        .await
    }

    async fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError> {
        let (sql, params) = filter.sql(|n| format!("?{n}"));
        self.with(move |conn| {
            let mut stmt = conn.prepare(&sql).map_err(err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(params.into_iter().map(value)), |r| r.get::<_, String>(0))
                .map_err(err)?;
            rows.map(|r| r.map_err(err).and_then(|json| decode(&json))).collect()
        })
        .await
    }

    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError> {
        let id = id.to_owned();
        self.with(move |conn| {
            let json: Option<String> = conn
                .query_row("SELECT record FROM audit_records WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(err)?;
            json.map(|j| decode(&j)).transpose()
        })
        .await
    }

    async fn prune(&self, max_age: Duration, max_rows: u64) -> Result<u64, StoreError> {
        let cutoff = cutoff_ms(max_age);
        let keep = i64::try_from(max_rows.max(1) - 1).unwrap_or(i64::MAX);
        let [by_age, by_count] = prune_sql(|n| format!("?{n}"));
        self.with(move |conn| {
            let old = conn.execute(&by_age, [cutoff]).map_err(err)?;
            let over = conn.execute(&by_count, [keep]).map_err(err)?;
            Ok(u64::try_from(old + over).unwrap_or(u64::MAX))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::record::new_id;

    fn record(at_ms: i64, subject: &str) -> Record {
        let (id, _, time) = new_id();
        Record { id, at_ms, time, subject: Some(subject.into()), route: "r".into(), ..Record::default() }
    }

    #[tokio::test]
    async fn a_trail_written_before_traces_is_upgraded_and_found_by_trace_id() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch("CREATE TABLE audit_schema (version INTEGER PRIMARY KEY, applied_at_ms BIGINT NOT NULL); INSERT INTO audit_schema VALUES (1, 0); INSERT INTO audit_records VALUES ('0-old', 1, 'r', 'User', '', '', 'old', 'POST', 201, '', 0, '{\"id\":\"0-old\",\"time\":\"\",\"at_ms\":1,\"request_id\":\"x\",\"route\":\"r\",\"replica\":\"a\",\"token\":\"t\",\"preset\":\"\",\"mode\":\"enforce\",\"method\":\"POST\",\"resource_type\":\"User\",\"subject\":\"old\",\"deprovisioning\":false,\"status\":201,\"backend_statuses\":[],\"duration_ms\":1.0,\"mapping_version\":\"m\",\"calls\":{\"forward\":1,\"current_read\":0,\"lookup\":0,\"page\":0},\"requested\":[],\"changes\":[]}')").unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let mut traced = record(cutoff_ms(Duration::ZERO), "new");
        traced.trace_id = Some("4bf92f3577b34da6a3ce929d0e0e4736".into());
        store.insert(std::slice::from_ref(&traced)).await.unwrap();
        let by_trace = Filter::from_pairs([("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736")]).unwrap();
        let found = store.query(&by_trace).await.unwrap();
        assert_eq!(found, vec![traced], "found by its trace id, in any case");
        let all = store.query(&Filter { limit: 10, ..Filter::default() }).await.unwrap();
        assert_eq!(all.len(), 2, "the record from before the upgrade reads back");
        assert_eq!(all[1].trace_id, None);
        let index: i64 = Connection::open(&path)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE name = 'audit_records_trace'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(index, 1, "the trace index is built at open");
    }

    #[tokio::test]
    async fn records_survive_a_reopen_and_retention_deletes_by_age_and_by_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/audit.db");
        let store = SqliteStore::open(&path).unwrap();
        let now = cutoff_ms(Duration::ZERO);
        let old = record(now - 200 * 86_400_000, "old");
        let fresh: Vec<Record> = (0..5).map(|i| record(now, &format!("u{i}"))).collect();
        store.insert(std::slice::from_ref(&old)).await.unwrap();
        store.insert(&fresh).await.unwrap();
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let all = Filter { limit: 100, ..Filter::default() };
        assert_eq!(store.query(&all).await.unwrap().len(), 6, "kept across a reopen; migrations ran once");
        assert_eq!(store.get(&old.id).await.unwrap().unwrap().subject.as_deref(), Some("old"));
        let pruned = store.prune(Duration::from_secs(90 * 86_400), 3).await.unwrap();
        assert_eq!(pruned, 3, "the old one by age, two by count");
        let left: Vec<String> = store.query(&all).await.unwrap().into_iter().filter_map(|r| r.subject).collect();
        assert_eq!(left, ["u4", "u3", "u2"], "the newest three, newest first");
    }
}
