//! The request pipeline. This file is the only one that knows the order of
//! the phases; each phase lives elsewhere and knows nothing of the others.
//!
//! 1. **Route**: the longest base path that prefixes the request path.
//! 2. **Authenticate**: a valid inbound bearer token, or 401.
//! 3. **Path**: the rest of the path checked (no escape from the upstream
//!    base) and classified (resource, search, bulk, discovery, other).
//! 4. **Body**: read with a size bound; uncompressed JSON object only.
//! 5. **Normalize**: the route's IdP preset fixes the IdP's quirks and puts
//!    every attribute name in the schema's spelling. Then the request's
//!    [`Intent`] is decided, once ([`Intent::of_resource`],
//!    [`Intent::of_patch`], a DELETE), and carried to every later phase: a
//!    deprovisioning is never failed by a rule, a plugin or the profile.
//! 6. **Map the request**: the route's plugins set to run before the rules
//!    (in the IdP's terms), then the rules turn the body, PATCH operations
//!    or query into the backend's terms, then the plugins set to run after
//!    them (in the backend's terms). A PATCH that needs the current resource
//!    gets it from the upstream first (written back with If-Match, re-read
//!    and retried on 412); a PATCH that maps to nothing is answered with
//!    204. With plugins, a PATCH always reads the current resource: plugins
//!    see it with the operations applied, and the difference they leave is
//!    the PATCH sent. Then the backend profile ([`profile::BackendProfile`])
//!    puts the write in the backend's terms, and a list query's filter in
//!    what it filters on. Last, a write for a backend that takes one kind of
//!    update is translated from the current resource (`update = "patch"`: a
//!    PUT becomes the smallest PATCH and a full replace of members adds and
//!    removes; `update = "put"`: a PATCH becomes a PUT), removing only what
//!    the IdP manages and keeping members no IdP provisioned.
//! 7. **Forward**: to the upstream, within the route's rate limit; an
//!    idempotent request the backend answers 429 or 529 is sent again within
//!    a time budget. A list larger than the profile's page is several pages,
//!    merged.
//! 8. **Map the response**: non-SCIM errors wrapped (529 answered as 503,
//!    429 and 503 with Retry-After); the backend profile's terms undone;
//!    then response plugins set to run before the rules, the rules back to
//!    the IdP's terms, the response plugins set to run after them (each
//!    resource of a list on its own); then upstream URLs rewritten. A
//!    success none of these touch goes back as the backend wrote it, only
//!    its upstream URLs spliced (`proxy/verbatim.rs`).
//! 9. **Respond**: SCIM media type, request id, metrics and one log line
//!    (with the error's fault: client, upstream or gateway); a provisioning
//!    write's audit records queued.
//!
//! Upstream calls and their purposes: see `exchange.rs`. What a write
//! leaves in the audit trail: see `audited.rs`.

pub mod aside;
mod audited;
mod batches;
mod bulk;
mod exchange;
pub mod managed;
mod paging;
mod phases;
mod plugged;
pub mod profile;
mod query;
mod reached;
mod respond;
mod shadow;
mod translate;
mod writes;

