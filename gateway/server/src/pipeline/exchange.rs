//! The single steps the pipeline strings together for one request: forward
//! to the upstream, read the current resource, map an upstream answer back,
//! and count what mapping and normalization did.
//!
//! Upstream calls, all through `Exchange`'s one sender, each
//! with its `Purpose` (counted in
//! `scim_gateway_upstream_requests_total{route,purpose}`):
//!
//! - `forward` (7): the IdP's request, mapped; a /Bulk request's operations
//!   in one request;
//! - `current_read` (6): the resource as the backend stores it, for a write
//!   built from it, and read back after a PUT sent as a PATCH;
//! - `lookup` (6, 8): other resources a profile or a translation needs (a
//!   manager's email, whether a group member was provisioned);
//! - `page` (7): the pages of a list larger than the backend's page.

use super::Conn;
use super::respond::{Answer, Body};
use crate::error::GatewayError;
use crate::gateway::{Gateway, RouteRuntime};
use crate::json::Aside;
use crate::metrics::method_label;
use crate::proxy::headers::{self, Proto, Sending};
use crate::proxy::{rewrite, verbatim};
use crate::upstream::{Forward, Reply, UpstreamError};
use bytes::Bytes;
use http::header::{HeaderValue, IF_MATCH, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use scim_core::Intent;
use scim_mapper::{MapOptions, Operation, Report};
use serde_json::{Value, json};
use std::time::Instant;

use scim_core::LIST_RESPONSE_URN as LIST_URN;

/// What the upstream answer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A resource of this type (or a ListResponse of them).
    Resource(&'static str),
    /// The answer to a list query for this type: a 404 is an empty list.
    List(&'static str),
    /// The answer to a search of any type: mapped by each resource's
    /// schemas; a 404 is an empty list.
    AnyList,
    /// Passed through (discovery, bulk, others); only URLs are rewritten.
    Opaque,
}

impl Shape {
    /// Whether this answers a list query.
    pub fn is_list_query(self) -> bool {
        matches!(self, Self::List(_) | Self::AnyList)
    }
}

/// Why the gateway calls the upstream. Every call names one; they are
/// counted in `scim_gateway_upstream_requests_total{route,purpose}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The IdP's request itself, mapped.
    Forward,
    /// The resource as the backend stores it, read to build a write from
    /// (or read back after one).
    CurrentRead,
    /// Another resource looked up (a manager, a group member).
    Lookup,
    /// One page of a list served from several upstream pages.
    Page,
}

impl Purpose {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Forward => "forward",
            Self::CurrentRead => "current_read",
            Self::Lookup => "lookup",
            Self::Page => "page",
        }
    }
}

/// An upstream answer after [`Exchange::open_reply`].
#[derive(Debug)]
pub enum Opened {
    /// Nothing left to map.
    Done(Answer),
    /// A success with a JSON body to map.
    Body(StatusCode, HeaderMap, Value),
}

/// One request in flight.
#[derive(Debug, Clone)]
pub struct Exchange<'a> {
    pub gw: &'a Gateway,
    /// The IdP's method.
    pub method: Method,
    pub route: &'a RouteRuntime,
    pub headers: &'a HeaderMap,
    pub path: String,
    pub query: Option<String>,
    pub request_id: HeaderValue,
    /// The X-Forwarded-For to send upstream.
    pub forwarded_for: Option<HeaderValue>,
    pub proto: Proto,
    pub public_base: String,
    /// The audit trail of a provisioning write (see `audited.rs`).
    pub trail: Option<&'a crate::audit::Trail>,
    /// A shadow run: the mapped write is not sent (see `shadow.rs`).
    pub shadow: bool,
    /// Where the request's phase spans go (empty when telemetry is off).
    pub trace: crate::telemetry::Trace,
}

