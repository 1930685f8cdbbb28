//! The provisioning audit trail against real stores: SQLite in a file and
//! a throwaway PostgreSQL, in front of scim2-server.

use super::pg::{PASSWORD, Postgres};
use super::support::{Gateway, Scim2Server};
use http::{Method, StatusCode};
use scim_gateway::audit::record::Record;
use scim_gateway::audit::store::Filter;
use serde_json::{Value, json};
use std::time::Duration;

const PATCH_URN: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The `[audit]` section for a store URL; `extra` adds keys.
fn audit_section(url: &str, extra: &str) -> String {
    let password = if url.starts_with("postgres") { "password_file = \"{dir}/pgpw\"\n" } else { "" };
    format!("\n[audit]\nurl = \"{url}\"\n{password}max_wait_ms = 300\n{extra}\n")
}

/// A gateway with the audit trail; `upstream_keys` go in `[upstream]`.
pub async fn start(upstream: &str, mapping: &str, audit: &str, upstream_keys: &str) -> Gateway {
    let text = format!("{}{audit}", super::support::config_with(upstream, &[mapping], "okta", upstream_keys));
    Gateway::start_prepared(&text, |dir| std::fs::write(dir.join("pgpw"), PASSWORD).unwrap()).await
}

/// The records matching `filter`, waiting up to 5 s for at least `n`.
pub async fn records(gw: &Gateway, pairs: &[(&str, &str)], n: usize) -> Vec<Record> {
    let audit = gw.handle.gateway().audit.clone().expect("the audit trail is on");
    let filter = Filter::from_pairs(pairs.iter().copied()).unwrap();
    for _ in 0..100 {
        if let Ok(found) = audit.store().query(&filter).await
            && found.len() >= n
        {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    audit.store().query(&filter).await.unwrap()
}

/// An Okta create: the login is not the email; the email is padded and
/// upper-cased.
fn okta_user(email: &str) -> Value {
    let login = email.split('@').next().unwrap_or(email);
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": login, "externalId": format!("ext-{login}"),
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"value": format!(" {} ", email.to_uppercase()), "type": "work", "primary": true}],
        "password": "Sup3r-secret!", "active": true
    })
}

