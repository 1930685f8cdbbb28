//! Where records are kept: SQLite in a file (the default, one replica) or
//! PostgreSQL (several replicas, one trail). Both take the same filters and
//! the same schema, migrated at start by the binary itself.

mod postgres;
mod sqlite;

use super::record::{Record, parse_time};
use std::time::Duration;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A store failure: the writer retries, a query answers 503.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit store: {0}")]
pub struct StoreError(pub String);

/// The schema, one step per version; a step runs once, in order.
pub(crate) const MIGRATIONS: [&str; 2] = [
    "CREATE TABLE audit_records (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    route TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    external_id TEXT,
    subject TEXT,
    method TEXT NOT NULL,
    status BIGINT NOT NULL,
    fault TEXT,
    deprovisioning BIGINT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX audit_records_at ON audit_records (at_ms);
CREATE INDEX audit_records_resource ON audit_records (resource_id);
CREATE INDEX audit_records_external ON audit_records (external_id);
CREATE INDEX audit_records_subject ON audit_records (subject)",
    // Traces: a record names the request's trace. Adding a column without
    // a default is instant in both stores; its index is built apart
    // ([`TRACE_INDEX`]), as reading a large table must not hold the lock.
    "ALTER TABLE audit_records ADD COLUMN trace_id TEXT",
];

/// The index on `trace_id`, built after the migrations: by SQLite at open,
/// by PostgreSQL concurrently in the background (writes go on meanwhile).
pub(crate) const TRACE_INDEX: &str = "audit_records_trace ON audit_records (trace_id)";

/// A store of records.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Writes records in one transaction.
    async fn insert(&self, records: &[Record]) -> Result<(), StoreError>;
    /// Records matching `filter`, newest first.
    async fn query(&self, filter: &Filter) -> Result<Vec<Record>, StoreError>;
    /// One record.
    async fn get(&self, id: &str) -> Result<Option<Record>, StoreError>;
    /// Deletes records older than `max_age` and beyond the newest
    /// `max_rows`; returns how many went.
    async fn prune(&self, max_age: Duration, max_rows: u64) -> Result<u64, StoreError>;
}

/// Most records one query returns.
pub const MAX_LIMIT: usize = 1000;

/// Which records a query wants. Every field narrows; `cursor` continues a
/// listing after the last id seen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub route: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub external_id: Option<String>,
    pub subject: Option<String>,
    pub trace_id: Option<String>,
    pub method: Option<String>,
    pub status: Option<u16>,
    pub fault: Option<String>,
    pub deprovisioning: Option<bool>,
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    /// Records older than this id (the last of the previous page).
    pub cursor: Option<String>,
    /// Records newer than this id (`--follow`, live refresh); oldest first.
    pub after: Option<String>,
    pub limit: usize,
}

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Int(i64),
}

