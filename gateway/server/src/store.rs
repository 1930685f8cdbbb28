//! The embedded store (`upstream.url = "memory:"`): an in-memory SCIM
//! service provider for the quickstart and dry runs. Users and Groups CRUD,
//! PATCH, filters, paging, ETags and the discovery endpoints, built on the
//! core's schema, filter and PATCH pieces. State lives as long as the
//! process; nothing is written to disk.

mod discovery;
mod resources;

use crate::upstream::{Forward, Reply, ReplyFuture, Upstream};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, ETAG, HeaderValue, LOCATION};
use http::{HeaderMap, Method, StatusCode};
use resources::{Collection, Fail};
use scim_core::error::{ScimError, error_body};
use scim_core::schema::Registry;
use serde_json::Value;
use std::sync::Mutex;

/// The base URL of resources in the store; the gateway rewrites it to its own.
pub const MEMORY_BASE: &str = "memory:";

/// Most resources the store keeps per type.
const MAX_RESOURCES: usize = 100_000;

/// An in-memory SCIM service provider.
#[derive(Debug)]
pub struct MemoryStore {
    registry: Registry,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: Collection,
    groups: Collection,
}

impl MemoryStore {
    /// An empty store serving the resource types of `registry`.
    pub fn new(registry: Registry) -> Self {
        Self { registry, state: Mutex::new(State::default()) }
    }

    /// Handles one request.
    pub fn handle(&self, f: &Forward) -> Reply {
        let segs: Vec<&str> = f.path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
        let query = f.query.as_deref().unwrap_or("");
        match segs.as_slice() {
            ["ServiceProviderConfig"] => get_only(f, || json(StatusCode::OK, discovery::service_provider_config())),
            ["ResourceTypes"] => get_only(f, || json(StatusCode::OK, discovery::resource_types(&self.registry))),
            ["ResourceTypes", name] => get_only(f, || one(discovery::resource_type(&self.registry, name))),
            ["Schemas"] => get_only(f, || json(StatusCode::OK, discovery::schemas(&self.registry))),
            ["Schemas", id] => get_only(f, || one(discovery::schema(&self.registry, id))),
            [".search"] if f.method == Method::POST => self.search(None, &f.body),
            [endpoint, ".search"] if f.method == Method::POST => match resource_type(endpoint) {
                Some(rt) => self.search(Some(rt), &f.body),
                None => not_found(),
            },
            [endpoint] => match resource_type(endpoint) {
                Some(rt) => self.collection(rt, f, query),
                None => not_found(),
            },
            [endpoint, id] => match resource_type(endpoint) {
                Some(rt) => self.resource(rt, id, f),
                None => not_found(),
            },
            _ => not_found(),
        }
    }

    fn collection(&self, rt: &'static str, f: &Forward, query: &str) -> Reply {
        match f.method {
            Method::GET => self.with(rt, |c, reg| c.list(reg, rt, &resources::ListParams::from_query(query))),
            Method::POST => self.with(rt, |c, reg| c.create(reg, rt, &f.body)),
            _ => method_not_allowed(),
        }
    }

    fn resource(&self, rt: &'static str, id: &str, f: &Forward) -> Reply {
        let cond = resources::Conditions::from_headers(&f.headers);
        match f.method {
            Method::GET => self.with(rt, |c, _| c.get(id, &cond)),
            Method::PUT => self.with(rt, |c, reg| c.replace(reg, rt, id, &f.body, &cond)),
            Method::PATCH => self.with(rt, |c, reg| c.patch(reg, rt, id, &f.body, &cond)),
            Method::DELETE => {
                let reply = self.with(rt, |c, _| c.delete(id, &cond));
                if reply.status == StatusCode::NO_CONTENT && rt == "User" {
                    self.forget_member(id);
                }
                reply
            }
            _ => method_not_allowed(),
        }
    }

    fn search(&self, rt: Option<&'static str>, body: &[u8]) -> Reply {
        let params = match resources::ListParams::from_search(body) {
            Ok(p) => p,
            Err(e) => return error(&e),
        };
        let rt = rt.unwrap_or("User");
        self.with(rt, |c, reg| c.list(reg, rt, &params))
    }

    fn with(&self, rt: &str, f: impl FnOnce(&mut Collection, &Registry) -> Result<Reply, Fail>) -> Reply {
        let Ok(mut state) = self.state.lock() else {
            return json(StatusCode::INTERNAL_SERVER_ERROR, error_body(500, None, "the store is unavailable"));
        };
        let State { users, groups } = &mut *state;
        let c = if rt == "Group" { groups } else { users };
        if c.len() >= MAX_RESOURCES {
            return json(StatusCode::INSUFFICIENT_STORAGE, error_body(507, None, "the embedded store is full"));
        }
        f(c, &self.registry).unwrap_or_else(|e| e.reply())
    }

    fn forget_member(&self, id: &str) {
        if let Ok(mut state) = self.state.lock() {
            state.groups.remove_member(id);
        }
    }
}

impl Upstream for MemoryStore {
    fn call(&self, request: Forward) -> ReplyFuture<'_> {
        let reply = self.handle(&request);
        Box::pin(async move { Ok(reply) })
    }

    fn base_url(&self) -> &str {
        MEMORY_BASE
    }
}

fn resource_type(endpoint: &str) -> Option<&'static str> {
    match endpoint {
        "Users" => Some("User"),
        "Groups" => Some("Group"),
        _ => None,
    }
}

fn get_only(f: &Forward, answer: impl FnOnce() -> Reply) -> Reply {
    if f.method == Method::GET { answer() } else { method_not_allowed() }
}

fn one(found: Option<Value>) -> Reply {
    match found {
        Some(v) => json(StatusCode::OK, v),
        None => json(StatusCode::NOT_FOUND, error_body(404, None, "no such resource")),
    }
}

/// A JSON answer with the SCIM media type.
pub(crate) fn json(status: StatusCode, body: Value) -> Reply {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/scim+json"));
    let body = if status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        Bytes::new()
    } else {
        Bytes::from(crate::json::to_vec(&body))
    };
    Reply { status, headers, body }
}

/// A resource answer with its ETag (and Location on create).
pub(crate) fn resource_reply(status: StatusCode, body: Value) -> Reply {
    let etag = body.pointer("/meta/version").and_then(Value::as_str).and_then(|v| HeaderValue::from_str(v).ok());
    let location = body.pointer("/meta/location").and_then(Value::as_str).and_then(|v| HeaderValue::from_str(v).ok());
    let mut reply = json(status, body);
    if let Some(etag) = etag {
        reply.headers.insert(ETAG, etag);
    }
    if let (Some(loc), StatusCode::CREATED) = (location, status) {
        reply.headers.insert(LOCATION, loc);
    }
    reply
}

pub(crate) fn error(e: &ScimError) -> Reply {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    json(status, e.to_body())
}

fn not_found() -> Reply {
    json(StatusCode::NOT_FOUND, error_body(404, None, "no such endpoint in the embedded store"))
}

fn method_not_allowed() -> Reply {
    json(StatusCode::METHOD_NOT_ALLOWED, error_body(405, None, "method not supported on this endpoint"))
}

#[cfg(test)]
mod tests;
