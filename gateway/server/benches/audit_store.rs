//! The audit trail's write rate: batches of records, as the writer sends
//! them, into SQLite in a file (the embedded store), and into PostgreSQL
//! when `SCIM_GATEWAY_BENCH_PG` names a database (`postgres://user@host:port/db`,
//! the password in `PGPASSWORD`). Also prints the bytes one record takes in
//! the SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use scim_gateway::audit::changes::{Change, ChangeKind, Stage};
use scim_gateway::audit::record::{Record, new_id};
use scim_gateway::audit::store::{PostgresStore, SqliteStore, Store};

/// A record like the okta-to-notion create's, `values = "paths"`.
fn record(i: usize) -> Record {
    let (id, at_ms, time) = new_id();
    let change = |stage, author: &str, path: &str, kind| Change {
        stage,
        author: author.into(),
        path: path.into(),
        kind,
        before: None,
        after: None,
    };
    Record {
        id,
        at_ms,
        time,
        request_id: "9f73c466-8e20-4af8-a6e3-f9b1ab135285".into(),
        route: "okta".into(),
        replica: "gateway-0".into(),
        token: "okta".into(),
        preset: "okta".into(),
        mode: "enforce".into(),
        method: "POST".into(),
        resource_type: "User".into(),
        resource_id: Some(format!("daf8820358b84535bcd173358e19a{i:03}")),
        external_id: Some(format!("00ujl29u0le5T6Aj{i:04}")),
        subject: Some(format!("user{i}@example.com")),
        status: 201,
        backend_statuses: vec![201],
        duration_ms: 3.2,
        mapping_version: "4e649d56f674".into(),
        requested: [
            "active",
            "displayName",
            "emails",
            "externalId",
            "groups",
            "locale",
            "name.familyName",
            "name.givenName",
            "password",
            "schemas",
            "userName",
        ]
        .map(String::from)
        .to_vec(),
        changes: vec![
            change(Stage::Normalization, "read_only_stripped", "groups", ChangeKind::Removed),
            change(Stage::Rule, "mappings/okta-to-notion.toml:17:1", "emails", ChangeKind::Changed),
            change(Stage::Rule, "mappings/okta-to-notion.toml:24:1", "userName", ChangeKind::Changed),
            change(Stage::Rule, "mappings/okta-to-notion.toml:33:1", "name.formatted", ChangeKind::Added),
            change(Stage::Rule, "mappings/okta-to-notion.toml:48:1", "password", ChangeKind::Removed),
        ],
        ..Record::default()
    }
}

const BATCH: usize = 256;

fn sqlite(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let store = SqliteStore::open(&path).unwrap();
    let mut g = c.benchmark_group("audit_store");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("sqlite_insert_batch_of_256", |b| {
        b.iter_batched(
            || (0..BATCH).map(record).collect::<Vec<_>>(),
            |batch| rt.block_on(store.insert(&batch)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.bench_function("sqlite_insert_one", |b| {
        b.iter_batched(|| vec![record(1)], |one| rt.block_on(store.insert(&one)).unwrap(), BatchSize::SmallInput)
    });
    if let Ok(url) = std::env::var("SCIM_GATEWAY_BENCH_PG") {
        let pg = PostgresStore::new(&url, std::env::var("PGPASSWORD").ok(), None).unwrap();
        g.bench_function("postgres_insert_batch_of_256", |b| {
            b.iter_batched(
                || (0..BATCH).map(record).collect::<Vec<_>>(),
                |batch| rt.block_on(pg.insert(&batch)).unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
    drop(store);
    let rows = SqliteStore::open(&path).map(|_| ()).ok();
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        + std::fs::metadata(dir.path().join("audit.db-wal")).map(|m| m.len()).unwrap_or(0);
    let json = serde_json::to_string(&record(1)).unwrap().len();
    let count = rt.block_on(async {
        let s = SqliteStore::open(&path).unwrap();
        let all = scim_gateway::audit::store::Filter { limit: 1000, ..Default::default() };
        let mut n = 0;
        let mut f = all;
        loop {
            let page = s.query(&f).await.unwrap();
            n += page.len();
            match page.last() {
                Some(last) if page.len() == 1000 => f.cursor = Some(last.id.clone()),
                _ => break n,
            }
        }
    });
    let _ = rows;
    println!(
        "sqlite: {count} records, {bytes} bytes on disk ({} bytes per record; the record's JSON is {json} bytes)",
        bytes / count.max(1) as u64
    );
}

criterion_group!(benches, sqlite);
criterion_main!(benches);
