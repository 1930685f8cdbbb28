//! The `aws` backend profile (`[upstream] profile = "aws"`): AWS IAM
//! Identity Center's SCIM API, from its published limits (docs/aws.md has
//! each fix before and after):
//!
//! - groups take PATCH only: a group PUT becomes the diff from the current
//!   group, and a group's members (which AWS never shows) are found with
//!   `id eq "G" and members eq "U"` queries where a write or the IdP needs
//!   them;
//! - at most 100 member changes per request (member batches);
//! - lists page with a cursor, answered to the IdP as `startIndex` pages;
//!   filters only `eq` joined by `and`, on the attributes AWS filters on;
//! - users: one email, phone number and address, no unsupported
//!   attributes, the required ones named when missing;
//! - PATCH: path-less operations one per attribute, one operation on
//!   `active` and on `userName`, groups touch only what AWS lets them;
//! - errors in RFC 7644's shape, with a `scimType`.

mod lists;
mod users;

use super::BackendProfile;
use super::cache::Lookups;
use crate::config::UpdateMode;
use crate::error::GatewayError;
use crate::pipeline::exchange::{Exchange, Shape};
use crate::upstream::Reply;
use http::{Method, StatusCode};
use scim_core::Intent;
use scim_mapper::RewrittenQuery;
use serde_json::Value;
use std::time::Duration;

/// The most resources AWS answers in one page, and member changes it
/// takes in one request.
const LIMIT: usize = 100;

/// AWS IAM Identity Center.
#[derive(Debug)]
pub struct Aws {
    /// Cursors of list pages already walked, by query and start index.
    cursors: Lookups,
}

impl Aws {
    pub fn new() -> Self {
        Self { cursors: Lookups::new(Duration::from_secs(300), 10_000) }
    }
}

#[async_trait::async_trait]
impl BackendProfile for Aws {
    fn name(&self) -> &'static str {
        "aws"
    }

    fn update(&self, rt: &str) -> Option<UpdateMode> {
        (rt == "Group").then_some(UpdateMode::Patch)
    }

    fn max_member_changes(&self) -> Option<usize> {
        Some(LIMIT)
    }

    fn max_page(&self) -> Option<usize> {
        Some(LIMIT)
    }

    /// AWS has no `/.search`.
    fn searches(&self) -> bool {
        false
    }

    fn list_query(&self, rt: &str, query: &mut RewrittenQuery) -> Result<(), GatewayError> {
        if let Some(f) = &query.filter {
            lists::check_filter(rt, f)?;
        }
        // AWS takes neither attribute lists nor sorting.
        query.attributes = None;
        query.excluded_attributes = None;
        query.sort_by = None;
        Ok(())
    }

    async fn list(
        &self,
        x: &Exchange<'_>,
        original: &[(String, String)],
        query: &RewrittenQuery,
    ) -> Result<Option<Reply>, GatewayError> {
        lists::cursor_list(x, &self.cursors, original, query).await.map(Some)
    }

    async fn current(&self, x: &Exchange<'_>, rt: &str, current: Value) -> Result<Value, GatewayError> {
        match rt {
            "Group" => lists::with_members(x, current).await,
            _ => Ok(current),
        }
    }

    async fn request(&self, _x: &Exchange<'_>, rt: &str, body: Value, intent: Intent) -> Result<Value, GatewayError> {
        let is_patch = scim_core::patch::is_patch_op(&body);
        match (rt, is_patch) {
            ("User", false) => users::resource(body, intent),
            ("User", true) => users::patch(body),
            ("Group", true) => users::group_patch(body),
            _ => Ok(body),
        }
    }

    /// A group the IdP reads (or gets back from a PUT) with its members;
    /// not the answer to a POST or PATCH, nor where the IdP asks for none.
    async fn response(&self, x: &Exchange<'_>, shape: Shape, body: Value) -> Result<Value, GatewayError> {
        let wanted = matches!(x.method, Method::GET | Method::PUT) && !x.query.as_deref().is_some_and(excludes_members);
        match shape {
            Shape::Resource("Group") if wanted => lists::with_members(x, body).await,
            _ => Ok(body),
        }
    }

    fn error(&self, status: StatusCode, body: Value) -> Value {
        rfc_error(status, body)
    }
}

/// Whether a query string says `excludedAttributes=members`.
fn excludes_members(query: &str) -> bool {
    crate::pipeline::query::pairs(query).iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("excludedAttributes") && v.split(',').any(|a| a.trim().eq_ignore_ascii_case("members"))
    })
}

/// AWS's error body in RFC 7644's shape: no duplicate `schema` key, no
/// `exceptionRequestId` or `timeStamp` (the request id goes in the detail,
/// for AWS support), and a `scimType` told from the status.
fn rfc_error(status: StatusCode, body: Value) -> Value {
    let Value::Object(mut m) = body else { return body };
    m.remove("schema");
    m.remove("timeStamp");
    let request_id = m.remove("exceptionRequestId");
    let detail = m.get("detail").and_then(Value::as_str).unwrap_or("").to_owned();
    let mut detail = match detail.starts_with("Request is unparsable") {
        true => format!("{detail} AWS IAM Identity Center gives no reason; see docs/aws.md for what it refuses"),
        false => detail,
    };
    if let Some(id) = request_id.as_ref().and_then(Value::as_str) {
        detail.push_str(&format!(" (AWS request id {id})"));
    }
    m.insert("detail".into(), Value::String(detail));
    let scim_type = match status.as_u16() {
        409 => Some("uniqueness"),
        400 => Some("invalidValue"),
        _ => None,
    };
    if let (Some(t), false) = (scim_type, m.contains_key("scimType")) {
        m.insert("scimType".into(), Value::String(t.into()));
    }
    m.entry("schemas").or_insert_with(|| Value::Array(vec![Value::String(scim_core::error::ERROR_URN.into())]));
    Value::Object(m)
}

#[cfg(test)]
mod tests;