impl Filter {
    /// From `key=value` pairs (the admin API's query, the CLI's flags);
    /// an unknown key or a bad value is an error naming it.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut f = Filter { limit: 50, ..Filter::default() };
        for (k, v) in pairs {
            let text = Some(v.to_owned());
            match k {
                "route" => f.route = text,
                "resource_type" => f.resource_type = text,
                "resource_id" => f.resource_id = text,
                "external_id" => f.external_id = text,
                "subject" => f.subject = text,
                "trace_id" => f.trace_id = Some(v.to_ascii_lowercase()),
                "method" => f.method = Some(v.to_ascii_uppercase()),
                "status" => f.status = Some(v.parse().map_err(|_| format!("status `{v}` is not a number"))?),
                "fault" => f.fault = text,
                "deprovisioning" => f.deprovisioning = Some(matches!(v, "true" | "1" | "yes")),
                "since" => f.since_ms = Some(parse_time(v).ok_or_else(|| format!("since `{v}` is not a time"))?),
                "until" => f.until_ms = Some(parse_time(v).ok_or_else(|| format!("until `{v}` is not a time"))?),
                "cursor" => f.cursor = text,
                "after" => f.after = text,
                "limit" => f.limit = v.parse().map_err(|_| format!("limit `{v}` is not a number"))?,
                "" | "format" => {}
                other => return Err(format!("unknown filter `{other}`")),
            }
        }
        f.limit = f.limit.clamp(1, MAX_LIMIT);
        Ok(f)
    }

    /// The WHERE clause and its parameters; `mark(n)` writes the n-th
    /// placeholder (`?1` for SQLite, `$1` for PostgreSQL).
    pub(crate) fn sql(&self, mark: fn(usize) -> String) -> (String, Vec<Param>) {
        let mut terms = Vec::new();
        let mut params = Vec::new();
        let mut add = |column: &str, op: &str, p: Param| {
            params.push(p);
            terms.push(format!("{column} {op} {}", mark(params.len())));
        };
        let text = |v: &Option<String>| v.clone().map(Param::Text);
        for (col, v) in [
            ("route", text(&self.route)),
            ("resource_type", text(&self.resource_type)),
            ("resource_id", text(&self.resource_id)),
            ("external_id", text(&self.external_id)),
            ("subject", text(&self.subject)),
            ("trace_id", text(&self.trace_id)),
            ("method", text(&self.method)),
            ("fault", text(&self.fault)),
            ("status", self.status.map(|s| Param::Int(i64::from(s)))),
            ("deprovisioning", self.deprovisioning.map(|d| Param::Int(i64::from(d)))),
        ] {
            if let Some(p) = v {
                add(col, "=", p);
            }
        }
        for (op, v) in [(">=", self.since_ms), ("<=", self.until_ms)] {
            if let Some(ms) = v {
                add("at_ms", op, Param::Int(ms));
            }
        }
        for (op, v) in [("<", &self.cursor), (">", &self.after)] {
            if let Some(id) = v {
                add("id", op, Param::Text(id.clone()));
            }
        }
        let order = if self.after.is_some() { "ASC" } else { "DESC" };
        let clause = if terms.is_empty() { String::new() } else { format!("WHERE {}", terms.join(" AND ")) };
        (format!("SELECT record FROM audit_records {clause} ORDER BY id {order} LIMIT {}", self.limit), params)
    }
}

/// How many columns [`INSERT`] names.
pub(crate) const COLUMNS: usize = 13;

/// The columns of a record, in the order of [`INSERT`].
pub(crate) fn columns(r: &Record) -> Result<[Param; COLUMNS], StoreError> {
    let text = |v: &Option<String>| v.clone().map_or(Param::Text(String::new()), Param::Text);
    let json = serde_json::to_string(r).map_err(|e| StoreError(e.to_string()))?;
    Ok([
        Param::Text(r.id.clone()),
        Param::Int(r.at_ms),
        Param::Text(r.route.clone()),
        Param::Text(r.resource_type.clone()),
        text(&r.resource_id),
        text(&r.external_id),
        text(&r.subject),
        Param::Text(r.method.clone()),
        Param::Int(i64::from(r.status)),
        text(&r.fault),
        Param::Int(i64::from(r.deprovisioning)),
        Param::Text(json),
        text(&r.trace_id),
    ])
}

/// Retention's two deletes, by age and beyond the newest rows; `mark(1)`
/// is the placeholder of their one parameter.
pub(crate) fn prune_sql(mark: fn(usize) -> String) -> [String; 2] {
    [
        format!("DELETE FROM audit_records WHERE at_ms < {}", mark(1)),
        format!(
            "DELETE FROM audit_records WHERE id < (SELECT id FROM audit_records ORDER BY id DESC LIMIT 1 OFFSET {})",
            mark(1)
        ),
    ]
}

pub(crate) const INSERT: &str = "INSERT INTO audit_records (id, at_ms, route, resource_type, resource_id, external_id, subject, method, status, fault, deprovisioning, record, trace_id) VALUES";

pub(crate) fn decode(json: &str) -> Result<Record, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError(format!("a stored record does not read back: {e}")))
}

/// The age cutoff for pruning, in milliseconds since the epoch.
pub(crate) fn cutoff_ms(max_age: Duration) -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_come_from_pairs_and_refuse_what_they_do_not_know() {
        let f =
            Filter::from_pairs([("route", "okta"), ("status", "201"), ("deprovisioning", "true"), ("limit", "5000")])
                .unwrap();
        assert_eq!(
            (f.route.as_deref(), f.status, f.deprovisioning, f.limit),
            (Some("okta"), Some(201), Some(true), 1000)
        );
        let (sql, params) = f.sql(|n| format!("${n}"));
        assert!(sql.contains("route = $1 AND status = $2 AND deprovisioning = $3"), "{sql}");
        assert_eq!(params.len(), 3);
        assert!(Filter::from_pairs([("colour", "red")]).unwrap_err().contains("colour"));
        assert!(Filter::from_pairs([("since", "last week")]).is_err());
    }
}