impl<'a> Exchange<'a> {
    /// The exchange for a request: where it came from, how the IdP sees the
    /// gateway (scheme, host, public base URL), its request id.
    pub(super) fn new(
        gw: &'a Gateway,
        route: &'a RouteRuntime,
        conn: Conn,
        parts: &'a http::request::Parts,
        path: String,
        request_id: HeaderValue,
        trail: Option<&'a crate::audit::Trail>,
    ) -> Self {
        let super::reached::Reached { proto, forwarded_for, public_base } =
            super::reached::reached(gw, route, &conn, parts);
        Exchange {
            gw,
            method: parts.method.clone(),
            route,
            headers: &parts.headers,
            path,
            query: parts.uri.query().and_then(without_idp_flags),
            request_id,
            forwarded_for,
            proto,
            public_base,
            trail,
            shadow: false,
            trace: crate::telemetry::Trace::default(),
        }
    }

    /// Sends a request upstream; `body` is serialized when present.
    pub async fn forward(
        &self,
        method: Method,
        path: &str,
        query: Option<&str>,
        body: Option<&Value>,
        if_match: Option<&HeaderValue>,
    ) -> Result<Reply, GatewayError> {
        let body = body.map(crate::json::to_vec);
        self.forward_json(method, path.to_owned(), query.map(str::to_owned), body, if_match).await
    }

    /// Sends the IdP's write on its path, `body` serialized with the
    /// `aside` members (kept as the IdP's text) after its own. Both are
    /// dropped once written, before the backend is waited for: every write
    /// in flight would hold its tree and the IdP's text otherwise.
    pub async fn forward_with(
        &self,
        method: Method,
        body: Value,
        aside: Aside,
        if_match: Option<&HeaderValue>,
    ) -> Result<Reply, GatewayError> {
        let written = crate::json::to_vec_with(&body, &aside);
        drop((body, aside));
        let Some(body) = written else {
            let e = scim_core::ScimError::invalid_syntax("the mapped resource is not a JSON object; nothing was sent");
            return Err(GatewayError::Scim(e));
        };
        self.forward_written(method, body, if_match).await
    }

    /// Sends the IdP's write on its path, its JSON written already. (Not
    /// an `async fn`, nor is [`Exchange::forward_json`]: the future is
    /// [`Exchange::send`]'s own, without a state machine of their own
    /// around it, polled at every step of the call.)
    pub fn forward_written(
        &self,
        method: Method,
        json: Vec<u8>,
        if_match: Option<&HeaderValue>,
    ) -> impl Future<Output = Result<Reply, GatewayError>> {
        self.forward_json(method, self.path.clone(), self.query.clone(), Some(json), if_match)
    }

    /// Sends a request with the IdP's headers for the upstream, `json` as
    /// its body (with a SCIM content type unless the IdP named one); the
    /// request is made when this is called, sent when awaited.
    fn forward_json(
        &self,
        method: Method,
        path: String,
        query: Option<String>,
        json: Option<Vec<u8>>,
        if_match: Option<&HeaderValue>,
    ) -> impl Future<Output = Result<Reply, GatewayError>> {
        let mut headers = self.upstream_headers(Sending::Forward);
        if let Some(tag) = if_match {
            headers.insert(IF_MATCH, tag.clone());
        }
        let body = match json {
            Some(json) => {
                headers.entry(http::header::CONTENT_TYPE).or_insert(headers::SCIM_JSON);
                Bytes::from(json)
            }
            None => Bytes::new(),
        };
        self.send(Forward { method, path, query, headers, body }, Purpose::Forward)
    }

    /// Sends the IdP's request body as it came (no mapping applies).
    pub async fn forward_raw(&self, method: Method, body: Bytes) -> Result<Reply, GatewayError> {
        let h = self.upstream_headers(Sending::Forward);
        let f = Forward { method, path: self.path.clone(), query: self.query.clone(), headers: h, body };
        self.send(f, Purpose::Forward).await
    }

    fn upstream_headers(&self, sending: Sending) -> HeaderMap {
        headers::upstream_request(self.headers, &self.request_id, self.forwarded_for.as_ref(), self.proto, sending)
    }

