//! Query parameters and SearchRequest bodies: the IdP's filter normalized
//! and, with `attributes`, `excludedAttributes` and `sortBy`, rewritten to
//! the backend's terms.

use crate::error::GatewayError;
use crate::gateway::RouteRuntime;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use scim_core::normalize::{Normalizer, Report, form_decode};
use scim_core::schema::ResourceSchema;
use scim_mapper::{Program, Query, RewrittenQuery};
use serde_json::Value;

/// Characters left as they are in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

const KEYS: [&str; 4] = ["filter", "attributes", "excludedAttributes", "sortBy"];

/// The decoded pairs of a query string.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (form_decode(k), form_decode(v))
        })
        .collect()
}

/// Rewrites one query's parameters; returns the backend's and what the
/// normalizer fixed.
pub fn rewrite(
    route: &RouteRuntime,
    rt: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(RewrittenQuery, Report), GatewayError> {
    rewrite_with(&route.normalizer, &route.program, &route.schema(rt)?, rt, get)
}

/// [`rewrite`] with a route's parts: its normalizer, its rules and the
/// resource type's schema.
pub fn rewrite_with(
    normalizer: &Normalizer,
    program: &Program,
    schema: &ResourceSchema<'_>,
    rt: &str,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(RewrittenQuery, Report), GatewayError> {
    let (filter, report) = match get("filter") {
        Some(text) => {
            let (f, r) = normalizer.filter(&text, schema)?;
            (Some(f), r)
        }
        None => (None, Report::default()),
    };
    let query = Query {
        filter,
        attributes: get("attributes"),
        excluded_attributes: get("excludedAttributes"),
        sort_by: get("sortBy"),
    };
    Ok((program.rewrite_query(rt, &query)?, report))
}

/// A search at the root covers Users and Groups at once: the filter and
/// `sortBy` must read the same in both types' backend terms (otherwise the
/// IdP is told to search /Users or /Groups), and the attribute lists are
/// the union of both.
pub fn rewrite_root(
    route: &RouteRuntime,
    get: impl Fn(&str) -> Option<String>,
) -> Result<(RewrittenQuery, Report), GatewayError> {
    let (users, report) = rewrite(route, "User", &get)?;
    let (groups, _) = rewrite(route, "Group", &get)?;
    let same = |k| rewritten_value(&users, k) == rewritten_value(&groups, k);
    if !same("filter") || !same("sortBy") {
        let detail = "the mapping moves attributes this filter or sortBy names, differently for Users and Groups; search /Users/.search or /Groups/.search";
        return Err(GatewayError::Scim(scim_core::ScimError::invalid_filter(detail)));
    }
    let union = |a: Option<String>, b: Option<String>| -> Option<String> {
        let mut all: Vec<String> = Vec::new();
        for item in a.iter().chain(b.iter()).flat_map(|s| s.split(',')).map(str::trim) {
            if !item.is_empty() && !all.iter().any(|x| x.eq_ignore_ascii_case(item)) {
                all.push(item.to_owned());
            }
        }
        (!all.is_empty()).then(|| all.join(","))
    };
    let attributes = union(users.attributes.clone(), groups.attributes);
    let excluded_attributes = union(users.excluded_attributes.clone(), groups.excluded_attributes);
    Ok((RewrittenQuery { attributes, excluded_attributes, ..users }, report))
}

fn rewritten_value(q: &RewrittenQuery, key: &str) -> Option<String> {
    match key {
        "filter" => q.filter.as_ref().map(ToString::to_string),
        "attributes" => q.attributes.clone(),
        "excludedAttributes" => q.excluded_attributes.clone(),
        _ => q.sort_by.clone(),
    }
}

/// The query string for the backend: rewritten keys replaced (or dropped),
/// every other parameter kept in order.
pub fn rebuild(original: &[(String, String)], q: &RewrittenQuery) -> Option<String> {
    let mut out = Vec::new();
    for (k, v) in original {
        let value = if KEYS.contains(&k.as_str()) { rewritten_value(q, k) } else { Some(v.clone()) };
        if let Some(v) = value {
            out.push(format!("{}={}", utf8_percent_encode(k, QUERY_VALUE), utf8_percent_encode(&v, QUERY_VALUE)));
        }
    }
    (!out.is_empty()).then(|| out.join("&"))
}

/// A SearchRequest body with its rewritten parameters.
pub fn rebuild_search(mut body: Value, q: &RewrittenQuery) -> Value {
    if let Some(map) = body.as_object_mut() {
        for k in KEYS {
            let list = k != "filter" && k != "sortBy" && map.get(k).is_some_and(Value::is_array);
            match rewritten_value(q, k) {
                Some(v) if list => {
                    let items = v.split(',').map(|s| Value::String(s.trim().to_owned())).collect();
                    map.insert(k.to_owned(), Value::Array(items));
                }
                Some(v) => {
                    map.insert(k.to_owned(), Value::String(v));
                }
                None => {
                    map.remove(k);
                }
            }
        }
    }
    body
}

/// Logs the backend filter at debug level; literal values (emails, names)
/// are replaced unless PII redaction is turned off.
pub fn log_filter(q: &RewrittenQuery, redact: bool) {
    let Some(filter) = &q.filter else { return };
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let mut shown = filter.clone();
    if redact {
        shown.visit_paths_mut(&mut |_, value| {
            if let Some(v) = value {
                *v = Value::String("<redacted>".into());
            }
        });
    }
    tracing::debug!(filter = %shown, "backend filter");
}

/// A SearchRequest parameter as text (`attributes` may be an array).
pub fn search_param(body: &Value, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Array(a) => Some(a.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(",")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_plus_and_percent() {
        let p = pairs("filter=userName+eq+%22a%40b.c%22&count=10");
        assert_eq!(p[0], ("filter".into(), "userName eq \"a@b.c\"".into()));
        assert_eq!(p[1], ("count".into(), "10".into()));
    }

    #[test]
    fn rebuild_keeps_other_params_and_drops_emptied_ones() {
        let original = pairs("startIndex=1&filter=x&attributes=emails&count=5");
        let q = RewrittenQuery { filter: None, attributes: Some("userName,emails".into()), ..Default::default() };
        assert_eq!(rebuild(&original, &q).unwrap(), "startIndex=1&attributes=userName%2Cemails&count=5");
    }
}