use crate::config::Position;
use crate::error::{Fault, GatewayError};
use crate::gateway::Gateway;
use crate::json::Aside;
use crate::proxy::endpoint::Endpoint;
use crate::proxy::{body, headers, paths};
use crate::telemetry::{Span, Trace};
use crate::upstream::Reply;
use bytes::Bytes;
use exchange::{Exchange, Opened, Shape};
use http::header::{AUTHORIZATION, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use phases::{Normalized, PatchMapped, to_backend};
use scim_core::Intent;
use scim_mapper::Operation;
use scim_plugin_host::CallOperation;
use serde_json::Value;
use std::time::Instant;
use translate::Translated;
use writes::{
    Build, Found, after_write, build, current_or_answer, empty_patch, one_writer, retry_412, unchanged, written,
};

/// What the log line and metrics say about a request.
#[derive(Debug, Default)]
struct Seen<'g> {
    /// The route that took the request (its name, mapping version, metrics).
    route: Option<&'g crate::gateway::RouteRuntime>,
    token: Option<&'g str>,
    resource: &'static str,
    id: Option<String>,
    preset: &'static str,
    /// The gateway's own error, when it answered with one.
    error: Option<(&'static str, Fault)>,
    /// The request's trace, when telemetry is on.
    trace_id: Option<String>,
}

/// Handles one request from an IdP; never fails, never panics on input.
pub async fn handle<B>(gw: &Gateway, conn: Conn, req: Request<B>) -> Response<Full<Bytes>>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let started = Instant::now();
    let request_id = headers::request_id(req.headers());
    let method = req.method().clone();
    let mut seen = Seen { resource: "Other", ..Seen::default() };
    let trail = gw.audit.as_ref().map(|a| crate::audit::Trail::new(a.settings.values));
    let span = match &gw.telemetry {
        Some(t) => t.request(req.headers(), crate::metrics::method_label(&method)),
        None => Span::default(),
    };
    seen.trace_id = span.trace_id();
    // Boxed: the pipeline's state is large, and hyper moves the future it
    // is given; one allocation costs less than copying that state around.
    // Made in its box, not copied into it.
    let pipeline = crate::pinned_in_place(|| run(gw, conn, req, &request_id, &mut seen, trail.as_ref(), span.trace()));
    let result =
        tokio::time::timeout(gw.limits.request_timeout, pipeline).await.unwrap_or(Err(GatewayError::RequestTimeout));
    let answer = result.unwrap_or_else(|e| {
        seen.error = Some((e.kind(), e.fault()));
        error_answer(&e)
    });
    if let Some(t) = &trail {
        audited::end(gw, t, &seen, &answer, started, &request_id);
    }
    let response = respond(answer, &request_id);
    record(gw, &seen, &method, response.status(), started, &request_id);
    traced(&span, &seen, &method, response.status());
    response
}

async fn run<'g, B>(
    gw: &'g Gateway,
    conn: Conn,
    req: Request<B>,
    rid: &HeaderValue,
    seen: &mut Seen<'g>,
    trail: Option<&crate::audit::Trail>,
    trace: Trace,
) -> Result<Answer, GatewayError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    let (parts, body) = req.into_parts();
    let phase = trace.phase("route and auth");
    // 1. Route.
    let (route, rest) = gw.route_for(parts.uri.path()).ok_or(GatewayError::NoRoute)?;
    phase.set_with("scim.route", || route.name.clone());
    seen.route = Some(route);
    seen.preset = route.preset;
    // 2. Authenticate.
    let presented = parts.headers.get(AUTHORIZATION).map(HeaderValue::as_bytes);
    let Some(token) = route.tokens.check(presented) else {
        gw.metrics.auth_failures.with_label_values(&[route.name.as_str()]).inc();
        phase.fail(GatewayError::Unauthorized.kind());
        return Err(GatewayError::Unauthorized);
    };
    seen.token = Some(token);
    // 3. Path.
    let path = paths::safe_rest(rest)?;
    let endpoint = Endpoint::classify(&path);
    seen.resource = endpoint.label();
    if let Endpoint::Resource { id, .. } = &endpoint {
        seen.id.clone_from(id);
    }
    drop(phase);
    let trail = audited::begin(trail, route, &endpoint, &parts.method);
    // 4. Body.
    let phase = trace.phase("read body");
    let raw = body::read(body, gw.limits.max_body_bytes).await?;
    let (doc, aside) = match raw.is_empty() {
        true => (None, Aside::default()),
        false => {
            body::check_headers(&parts.headers)?;
            let keeper = aside::keeper(route, &endpoint, &parts.method, trail);
            let (doc, aside) = body::parse_object_keeping(&raw, gw.limits.max_json_depth, keeper.as_ref())?;
            (Some(doc), aside)
        }
    };
    drop(phase);
    // The audit trail's room, taken before anything is forwarded.
    if let Some(rt) = audited::is_write(&endpoint, &parts.method) {
        audited::admit(gw, trail, rt, &parts.method, doc.as_ref()).await?;
    }
    let mut x = Exchange::new(gw, route, conn, &parts, path, rid.clone(), trail);
    x.trace = trace;
    if route.mode == crate::config::RouteMode::Shadow {
        return shadow::run(&x, &endpoint, &parts.method, doc, raw).await;
    }
    // 5 to 8, by endpoint.
    dispatch(&x, &endpoint, &parts.method, doc, aside, raw).await
}