    /// The one place every upstream call goes through.
    async fn send(&self, mut f: Forward, purpose: Purpose) -> Result<Reply, GatewayError> {
        if self.shadow && purpose == Purpose::Forward {
            return Ok(super::shadow::echo(&f));
        }
        let span = self.trace.upstream(purpose.label(), &mut f.headers);
        span.set("scim.purpose", purpose.label());
        span.set("http.request.method", method_label(&f.method));
        let (m, counted) = (&self.gw.metrics, &self.route.metrics);
        counted.upstream_call(m, (purpose as usize, purpose.label()));
        let method = f.method.clone();
        let started = Instant::now();
        let result = self.route.upstream.call(f).await;
        if let Some(t) = self.trail {
            let status = result.as_ref().ok().map(|r| r.status.as_u16());
            t.call(purpose.label(), status, purpose == Purpose::Forward);
        }
        let up = !matches!(result, Err(UpstreamError::Connect(_) | UpstreamError::Broken(_) | UpstreamError::Timeout));
        counted.upstream_done(m, &method, started.elapsed().as_secs_f64(), up, answer_class(&result));
        traced_call(&span, &result);
        result.map_err(|e| match e {
            UpstreamError::Timeout => GatewayError::UpstreamTimeout,
            UpstreamError::RateLimited(wait) => GatewayError::RateLimited(wait),
            UpstreamError::Connect(m) | UpstreamError::Broken(m) => GatewayError::UpstreamUnavailable(m),
            other => GatewayError::BadUpstreamReply(other.to_string()),
        })
    }

    /// A GET of the gateway's own (current resource, lookups, re-reads,
    /// pages): the IdP's preconditions and content type are not sent with it.
    pub async fn read(&self, path: &str, query: Option<&str>, purpose: Purpose) -> Result<Reply, GatewayError> {
        let h = self.upstream_headers(Sending::Read);
        let (path, query) = (path.to_owned(), query.map(str::to_owned));
        self.send(Forward { method: Method::GET, path, query, headers: h, body: Bytes::new() }, purpose).await
    }

    /// Whether the IdP set its own precondition (then 412s are its to see).
    pub fn idp_if_match(&self) -> bool {
        self.headers.contains_key(IF_MATCH)
    }

    /// Counts a mapping report: rules run, failures, deprovisioning targets
    /// left out.
    pub fn count(&self, rt: &str, dir: scim_mapper::Direction, report: &Report, resources: usize, intent: Intent) {
        let m = &self.gw.metrics;
        let rules = self.route.program.rule_count(rt, dir) * resources;
        let failed = report.failures.len();
        let applied = u64::try_from(rules.saturating_sub(failed)).unwrap_or(0);
        self.route.metrics.rules_applied(m, rt, dir, applied);
        if failed > 0 {
            let labels = [self.route.name.as_str(), rt, dir.as_str()];
            m.mapping_errors.with_label_values(&labels).inc_by(u64::try_from(failed).unwrap_or(0));
            if intent.is_deprovision() {
                m.deprovision_dropped
                    .with_label_values(&[self.route.name.as_str(), rt])
                    .inc_by(u64::try_from(failed).unwrap_or(0));
            }
            tracing::warn!(route = %self.route.name, resource = rt, failed, "mapping rules failed; targets left out");
        }
    }

    /// The rules' result on their span: how many failed, or the error.
    pub fn traced_map<T>(
        &self,
        span: &crate::telemetry::Span,
        mapped: Result<(T, Report), scim_mapper::MapError>,
    ) -> Result<(T, Report), GatewayError> {
        match mapped {
            Ok((out, report)) => {
                span.set("scim.rules_failed", i64::try_from(report.failures.len()).unwrap_or(i64::MAX));
                Ok((out, report))
            }
            Err(e) => {
                let e = GatewayError::from(e);
                span.fail(e.kind());
                Err(e)
            }
        }
    }

    /// Counts normalizations.
    pub fn count_normalized(&self, report: &scim_core::normalize::Report) {
        for n in &report.applied {
            self.route.metrics.normalized(&self.gw.metrics, *n);
        }
    }