/// Every write kind through the okta-to-notion mapping, then the records.
async fn every_write_kind_is_recorded(store_url: &str) {
    let scim2 = Scim2Server::start().await;
    let gw = start(&scim2.base, "okta-to-notion.toml", &audit_section(store_url, ""), "").await;
    let created = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("jane@example.com"))).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = format!("/scim/v2/Users/{id}");
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["userName"], "jane@example.com", "the rule's userName reached the backend");
    let mut replaced = okta_user("jane@example.com");
    replaced["name"]["givenName"] = json!("Janet");
    assert_eq!(gw.call(Method::PUT, &path, Some(replaced)).await.status, StatusCode::OK);
    let off = json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]});
    assert!(gw.call(Method::PATCH, &path, Some(off)).await.status.is_success());
    let bulk = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "b1", "data": okta_user("bob@example.com")}]});
    assert_eq!(gw.call(Method::POST, "/scim/v2/Bulk", Some(bulk)).await.status, StatusCode::OK);
    assert_eq!(gw.call(Method::DELETE, &path, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(gw.call(Method::GET, &path, None).await.status, StatusCode::NOT_FOUND);

    let all = records(&gw, &[], 5).await;
    let kinds: Vec<(&str, u16)> = all.iter().rev().map(|r| (r.method.as_str(), r.status)).collect();
    assert_eq!(
        kinds,
        [("POST", 201), ("PUT", 200), ("PATCH", 204), ("POST", 201), ("DELETE", 204)],
        "reads are not recorded"
    );
    let create = &all[4];
    assert_eq!(create.resource_id.as_deref(), Some(id.as_str()));
    assert_eq!(create.subject.as_deref(), Some("jane"), "the subject is the userName the IdP sent");
    assert_eq!(create.external_id.as_deref(), Some("ext-jane"));
    assert_eq!((create.route.as_str(), create.token.as_str(), create.preset.as_str()), ("default", "idp", "okta"));
    assert_eq!((create.calls.forward, create.backend_statuses.as_slice()), (1, &[201][..]));
    assert!(!create.deprovisioning && create.fault.is_none());
    // What the IdP asked and what the mapping changed, path by path.
    assert!(create.requested.iter().any(|p| p == "password"), "{:?}", create.requested);
    let changed = |stage: &str, path: &str| create.changes.iter().any(|c| c.stage.as_str() == stage && c.path == path);
    assert!(changed("rule", "userName") && changed("rule", "password") && changed("rule", "name.formatted"));
    let password_rule = create.changes.iter().find(|c| c.path == "password").unwrap();
    assert!(password_rule.author.contains("okta-to-notion.toml:"), "{}", password_rule.author);
    // "paths": no values beyond the subject, and never the password.
    let text = serde_json::to_string(create).unwrap();
    for value in ["Sup3r-secret!", "JANE@EXAMPLE.COM", "jane@example.com", "Jane Doe", "Doe"] {
        assert!(!text.contains(value), "{value} is in a paths record: {text}");
    }
    let patch = &all[2];
    assert!(patch.deprovisioning, "a deactivation PATCH");
    assert!(patch.changes.iter().any(|c| c.stage.as_str() == "normalization"), "Entra-style \"False\" normalized");
    assert!(all[0].deprovisioning && all[0].method == "DELETE");
    let op = &all[1];
    assert_eq!(op.bulk.as_ref().map(|b| (b.index, b.bulk_id.as_deref())), Some((0, Some("b1"))));
    assert_eq!(op.subject.as_deref(), Some("bob"));
    // Filters narrow: by resource, by deprovisioning.
    assert_eq!(records(&gw, &[("resource_id", &id)], 4).await.len(), 4);
    assert_eq!(records(&gw, &[("deprovisioning", "true")], 2).await.len(), 2);
    // Retention by count keeps the newest.
    let store = gw.handle.gateway().audit.clone().unwrap().store().clone();
    assert_eq!(store.prune(Duration::from_secs(3600), 2).await.unwrap(), 3);
    let left = records(&gw, &[], 0).await;
    assert_eq!(left.iter().map(|r| r.method.as_str()).collect::<Vec<_>>(), ["DELETE", "POST"]);
}

#[tokio::test]
async fn every_write_kind_leaves_a_record_in_sqlite() {
    every_write_kind_is_recorded("sqlite://{dir}/audit.db").await;
}

#[tokio::test]
async fn every_write_kind_leaves_a_record_in_postgresql() {
    let pg = Postgres::start();
    every_write_kind_is_recorded(&pg.url()).await;
}

/// Users the backend holds.
async fn backend_users(scim2: &Scim2Server) -> u64 {
    scim2.get("/Users").await.1["totalResults"].as_u64().unwrap_or(0)
}

#[tokio::test]
async fn with_the_store_down_block_refuses_writes_before_forwarding_but_never_a_deprovisioning() {
    let (pg, scim2) = (Postgres::start(), Scim2Server::start().await);
    let gw = start(&scim2.base, "okta-to-notion.toml", &audit_section(&pg.url(), "queue = 2"), "").await;
    pg.stop();
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com"] {
        let r = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user(email))).await;
        assert_eq!(r.status, StatusCode::CREATED, "room for two records: {}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_owned());
    }
    let refused = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("c@example.com"))).await;
    assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE, "{}", refused.json);
    assert_eq!(refused.headers.get("retry-after").map(|v| v.to_str().unwrap()), Some("1"));
    assert_eq!(backend_users(&scim2).await, 2, "the refused create never reached the backend");
    let delete = gw.call(Method::DELETE, &format!("/scim/v2/Users/{}", ids[0]), None).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT, "a deprovisioning is never refused for the trail");
    assert_eq!(backend_users(&scim2).await, 1);
    assert_eq!(
        gw.metric("scim_gateway_audit_records_dropped_total{deprovisioning=\"true\",reason=\"queue_full\"}"),
        1.0
    );
    assert_eq!(gw.metric("scim_gateway_audit_refused_total"), 1.0);
    // The store comes back: the two records held in the queue are written.
    pg.run();
    let kept = records_within(&gw, Duration::from_secs(15), 2).await;
    assert_eq!(kept.iter().map(|r| r.status).collect::<Vec<_>>(), [201, 201]);
    let (written, dropped) =
        (gw.metric("scim_gateway_audit_records_written_total"), gw.metric("scim_gateway_audit_records_dropped_total"));
    assert_eq!((written, dropped), (2.0, 2.0), "four writes: each written or counted as dropped");
}

