//! A JSON object whose top-level members are either built into the tree
//! or, where a [`Keep`] says so, kept as text.
//!
//! - A request body ([`split`]): a kept member is read once by serde_json
//!   with normalization's check, which builds nothing ([`LeavesValue`]),
//!   its place in the text found from the keys around it. Anything out of
//!   the ordinary gives the whole body to the plain parse
//!   ([`super::parse::within`]) instead: a parse error (so the IdP gets the
//!   same error either way), a kept member whose attribute another key
//!   also names in any case (or that `schemas` lists, or that a URN key
//!   may name: see [`Keep::names_kept`]), a top-level key the check cannot
//!   place.
//! - The current resource a PUT is diffed against ([`paired`]): the
//!   members' places are found without reading them (`split/spans.rs`),
//!   the built ones parsed, each from its own text, and each kept one
//!   paired with the body's member under its key when it is the same
//!   tokens, or else left unread for `json::document_paired` to parse.
//!
//! See `pipeline/aside.rs` for who may keep what.

use super::parse::{Build, PARSER_MAX_DEPTH, State, part, within};
use super::same::same_prefix;
use super::skip_space;
use super::{Aside, Paired, Refused};
use scim_core::normalize::{LeavesValue, MEMBER_MAX_DEPTH};
use scim_core::schema::Attribute;
use serde::de::{DeserializeSeed, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;
use std::ops::Range;

/// Which top-level members of a body may stay text.
pub trait Keep {
    /// Which kind of kept member the one under `key` could be, asked
    /// before its value is read; `None`: it is built.
    fn may_keep(&self, key: &str) -> Option<usize>;
    /// The attribute a member of kind `which` is, whose check its value
    /// must pass to stay text.
    fn attribute(&self, which: usize) -> Option<&Attribute>;
    /// Whether the built members may name a kept member other than by a
    /// key equal to its key in any case (looked at apart); `is_kept`
    /// says whether a name is a kept member's key. Then nothing stays
    /// text.
    fn names_kept(&self, built: &Map<String, Value>, is_kept: &dyn Fn(&str) -> bool) -> bool {
        let _ = (built, is_kept);
        false
    }
}

/// A member kept: its kind, its key, where its value lies in the text.
struct Kept {
    which: usize,
    key: String,
    span: Range<usize>,
}

/// Parses `text` (the body `bytes` hold) as [`within`] does, keeping as
/// text the top-level members `keep` keeps.
pub fn split(text: &str, bytes: &bytes::Bytes, max_depth: usize, keep: &dyn Keep) -> Result<(Value, Aside), Refused> {
    let mut state = State { entries: Vec::with_capacity(32), too_deep: false };
    let mut kept: Vec<Kept> = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let top = Top { text, left: max_depth, state: &mut state, keep, kept: &mut kept };
    let parsed = top.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    match parsed {
        Ok(tree) if kept.is_empty() => Ok((tree, Aside::default())),
        Ok(tree) if !named_twice(&tree, kept.iter(), keep) => match slices(bytes, kept) {
            Some(members) => Ok((tree, Aside { members })),
            None => within(text, max_depth).map(|tree| (tree, Aside::default())),
        },
        _ => within(text, max_depth).map(|tree| (tree, Aside::default())),
    }
}

/// The current resource's `text` (the body `bytes` hold) split for
/// [`super::document_paired`]: a member under a key `sent` has (written
/// without escapes) is kept, every other one parsed into the tree as the
/// plain parse would, each from its own text. A kept member whose text is
/// the same tokens as `sent`'s is paired with it ([`Paired::same`], the
/// sent one not built); any other is returned aside as unchecked text, to
/// be parsed. `None` when the text is not an object by its own grammar
/// ([`spans::members`]), a built member does not parse, or a kept member
/// is named twice (by a key, or otherwise as `names` says): the plain
/// parse decides then.
pub(super) fn paired(
    text: &str,
    bytes: &bytes::Bytes,
    sent: &Aside,
    names: &dyn Keep,
) -> Option<(Value, Paired, Aside)> {
    let mut hint = 0;
    let look = |key: &str, escaped: bool, rest: &[u8]| {
        let which = sent.position_of(key, hint).filter(|_| !escaped);
        hint = which.map_or(hint, |w| w + 1);
        let same = which.and_then(|w| same_prefix(sent.members.get(w)?.1.as_ref(), rest));
        (which, same)
    };
    let left = PARSER_MAX_DEPTH - 1;
    let members = spans::members(text, left, look)?;
    let mut state = State { entries: Vec::with_capacity(16), too_deep: false };
    let mut entries = Vec::with_capacity(members.len());
    let (mut kept, mut paired) = (Vec::with_capacity(sent.members.len()), vec![false; sent.members.len()]);
    for member in members {
        let Some(which) = member.kind else {
            entries.push((member.key.into_owned(), part(text.get(member.value)?, left, &mut state)?));
            continue;
        };
        paired.get_mut(which).into_iter().for_each(|p| *p |= member.same);
        kept.push((Kept { which, key: member.key.into_owned(), span: member.value }, member.same));
    }
    let mut object = Map::with_capacity(entries.len());
    object.extend(entries);
    let tree = Value::Object(object);
    (kept.is_empty() || !named_twice(&tree, kept.iter().map(|(k, _)| k), names)).then_some(())?;
    let (mut same, mut differing) = (Vec::with_capacity(kept.len()), Vec::new());
    for (k, is_same) in kept {
        let text = bytes.get(k.span.clone()).map(|_| bytes.slice(k.span))?;
        if is_same { &mut same } else { &mut differing }.push((k.key, text));
    }
    let desired = sent.members.iter().zip(&paired).filter(|(_, p)| !**p).map(|(m, _)| m.clone()).collect();
    Some((
        tree,
        Paired { desired: Aside { members: desired }, same: Aside { members: same } },
        Aside { members: differing },
    ))
}

/// Each kept member's text as a slice of the body (`None` if a span
/// were outside it, which `Top::close` checked it is not).
fn slices(bytes: &bytes::Bytes, kept: Vec<Kept>) -> Option<Vec<(String, bytes::Bytes)>> {
    let slice = |span: Range<usize>| bytes.get(span.clone()).map(|_| bytes.slice(span));
    kept.into_iter().map(|k| slice(k.span).map(|text| (k.key, text))).collect()
}

/// Whether a kept member's attribute is also named elsewhere in the body
/// (normalization would keep one of the two, the backend might keep the
/// other, or normalization would decide on a name it no longer sees): by
/// a built key in any case, by what `keep` says the built members name,
/// or by a second kept member of the same kind.
fn named_twice<'k>(tree: &Value, kept: impl Iterator<Item = &'k Kept> + Clone, keep: &dyn Keep) -> bool {
    let same = |a: &str, b: &str| a.len() == b.len() && a.eq_ignore_ascii_case(b);
    let Some(built) = tree.as_object() else { return true };
    let is_kept = |name: &str| kept.clone().any(|k| same(&k.key, name));
    let by_built = built.keys().any(|b| is_kept(b)) || keep.names_kept(built, &is_kept);
    let by_kept = kept.clone().enumerate().any(|(i, a)| kept.clone().skip(i + 1).any(|b| a.which == b.which));
    by_built || by_kept
}