    /// Maps an upstream answer for the IdP in one go (no plugins): errors
    /// wrapped, lists and resources mapped back, URLs rewritten.
    pub fn map_reply(&self, reply: Reply, shape: Shape) -> Result<Answer, GatewayError> {
        match self.open_reply(reply, shape)? {
            Opened::Done(answer) => Ok(answer),
            Opened::Body(status, headers, body) => Ok(self.finish(status, headers, self.map_body(body, shape)?)),
        }
    }

    /// The first look at an upstream answer: errors wrapped and bodiless
    /// answers done; a JSON body is handed back for mapping. A 404 to a
    /// list query is an empty list.
    pub fn open_reply(&self, reply: Reply, shape: Shape) -> Result<Opened, GatewayError> {
        let (status, mut headers) = busy(reply.status, reply.headers);
        if shape.is_list_query() && status == StatusCode::NOT_FOUND {
            let empty =
                json!({"schemas": [LIST_URN], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []});
            return Ok(Opened::Done(Answer { status: StatusCode::OK, headers, body: Body::Json(empty) }));
        }
        self.rewrite_location(&mut headers);
        if reply.body.is_empty() || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
            return Ok(Opened::Done(Answer { status, headers, body: Body::None }));
        }
        let parsed = crate::json::from_bytes(&reply.body).ok();
        if status.as_u16() >= 400 {
            let mut body = parsed
                .map(|b| self.route.profile.error(status, b))
                .filter(rewrite::is_scim_error)
                .unwrap_or_else(|| rewrite::wrap_error(status.as_u16(), &reply.body));
            // The body's status says what the IdP is answered (503 for a 529).
            if let Some(m) = body.as_object_mut() {
                m.insert("status".into(), Value::String(status.as_u16().to_string()));
            }
            return Ok(Opened::Done(Answer { status, headers, body: Body::Json(body) }));
        }
        match parsed {
            Some(body) => Ok(Opened::Body(status, headers, body)),
            None => Err(GatewayError::BadUpstreamReply(format!("a {status} answer whose body is not JSON"))),
        }
    }

    /// The answer for the IdP: upstream URLs in the body rewritten.
    pub fn finish(&self, status: StatusCode, headers: HeaderMap, mut body: Value) -> Answer {
        rewrite::urls_in(&mut body, self.route.upstream.base_url(), &self.public_base);
        Answer { status, headers, body: Body::Json(body) }
    }

    /// A success nothing maps, as its text with the URLs made public;
    /// `None` when the parsed path ([`Exchange::open_reply`]) must take it.
    pub fn verbatim_text(&self, reply: &Reply, shape: Shape) -> Option<Bytes> {
        let plain = reply.status.is_success() && reply.status != StatusCode::NO_CONTENT && !reply.body.is_empty();
        match plain && self.maps_nothing(shape) {
            true => verbatim::answer(&reply.body, self.route.upstream.base_url(), &self.public_base),
            false => None,
        }
    }

    /// The answer for [`Exchange::verbatim_text`]'s text.
    pub fn verbatim(&self, reply: Reply, text: Bytes) -> Answer {
        let mut headers = reply.headers;
        self.rewrite_location(&mut headers);
        Answer { status: reply.status, headers, body: Body::Text(text) }
    }

    /// Whether nothing of phase 8 changes an answer of this shape: no
    /// profile hook, no response rule, no response plugin (settled per
    /// type at load); and no audit trail, which records the answer as a
    /// document.
    fn maps_nothing(&self, shape: Shape) -> bool {
        let unmapped = match shape {
            Shape::Resource(rt) | Shape::List(rt) => self.route.types.get(rt).is_some_and(|t| t.answers_unmapped),
            Shape::Opaque => self.route.profile.answers_unchanged(),
            Shape::AnyList => false,
        };
        unmapped && self.trail.is_none()
    }

    /// Lists and resources mapped back by the rules.
    pub fn map_body(&self, mut body: Value, shape: Shape) -> Result<Value, GatewayError> {
        let program = &self.route.program;
        let opts = MapOptions::default();
        let is_list = body.get("Resources").is_some() || rewrite_is_list(&body);
        if is_list && let Some(map) = body.as_object_mut() {
            rewrite::integer_counts(map);
        }
        let (rt, list_rt) = match shape {
            Shape::Opaque => return Ok(body),
            Shape::Resource(rt) | Shape::List(rt) => (rt, Some(rt)),
            Shape::AnyList => ("", None),
        };
        let n = body.get("Resources").and_then(Value::as_array).map_or(1, Vec::len);
        let span = self.trace.phase("map response");
        let result = if is_list {
            program.map_list_response(list_rt, body, opts)
        } else {
            program.map_resource(rt, Operation::Response, body, None, opts)
        };
        let (mapped, report) = result.map_err(|e| {
            span.fail("bad_upstream_reply");
            GatewayError::BadUpstreamReply(format!("the answer could not be mapped back: {e}"))
        })?;
        span.set("scim.rules_failed", i64::try_from(report.failures.len()).unwrap_or(i64::MAX));
        if !rt.is_empty() {
            self.count(rt, scim_mapper::Direction::Response, &report, n, Intent::Provision);
        }
        Ok(mapped)
    }

    fn rewrite_location(&self, headers: &mut HeaderMap) {
        let Some(loc) = headers.get(LOCATION).and_then(|v| v.to_str().ok()) else { return };
        if let Some(new) = rewrite::url(loc, self.route.upstream.base_url(), &self.public_base)
            && let Ok(v) = HeaderValue::from_str(&new)
        {
            headers.insert(LOCATION, v);
        }
    }
}