#[tokio::test]
async fn with_the_store_down_drop_lets_writes_through_and_counts_every_lost_record() {
    let (pg, scim2) = (Postgres::start(), Scim2Server::start().await);
    let gw =
        start(&scim2.base, "okta-to-notion.toml", &audit_section(&pg.url(), "queue = 1\non_failure = \"drop\""), "")
            .await;
    pg.stop();
    let mut ids = Vec::new();
    for email in ["a@example.com", "b@example.com", "c@example.com"] {
        let r = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user(email))).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
        ids.push(r.json["id"].as_str().unwrap().to_owned());
    }
    let delete = gw.call(Method::DELETE, &format!("/scim/v2/Users/{}", ids[1]), None).await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    assert_eq!(backend_users(&scim2).await, 2);
    assert_eq!(
        gw.metric("scim_gateway_audit_records_dropped_total{deprovisioning=\"false\",reason=\"queue_full\"}"),
        2.0
    );
    assert_eq!(
        gw.metric("scim_gateway_audit_records_dropped_total{deprovisioning=\"true\",reason=\"queue_full\"}"),
        1.0
    );
    pg.run();
    assert_eq!(records_within(&gw, Duration::from_secs(15), 1).await.len(), 1, "the one record with room is written");
}

/// [`records`] with a longer wait (a store coming back).
async fn records_within(gw: &Gateway, wait: Duration, n: usize) -> Vec<Record> {
    let deadline = std::time::Instant::now() + wait;
    loop {
        let found = records(gw, &[], n).await;
        if found.len() >= n || std::time::Instant::now() > deadline {
            return found;
        }
    }
}

#[tokio::test]
async fn shadow_mode_stores_what_the_idp_sent_and_records_what_the_mapping_would_have_changed() {
    let scim2 = Scim2Server::start().await;
    let audit = audit_section("sqlite://{dir}/audit.db", "values = \"full\"");
    let text = format!("{}{audit}", super::support::config(&scim2.base, &["okta-to-notion.toml"], "okta"))
        .replace("[server]\n", "[server]\nmode = \"shadow\"\n");
    let gw = Gateway::start(&text).await;
    let sent = okta_user("jane@example.com");
    let created = gw.call(Method::POST, "/scim/v2/Users", Some(sent.clone())).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.json);
    let id = created.json["id"].as_str().unwrap();
    assert_eq!(created.json["userName"], "jane", "the backend's answer, unmapped");
    assert!(
        created.json["meta"]["location"].as_str().unwrap().starts_with(&gw.url("/scim/v2/Users/")),
        "URLs rewritten"
    );
    let (_, stored) = scim2.get(&format!("/Users/{id}")).await;
    assert_eq!(stored["userName"], "jane", "stored exactly as sent");
    assert_eq!(stored["emails"][0]["value"], " JANE@EXAMPLE.COM ");
    assert!(stored.get("displayName").is_none(), "no rule ran on what the backend got");
    let record = &records(&gw, &[], 1).await[0];
    assert_eq!(record.mode, "shadow");
    assert_eq!((record.status, record.calls.forward), (201, 1), "one write reached the backend");
    let would = |path: &str| record.changes.iter().find(|c| c.path == path).and_then(|c| c.after.clone());
    assert_eq!(would("userName"), Some(json!("jane@example.com")), "{:?}", record.changes);
    assert_eq!(would("displayName"), Some(json!("Jane Doe")));
    let password = record.changes.iter().find(|c| c.path == "password").unwrap();
    assert_eq!((password.before.as_ref(), password.after.as_ref()), (None, None), "never a password, even full");
    assert_eq!(gw.metric("scim_gateway_shadow_changes_total"), 1.0);
    // A deactivation in shadow reaches the backend as sent, too.
    let off = json!({"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "active", "value": false}]});
    assert!(gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(off)).await.status.is_success());
    assert_eq!(scim2.get(&format!("/Users/{id}")).await.1["active"], false);
}

