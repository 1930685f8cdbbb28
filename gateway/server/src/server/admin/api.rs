//! `/admin/api/`: the audit trail (list with filters and a cursor, one
//! record, JSON lines export), the routes and their health, the shipped
//! sample payloads and the mapping playground. Every answer is JSON (the
//! export: JSON lines); every error names what was wrong.

use super::{MAX_ADMIN_BODY, Shared, error, json_response};
use crate::audit::store::{Filter, Store};
use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use std::sync::Arc;

/// Most records one export writes.
const MAX_EXPORT: usize = 100_000;

pub(super) async fn handle<B>(shared: &Arc<Shared>, rest: &str, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let query = req.uri().query().unwrap_or("").to_owned();
    match (req.method().clone(), rest) {
        (Method::GET, "audit") => list(shared, &query).await,
        (Method::GET, "audit/export") => export(shared, &query).await,
        (Method::GET, id) if id.starts_with("audit/") => one(shared, id.trim_start_matches("audit/")).await,
        (Method::GET, "routes") => {
            let mut body = routes(shared);
            if let Some(m) = body.as_object_mut() {
                m.insert("cluster".into(), cluster(shared).await);
            }
            json_response(StatusCode::OK, &body)
        }
        (Method::GET, "samples") => json_response(StatusCode::OK, &super::playground::samples()),
        (Method::POST, "playground") => match crate::proxy::body::read(req.into_body(), MAX_ADMIN_BODY).await {
            Ok(body) => super::playground::run(shared, &body).await,
            Err(e) => error(e.status(), &e.to_string()),
        },
        (_, "audit" | "audit/export" | "routes" | "samples") => error(StatusCode::METHOD_NOT_ALLOWED, "GET only"),
        (_, "playground") => error(StatusCode::METHOD_NOT_ALLOWED, "POST only"),
        _ => error(StatusCode::NOT_FOUND, "no such admin API"),
    }
}

/// The query's `key=value` pairs, percent-decoded.
fn pairs(query: &str) -> Vec<(String, String)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn filter(query: &str) -> Result<Filter, String> {
    let pairs = pairs(query);
    Filter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).filter(|(_, v)| !v.is_empty()))
}

fn store(shared: &Shared) -> Result<Arc<dyn Store>, Refusal> {
    match shared.ctx.audit() {
        Some(a) => Ok(a.store().clone()),
        None => {
            Err(Box::new(error(StatusCode::NOT_FOUND, "the audit trail is off: add an [audit] section to the config")))
        }
    }
}

/// An answer given instead of going on.
type Refusal = Box<Response<Full<Bytes>>>;

/// The store and the query's filter, or the answer that says which is
/// missing or wrong.
fn store_and_filter(shared: &Shared, query: &str) -> Result<(Arc<dyn Store>, Filter), Refusal> {
    let store = store(shared)?;
    let filter = filter(query).map_err(|e| Box::new(error(StatusCode::BAD_REQUEST, &e)))?;
    Ok((store, filter))
}

async fn list(shared: &Shared, query: &str) -> Response<Full<Bytes>> {
    let (store, filter) = match store_and_filter(shared, query) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    match store.query(&filter).await {
        Ok(records) => {
            let next = (records.len() == filter.limit && filter.after.is_none())
                .then(|| records.last().map(|r| r.id.clone()))
                .flatten();
            json_response(StatusCode::OK, &json!({ "records": records, "next": next }))
        }
        Err(e) => unavailable(&e.to_string()),
    }
}

async fn one(shared: &Shared, id: &str) -> Response<Full<Bytes>> {
    let store = match store(shared) {
        Ok(s) => s,
        Err(r) => return *r,
    };
    match store.get(id).await {
        Ok(Some(r)) => json_response(StatusCode::OK, &json!(r)),
        Ok(None) => error(StatusCode::NOT_FOUND, "no audit record has this id"),
        Err(e) => unavailable(&e.to_string()),
    }
}

/// Every matching record, newest first, one JSON object per line.
async fn export(shared: &Shared, query: &str) -> Response<Full<Bytes>> {
    let (store, mut filter) = match store_and_filter(shared, query) {
        Ok(found) => found,
        Err(r) => return *r,
    };
    filter.limit = crate::audit::store::MAX_LIMIT;
    let mut out = Vec::new();
    let mut count = 0;
    loop {
        let page = match store.query(&filter).await {
            Ok(p) => p,
            Err(e) => return unavailable(&e.to_string()),
        };
        for r in &page {
            out.extend(crate::json::to_vec(&json!(r)));
            out.push(b'\n');
        }
        count += page.len();
        match page.last() {
            Some(last) if page.len() == filter.limit && count < MAX_EXPORT => filter.cursor = Some(last.id.clone()),
            _ => break,
        }
    }
    let mut r = Response::new(Full::new(Bytes::from(out)));
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    let attachment = HeaderValue::from_static("attachment; filename=\"scim-gateway-audit.jsonl\"");
    r.headers_mut().insert(CONTENT_DISPOSITION, attachment);
    r
}

/// The cluster state: whether Redis answers now, and this replica's name.
async fn cluster(shared: &Shared) -> Value {
    match shared.ctx.cluster() {
        Some(c) => json!({"replica": c.settings.replica, "up": c.ping().await}),
        None => Value::Null,
    }
}

fn unavailable(detail: &str) -> Response<Full<Bytes>> {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, detail);
    r.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// Each route's upstream, profile, mode, mapping version, plugins and
/// their breakers, rate-limit queue and upstream state; the last reload;
/// the audit trail's store and queue.
fn routes(shared: &Shared) -> Value {
    let gw = shared.gateway.load();
    let m = &shared.metrics;
    let routes: Vec<Value> = gw
        .routes
        .iter()
        .map(|r| {
            let plugins: Vec<Value> = r
                .plugins
                .plugins()
                .iter()
                .map(|p| json!({"name": p.settings.name, "breaker": p.plugin.breaker_state()}))
                .collect();
            let gauge =
                |g: &prometheus::IntGaugeVec| g.get_metric_with_label_values(&[r.name.as_str()]).map(|g| g.get()).ok();
            json!({
                "name": r.name,
                "base_path": r.base_path.as_str(),
                "upstream": r.upstream.base_url(),
                "profile": r.profile.name(),
                "mode": if r.mode == crate::config::RouteMode::Shadow { "shadow" } else { "enforce" },
                "preset": r.preset,
                "mapping_version": r.mapping_version,
                "plugins": plugins,
                "rate_limit_queue": gauge(&m.rate_limit_queue),
                "upstream_up": gauge(&m.upstream_up),
            })
        })
        .collect();
    let audit = shared.ctx.audit().map(|a| {
        let store = match &a.settings.url {
            crate::audit::StoreUrl::Sqlite(p) => format!("sqlite ({})", p.display()),
            crate::audit::StoreUrl::Postgres(_) => "postgresql".to_owned(),
        };
        json!({"store": store, "queue": m.audit_queue.get(), "written": m.audit_written.get(), "replica": a.settings.replica})
    });
    let reload = shared.last_reload.lock().map(|r| r.clone()).unwrap_or(Value::Null);
    json!({ "routes": routes, "last_reload": reload, "audit": audit, "version": env!("CARGO_PKG_VERSION") })
}
