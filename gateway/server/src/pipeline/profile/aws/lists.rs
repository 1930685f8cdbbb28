//! Reading from AWS IAM Identity Center: the filters it runs, its cursor
//! paging answered as `startIndex` pages, and group members found by
//! membership queries (AWS shows none).

use super::LIMIT;
use crate::error::GatewayError;
use crate::pipeline::exchange::{Exchange, Purpose};
use crate::pipeline::profile::cache::{Lookups, Scope};
use crate::upstream::Reply;
use bytes::Bytes;
use http::StatusCode;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use scim_core::ScimError;
use scim_core::filter::{CompareOp, Filter};
use serde_json::{Value, json};

/// The furthest into a list the IdP may ask (each page is walked from the
/// start by cursor).
const MAX_INDEX: usize = 10_000;
/// The most users whose membership one group read asks about.
const MAX_MEMBER_LOOKUPS: usize = 10_000;

/// The attributes AWS filters on, per resource type.
fn filterable(rt: &str) -> &'static [&'static str] {
    match rt {
        "User" => &["userName", "externalId", "id"],
        _ => &["displayName", "externalId", "id", "members", "members.value"],
    }
}

/// A filter AWS can run: `eq` comparisons joined by `and`, on attributes it
/// filters on. Anything else is a 400 the IdP can read, never a list of
/// everything filtered here.
pub(super) fn check_filter(rt: &str, f: &Filter) -> Result<(), GatewayError> {
    let refuse = |why: String| -> GatewayError {
        let allowed = filterable(rt).join(", ");
        ScimError::invalid_filter(format!(
            "AWS IAM Identity Center filters only with eq joined by and, on {allowed}: {why}"
        ))
        .into()
    };
    match f {
        Filter::And(a, b) => check_filter(rt, a).and_then(|()| check_filter(rt, b)),
        Filter::Compare { path, op: CompareOp::Eq, .. } => {
            let name = match &path.sub {
                Some(s) => format!("{}.{s}", path.name),
                None => path.name.clone(),
            };
            match filterable(rt).iter().any(|a| a.eq_ignore_ascii_case(&name)) {
                true => Ok(()),
                false => Err(refuse(format!("{name} is not one of them"))),
            }
        }
        Filter::Compare { .. } => Err(refuse("only eq compares".into())),
        Filter::Or(..) | Filter::Not(_) => Err(refuse("no or, no not".into())),
        Filter::Present(_) | Filter::ValuePath { .. } => Err(refuse("no pr, no value filters".into())),
    }
}

/// A list served from AWS's cursor pages as the `startIndex` page the IdP
/// asked for. Cursors already seen are remembered, so an IdP paging
/// through a list does not walk it from the start each time.
pub(super) async fn cursor_list(
    x: &Exchange<'_>,
    cursors: &Lookups,
    original: &[(String, String)],
    query: &scim_mapper::RewrittenQuery,
) -> Result<Reply, GatewayError> {
    let (count, start) = crate::pipeline::paging::requested(original);
    let want = count.unwrap_or(LIMIT).min(1000);
    if start.saturating_add(want) > MAX_INDEX {
        let detail = format!("AWS IAM Identity Center pages by cursor; the gateway serves up to index {MAX_INDEX}");
        return Err(ScimError::new(scim_core::ScimType::TooMany, detail).into());
    }
    let base = base_query(original, query);
    let first = (start - 1) / LIMIT * LIMIT + 1;
    // Users and Groups with the same query page apart.
    let key = |index: usize| format!("aws-cursor:{}?{base}#{index}", x.path);
    let (mut index, mut cursor) = match cursors.get(Scope::of(x), &key(first)).await {
        Some(c) => (first, Some(c)),
        None => (1, None),
    };
    let (mut out, mut total, mut seen) = (Vec::new(), None, Vec::new());
    loop {
        let page = match fetch(x, &x.path, &base, cursor.as_deref(), Purpose::Page).await? {
            Ok(page) => page,
            // The backend's answer (a stale cursor, 429) goes to the IdP as
            // it is; the cursor is not used again.
            Err(reply) => {
                cursors.forget(Scope::of(x), &[key(index)]).await;
                return Ok(reply);
            }
        };
        total = page.get("totalResults").and_then(Value::as_u64).or(total);
        let items = page.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
        let n = items.len();
        out.extend(items.into_iter().enumerate().filter(|(i, _)| index + i >= start).map(|(_, v)| v));
        index += n;
        cursor = page.get("nextCursor").and_then(Value::as_str).map(str::to_owned);
        seen.extend(cursor.iter().map(|c| (key(index), c.clone())));
        if n == 0 || cursor.is_none() || out.len() >= want || index > MAX_INDEX {
            break;
        }
    }
    cursors.put(Scope::of(x), seen).await;
    out.truncate(want);
    let total = total.unwrap_or(u64::try_from(index.saturating_sub(1)).unwrap_or(0));
    let list = json!({
        "schemas": [scim_core::LIST_RESPONSE_URN], "totalResults": total, "startIndex": start,
        "itemsPerPage": out.len(), "Resources": out,
    });
    Ok(Reply { status: StatusCode::OK, headers: http::HeaderMap::new(), body: Bytes::from(list.to_string()) })
}

