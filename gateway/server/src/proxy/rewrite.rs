//! Answers made fit for the IdP: upstream URLs turned into the gateway's,
//! list counts as integers, and non-SCIM error bodies wrapped.

use scim_core::error::error_body;
use serde_json::{Map, Value};

const ERROR_URN: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `url` with the upstream base replaced by the public base, when it starts
/// with the upstream base at a segment boundary.
pub fn url(url: &str, upstream: &str, public: &str) -> Option<String> {
    let rest = url.get(upstream.len()..).filter(|_| points_upstream(url.as_bytes(), upstream.as_bytes()))?;
    let mut new = String::with_capacity(public.len() + rest.len());
    new.push_str(public);
    new.push_str(rest);
    Some(new)
}

/// Whether `url` is one [`url`] rewrites: `upstream`, then nothing, a path
/// or a query.
pub fn points_upstream(url: &[u8], upstream: &[u8]) -> bool {
    url.strip_prefix(upstream).is_some_and(|rest| matches!(rest.first(), None | Some(b'/' | b'?')))
}

/// Rewrites every `location` (of a `meta`) and every `$ref` pointing at the
/// upstream, anywhere in the document. Returns how many were rewritten.
pub fn urls_in(doc: &mut Value, upstream: &str, public: &str) -> usize {
    match doc {
        Value::Object(map) => {
            let mut n = 0;
            for (k, v) in map.iter_mut() {
                let here = k == "$ref" || k == "location";
                match v {
                    Value::String(s) if here => {
                        if let Some(new) = url(s, upstream, public) {
                            *s = new;
                            n += 1;
                        }
                    }
                    other => n += urls_in(other, upstream, public),
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(|v| urls_in(v, upstream, public)).sum(),
        _ => 0,
    }
}

/// Makes `totalResults`, `startIndex` and `itemsPerPage` integers (some
/// servers send them as strings).
pub fn integer_counts(list: &mut Map<String, Value>) {
    for key in ["totalResults", "startIndex", "itemsPerPage"] {
        let fixed = match list.get(key) {
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(Value::Number(n)) if !n.is_u64() => n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64),
            _ => continue,
        };
        match fixed {
            Some(v) => list.insert(key.to_owned(), Value::from(v)),
            None => list.remove(key),
        };
    }
    if !list.contains_key("itemsPerPage") {
        let n = list.get("Resources").and_then(Value::as_array).map_or(0, Vec::len);
        list.insert("itemsPerPage".into(), Value::from(n));
    }
}

/// Whether a body is a SCIM Error.
pub fn is_scim_error(body: &Value) -> bool {
    body.get("schemas").and_then(Value::as_array).is_some_and(|s| s.iter().any(|u| u == ERROR_URN))
}

/// A SCIM Error for an upstream error answer that is not one: the status is
/// kept, and a vendor's message is carried over when there is one.
pub fn wrap_error(status: u16, body: &[u8]) -> Value {
    let parsed = crate::json::from_bytes(body).ok();
    let detail = match parsed.as_ref().and_then(vendor_message) {
        Some(msg) => format!("the upstream answered {status}: {msg}"),
        None => format!("the upstream answered {status} without a SCIM error body"),
    };
    let mut out = error_body(status, None, &detail);
    let scim_type = parsed.as_ref().and_then(|v| v.get("scimType")?.as_str()).filter(|t| t.len() <= 32);
    if let (Some(t), Some(map)) = (scim_type, out.as_object_mut()) {
        map.insert("scimType".into(), Value::String(t.to_owned()));
    }
    out
}

fn vendor_message(v: &Value) -> Option<String> {
    let pick = |v: &Value| {
        ["detail", "message", "error_description", "error"].iter().find_map(|k| v.get(*k)?.as_str().map(str::to_owned))
    };
    let msg = pick(v).or_else(|| v.get("error").and_then(pick))?;
    let mut msg: String = msg.chars().filter(|c| !c.is_control()).take(200).collect();
    if msg.is_empty() {
        return None;
    }
    msg.truncate(msg.trim_end().len());
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_locations_and_refs_only_under_the_upstream() {
        let mut doc = json!({
            "meta": {"location": "http://up:8000/v2/Users/1"},
            "members": [{"value": "2", "$ref": "http://up:8000/v2/Users/2"}, {"$ref": "http://up:8000/v20/x"}],
            "manager": {"$ref": "https://elsewhere/Users/3"},
            "location": "http://up:8000/v2",
            "note": "http://up:8000/v2/Users/1"
        });
        let n = urls_in(&mut doc, "http://up:8000/v2", "https://gw/scim/v2");
        assert_eq!(n, 3);
        assert_eq!(doc["meta"]["location"], "https://gw/scim/v2/Users/1");
        assert_eq!(doc["members"][0]["$ref"], "https://gw/scim/v2/Users/2");
        assert_eq!(doc["members"][1]["$ref"], "http://up:8000/v20/x");
        assert_eq!(doc["manager"]["$ref"], "https://elsewhere/Users/3");
        assert_eq!(doc["note"], "http://up:8000/v2/Users/1");
        let up = b"http://up:8000/v2".as_slice();
        for (url, rewritten) in [
            ("", false),
            ("http://up:8000/v2", true),
            ("http://up:8000/v2?a=1", true),
            ("http://up:8000/v2/", true),
            ("http://up:8000/v2x", false),
            ("http://up:8000/v", false),
        ] {
            assert_eq!(points_upstream(url.as_bytes(), up), rewritten, "{url}");
            assert_eq!(super::url(url, "http://up:8000/v2", "https://gw").is_some(), rewritten, "{url}");
        }
        assert_eq!(url("http://up:8000/v2?a=1", "http://up:8000/v2", "https://gw").unwrap(), "https://gw?a=1");
    }

    #[test]
    fn counts_become_integers() {
        let mut list = json!({"totalResults": "2", "startIndex": 1.0, "Resources": [{}, {}]});
        let map = list.as_object_mut().unwrap();
        integer_counts(map);
        assert_eq!(list, json!({"totalResults": 2, "startIndex": 1, "Resources": [{}, {}], "itemsPerPage": 2}));
    }

    #[test]
    fn wraps_html_and_vendor_json() {
        let html = wrap_error(503, b"<html><body>Service Unavailable</body></html>");
        assert_eq!(html["status"], "503");
        assert!(is_scim_error(&html));
        let vendor = wrap_error(400, br#"{"error": {"message": "email is invalid", "code": 7}}"#);
        assert_eq!(vendor["detail"], "the upstream answered 400: email is invalid");
    }
}