#[tokio::test]
async fn a_translated_write_and_a_deprovisioning_through_a_failing_rule_are_recorded() {
    let scim2 = Scim2Server::start().await;
    let gw =
        start(&scim2.base, "okta-to-notion.toml", &audit_section("sqlite://{dir}/audit.db", ""), "update = \"patch\"")
            .await;
    let created = gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("jane@example.com"))).await;
    let id = created.json["id"].as_str().unwrap().to_owned();
    let path = format!("/scim/v2/Users/{id}");
    let mut put = okta_user("jane@example.com");
    put["title"] = json!("Engineer");
    assert_eq!(gw.call(Method::PUT, &path, Some(put)).await.status, StatusCode::OK);
    // A deactivation whose userName rule fails (no email to take it from).
    let off = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "jane", "active": false});
    let r = gw.call(Method::PUT, &path, Some(off)).await;
    assert!(r.status.is_success(), "{}", r.json);
    assert_eq!(scim2.get(&format!("/Users/{id}")).await.1["active"], false, "the deactivation reached the backend");
    let all = records(&gw, &[("method", "PUT")], 2).await;
    let (deactivation, translated) = (&all[0], &all[1]);
    let by = |r: &Record, stage: &str| {
        r.changes.iter().filter(|c| c.stage.as_str() == stage).map(|c| c.path.clone()).collect::<Vec<_>>()
    };
    assert!(by(translated, "translation").iter().any(|p| p.contains("title")), "{:?}", translated.changes);
    assert!(translated.changes.iter().any(|c| c.stage.as_str() == "translation" && c.author == "put_to_patch"));
    // The stored user read to build the PATCH, and read back for the IdP
    // (scim2-server answers a PATCH with 204).
    assert_eq!((translated.calls.current_read, translated.calls.forward), (2, 1));
    assert!(deactivation.deprovisioning && deactivation.status < 300 && deactivation.fault.is_none());
}

#[tokio::test]
async fn postgresql_is_reached_over_tls_checked_against_the_ca_file() {
    let (pg, scim2) = (Postgres::start_tls(), Scim2Server::start().await);
    let ca = pg.dir().join("ca.pem");
    let tls = audit_section(&format!("{}?sslmode=require", pg.url()), &format!("ca_file = \"{}\"", ca.display()));
    let gw = start(&scim2.base, "okta-to-notion.toml", &tls, "").await;
    assert_eq!(
        gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("a@example.com"))).await.status,
        StatusCode::CREATED
    );
    assert_eq!(records(&gw, &[], 1).await.len(), 1, "written over TLS");
    // The control: the same cluster refuses the store without TLS.
    let plain = audit_section(&format!("{}?sslmode=disable", pg.url()), "on_failure = \"drop\"");
    let gw = start(&scim2.base, "okta-to-notion.toml", &plain, "").await;
    assert_eq!(
        gw.call(Method::POST, "/scim/v2/Users", Some(okta_user("b@example.com"))).await.status,
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(gw.metric("scim_gateway_audit_store_errors_total") >= 1.0, "pg_hba refuses a connection without TLS");
    assert_eq!(gw.metric("scim_gateway_audit_records_written_total"), 0.0);
}