/// The top-level object.
struct Top<'a, 'k> {
    text: &'a str,
    left: usize,
    state: &'k mut State,
    keep: &'k dyn Keep,
    kept: &'k mut Vec<Kept>,
}

/// A member that may stay text, read, whose end is known only at the
/// next key (or the closing brace).
struct Open {
    which: usize,
    key: String,
    start: usize,
    left_as_is: bool,
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let left = self.left.checked_sub(1).ok_or_else(|| A::Error::custom("nested too deep"))?;
        let texts = left >= MEMBER_MAX_DEPTH;
        let bytes = self.text.as_bytes();
        let (mut entries, mut open) = (Vec::new(), None::<Open>);
        while let Some(Key { text: key, quote }) = map.next_key_seed(KeyAt(self.text))? {
            if let Some(o) = open.take() {
                let end = quote.and_then(|q| end_before_key(bytes, q));
                self.close(o, end, left, &mut entries)?;
            }
            let which = quote.filter(|_| texts).and_then(|q| Some((q, self.keep.may_keep(&key)?)));
            let member = which.and_then(|(q, w)| Some((w, self.keep.attribute(w)?, value_start(bytes, q, &key)?)));
            let Some((which, def, start)) = member else {
                let value = map.next_value_seed(Build { left, state: &mut *self.state })?;
                entries.push((key, value));
                continue;
            };
            let left_as_is = map.next_value_seed(LeavesValue(def))?;
            open = Some(Open { which, key, start, left_as_is });
        }
        if let Some(o) = open.take() {
            let end = bytes.iter().rposition(|&b| b == b'}').map(|brace| back_over_space(bytes, brace));
            self.close(o, end, left, &mut entries)?;
        }
        let mut object = Map::with_capacity(entries.len());
        object.extend(entries);
        Ok(Value::Object(object))
    }
}

