//! The admin listener: `/metrics` (Prometheus text), `/healthz` (the process
//! is up) and `/readyz` (config loaded, listeners up), none of which
//! depends on the upstream or the audit store; and, behind the admin token
//! (`[admin] tokens_env` / `tokens_file`, separate from the IdP's), the
//! admin API under `/admin/api/` and the console at `/admin/`.

mod api;
mod console;
mod playground;

use super::Shared;
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Largest admin request body (a playground payload and mapping).
const MAX_ADMIN_BODY: usize = 1 << 20;

pub(super) async fn handle<B>(shared: &Arc<Shared>, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let path = req.uri().path().to_owned();
    if let Some(rest) = path.strip_prefix("/admin/api/") {
        if let Err(refused) = authorize(shared, &req) {
            return *refused;
        }
        return api::handle(shared, rest, req).await;
    }
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "GET only\n");
    }
    match path.as_str() {
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(crate::metrics::render(&shared.registry))));
            r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            r
        }
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if shared.ready.load(Ordering::Acquire) && !shared.stopping.load(Ordering::Acquire) => {
            text(StatusCode::OK, "ready\n")
        }
        "/readyz" => text(StatusCode::SERVICE_UNAVAILABLE, "not ready\n"),
        p if p == "/admin" || p.starts_with("/admin/") => console::asset(p),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// The admin token, compared in constant time; the API is off without one.
fn authorize<B>(shared: &Shared, req: &Request<B>) -> Result<(), Box<Response<Full<Bytes>>>> {
    let tokens = shared.admin_tokens.load();
    let Some(tokens) = tokens.as_ref() else {
        let off = "the admin API is off: set [admin] tokens_env or tokens_file";
        return Err(Box::new(error(StatusCode::FORBIDDEN, off)));
    };
    match tokens.check(req.headers().get(AUTHORIZATION).map(HeaderValue::as_bytes)) {
        Some(_) => Ok(()),
        None => {
            shared.metrics.auth_failures.with_label_values(&["admin"]).inc();
            let mut r = error(StatusCode::UNAUTHORIZED, "the admin token is missing or wrong");
            r.headers_mut().insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"admin\""));
            Err(Box::new(r))
        }
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    r
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(crate::json::to_vec(body))));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_response(status, &json!({ "error": message }))
}
