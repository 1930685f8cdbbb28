//! An answer nothing maps, passed to the IdP as the backend wrote it: one
//! validating pass over the JSON text builds no tree
//! ([`scim_core::json_text::walk`], with [`Scan`] as its reader),
//! and the only bytes changed are the upstream URLs in `location` and
//! `$ref` (the ones [`super::rewrite::urls_in`] rewrites), spliced in place.
//!
//! The pass vouches only for what it can tell from the text. Anything else
//! (not UTF-8, not JSON, not an object, a URL written with escapes, a list
//! whose counts [`super::rewrite::integer_counts`] would change, text the
//! scan leaves to serde_json) returns `None`, and the parsed path gives the
//! answer or the error it always did. What the IdP reads is the same JSON
//! either way; whitespace, escapes and number spellings stay as the
//! backend wrote them.

use bytes::Bytes;
use scim_core::LIST_RESPONSE_URN;
use scim_core::json_text::Text;
use scim_core::json_text::walk::{self, Literal, Reader};

/// The answer's text with the upstream's URLs made public, or `None` when
/// the parsed path must take it.
pub fn answer(body: &Bytes, upstream: &str, public: &str) -> Option<Bytes> {
    if public.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None;
    }
    let mut scan = Scan { upstream, urls: Vec::new(), list: List::default() };
    read(body, &mut scan)?;
    if !scan.list.unchanged() {
        return None;
    }
    if scan.urls.is_empty() {
        return Some(body.clone());
    }
    Some(splice(body, &scan.urls, upstream.len(), public))
}

/// Reads all of `text` as one JSON value, an answer (see
/// [`scim_core::json_text::walk`]); `None` when it is not one serde_json
/// would read, or the scan refused. A string with escapes is read by
/// serde_json itself. Where matching serde_json exactly would take more
/// than a scan (an exponent, a number longer than 40 characters), and
/// where serde_json itself refuses (nesting past its depth), the text is
/// refused and the parsed path takes it: refusing is always safe,
/// accepting what serde_json would not never is. The property tests
/// beside this file hold this to serde_json on generated and mangled
/// text.
fn read(text: &[u8], scan: &mut Scan<'_>) -> Option<()> {
    // All of it UTF-8, checked once: a string's text, between two quotes,
    // is then UTF-8 too.
    let text = crate::json::utf8(text).ok()?;
    let mut t = Text::new(text);
    walk::value(&mut t, scan, Role::Top)?;
    t.skip_space();
    (t.at() == text.len()).then_some(())
}

/// The text with each URL's upstream prefix replaced by the public base.
fn splice(text: &[u8], urls: &[usize], prefix: usize, public: &str) -> Bytes {
    // Made at its final length (each URL starts with the upstream prefix,
    // and the URLs do not overlap): `Bytes` then takes the vector as it is.
    let mut out = Vec::with_capacity((text.len() + urls.len() * public.len()).saturating_sub(urls.len() * prefix));
    let mut from = 0;
    for &at in urls {
        out.extend_from_slice(text.get(from..at).unwrap_or_default());
        out.extend_from_slice(public.as_bytes());
        from = at + prefix;
    }
    out.extend_from_slice(text.get(from..).unwrap_or_default());
    Bytes::from(out)
}

/// What one pass learns.
struct Scan<'a> {
    upstream: &'a str,
    /// Offsets of the URLs to rewrite, in text order.
    urls: Vec<usize>,
    list: List,
}

/// Whether the answer is a list, and whether its counts are as the IdP
/// gets them from the parsed path.
#[derive(Default)]
struct List {
    is_list: bool,
    counts_changed: bool,
    items_per_page: bool,
}

impl List {
    fn unchanged(&self) -> bool {
        !self.is_list || (!self.counts_changed && self.items_per_page)
    }
}

/// What a value is to the rewrite.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The whole answer: an object.
    Top,
    /// The value of a `location` or `$ref` key.
    Url,
    /// A top-level count of a list.
    Count,
    /// The top-level `schemas`, and one of its items.
    Schemas,
    SchemaItem,
    Plain,
}

/// The role of the value under `key` (`top`: a key of the answer itself).
fn role_of(key: &[u8], top: bool) -> Role {
    match key {
        b"location" | b"$ref" => Role::Url,
        b"totalResults" | b"startIndex" | b"itemsPerPage" if top => Role::Count,
        b"schemas" if top => Role::Schemas,
        _ => Role::Plain,
    }
}

impl Scan<'_> {
    /// Whether `url` is one [`super::rewrite::urls_in`] rewrites.
    fn is_upstream_url(&self, url: &[u8]) -> bool {
        super::rewrite::points_upstream(url, self.upstream.as_bytes())
    }
}

impl Reader for Scan<'_> {
    type Role = Role;

    #[inline]
    fn key(&mut self, key: &[u8], top: bool) -> Role {
        match (top, key) {
            (true, b"Resources") => self.list.is_list = true,
            (true, b"itemsPerPage") => self.list.items_per_page = true,
            _ => {}
        }
        role_of(key, top)
    }

    fn items(&mut self, role: Role) -> Option<Role> {
        match role {
            Role::Top => None,
            Role::Schemas => Some(Role::SchemaItem),
            _ => Some(Role::Plain),
        }
    }

    /// A URL to rewrite (one written with escapes cannot be spliced), or
    /// the list's schema, or a count the parsed path would change.
    #[inline]
    fn string(&mut self, role: Role, s: &[u8], at: Option<usize>) -> Option<()> {
        match role {
            Role::Url if self.is_upstream_url(s) => self.urls.push(at?),
            Role::SchemaItem if s == LIST_RESPONSE_URN.as_bytes() => self.list.is_list = true,
            Role::Count => self.list.counts_changed = true,
            Role::Top => return None,
            _ => {}
        }
        Some(())
    }

    fn number(&mut self, role: Role, unsigned: bool) -> Option<()> {
        match role {
            Role::Top => return None,
            Role::Count if !unsigned => self.list.counts_changed = true,
            _ => {}
        }
        Some(())
    }

    fn literal(&mut self, role: Role, _: Literal) -> Option<()> {
        (role != Role::Top).then_some(())
    }
}

#[cfg(test)]
mod tests;
