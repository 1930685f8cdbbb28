//! An answer nothing maps, passed to the IdP as the backend wrote it: one
//! validating pass over the JSON text builds no tree, and the only bytes
//! changed are the upstream URLs in `location` and `$ref` (the ones
//! [`super::rewrite::urls_in`] rewrites), spliced in place.
//!
//! The pass vouches only for what it can tell from the text. Anything else
//! (not UTF-8, not JSON, not an object, a URL written with escapes, a list
//! whose counts [`super::rewrite::integer_counts`] would change) returns
//! `None`, and the parsed path gives the answer or the error it always did.
//! What the IdP reads is the same JSON either way; whitespace, escapes and
//! number spellings stay as the backend wrote them.

use bytes::Bytes;
use scim_core::LIST_RESPONSE_URN;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The answer's text with the upstream's URLs made public, or `None` when
/// the parsed path must take it.
pub fn answer(body: &Bytes, upstream: &str, public: &str) -> Option<Bytes> {
    let text = std::str::from_utf8(body).ok()?;
    if public.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) {
        return None;
    }
    let mut scan = Scan { start: text.as_ptr() as usize, upstream, urls: Vec::new(), list: List::default() };
    let mut de = serde_json::Deserializer::from_str(text);
    Node { scan: &mut scan, role: Role::Top }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    if !scan.list.unchanged() {
        return None;
    }
    if scan.urls.is_empty() {
        return Some(body.clone());
    }
    Some(splice(text, &scan.urls, upstream.len(), public))
}

/// The text with each URL's upstream prefix replaced by the public base.
fn splice(text: &str, urls: &[usize], prefix: usize, public: &str) -> Bytes {
    let mut out = String::with_capacity(text.len() + urls.len() * public.len());
    let mut from = 0;
    for &at in urls {
        out.push_str(text.get(from..at).unwrap_or_default());
        out.push_str(public);
        from = at + prefix;
    }
    out.push_str(text.get(from..).unwrap_or_default());
    Bytes::from(out)
}

/// What one pass learns.
struct Scan<'a> {
    /// Where the text starts in memory: a borrowed string's offset.
    start: usize,
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
fn role_of(key: &str, top: bool) -> Role {
    match key {
        "location" | "$ref" => Role::Url,
        "totalResults" | "startIndex" | "itemsPerPage" if top => Role::Count,
        "schemas" if top => Role::Schemas,
        _ => Role::Plain,
    }
}

struct Node<'s, 'a> {
    scan: &'s mut Scan<'a>,
    role: Role,
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl Node<'_, '_> {
    /// A string: a URL to rewrite (`at`: where it is in the text, `None`
    /// when it was written with escapes), or the list's schema.
    fn string<E: serde::de::Error>(self, s: &str, at: Option<usize>) -> Result<(), E> {
        match self.role {
            Role::Url if super::rewrite::url(s, self.scan.upstream, "").is_some() => {
                let at = at.ok_or_else(|| E::custom("a URL written with escapes"))?;
                self.scan.urls.push(at);
            }
            Role::SchemaItem if s == LIST_RESPONSE_URN => self.scan.list.is_list = true,
            Role::Count => self.scan.list.counts_changed = true,
            Role::Top => return Err(E::custom("not an object")),
            _ => {}
        }
        Ok(())
    }

    /// A number other than an unsigned integer.
    fn other_number<E: serde::de::Error>(self) -> Result<(), E> {
        match self.role {
            Role::Count => self.scan.list.counts_changed = true,
            Role::Top => return Err(E::custom("not an object")),
            _ => {}
        }
        Ok(())
    }

    fn scalar<E: serde::de::Error>(self) -> Result<(), E> {
        match self.role {
            Role::Top => Err(E::custom("not an object")),
            _ => Ok(()),
        }
    }
}

impl<'de> Visitor<'de> for Node<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<(), E> {
        let at = (s.as_ptr() as usize).checked_sub(self.scan.start);
        self.string(s, at)
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<(), E> {
        self.string(s, None)
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<(), E> {
        self.scalar()
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<(), E> {
        self.other_number()
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<(), E> {
        self.other_number()
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<(), E> {
        self.scalar()
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        self.scalar()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let role = match self.role {
            Role::Top => return Err(A::Error::custom("not an object")),
            Role::Schemas => Role::SchemaItem,
            _ => Role::Plain,
        };
        while seq.next_element_seed(Node { scan: &mut *self.scan, role })?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let top = self.role == Role::Top;
        while let Some(key) = map.next_key_seed(Key)? {
            let role = role_of(key.0, top);
            match (top, key.0) {
                (true, "Resources") => self.scan.list.is_list = true,
                (true, "itemsPerPage") => self.scan.list.items_per_page = true,
                _ => {}
            }
            map.next_value_seed(Node { scan: &mut *self.scan, role })?;
        }
        Ok(())
    }
}

/// A key, kept only when its name matters (else empty): what the pass
/// looks at, without an allocation per key.
struct Key;

/// The few key names the pass acts on.
const NAMED: [&str; 7] = ["location", "$ref", "totalResults", "startIndex", "itemsPerPage", "schemas", "Resources"];

impl<'de> DeserializeSeed<'de> for Key {
    type Value = KeyName;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<KeyName, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for Key {
    type Value = KeyName;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<KeyName, E> {
        Ok(KeyName(NAMED.iter().copied().find(|n| *n == s).unwrap_or_default()))
    }
}

/// One of [`NAMED`], or empty.
struct KeyName(&'static str);

#[cfg(test)]
mod tests;