async fn dispatch(
    x: &Exchange<'_>,
    endpoint: &Endpoint,
    method: &Method,
    doc: Option<Value>,
    aside: Aside,
    raw: Bytes,
) -> Result<Answer, GatewayError> {
    // A method the endpoint does not take is never forwarded unmapped.
    if !endpoint.allows(method) {
        return Err(GatewayError::MethodNotAllowed { method: method.to_string(), allow: endpoint.allow() });
    }
    let one = endpoint.one_resource();
    // Writes to one resource go one at a time (see locks.rs).
    let _one_writer = match (one, method) {
        (Some(rt), &Method::PUT | &Method::PATCH | &Method::DELETE) => {
            Some(one_writer(x, Intent::of_request(method.as_str(), rt, doc.as_ref())).await?)
        }
        _ => None,
    };
    let mapped =
        matches!(endpoint, Endpoint::Resource { .. } | Endpoint::Me | Endpoint::Search { .. } | Endpoint::Bulk);
    // A mapped endpoint's body is `doc` (and `aside`, which holds the
    // body's bytes when it kept members) from here on.
    let raw = match mapped {
        true => {
            drop(raw);
            Bytes::new()
        }
        false => raw,
    };
    match (endpoint, one, method, doc) {
        (_, _, &Method::POST | &Method::PUT | &Method::PATCH, None) if mapped => {
            Err(GatewayError::BadJson("this request needs a JSON body".into()))
        }
        (Endpoint::Resource { resource_type: rt, id: None }, _, &Method::GET, _) => list(x, rt).await,
        (Endpoint::Resource { resource_type: rt, id: None }, _, &Method::POST, Some(doc)) => {
            create(x, rt, doc, aside).await
        }
        // `/Me` is the authenticated user's own resource: mapped as a User.
        (Endpoint::Me, _, &Method::POST, Some(doc)) => create(x, "User", doc, aside).await,
        (_, Some(rt), &Method::GET, _) => get(x, rt).await,
        (_, Some(rt), &Method::PUT, Some(doc)) => replace(x, rt, doc, aside).await,
        (_, Some(rt), &Method::PATCH, Some(doc)) => patch(x, rt, doc).await,
        (_, Some(rt), &Method::DELETE, _) => delete(x, endpoint, rt).await,
        (Endpoint::Search { resource_type }, _, &Method::POST, Some(doc)) => search(x, *resource_type, doc).await,
        (Endpoint::Bulk, _, &Method::POST, Some(doc)) => bulk::run(x, doc).await,
        _ => {
            let reply = x.forward_raw(method.clone(), raw).await?;
            back(x, reply, Shape::Opaque, Intent::Provision).await
        }
    }
}

/// DELETE of one resource: forwarded (7), and forgotten by the profile
/// once the backend deleted it (or had no such resource). Deletes never reach a plugin, not even on
/// the way back.
async fn delete(x: &Exchange<'_>, endpoint: &Endpoint, rt: &'static str) -> Result<Answer, GatewayError> {
    let reply = x.forward(Method::DELETE, &x.path, x.query.as_deref(), None, None).await?;
    let gone = reply.status.is_success() || reply.status == StatusCode::NOT_FOUND;
    if let (true, Endpoint::Resource { id: Some(id), .. }) = (gone, endpoint) {
        x.route.profile.deleted(x, rt, id).await;
    }
    x.map_reply(reply, Shape::Resource(rt))
}

