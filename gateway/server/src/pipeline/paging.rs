//! Lists larger than the backend's page (a backend profile's `max_page`):
//! served from several upstream pages, merged into one ListResponse.

use super::exchange::{Exchange, Purpose};
use crate::error::GatewayError;
use crate::upstream::Reply;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Value, json};

/// The most resources one merged list holds.
const MAX_MERGED: usize = 1000;

/// The `count` and `startIndex` the IdP asked for (the last of each).
pub(super) fn requested(pairs: &[(String, String)]) -> (Option<usize>, usize) {
    let last = |k: &str| pairs.iter().rev().find(|(key, _)| key.eq_ignore_ascii_case(k)).map(|(_, v)| v.trim());
    let count = last("count").and_then(|v| v.parse::<usize>().ok());
    let start = last("startIndex").and_then(|v| v.parse::<usize>().ok()).unwrap_or(1).max(1);
    (count, start)
}

/// A list asking for more than the backend's page: several upstream pages,
/// merged into one ListResponse with the backend's total; `None` when one
/// page does. `query(pairs)` builds a page's query string from the IdP's
/// parameters with that page's `startIndex` and `count`.
pub(super) async fn merged_list(
    x: &Exchange<'_>,
    max_page: usize,
    pairs: &[(String, String)],
    query: impl Fn(&[(String, String)]) -> Option<String>,
) -> Result<Option<Reply>, GatewayError> {
    let (Some(count), start) = requested(pairs) else { return Ok(None) };
    if count <= max_page || max_page == 0 {
        return Ok(None);
    }
    let want = count.min(MAX_MERGED);
    let (mut resources, mut next, mut total) = (Vec::new(), start, 0u64);
    while resources.len() < want {
        let page = max_page.min(want - resources.len());
        let reply = x.read(&x.path, query(&with_paging(pairs, next, page)).as_deref(), Purpose::Page).await?;
        // Past the first page, a 404 is the end of the list; any other
        // failure goes to the IdP, which asks for the page again.
        match reply.status {
            StatusCode::OK => {}
            StatusCode::NOT_FOUND if !resources.is_empty() => break,
            _ => return Ok(Some(reply)),
        }
        let body: Value = crate::json::from_bytes(&reply.body)
            .map_err(|_| GatewayError::BadUpstreamReply("a list page is not JSON".into()))?;
        total = body.get("totalResults").and_then(Value::as_u64).unwrap_or(total);
        let got = body.get("Resources").and_then(Value::as_array).cloned().unwrap_or_default();
        let n = got.len();
        resources.extend(got);
        next = next.saturating_add(n);
        if n == 0 || u64::try_from(next).unwrap_or(u64::MAX) > total {
            break;
        }
    }
    resources.truncate(want);
    let merged = json!({
        "schemas": [scim_core::LIST_RESPONSE_URN], "totalResults": total, "startIndex": start,
        "itemsPerPage": resources.len(), "Resources": resources,
    });
    Ok(Some(Reply { status: StatusCode::OK, headers: http::HeaderMap::new(), body: Bytes::from(merged.to_string()) }))
}

/// A SearchRequest asks the backend for at most a page: SCIM lets a server
/// answer fewer than `count`, and `itemsPerPage` tells the IdP.
pub(super) fn clamp_search_count(body: &mut Value, max_page: usize) {
    let over = |c: &Value| c.as_u64().is_some_and(|c| c > max_page as u64);
    if let Some(c) = body.get_mut("count").filter(|c| over(c)) {
        *c = json!(max_page);
    }
}

/// The IdP's parameters with another `startIndex` and `count`.
fn with_paging(pairs: &[(String, String)], start: usize, count: usize) -> Vec<(String, String)> {
    let paging = |k: &String| k.eq_ignore_ascii_case("count") || k.eq_ignore_ascii_case("startIndex");
    let mut out: Vec<(String, String)> = pairs.iter().filter(|(k, _)| !paging(k)).cloned().collect();
    out.push(("startIndex".into(), start.to_string()));
    out.push(("count".into(), count.to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_reads_the_last_count_and_start_index() {
        let p = |q: &[(&str, &str)]| {
            requested(&q.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>())
        };
        assert_eq!(p(&[("count", "10"), ("count", "250"), ("startIndex", "3")]), (Some(250), 3));
        assert_eq!(p(&[("startIndex", "0")]), (None, 1), "startIndex below 1 is 1");
        assert_eq!(p(&[("count", "lots")]), (None, 1));
    }
}
