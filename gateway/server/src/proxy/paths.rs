//! Request paths: the part after a route's base path, checked so that it can
//! never climb out of the upstream's base path.

use crate::error::GatewayError;
use std::borrow::Cow;

/// Whether a resource id from a body (a group member, a manager) can be
/// put in an upstream path as one plain segment: unreserved characters
/// only, not `.` or `..`, at most 256 bytes. Other ids are not looked up.
pub fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 256
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
}

/// The path after the base path, if `path` is under `base` (`""` is the
/// root). `None` when it is not.
pub fn strip_base<'a>(path: &'a str, base: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(base)?;
    (rest.is_empty() || rest.starts_with('/')).then_some(rest)
}

/// Checks the remainder of a request path and returns the path to forward
/// (starting with `/`, or empty). Refused: dot segments, empty segments
/// (`//`), encoded slashes and backslashes, raw backslashes, encoded dots
/// that make a dot segment, and control characters. One trailing slash is
/// dropped.
pub fn safe_rest(rest: &str) -> Result<String, GatewayError> {
    let trimmed = rest.strip_suffix('/').unwrap_or(rest);
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::with_capacity(trimmed.len());
    for seg in trimmed.split('/').skip(1) {
        check_segment(seg)?;
        out.push('/');
        out.push_str(seg);
    }
    Ok(out)
}

/// A path segment percent-decoded; borrowed when it has no `%` (found
/// by memchr, not by the decoder's byte-by-byte look) or nothing decodes.
pub fn decoded(seg: &str) -> Cow<'_, [u8]> {
    match seg.contains('%') {
        true => percent_encoding::percent_decode_str(seg).into(),
        false => Cow::Borrowed(seg.as_bytes()),
    }
}

fn check_segment(seg: &str) -> Result<(), GatewayError> {
    let bad = |why: &str| Err(GatewayError::BadPath(format!("the request path {why}")));
    if seg.is_empty() {
        return bad("has an empty segment (`//`)");
    }
    if seg.contains('\\') {
        return bad("holds a backslash");
    }
    // Nothing escaped (most segments): the text itself, UTF-8 already,
    // without a slash or backslash.
    let decoded = decoded(seg);
    let escaped = matches!(decoded, Cow::Owned(_));
    if escaped && decoded.iter().any(|b| *b == b'/' || *b == b'\\') {
        return bad("holds an encoded slash or backslash");
    }
    if *decoded == *b"." || *decoded == *b".." {
        return bad("holds a `.` or `..` segment");
    }
    if decoded.iter().any(|b| *b < 0x20 || *b == 0x7f) || (escaped && std::str::from_utf8(&decoded).is_err()) {
        return bad("holds control characters or invalid UTF-8");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_whole_base_segments() {
        assert_eq!(strip_base("/scim/v2/Users", "/scim/v2"), Some("/Users"));
        assert_eq!(strip_base("/scim/v2", "/scim/v2"), Some(""));
        assert_eq!(strip_base("/scim/v2x/Users", "/scim/v2"), None);
        assert_eq!(strip_base("/Users", ""), Some("/Users"));
    }

    #[test]
    fn keeps_ordinary_paths_and_drops_one_trailing_slash() {
        assert_eq!(safe_rest("/Users/2819c223-7f76").unwrap(), "/Users/2819c223-7f76");
        assert_eq!(safe_rest("/Users/").unwrap(), "/Users");
        assert_eq!(safe_rest("/Users/a%40b.com").unwrap(), "/Users/a%40b.com");
        assert_eq!(safe_rest("").unwrap(), "");
        assert_eq!(safe_rest("/").unwrap(), "");
        assert_eq!(safe_rest("/Users/.search").unwrap(), "/Users/.search");
    }

    #[test]
    fn a_segment_is_decoded_only_where_it_escapes_something() {
        assert!(matches!(decoded("2819c223-7f76"), Cow::Borrowed(b"2819c223-7f76")));
        assert!(matches!(decoded("a%zz"), Cow::Borrowed(b"a%zz")), "nothing to decode");
        assert_eq!(decoded("a%40b%2F"), Cow::<[u8]>::Owned(b"a@b/".to_vec()));
        assert_eq!(decoded("%e2%82%ac"), Cow::<[u8]>::Owned("€".as_bytes().to_vec()));
    }

    #[test]
    fn refuses_every_escape() {
        for p in [
            "/../admin",
            "/Users/..",
            "/Users/./x",
            "/%2e%2e/admin",
            "/%2E%2e/admin",
            "/.%2e/admin",
            "/Users//x",
            "/Users%2f..%2fadmin",
            "/Users%2F1",
            "/Users%5c..%5cadmin",
            "/Users\\..\\admin",
            "/Users/%00",
            "/Users/%0d%0aX-Injected:1",
            "/Users/%ff",
            "/Users/a\u{7f}b",
            "/Users/a\tb",
        ] {
            let err = safe_rest(p).expect_err(p);
            assert_eq!(err.status(), http::StatusCode::BAD_REQUEST, "{p}");
        }
    }
}
