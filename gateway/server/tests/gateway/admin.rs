//! The admin API: its own token, the audit trail's queries, the routes'
//! health and the mapping playground.

use super::audit::records;
use super::support::{Gateway, Scim2Server, TOKEN, send};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};

pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// A gateway in front of scim2-server with the audit trail and the admin
/// API on.
pub async fn start(scim2: &Scim2Server) -> Gateway {
    let text = format!(
        "{}\n[audit]\nurl = \"sqlite://{{dir}}/audit.db\"\n",
        super::support::config(&scim2.base, &["okta-to-notion.toml"], "okta")
    )
    .replace("[server]\n", "[admin]\ntokens_file = \"{dir}/admin-tokens\"\n[server]\n");
    Gateway::start_prepared(&text, |dir| {
        std::fs::write(dir.join("admin-tokens"), format!("ops:{ADMIN_TOKEN}\n")).unwrap()
    })
    .await
}

async fn admin(
    gw: &Gateway,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> super::support::Response {
    let body = body.map(|b| Bytes::from(b.to_string()));
    send(method, &gw.admin(path), token, body, &[("content-type", "application/json")]).await
}

fn user(login: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": login,
        "emails": [{"value": format!("{login}@example.com"), "primary": true}], "externalId": format!("x-{login}")})
}

#[tokio::test]
async fn the_admin_api_needs_its_own_token_and_answers_queries_with_a_cursor() {
    let scim2 = Scim2Server::start().await;
    let gw = start(&scim2).await;
    for login in ["ann", "ben", "cat"] {
        assert_eq!(gw.call(Method::POST, "/scim/v2/Users", Some(user(login))).await.status, StatusCode::CREATED);
    }
    records(&gw, &[], 3).await;
    for token in [None, Some(TOKEN), Some("ops-wrong-token-0123456789")] {
        let r = admin(&gw, Method::GET, "/admin/api/audit", token, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "the IdP's token is not an admin token");
        assert!(r.json.get("records").is_none());
    }
    let page = admin(&gw, Method::GET, "/admin/api/audit?limit=2", Some(ADMIN_TOKEN), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.json);
    let subjects =
        |v: &Value| v["records"].as_array().unwrap().iter().map(|r| r["subject"].clone()).collect::<Vec<_>>();
    assert_eq!(subjects(&page.json), [json!("cat"), json!("ben")], "newest first");
    let next = page.json["next"].as_str().unwrap();
    let rest =
        admin(&gw, Method::GET, &format!("/admin/api/audit?limit=2&cursor={next}"), Some(ADMIN_TOKEN), None).await;
    assert_eq!((subjects(&rest.json), rest.json["next"].clone()), (vec![json!("ann")], Value::Null));
    let ben =
        admin(&gw, Method::GET, "/admin/api/audit?subject=ben&method=POST&status=201", Some(ADMIN_TOKEN), None).await;
    let found = ben.json["records"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    let id = found[0]["id"].as_str().unwrap();
    let one = admin(&gw, Method::GET, &format!("/admin/api/audit/{id}"), Some(ADMIN_TOKEN), None).await;
    assert_eq!((one.status, one.json["external_id"].clone()), (StatusCode::OK, json!("x-ben")));
    let missing = admin(&gw, Method::GET, "/admin/api/audit/nope", Some(ADMIN_TOKEN), None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = admin(&gw, Method::GET, "/admin/api/audit?colour=red", Some(ADMIN_TOKEN), None).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.json["error"].as_str().unwrap().contains("colour"));
    let export = admin(&gw, Method::GET, "/admin/api/audit/export?method=POST", Some(ADMIN_TOKEN), None).await;
    let lines: Vec<Value> =
        std::str::from_utf8(&export.body).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3, "JSON lines, one record each");
    let routes = admin(&gw, Method::GET, "/admin/api/routes", Some(ADMIN_TOKEN), None).await;
    let route = &routes.json["routes"][0];
    assert_eq!(
        (route["mode"].clone(), route["preset"].clone(), route["upstream_up"].clone()),
        (json!("enforce"), json!("okta"), json!(1))
    );
    assert!(routes.json["audit"]["store"].as_str().unwrap().starts_with("sqlite"));
    // /metrics and the probes stay open.
    assert_eq!(admin(&gw, Method::GET, "/healthz", None, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_playground_maps_a_sample_and_shows_an_invalid_mappings_line_and_column() {
    let scim2 = Scim2Server::start().await;
    let gw = start(&scim2).await;
    let samples = admin(&gw, Method::GET, "/admin/api/samples", Some(ADMIN_TOKEN), None).await;
    let okta = samples.json["samples"][0]["payload"].clone();
    let ask = json!({"resource": "User", "operation": "create", "payload": okta});
    let out = admin(&gw, Method::POST, "/admin/api/playground", Some(ADMIN_TOKEN), Some(ask.clone())).await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.json);
    assert_eq!(out.json["output"]["userName"], "jane.doe@example.com", "userName from the primary email");
    assert!(out.json["changes"].as_array().unwrap().iter().any(|c| c["path"] == "userName" && c["stage"] == "rule"));
    assert!(out.json["report"]["traces"].as_array().unwrap().len() >= 4, "the explain trace");
    let broken = json!({"payload": okta, "mapping": "version = 1\n[[User.request]]\ntarget = \"userName\"\nfrom = \"emails[primary eq true.value\"\n"});
    let out = admin(&gw, Method::POST, "/admin/api/playground", Some(ADMIN_TOKEN), Some(broken)).await;
    assert_eq!(out.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", out.json);
    assert_eq!(
        (out.json["diagnostics"][0]["line"].clone(), out.json["diagnostics"][0]["col"].as_u64().is_some()),
        (json!(4), true)
    );
    let refused = admin(&gw, Method::POST, "/admin/api/playground", None, Some(ask)).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "the playground needs the admin token");
    assert_eq!(records(&gw, &[], 0).await.len(), 0, "the playground writes nothing");
    assert_eq!(scim2.get("/Users").await.1["totalResults"], 0);
}
