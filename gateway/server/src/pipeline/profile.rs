//! Backend profiles: what one backend needs beyond SCIM, behind one trait
//! whose hooks do nothing by default (in the manner of pingora's
//! `ProxyHttp`). The pipeline calls each hook at its phase and never names a
//! profile; `generic` is the trait's defaults.
//!
//! Adding a profile: write one module here implementing [`BackendProfile`]
//! (override only the hooks the backend needs) and add its line to
//! `PROFILES`; `profile = "<name>"` then selects it. docs/configuration.md
//! lists the profiles.

mod aws;
mod cache;
mod notion;

use super::exchange::{Exchange, Shape};
use crate::config::{Profile, UpdateMode};
use crate::error::GatewayError;
use crate::upstream::Reply;
use http::StatusCode;
use scim_core::Intent;
use scim_mapper::RewrittenQuery;
use serde_json::Value;

pub use notion::NOTION_URN;

/// The hooks a backend profile may override. Each default leaves the
/// request or answer as it is.
#[async_trait::async_trait]
pub trait BackendProfile: Send + Sync + std::fmt::Debug {
    /// The profile's name, as the config spells it.
    fn name(&self) -> &'static str;

    /// Whether [`BackendProfile::request`] leaves every write as it is and
    /// fails none (then it is not called, and the audit trail does not look
    /// for its changes).
    fn writes_unchanged(&self) -> bool {
        false
    }

    /// Whether [`BackendProfile::current`] leaves every current resource
    /// as it is (then a PUT sent as a PATCH may keep members of it as
    /// text: see `aside.rs`).
    fn current_unchanged(&self) -> bool {
        false
    }

    /// Whether [`BackendProfile::response`] and [`BackendProfile::error`]
    /// leave every answer as it is (then an answer nothing else maps
    /// passes through unparsed). No by default: a profile that maps
    /// answers cannot forget to say so.
    fn answers_unchanged(&self) -> bool {
        false
    }

    /// Phase 6, list queries: the filter (already in the backend's
    /// attribute names) rewritten to what the backend filters on, or a
    /// clear refusal (`invalidFilter`) when it cannot run it.
    fn list_query(&self, _rt: &str, _query: &mut RewrittenQuery) -> Result<(), GatewayError> {
        Ok(())
    }

    /// Phase 6, `POST /.search`: whether the backend takes it. A backend
    /// that does not (answering 404, which a list would read as "no such
    /// user") gets none: the IdP is told 501.
    fn searches(&self) -> bool {
        true
    }

    /// Phase 7, list paging: the most resources the backend answers in one
    /// page. A list asking for more is served from several pages, merged;
    /// a search asks for at most this many.
    fn max_page(&self) -> Option<usize> {
        None
    }

    /// Phase 6, updates: what the backend takes for `rt` when the route
    /// does not say (`update`): `None` for what the IdP sends.
    fn update(&self, _rt: &str) -> Option<UpdateMode> {
        None
    }

    /// Phase 6, a current-resource read: what the backend leaves out of a
    /// read put back (AWS shows no group members), so a write built from
    /// it is right.
    async fn current(&self, _x: &Exchange<'_>, _rt: &str, current: Value) -> Result<Value, GatewayError> {
        Ok(current)
    }

    /// Phase 7, a list: served by the profile (paging the backend's way),
    /// or `None` to forward it as it is.
    async fn list(
        &self,
        _x: &Exchange<'_>,
        _original: &[(String, String)],
        _query: &RewrittenQuery,
    ) -> Result<Option<Reply>, GatewayError> {
        Ok(None)
    }

    /// Phase 8, an error the backend answered, as JSON: put in RFC 7644's
    /// shape where the backend has its own.
    fn error(&self, _status: StatusCode, body: Value) -> Value {
        body
    }

    /// Phase 7, group writes: the most member changes the backend takes in
    /// one request (a route's `max_member_changes` wins). More are sent in
    /// consecutive PATCHes.
    fn max_member_changes(&self) -> Option<usize> {
        None
    }

    /// The end of phase 6: a write (a resource, or a PatchOp as JSON) put
    /// in the backend's terms (not called when
    /// [`BackendProfile::writes_unchanged`] says there is nothing to do).
    /// `intent` says whether it deprovisions: then nothing here may fail
    /// it or wait on the backend for it.
    async fn request(&self, _x: &Exchange<'_>, _rt: &str, body: Value, _intent: Intent) -> Result<Value, GatewayError> {
        Ok(body)
    }

    /// Phase 8, a resource the backend deleted: forget what is remembered
    /// about it.
    async fn deleted(&self, _x: &Exchange<'_>, _rt: &str, _id: &str) {}

    /// The start of phase 8: an answer (a resource or a list) put back in
    /// the IdP's terms. An error here fails the answer, except the answer
    /// to a deprovisioning, which goes back as it came.
    async fn response(&self, _x: &Exchange<'_>, _shape: Shape, body: Value) -> Result<Value, GatewayError> {
        Ok(body)
    }
}

/// A backend that speaks SCIM as RFC 7644 writes it: every hook a no-op.
#[derive(Debug, Clone, Copy, Default)]
pub struct Generic;

#[async_trait::async_trait]
impl BackendProfile for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn writes_unchanged(&self) -> bool {
        true
    }

    fn current_unchanged(&self) -> bool {
        true
    }

    fn answers_unchanged(&self) -> bool {
        true
    }
}

/// How a profile is built from the route's config.
type Build = fn(&Profile) -> Box<dyn BackendProfile>;

/// Every backend profile: the word `profile = "..."` names it by, and how
/// it is built. A new profile is its module and one line here.
const PROFILES: [(&str, Build); 3] = [
    ("generic", |_| Box::new(Generic)),
    ("notion", |p| Box::new(notion::Notion::new(p.notion.clone().unwrap_or_default()))),
    ("aws", |_| Box::new(aws::Aws::new())),
];

/// The words `profile = "..."` takes.
pub fn names() -> impl Iterator<Item = &'static str> {
    PROFILES.iter().map(|(name, _)| *name)
}

/// The profile a route's config names (`generic` for a name no profile
/// has, which config validation never lets through).
pub fn build(profile: &Profile) -> Box<dyn BackendProfile> {
    match PROFILES.iter().find(|(name, _)| *name == profile.name) {
        Some((_, build)) => build(profile),
        None => Box::new(Generic),
    }
}
