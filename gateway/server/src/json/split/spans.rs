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

/// A top-level member's key, as its value is given to the caller.
pub(super) struct Key<'t> {
    /// As written, or unescaped by serde_json.
    pub text: Cow<'t, str>,
    /// Whether it had escapes.
    pub escaped: bool,
    /// Where its text lies, between its quotes.
    pub at: Range<usize>,
}

/// Reads the members of the object `text` is, in their order; `None` when
/// `text` is not one object by its own grammar, or `read` gave up. Each
/// value is given to `read` (the member's key, the text from its value on,
/// and where that starts in `text`), which keeps what it makes of the
/// member and says how long the value at the start of the text is, or
/// `None` to stop. Nothing is collected here: the caller keeps each
/// member where it goes.
pub(super) fn members<'t>(text: &'t str, mut read: impl FnMut(Key<'t>, &'t str, usize) -> Option<usize>) -> Option<()> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    (bytes.get(at) == Some(&b'{')).then_some(())?;
    at = skip_space(bytes, at + 1);
    if bytes.get(at) == Some(&b'}') {
        return (skip_space(bytes, at + 1) == bytes.len()).then_some(());
    }
    loop {
        let (key, escaped, close) = key_at(text, at)?;
        let key = Key { text: key, escaped, at: at + 1..close };
        at = skip_space(bytes, close + 1);
        (bytes.get(at) == Some(&b':')).then_some(())?;
        let start = skip_space(bytes, at + 1);
        let len = read(key, text.get(start..)?, start)?;
        at = skip_space(bytes, start.checked_add(len)?);
        match bytes.get(at)? {
            b',' => at = skip_space(bytes, at + 1),
            b'}' => return (skip_space(bytes, at + 1) == bytes.len()).then_some(()),
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