/// GET on a collection: filter normalized (5) and rewritten (6), forwarded
/// (7), the list mapped back (8).
async fn list(x: &Exchange<'_>, rt: &'static str) -> Result<Answer, GatewayError> {
    let original = query::pairs(x.query.as_deref().unwrap_or(""));
    let get = |k: &str| original.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let (mut rewritten, normalized) = query::rewrite(x.route, rt, get)?;
    x.count_normalized(&normalized);
    x.route.profile.list_query(rt, &mut rewritten)?;
    if let Some(reply) = x.route.profile.list(x, &original, &rewritten).await? {
        return back(x, reply, Shape::List(rt), Intent::Provision).await;
    }
    query::log_filter(&rewritten, x.gw.redact_pii);
    let q = query::rebuild(&original, &rewritten);
    let reply = x.forward(Method::GET, &x.path, q.as_deref(), None, None).await?;
    back(x, reply, Shape::List(rt), Intent::Provision).await
}

/// GET of one resource: `attributes` and `excludedAttributes` rewritten (6),
/// forwarded (7), mapped back (8).
async fn get(x: &Exchange<'_>, rt: &'static str) -> Result<Answer, GatewayError> {
    let original = query::pairs(x.query.as_deref().unwrap_or(""));
    let get = |k: &str| {
        (k != "filter").then(|| original.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.clone())).flatten()
    };
    let (rewritten, _) = query::rewrite(x.route, rt, get)?;
    let q = query::rebuild(&original, &rewritten);
    let reply = x.forward(Method::GET, &x.path, q.as_deref(), None, None).await?;
    back(x, reply, Shape::Resource(rt), Intent::Provision).await
}

/// POST /.search: the same as a list, with the parameters in the body. A
/// search at the root spans Users and Groups (see [`query::rewrite_root`]);
/// its answer is mapped per resource.
async fn search(x: &Exchange<'_>, rt: Option<&'static str>, doc: Value) -> Result<Answer, GatewayError> {
    if !x.route.profile.searches() {
        return Err(GatewayError::NotImplemented("the backend takes no POST /.search; list with GET and a filter"));
    }
    let get = |k: &str| query::search_param(&doc, k);
    let (mut rewritten, normalized) = match rt {
        Some(rt) => query::rewrite(x.route, rt, get)?,
        None => query::rewrite_root(x.route, get)?,
    };
    if let Some(rt) = rt {
        x.route.profile.list_query(rt, &mut rewritten)?;
    }
    x.count_normalized(&normalized);
    query::log_filter(&rewritten, x.gw.redact_pii);
    let mut body = query::rebuild_search(doc, &rewritten);
    if let Some(max_page) = x.route.profile.max_page() {
        paging::clamp_search_count(&mut body, max_page);
    }
    let reply = x.forward(Method::POST, &x.path, x.query.as_deref(), Some(&body), None).await?;
    back(x, reply, rt.map_or(Shape::AnyList, Shape::List), Intent::Provision).await
}

/// POST: normalize (5), plugins and rules (6), forward (7), map back (8).
/// `aside`: members of the body kept as text, and the count of those left
/// out as normalization strips them (see `aside.rs`).
async fn create(x: &Exchange<'_>, rt: &'static str, doc: Value, aside: Aside) -> Result<Answer, GatewayError> {
    let Normalized { body: doc, intent } = phases::resource(x, rt, Operation::Create, doc, &aside)?;
    let doc = plugged::request(x, Position::Before, rt, CallOperation::Create, intent, doc).await?;
    let mapped = phases::map_resource(x, rt, Operation::Create, doc, None, intent).await?;
    let mapped = to_backend(x, rt, mapped, intent).await?;
    let reply = batches::send(x, rt, Method::POST, mapped, aside, None).await?;
    back(x, reply, Shape::Resource(rt), Intent::Provision).await
}

