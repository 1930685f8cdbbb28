//! Where an object's top-level members lie in its text. Only the object's
//! own grammar (braces, keys, colons, commas, nothing after it) is
//! checked here; each value is read by the caller, which says how long it
//! is: normalization's check of a body's member
//! (`scim_core::normalize::left_prefix`), the same tokens as text that was
//! checked (`json::same_prefix`), or serde_json's parse of it
//! (`json::parse::part_at`, which bounds its nesting).

use super::super::{escape_at, skip_space, string_end};
use std::borrow::Cow;
use std::ops::Range;

/// A top-level member, with what the caller made of its key (`T`).
pub(super) struct Member<'t, T> {
    /// Its key: as written, or unescaped by serde_json.
    pub key: Cow<'t, str>,
    /// Where its key's text lies, between its quotes.
    pub key_at: Range<usize>,
    /// Where its value's text lies, without the spaces around it.
    pub value: Range<usize>,
    /// What the caller made of it.
    pub kind: T,
}

/// The members of the object `text` is, in their order; `None` when
/// `text` is not one object by its own grammar, or `read` gave up. Each
/// value is given to `read` (the member's key, whether it had escapes, the
/// text from its value on), which says what the member is to the caller
/// and how long the value at the start of the text is, or `None` to stop.
pub(super) fn members<'t, T>(
    text: &'t str,
    mut read: impl FnMut(&str, bool, &'t str) -> Option<(T, usize)>,
) -> Option<Vec<Member<'t, T>>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    (bytes.get(at) == Some(&b'{')).then_some(())?;
    at = skip_space(bytes, at + 1);
    let mut found = Vec::with_capacity(24);
    if bytes.get(at) == Some(&b'}') {
        return (skip_space(bytes, at + 1) == bytes.len()).then_some(found);
    }
    loop {
        let (key, escaped, close) = key_at(text, at)?;
        let key_span = at + 1..close;
        at = skip_space(bytes, close + 1);
        (bytes.get(at) == Some(&b':')).then_some(())?;
        let start = skip_space(bytes, at + 1);
        let (kind, len) = read(&key, escaped, text.get(start..)?)?;
        let end = start.checked_add(len)?;
        found.push(Member { key, key_at: key_span, value: start..end, kind });
        at = skip_space(bytes, end);
        match bytes.get(at)? {
            b',' => at = skip_space(bytes, at + 1),
            b'}' => return (skip_space(bytes, at + 1) == bytes.len()).then_some(found),
            _ => return None,
        }
    }
}

/// The key whose opening quote is at `quote`: its text, whether it had
/// escapes, and where its closing quote is. A key whose first byte that
/// needs an escape is its closing quote is as written (the text is UTF-8
/// already); any other is read by serde_json.
fn key_at(text: &str, quote: usize) -> Option<(Cow<'_, str>, bool, usize)> {
    let bytes = text.as_bytes();
    (bytes.get(quote) == Some(&b'"')).then_some(())?;
    let stop = escape_at(bytes, quote + 1)?;
    if bytes.get(stop) == Some(&b'"') {
        return Some((Cow::Borrowed(text.get(quote + 1..stop)?), false, stop));
    }
    let close = string_end(bytes, quote + 1)?;
    let key = serde_json::from_str::<String>(text.get(quote..=close)?).ok()?;
    Some((Cow::Owned(key), true, close))
}
