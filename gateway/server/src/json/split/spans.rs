//! Where an object's top-level members lie in its text, found without
//! reading their values: strings are stepped over to their closing quote,
//! arrays and objects to their matching bracket, scalars to the byte that
//! ends them. Only the object's own grammar (braces, keys, colons, commas)
//! is checked, and a value's nesting is bounded; what is inside a value is
//! not, unless the caller checked it itself (asked first: normalization's
//! check of a body's member, `scim_core::normalize::left_prefix`, or the
//! same tokens as text that was checked, `json::same_prefix`). Every
//! other value's text must be checked by whoever takes it: parsed.

use super::super::{escape_at, skip_space, string_end};
use std::borrow::Cow;
use std::ops::Range;

/// A top-level member, with what the caller made of its key (`T`).
pub(super) struct Member<'t, T> {
    /// Its key: as written, or unescaped by serde_json.
    pub key: Cow<'t, str>,
    /// Where its value's text lies, without the spaces around it.
    pub value: Range<usize>,
    /// What the caller made of the key (and of the value, when it
    /// checked it).
    pub kind: T,
}

/// The members of the object `text` is, in their order, each value nested
/// at most `max_depth` deep (arrays and objects); `None` when `text` is
/// not one object by its own grammar, or a value is nested deeper. Each
/// value's end is first asked of `check` (a member's key, whether it had
/// escapes, the text from its value on): what the key is to the caller,
/// and how long the value at the start of the text is, when the caller
/// checked it.
pub(super) fn members<'t, T>(
    text: &'t str,
    max_depth: usize,
    mut check: impl FnMut(&str, bool, &'t str) -> (T, Option<usize>),
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
        at = skip_space(bytes, close + 1);
        (bytes.get(at) == Some(&b':')).then_some(())?;
        let start = skip_space(bytes, at + 1);
        let (kind, checked) = check(&key, escaped, text.get(start..)?);
        let end = match checked {
            Some(len) => start + len,
            None => value_end(bytes, start, max_depth)?,
        };
        found.push(Member { key, value: start..end, kind });
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

/// Where the value starting at `at` ends (the byte after it), arrays and
/// objects nested at most `max_depth` deep.
fn value_end(bytes: &[u8], at: usize, max_depth: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => string_end(bytes, at + 1).map(|close| close + 1),
        b'{' | b'[' => container_end(bytes, at, max_depth),
        _ => {
            let len = bytes.get(at..)?.iter().take_while(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b)).count();
            (len > 0).then_some(at + len)
        }
    }
}

/// Where the array or object opening at `at` ends: past the bracket that
/// brings the nesting back to where it was, strings stepped over.
fn container_end(bytes: &[u8], mut at: usize, max_depth: usize) -> Option<usize> {
    let mut depth = 0_usize;
    loop {
        match bytes.get(at)? {
            b'{' | b'[' => {
                depth += 1;
                (depth <= max_depth).then_some(())?;
            }
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            b'"' => at = string_end(bytes, at + 1)?,
            _ => {}
        }
        at += 1;
    }
}