/// PUT: normalize (5); when rules carry values over, read the current
/// resource; map (6); forward with If-Match (7), re-reading on 412; map
/// back (8).
/// `aside`: members of the body kept as text (and the count of those left
/// out, see `aside.rs`): for a PUT sent as it is, or as a PATCH (paired
/// with the current resource's).
async fn replace(x: &Exchange<'_>, rt: &'static str, doc: Value, aside: Aside) -> Result<Answer, GatewayError> {
    let Normalized { body: mut doc, intent } = phases::resource(x, rt, Operation::Replace, doc, &aside)?;
    if replace_as_sent(x.route, rt) {
        let doc = plugged::request(x, Position::Before, rt, CallOperation::Replace, intent, doc).await?;
        let mapped = phases::map_resource(x, rt, Operation::Replace, doc, None, intent).await?;
        let mapped = to_backend(x, rt, mapped, intent).await?;
        let reply = x.forward_with(Method::PUT, mapped, aside, None).await?;
        return after_write(x, rt, reply, intent).await;
    }
    // Members stay text this far only for a PUT sent as a PATCH with no
    // request plugin (see `aside.rs`): the write pairs them with the
    // current resource's.
    let kept = match aside::pairs_with_current(x.route, rt) {
        true => aside,
        false => {
            aside::whole(&mut doc, aside)?;
            Aside::default()
        }
    };
    let doc = plugged::request(x, Position::Before, rt, CallOperation::Replace, intent, doc).await?;
    write_with_current(x, rt, Method::PUT, Build::Replace { doc, kept, intent }).await
}

/// Whether a PUT of `rt` goes upstream as the mapped body, without the
/// current resource (no rule carries a value over, no translation into a
/// PATCH).
fn replace_as_sent(route: &crate::gateway::RouteRuntime, rt: &str) -> bool {
    !route.program.replace_needs_current(rt) && !translate::put_as_patch(route.update_for(rt))
}

/// PATCH: normalize (5); map the operations (6), reading the current
/// resource when the rules need it; forward (7) or answer 204 when nothing
/// is left; map back (8).
async fn patch(x: &Exchange<'_>, rt: &'static str, doc: Value) -> Result<Answer, GatewayError> {
    let Normalized { body: ops, intent } = phases::patch(x, rt, doc)?;
    let plugins = plugged::on_request(x, rt);
    if plugins || translate::patch_needs_current(x.route.update_for(rt), x.route.member_batch_for(rt), rt, &ops) {
        let how = match plugins {
            true => Build::PatchPlugins { ops: &ops, intent },
            false => Build::Patch { ops: &ops, intent },
        };
        return write_with_current(x, rt, Method::PATCH, how).await;
    }
    match phases::map_patch(x, rt, &ops, intent).await? {
        PatchMapped::Send(body) => {
            let reply = batches::send(x, rt, Method::PATCH, body, Aside::default(), None).await?;
            after_write(x, rt, reply, intent).await
        }
        PatchMapped::Nothing => Ok(Answer::own(StatusCode::NO_CONTENT, None)),
        PatchMapped::NeedsCurrent => write_with_current(x, rt, Method::PATCH, Build::Patch { ops: &ops, intent }).await,
    }
}