/// The IdP's query without its paging, in the backend's terms.
fn base_query(original: &[(String, String)], query: &scim_mapper::RewrittenQuery) -> String {
    let paging = |k: &str| ["startIndex", "count", "cursor"].iter().any(|p| p.eq_ignore_ascii_case(k));
    let kept: Vec<(String, String)> = original.iter().filter(|(k, _)| !paging(k)).cloned().collect();
    crate::pipeline::query::rebuild(&kept, query).unwrap_or_default()
}

/// One cursor page of `path`, or the backend's answer when it is no page.
async fn fetch(
    x: &Exchange<'_>,
    path: &str,
    base: &str,
    cursor: Option<&str>,
    purpose: Purpose,
) -> Result<Result<Value, Reply>, GatewayError> {
    let mut q = format!("count={LIMIT}");
    if !base.is_empty() {
        q = format!("{base}&{q}");
    }
    if let Some(c) = cursor {
        q.push_str(&format!("&cursor={}", utf8_percent_encode(c, NON_ALPHANUMERIC)));
    }
    let reply = x.read(path, Some(&q), purpose).await?;
    if reply.status != StatusCode::OK {
        return Ok(Err(reply));
    }
    let page = crate::json::from_bytes(&reply.body)
        .map_err(|_| GatewayError::BadUpstreamReply("a list page is not JSON".into()))?;
    Ok(Ok(page))
}

/// The backend's answer where a page was wanted, as an error.
fn not_a_page(reply: &Reply) -> GatewayError {
    GatewayError::BadUpstreamReply(format!("a list page answered {}", reply.status))
}

/// A group with its members filled in: every user is asked about, with
/// `id eq "G" and members eq "U"` (paced by the route's rate limit like
/// every upstream call). Needed where a write is built from the group, or
/// the IdP reads it.
pub(super) async fn with_members(x: &Exchange<'_>, mut group: Value) -> Result<Value, GatewayError> {
    let Some(id) = group.get("id").and_then(Value::as_str).map(str::to_owned) else { return Ok(group) };
    let (mut members, mut cursor, mut asked) = (Vec::new(), None::<String>, 0);
    loop {
        let page = fetch(x, "/Users", "", cursor.as_deref(), Purpose::Lookup).await?.map_err(|r| not_a_page(&r))?;
        let total = page.get("totalResults").and_then(Value::as_u64).unwrap_or(0);
        let users = page.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
        asked += users.len();
        if total > MAX_MEMBER_LOOKUPS as u64 || asked > MAX_MEMBER_LOOKUPS {
            let detail = format!(
                "the group's members cannot be read from AWS: more than {MAX_MEMBER_LOOKUPS} users to ask about; send membership changes as PATCH"
            );
            return Err(ScimError::new(scim_core::ScimType::TooMany, detail).into());
        }
        for uid in users.iter().filter_map(|u| u.get("id").and_then(Value::as_str)) {
            if is_member(x, &id, uid).await? {
                members.push(json!({"value": uid, "type": "User"}));
            }
        }
        cursor = page.get("nextCursor").and_then(Value::as_str).map(str::to_owned);
        if cursor.is_none() || users.is_empty() {
            break;
        }
    }
    if let Some(m) = group.as_object_mut() {
        m.insert("members".into(), Value::Array(members));
    }
    Ok(group)
}

/// Whether user `uid` is a member of group `gid`.
async fn is_member(x: &Exchange<'_>, gid: &str, uid: &str) -> Result<bool, GatewayError> {
    let filter = format!("id eq {} and members eq {}", Value::from(gid), Value::from(uid));
    let q = format!("filter={}", utf8_percent_encode(&filter, NON_ALPHANUMERIC));
    let reply = x.read("/Groups", Some(&q), Purpose::Lookup).await?;
    if reply.status != StatusCode::OK {
        return Err(not_a_page(&reply));
    }
    let doc: Value = crate::json::from_bytes(&reply.body)
        .map_err(|_| GatewayError::BadUpstreamReply("a membership answer is not JSON".into()))?;
    Ok(doc.get("Resources").and_then(Value::as_array).is_some_and(|r| !r.is_empty()))
}