#[tokio::test]
async fn each_plugin_is_named_as_the_author_of_its_own_changes() {
    let scim2 = Scim2Server::start().await;
    // Two plugins after the rules: full-name writes name.formatted, the
    // email policy rewrites the alias domain of the address.
    let plugins = r#"
[[mapping.plugins]]
name = "full-name"
path = "{plugins}/full-name.wasm"
resources = ["User"]
[[mapping.plugins]]
name = "domains"
path = "{plugins}/email-domain-policy.wasm"
resources = ["User"]
[mapping.plugins.config]
allowed = ["example.com"]
aliases = { "example.org" = "example.com" }
"#;
    let text = format!(
        "{}{plugins}{}",
        super::support::config(&scim2.base, &[], "okta"),
        audit_section("sqlite://{dir}/audit.db", "values = \"full\"")
    );
    let gw = Gateway::start(&text).await;
    let mut user = okta_user("jane@example.org");
    user["emails"][0]["value"] = json!("jane@example.org");
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.json);
    let record = &records(&gw, &[], 1).await[0];
    let by_plugin: Vec<(&str, &str)> = record
        .changes
        .iter()
        .filter(|c| c.stage.as_str() == "plugin")
        .map(|c| (c.path.as_str(), c.author.as_str()))
        .collect();
    let expected = [("name.formatted", "full-name"), ("displayName", "full-name"), ("emails", "domains")];
    assert_eq!(by_plugin, expected, "{:?}", record.changes);
}

/// A PostgreSQL trail written before traces (schema version 1, 20,000
/// records) is upgraded: the column at once, the index concurrently in the
/// background, and a record is found by its trace id.
#[tokio::test]
async fn a_postgresql_trail_from_before_traces_gets_the_column_and_its_index_concurrently() {
    use scim_gateway::audit::store::{PostgresStore, Store};
    let pg = Postgres::start();
    let store = PostgresStore::new(&pg.url(), Some(PASSWORD.into()), None).unwrap();
    store.query(&Filter::from_pairs([]).unwrap()).await.unwrap();
    let mut config: tokio_postgres::Config = pg.url().parse().unwrap();
    config.password(PASSWORD);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    index_built(&client).await;
    // Back to version 1, with rows.
    client
        .batch_execute(
            "DROP INDEX audit_records_trace; ALTER TABLE audit_records DROP COLUMN trace_id; DELETE FROM audit_schema WHERE version > 1;
             INSERT INTO audit_records SELECT 'old-' || lpad(n::text, 6, '0'), n, 'r', 'User', '', '', 'u' || n, 'POST', 201, '', 0, '{}' FROM generate_series(1, 20000) n",
        )
        .await
        .unwrap();
    let upgraded = PostgresStore::new(&pg.url(), Some(PASSWORD.into()), None).unwrap();
    let (id, at_ms, time) = scim_gateway::audit::record::new_id();
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let record = Record { id, at_ms, time, trace_id: Some(trace.into()), route: "r".into(), ..Record::default() };
    upgraded.insert(std::slice::from_ref(&record)).await.unwrap();
    let found = upgraded.query(&Filter::from_pairs([("trace_id", trace)]).unwrap()).await.unwrap();
    assert_eq!(found, vec![record]);
    index_built(&client).await;
}

/// Waits up to 10 s for a valid `audit_records_trace` index.
async fn index_built(client: &tokio_postgres::Client) {
    let valid = "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'audit_records_trace'";
    for _ in 0..200 {
        if client.query_opt(valid, &[]).await.unwrap().is_some_and(|r| r.get::<_, bool>(0)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the trace index was not built");
}
