//! Phase 9, the answer: what goes back to the IdP ([`Answer`]), SCIM errors
//! with their status, headers, the body written out; and the request's
//! metrics and log line.

use super::Seen;
use crate::error::{Fault, GatewayError};
use crate::gateway::Gateway;
use crate::metrics::method_label;
use crate::proxy::headers;
use bytes::Bytes;
use http::header::{HeaderValue, WWW_AUTHENTICATE};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;
use std::time::Instant;

/// What goes back to the IdP (headers not yet cleaned).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Body,
}

/// An answer's body.
#[derive(Debug)]
pub enum Body {
    None,
    /// A document the gateway made or mapped.
    Json(Value),
    /// The backend's text, which nothing maps (see [`crate::proxy::verbatim`]).
    Text(Bytes),
}

impl Answer {
    /// An answer the gateway makes itself.
    pub fn own(status: StatusCode, body: Option<Value>) -> Self {
        Self { status, headers: HeaderMap::new(), body: body.map_or(Body::None, Body::Json) }
    }

    /// The body as a document, when the gateway made or mapped one.
    pub fn json(&self) -> Option<&Value> {
        match &self.body {
            Body::Json(v) => Some(v),
            Body::None | Body::Text(_) => None,
        }
    }

    /// The body as a document, taken.
    pub fn into_json(self) -> Option<Value> {
        match self.body {
            Body::Json(v) => Some(v),
            Body::None | Body::Text(_) => None,
        }
    }
}

pub(super) fn error_answer(e: &GatewayError) -> Answer {
    let mut a = Answer::own(e.status(), Some(e.body()));
    if matches!(e, GatewayError::Unauthorized) {
        a.headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scim-gateway\""));
    }
    if matches!(
        e,
        GatewayError::Overloaded
            | GatewayError::ShuttingDown
            | GatewayError::AuditUnavailable
            | GatewayError::WriteUnguarded(_)
    ) {
        a.headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if let GatewayError::MethodNotAllowed { allow, .. } = e {
        a.headers.insert(http::header::ALLOW, HeaderValue::from_static(allow));
    }
    if let GatewayError::BatchFailed { status: 429 | 503, .. } = e {
        a.headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if let GatewayError::RateLimited(wait) = e {
        a.headers.insert(http::header::RETRY_AFTER, HeaderValue::from(crate::error::retry_after_secs(*wait)));
    }
    a
}

pub(super) fn respond(a: Answer, rid: &HeaderValue) -> Response<Full<Bytes>> {
    let body = match a.body {
        Body::None => None,
        Body::Json(v) => Some(Bytes::from(crate::json::to_vec(&v))),
        Body::Text(text) => Some(text),
    };
    let headers = headers::downstream_response(a.headers, rid, body.as_ref());
    let mut resp = Response::new(Full::new(body.unwrap_or_default()));
    *resp.status_mut() = a.status;
    *resp.headers_mut() = headers;
    resp
}

/// An error answer outside a route's pipeline (overload, shutdown).
pub fn reject(e: &GatewayError) -> Response<Full<Bytes>> {
    respond(error_answer(e), &headers::request_id(&HeaderMap::new()))
}

/// `kind (fault)` in the log line, written only when the line is.
struct FaultOf(&'static str, Fault);

impl std::fmt::Display for FaultOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.1 {
            Fault::None => f.write_str(self.0),
            fault => write!(f, "{} ({} fault)", self.0, fault.as_str()),
        }
    }
}

/// The error kind and whose fault it is: the gateway's own errors know;
/// an error the backend answered is the IdP's (4xx) or the backend's (5xx).
pub(super) fn outcome(seen: &Seen<'_>, status: StatusCode) -> (&'static str, Fault) {
    match (seen.error, status.as_u16()) {
        (Some((kind, fault)), _) => (kind, fault),
        (None, 500..) => ("upstream_error", Fault::Upstream),
        (None, 400..) => ("upstream_refused", Fault::Client),
        (None, _) => ("-", Fault::None),
    }
}

pub(super) fn record(
    gw: &Gateway,
    seen: &Seen<'_>,
    method: &Method,
    status: StatusCode,
    started: Instant,
    rid: &HeaderValue,
) {
    let elapsed = started.elapsed();
    let route = seen.route.map_or("none", |r| r.name.as_str());
    let m = method_label(method);
    let (error, fault) = outcome(seen, status);
    let counted = seen.route.map_or(&gw.unrouted, |r| &r.metrics);
    counted.request(&gw.metrics, seen.resource, method, status.as_u16(), elapsed.as_secs_f64());
    tracing::info!(
        // A string, not a format (the field writer writes it as it is);
        // first, where the macro puts a format.
        message = "request",
        request_id = rid.to_str().unwrap_or("-"),
        route,
        token = seen.token.unwrap_or("-"),
        method = m,
        resource = seen.resource,
        resource_id = seen.id.as_deref().unwrap_or("-"),
        status = status.as_u16(),
        error = %FaultOf(error, fault),
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        mapping_version = seen.route.map_or("-", |r| r.mapping_version.as_str()),
        trace_id = seen.trace_id.as_deref(),
    );
}

/// The request span's name and attributes, once its answer is known: only
/// the bounded labels the metrics use. A 5xx is an error; a 4xx is the
/// client's, noted but not an error of the gateway's.
pub(super) fn traced(span: &crate::telemetry::Span, seen: &Seen<'_>, method: &Method, status: StatusCode) {
    if !span.is_recording() {
        return;
    }
    let m = method_label(method);
    span.rename(format!("{m} {}", seen.resource));
    span.set("http.request.method", m);
    span.set("http.response.status_code", i64::from(status.as_u16()));
    span.set("scim.resource", seen.resource);
    if let Some(route) = seen.route {
        span.set("scim.route", route.name.clone());
        span.set("scim.preset", seen.preset);
        span.set("scim.mapping_version", route.mapping_version.clone());
    }
    let (error, fault) = outcome(seen, status);
    match (fault, status.is_server_error()) {
        (Fault::None, _) => {}
        (_, true) => span.fail(error),
        (_, false) => span.set("error.type", error),
    }
    if fault != Fault::None {
        span.set("scim.fault", fault.as_str());
    }
}