/// A backend that is busy: 429 stays 429, Notion's 529 (which no IdP
/// knows) becomes 503; both with a Retry-After, 1 s when it sent none.
fn busy(status: StatusCode, mut headers: HeaderMap) -> (StatusCode, HeaderMap) {
    let status = match status.as_u16() {
        529 => StatusCode::SERVICE_UNAVAILABLE,
        _ => status,
    };
    let limited = matches!(status, StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE);
    if limited && crate::upstream::retry_after(&headers, std::time::SystemTime::now()).is_none() {
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    (status, headers)
}

/// The query without the parameters that only tell the gateway how the
/// IdP talks (Entra ID's `aadOptscim062020`): the backend never sees them.
fn without_idp_flags(query: &str) -> Option<String> {
    let flag = |p: &&str| p.split('=').next().is_some_and(|k| k.eq_ignore_ascii_case("aadOptscim062020"));
    let kept: Vec<&str> = query.split('&').filter(|p| !p.is_empty() && !flag(p)).collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

fn rewrite_is_list(body: &Value) -> bool {
    body.get("schemas").and_then(Value::as_array).is_some_and(|s| s.iter().any(|u| u == LIST_URN))
}

/// An upstream call's span: the backend's status, or why there was none.
fn traced_call(span: &crate::telemetry::Span, result: &Result<Reply, UpstreamError>) {
    match result {
        Ok(reply) => {
            span.set("http.response.status_code", i64::from(reply.status.as_u16()));
            if reply.status.is_server_error() {
                span.fail("upstream_error");
            }
        }
        Err(UpstreamError::Timeout) => span.fail("upstream_timeout"),
        Err(UpstreamError::RateLimited(_)) => span.fail("rate_limited"),
        Err(UpstreamError::Connect(_) | UpstreamError::Broken(_)) => span.fail("upstream_unavailable"),
        Err(_) => span.fail("bad_upstream_reply"),
    }
}

/// The class of the backend's answer, for `scim_gateway_upstream_responses_total`
/// (a position in `CLASS_LABELS`): `None` when the request was never sent
/// (the route's rate limit refused it).
fn answer_class(result: &Result<Reply, UpstreamError>) -> Option<usize> {
    match result {
        Ok(reply) => Some(crate::metrics::class_index(reply.status.as_u16())),
        Err(UpstreamError::RateLimited(_)) => None,
        Err(_) => Some(crate::metrics::UNANSWERED),
    }
}
