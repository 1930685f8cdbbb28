//! An answer nothing maps, passed to the IdP as the backend wrote it: one
//! validating pass over the JSON text builds no tree (`verbatim/text.rs`),
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

mod text;

use bytes::Bytes;
use scim_core::LIST_RESPONSE_URN;

/// The answer's text with the upstream's URLs made public, or `None` when
/// the parsed path must take it.
pub fn answer(body: &Bytes, upstream: &str, public: &str) -> Option<Bytes> {
    if public.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None;
    }
    let mut scan = Scan { upstream, urls: Vec::new(), list: List::default() };
    text::read(body, &mut scan)?;
    if !scan.list.unchanged() {
        return None;
    }
    if scan.urls.is_empty() {
        return Some(body.clone());
    }
    Some(splice(body, &scan.urls, upstream.len(), public))
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

impl text::Reader for Scan<'_> {
    type Role = Role;

    fn top(&self) -> Role {
        Role::Top
    }

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

    fn literal(&mut self, role: Role) -> Option<()> {
        (role != Role::Top).then_some(())
    }
}

#[cfg(test)]
mod tests;