impl Top<'_, '_> {
    /// A member read with its check, now that its end is known: kept, or
    /// built from its text when the check did not pass.
    fn close<E: serde::de::Error>(
        &mut self,
        open: Open,
        end: Option<usize>,
        left: usize,
        entries: &mut Vec<(String, Value)>,
    ) -> Result<(), E> {
        let span = end.filter(|end| *end > open.start).map(|end| open.start..end);
        let Some(text) = span.clone().and_then(|s| self.text.get(s)) else { return Err(E::custom("a member's end")) };
        match (open.left_as_is, span) {
            (true, Some(span)) => self.kept.push(Kept { which: open.which, key: open.key, span }),
            _ => entries.push((open.key, within(text, left).map_err(|_| E::custom("left to the plain parse"))?)),
        }
        Ok(())
    }
}

/// A top-level key, with where its opening quote is in the text when it
/// was read straight from it (no escapes).
struct Key {
    text: String,
    quote: Option<usize>,
}

/// Reads a key of the object in `.0`.
struct KeyAt<'a>(&'a str);

impl<'de> DeserializeSeed<'de> for KeyAt<'_> {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Key, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeyAt<'_> {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<Key, E> {
        let quote = span_in(self.0, key).and_then(|s| s.start.checked_sub(1));
        let quote = quote.filter(|q| self.0.as_bytes().get(*q) == Some(&b'"'));
        Ok(Key { text: key.to_owned(), quote })
    }

    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(Key { text: key.to_owned(), quote: None })
    }
}

/// Where the value after the key `key` (its opening quote at `quote`)
/// starts: past the closing quote, the colon and any whitespace.
fn value_start(bytes: &[u8], quote: usize, key: &str) -> Option<usize> {
    let mut at = quote.checked_add(key.len())?.checked_add(2)?;
    at = skip_space(bytes, at);
    (bytes.get(at) == Some(&b':')).then_some(())?;
    Some(skip_space(bytes, at + 1))
}

/// Where the value before the next key (its opening quote at `quote`,
/// after a comma) ends; the last value ends where spaces before the
/// closing brace start ([`back_over_space`]).
fn end_before_key(bytes: &[u8], quote: usize) -> Option<usize> {
    let comma = back_over_space(bytes, quote).checked_sub(1).filter(|&i| bytes.get(i) == Some(&b','))?;
    Some(back_over_space(bytes, comma))
}

/// The position after the last non-space byte before `at`.
fn back_over_space(bytes: &[u8], mut at: usize) -> usize {
    while at > 0 && matches!(bytes.get(at - 1), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        at -= 1;
    }
    at
}

/// Where `part` (a slice of `whole`) lies in it.
fn span_in(whole: &str, part: &str) -> Option<Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (whole.get(start..end) == Some(part)).then_some(start..end)
}

mod spans;

#[cfg(test)]
mod tests;