/// Phase 8, the upstream's answer for the IdP: errors wrapped, then
/// response plugins before the rules, the rules back, plugins after them,
/// and the upstream's URLs rewritten. `intent`: the answer to a
/// deactivation, which a failing plugin must not turn into an error.
async fn back(x: &Exchange<'_>, reply: Reply, shape: Shape, intent: Intent) -> Result<Answer, GatewayError> {
    if let Some(text) = x.verbatim_text(&reply, shape) {
        return Ok(x.verbatim(reply, text));
    }
    let (status, headers, body) = match x.open_reply(reply, shape)? {
        Opened::Done(answer) => return Ok(answer),
        Opened::Body(status, headers, body) => (status, headers, body),
    };
    let span = x.trace.phase("backend profile");
    span.set("scim.profile", x.route.profile.name());
    span.set("scim.direction", "response");
    let body = match intent {
        Intent::Deprovision => {
            let kept = body.clone();
            x.route.profile.response(x, shape, body).await.unwrap_or(kept)
        }
        Intent::Provision => {
            let body = x.route.profile.response(x, shape, body).await;
            crate::telemetry::mark(&span, &body);
            body?
        }
    };
    drop(span);
    let body = plugged::response(x, shape, Position::Before, intent, body).await?;
    let body = x.map_body(body, shape)?;
    let body = plugged::response(x, shape, Position::After, intent, body).await?;
    Ok(x.finish(status, headers, body))
}

/// What a write built from the current resource comes to.
enum Write {
    /// This body goes upstream.
    Send(Value),
    /// Answered without a write.
    Done(Answer),
}

/// One try at a write built from the current resource.
enum Attempt {
    /// The write is answered.
    Answered(Answer),
    /// The backend's version moved (412): read it again and rebuild.
    Again,
}

/// Reads the current resource, builds the write from it (6), translates it
/// for a backend that takes one kind of update, sends it with If-Match (7)
/// and, on 412, starts again from a fresh read, a bounded number of times;
/// maps the answer back (8).
async fn write_with_current(
    x: &Exchange<'_>,
    rt: &'static str,
    method: Method,
    mut how: Build<'_>,
) -> Result<Answer, GatewayError> {
    for attempt in 0..=x.route.etag_retries {
        // Boxed: an attempt's state (the read, the translation, member
        // lookups) is large, and every other request would carry it.
        if let Attempt::Answered(answer) = Box::pin(write_once(x, rt, &method, &mut how, attempt)).await? {
            return Ok(answer);
        }
    }
    Err(GatewayError::Conflict(x.route.etag_retries + 1))
}

async fn write_once(
    x: &Exchange<'_>,
    rt: &'static str,
    method: &Method,
    how: &mut Build<'_>,
    attempt: u32,
) -> Result<Attempt, GatewayError> {
    let intent = how.intent();
    let Found { mut current, etag, paired } = match current_or_answer(x, rt, intent, how.kept()).await? {
        Ok(found) => found,
        Err(answer) => return Ok(Attempt::Answered(answer)),
    };
    let if_match = etag.as_ref().filter(|_| !x.idp_if_match());
    let next = writes::next_attempt(x, if_match, attempt);
    let mut body = match build(x, rt, how, &current, next).await? {
        Write::Send(body) => to_backend(x, rt, body, intent).await?,
        Write::Done(answer) => return Ok(Attempt::Answered(answer)),
    };
    aside::whole(&mut body, paired.desired)?;
    // An empty PatchOp is looked for in a PATCH only (a PUT's resource
    // is not read for one).
    let translated = match *method == Method::PATCH && empty_patch(&body) {
        true => Translated::Unchanged,
        false => translate::translate(x, rt, method, &current, body, intent).await?,
    };
    let (sent, reply) = match translated {
        Translated::Send(write) => batches::send_translated(x, rt, write, if_match).await?,
        Translated::Unchanged => {
            aside::whole(&mut current, paired.same)?;
            return unchanged(x, rt, method, current, etag.as_ref(), intent).await.map(Attempt::Answered);
        }
    };
    match retry_412(x, &reply, next) {
        true => Ok(Attempt::Again),
        false => written(x, rt, method, &sent, reply, intent).await.map(Attempt::Answered),
    }
}

pub use reached::Conn;
pub use respond::reject;
use respond::{Answer, error_answer, record, respond, traced};
