//! Request bodies: read with a size bound, only uncompressed JSON accepted,
//! nesting depth bounded while parsing.

use crate::error::GatewayError;
use crate::json::Refused;
use crate::whole_body::Unread;
use bytes::Bytes;
use http::HeaderMap;
use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use serde_json::Value;

/// Reads the whole body, refusing more than `max` bytes with 413.
pub async fn read<B>(body: B, max: usize) -> Result<Bytes, GatewayError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::error::Error + Send + Sync + 'static,
{
    crate::whole_body::read(body, max).await.map_err(|e| match e {
        Unread::TooLarge => GatewayError::BodyTooLarge(max),
        Unread::Broken(e) => GatewayError::BadJson(format!("the body could not be read: {e}")),
    })
}

/// Refuses compressed bodies (415) and media types that are not JSON (415).
/// A body without a Content-Type is taken as JSON.
pub fn check_headers(headers: &HeaderMap) -> Result<(), GatewayError> {
    if let Some(enc) = headers.get(CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("?").trim();
        if !enc.eq_ignore_ascii_case("identity") {
            return Err(GatewayError::UnsupportedMediaType(format!(
                "compressed request bodies ({}) cannot be mapped; send the body uncompressed",
                enc.to_ascii_lowercase()
            )));
        }
    }
    let mut types = headers.get_all(CONTENT_TYPE).iter();
    let Some(ct) = types.next() else { return Ok(()) };
    if types.next().is_some() {
        return Err(GatewayError::UnsupportedMediaType("the request has several Content-Type headers".into()));
    }
    if is_json(ct.as_bytes()) {
        return Ok(());
    }
    let media = ct.to_str().unwrap_or("").split(';').next().unwrap_or("").trim();
    Err(GatewayError::UnsupportedMediaType(format!(
        "the body's media type `{}` is not application/scim+json or application/json",
        media.to_ascii_lowercase()
    )))
}

/// Whether a Content-Type value's media type (before any parameter,
/// spaces and tabs around it left out) is `application/scim+json` or
/// `application/json`, in any case. Read from its bytes: a value holds no
/// other control character to trim, and one outside ASCII names neither.
fn is_json(value: &[u8]) -> bool {
    let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
    let media = value.get(..end).unwrap_or_default().trim_ascii();
    let named = |name: &[u8]| media == name || media.eq_ignore_ascii_case(name);
    named(b"application/scim+json") || named(b"application/json")
}

/// Parses a JSON body that must be an object, nested at most `max_depth`
/// (serde_json itself refuses more than [`crate::json::PARSER_MAX_DEPTH`]
/// levels, which is why the config allows no more).
pub fn parse_object(body: &[u8], max_depth: usize) -> Result<Value, GatewayError> {
    object(crate::json::document(body, max_depth).map_err(|e| refused(e, max_depth))?)
}

/// [`parse_object`], keeping as text the top-level members `keeper`
/// keeps and leaving out the ones it strips (none without one).
pub fn parse_object_keeping<K: crate::json::Keep>(
    body: &Bytes,
    max_depth: usize,
    keeper: Option<&K>,
) -> Result<(Value, crate::json::Aside), GatewayError> {
    let Some(keeper) = keeper else { return parse_object(body, max_depth).map(|doc| (doc, Default::default())) };
    let (value, aside) = crate::json::document_keeping(body, max_depth, keeper).map_err(|e| refused(e, max_depth))?;
    Ok((object(value)?, aside))
}

/// Why a body is not a document, as the IdP is told.
fn refused(e: Refused, max_depth: usize) -> GatewayError {
    match e {
        Refused::TooDeep => GatewayError::TooDeep(max_depth),
        Refused::Json(e) => GatewayError::BadJson(e.to_string()),
    }
}

/// The document, when it is an object.
fn object(value: Value) -> Result<Value, GatewayError> {
    match value.is_object() {
        true => Ok(value),
        false => Err(GatewayError::BadJson("the body is not a JSON object".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn too_deep_and_non_objects_are_refused() {
        let deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        assert!(matches!(parse_object(deep.as_bytes(), 64), Err(GatewayError::TooDeep(64))));
        let deeper = format!("{}{}", r#"{"a":"#.repeat(300), "}".repeat(300));
        assert!(matches!(parse_object(deeper.as_bytes(), 64), Err(GatewayError::TooDeep(64))));
        let fits = format!("{}1{}", r#"{"a":"#.repeat(64), "}".repeat(64));
        assert!(parse_object(fits.as_bytes(), 64).is_ok());
        assert!(matches!(parse_object(fits.as_bytes(), 63), Err(GatewayError::TooDeep(63))));
        assert!(matches!(parse_object(b"[1]", 64), Err(GatewayError::BadJson(_))));
        assert!(matches!(parse_object(b"{", 64), Err(GatewayError::BadJson(_))));
        assert!(parse_object(br#"{"a":1}"#, 64).is_ok());
    }

    #[test]
    fn media_types_and_encodings() {
        let mut h = HeaderMap::new();
        assert!(check_headers(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/scim+json; charset=utf-8"));
        assert!(check_headers(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert_eq!(check_headers(&h).unwrap_err().status(), 415);
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert_eq!(check_headers(&h).unwrap_err().status(), 415);
    }

    #[test]
    fn media_types_and_encodings_are_compared_in_any_case_and_named_in_lower_case() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(" Application/SCIM+JSON ;charset=UTF-8"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static(" IDENTITY "));
        assert!(check_headers(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("Application/JSON"));
        assert!(check_headers(&h).is_ok());
        h.insert(CONTENT_TYPE, HeaderValue::from_static("Application/XML; charset=utf-8"));
        let e = check_headers(&h).unwrap_err().to_string();
        assert!(e.contains("`application/xml`"), "{e}");
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let e = check_headers(&h).unwrap_err().to_string();
        assert!(e.contains("several Content-Type"), "{e}");
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("GZip"));
        let e = check_headers(&h).unwrap_err().to_string();
        assert!(e.contains("(gzip)"), "{e}");
    }

    #[test]
    fn a_media_type_read_from_its_bytes_is_the_one_read_from_its_text() {
        let by_text = |v: &HeaderValue| {
            let media = v.to_str().unwrap_or("").split(';').next().unwrap_or("").trim();
            media.eq_ignore_ascii_case("application/scim+json") || media.eq_ignore_ascii_case("application/json")
        };
        let mut values: Vec<Vec<u8>> = ["application/scim+json", "application/json", "APPLICATION/JSON"]
            .iter()
            .flat_map(|m| [m.to_string(), format!("\t{m} ;q=1"), format!(" {m}\t"), format!("{m};"), format!("{m}x")])
            .map(String::into_bytes)
            .collect();
        values.extend(
            [
                &b"application/jsoN\xc3\xa9"[..],
                b"\xe9application/json",
                b"",
                b";",
                b"text/json",
                b"application/json\x7e",
            ]
            .map(<[u8]>::to_vec),
        );
        for at in 0..16 {
            let mut v = b"application/json".to_vec();
            v[at] ^= 0x20;
            values.push(v);
        }
        for v in values.iter().filter_map(|v| HeaderValue::from_bytes(v).ok()) {
            assert_eq!(is_json(v.as_bytes()), by_text(&v), "{v:?}");
        }
        assert!(values.len() > 30 && is_json(b" Application/SCIM+json ;x") && !is_json(b"application/jso"));
    }
}
