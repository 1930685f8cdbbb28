//! Shadow mode (`mode = "shadow"` on a route): what the IdP sent goes to
//! the backend as it was sent, and the backend's answer goes back unmapped
//! (only its URLs are rewritten to the gateway's). Beside it, a write runs
//! through normalization, plugins, rules, the backend profile and update
//! translation exactly as on an enforcing route, except that the mapped
//! write is not sent ([`Exchange::send`] answers it with its own body):
//! the audit record lists what the gateway would have changed. Reads the
//! mapping needs (the current resource, lookups) do go to the backend.

use super::audited;
use super::exchange::{Exchange, Opened, Shape};
use super::respond::Answer;
use crate::error::GatewayError;
use crate::proxy::endpoint::Endpoint;
use crate::upstream::{Forward, Reply};
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value;

/// A request on a shadow route.
pub(super) async fn run(
    x: &Exchange<'_>,
    endpoint: &Endpoint,
    method: &Method,
    doc: Option<Value>,
    raw: Bytes,
) -> Result<Answer, GatewayError> {
    if audited::is_write(endpoint, method).is_some() {
        let dry = Exchange { shadow: true, ..x.clone() };
        if let Err(e) =
            Box::pin(super::dispatch(&dry, endpoint, method, doc, crate::json::Aside::default(), raw.clone())).await
        {
            tracing::info!(route = %x.route.name, error = e.kind(), "shadow: the mapping would have refused this write");
            if let Some(t) = x.trail {
                t.entry(|entry| entry.shadow_error = Some(e.to_string()));
            }
        }
    }
    let reply = x.forward_raw(method.clone(), raw).await?;
    match x.open_reply(reply, Shape::Opaque)? {
        Opened::Done(answer) => Ok(answer),
        Opened::Body(status, headers, body) => Ok(x.finish(status, headers, body)),
    }
}

/// The answer a shadow run gets for the write it would have sent: its own
/// body, as a backend that stored it would answer.
pub(super) fn echo(f: &Forward) -> Reply {
    let status = match f.method {
        Method::POST => StatusCode::CREATED,
        Method::DELETE => StatusCode::NO_CONTENT,
        _ => StatusCode::OK,
    };
    let body = if f.method == Method::DELETE { Bytes::new() } else { f.body.clone() };
    Reply { status, headers: HeaderMap::new(), body }
}
