//! JSON text in and out of the request path. The results are exactly
//! serde_json's (tests hold them to it byte for byte); only the work is
//! less for what SCIM carries, which is mostly short ASCII strings:
//!
//! - [`from_bytes`] checks UTF-8 once over the whole body instead of once per
//!   string, as `serde_json::from_slice` does, builds the tree straight
//!   from the text, strings found sixteen bytes at a time
//!   (`scim_core::json_text::build_document`; serde_json's parser reads
//!   only what that refuses), and makes each
//!   object at its final size instead of growing it key by key (see
//!   `json/parse.rs`);
//! - [`document`] does the same for a request's body, and bounds its
//!   nesting while it parses;
//! - [`to_vec`] looks for characters to escape eight bytes at a time instead
//!   of one.
//!
//! [`document_keeping`] and [`document_paired`] build only part of the
//! document: they keep some members as text, and a request body's reader
//! also leaves out members normalization strips whole or the rules
//! discard; each value they
//! build is serde_json's (see `json/split.rs`).

mod parse;
mod same;
mod split;

use bytes::Bytes;
pub use parse::{PARSER_MAX_DEPTH, Refused};
pub use same::Paired;
use scim_core::json_text::{BLOCK, Block};
pub(crate) use scim_core::json_text::{HIGH, any_byte, escape_at, escape_bytes, is_space, skip_space};
use serde_json::Value;
pub use split::{Fate, Keep};
use std::ops::Range;

/// `bytes` as text, when they are UTF-8: a whole body or answer checked
/// 32 or 64 bytes at a time where the CPU can (`simdutf8`), as `str`'s own
/// check would judge it.
pub(crate) fn utf8(bytes: &[u8]) -> Result<&str, simdutf8::basic::Utf8Error> {
    simdutf8::basic::from_utf8(bytes)
}

/// Parses JSON text, as `serde_json::from_slice` does.
pub fn from_bytes(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    member_from_bytes(bytes, &mut parse::State::for_document())
}

/// [`from_bytes`] for one of several texts parsed one after the other,
/// sharing `state`'s entry stack.
fn member_from_bytes(bytes: &[u8], state: &mut parse::State) -> Result<Value, serde_json::Error> {
    match utf8(bytes) {
        Ok(text) => parse::unbounded_in(text, state),
        // serde_json's own error, with the position of the bad byte.
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// Parses a request's JSON text, as `serde_json::from_slice` does,
/// refusing arrays and objects nested more than `max_depth` deep.
pub fn document(bytes: &[u8], max_depth: usize) -> Result<Value, Refused> {
    match utf8(bytes) {
        Ok(text) => parse::within(text, max_depth),
        // serde_json's own error, with the position of the bad byte.
        Err(_) => Err(match serde_json::from_slice::<Value>(bytes) {
            Err(e) => Refused::from(e),
            Ok(_) => Refused::Json(serde::de::Error::custom("the body is not UTF-8")),
        }),
    }
}

/// [`document`], keeping as text the top-level members `keep` keeps and
/// leaving out the ones it strips or drops ([`Keep::fate`]; the stripped
/// ones counted in the [`Aside`]): the tree holds the others. The body
/// must be an object for any to be kept or left out.
pub fn document_keeping(bytes: &Bytes, max_depth: usize, keep: &dyn Keep) -> Result<(Value, Aside), Refused> {
    match utf8(bytes) {
        Ok(text) => split::split(text, bytes, max_depth, keep),
        Err(_) => document(bytes, max_depth).map(|tree| (tree, Aside::default())),
    }
}

/// The current resource a PUT sent as a PATCH is diffed against, its
/// members under the keys the PUT's body kept (`sent`) paired with the
/// body's: a member whose text is the same tokens as the body's is never
/// built ([`Paired::same`]); every other member is parsed into the tree.
/// Nothing unchecked is kept: a kept text is either the same tokens as
/// the body's, which normalization's check read already and held to what
/// serde_json's parse takes, or parsed. `names` says
/// whether a built member names a kept one otherwise
/// ([`Keep::names_kept`]); then, or when the text is out of the ordinary,
/// all of it is parsed. `None` when the text is not JSON.
pub fn document_paired(bytes: &Bytes, sent: &Aside, names: &dyn Keep) -> Option<(Value, Paired)> {
    let split = utf8(bytes).ok().and_then(|text| split::paired(text, bytes, sent, names));
    split.or_else(|| from_bytes(bytes).ok().map(|tree| (tree, Paired::unpaired(sent))))
}

/// Top-level members of a JSON object kept as text (a request body's, as
/// the IdP wrote them, or the current resource's, as the backend did), in
/// their order: each a key and its value's text, as places in the body
/// (not copies). A key kept is as written: it holds no byte JSON escapes
/// (`spans::key_at` reads any other), so it is written back as it is.
/// A request body's reader may also leave members out altogether, ones
/// normalization strips whole or the rules discard ([`Keep::fate`]):
/// only the stripped ones' count is held, for normalization's report.
#[derive(Debug, Default, Clone)]
pub struct Aside {
    /// The body the members lie in.
    text: Bytes,
    members: Vec<Place>,
    stripped: usize,
}

/// Where a kept member's key (between its quotes) and value lie, and
/// which kind of kept member its reader took it for (`split.rs`).
#[derive(Debug, Clone)]
struct Place {
    key: Range<usize>,
    value: Range<usize>,
    which: usize,
}

impl Aside {
    /// Whether no member was kept (members left out are not kept).
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// How many members of the body were left out as ones normalization
    /// strips whole ([`Fate::Stripped`]); those the rules discard are not
    /// counted.
    pub fn stripped(&self) -> usize {
        self.stripped
    }

    /// The text of one of `text`'s places (empty for none: the places are
    /// checked against it when the aside is made).
    fn at(&self, place: &Range<usize>) -> &[u8] {
        self.text.get(place.clone()).unwrap_or_default()
    }

    /// The key and value texts of the member at `which`.
    fn member(&self, which: usize) -> Option<(&[u8], &[u8])> {
        self.members.get(which).map(|p| (self.at(&p.key), self.at(&p.value)))
    }

    /// Where the member under `key` is, looked for first at `hint`.
    /// (Lengths compared first: most keys looked for are no kept
    /// member's, and differ in length from most.)
    fn position_of(&self, key: &str, hint: usize) -> Option<usize> {
        let is_key = |p: &Place| p.key.len() == key.len() && self.at(&p.key) == key.as_bytes();
        if self.members.get(hint).is_some_and(is_key) {
            return Some(hint);
        }
        self.members.iter().position(is_key)
    }

    /// The kept members' keys and texts, as bytes.
    fn texts(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.members.iter().map(|p| (self.at(&p.key), self.at(&p.value)))
    }

    /// The kept members as the body holds them, each run of members next
    /// to each other there taken whole: from its first key's opening quote
    /// to its last value's end (between two of them, a comma and spaces).
    /// A kept key holds nothing to escape, so a run is what writing its
    /// members one by one gives, their spaces aside. `None` for a place
    /// not in the body (none is: the places are checked when the aside is
    /// made).
    fn runs(&self) -> impl Iterator<Item = Option<&[u8]>> {
        let mut places = self.members.iter().peekable();
        std::iter::from_fn(move || {
            let first = places.next()?;
            let mut last = first;
            while let Some(next) = places.next_if(|p| self.next_to(last, p)) {
                last = next;
            }
            Some(first.key.start.checked_sub(1).and_then(|quote| self.text.get(quote..last.value.end)))
        })
    }

    /// Whether the member at `b` follows the one at `a` in the body with
    /// nothing between them but their comma (and spaces).
    fn next_to(&self, a: &Place, b: &Place) -> bool {
        let gap = b.key.start.checked_sub(1).and_then(|quote| self.text.get(a.value.end..quote));
        gap.is_some_and(|gap| gap.trim_ascii() == b",")
    }

    /// The kept members' keys and texts.
    pub fn members(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.texts().map(|(k, text)| (std::str::from_utf8(k).unwrap_or_default(), text))
    }

    /// The kept members built into `tree` (an object) after its own, for
    /// a step that needs the whole body. Each text was checked already and
    /// held to what serde_json's parse into a `Value` takes (by
    /// normalization's check, or by being the same tokens as text it
    /// checked), so none fails to parse; if one did, its error.
    pub fn into_tree(self, tree: &mut Value) -> Result<(), serde_json::Error> {
        if self.is_empty() {
            return Ok(());
        }
        let Some(map) = tree.as_object_mut() else {
            return Err(serde::de::Error::custom("members kept as text have no object to go into"));
        };
        // Most kept members are scalars, which need no entry stack.
        let mut state = parse::State::for_members();
        for (key, text) in self.texts() {
            let key = std::str::from_utf8(key).map_err(serde::de::Error::custom)?;
            map.insert(key.to_owned(), member_from_bytes(text, &mut state)?);
        }
        Ok(())
    }
}

/// [`to_vec`] of an object with the `aside` members written after its own,
/// as the IdP's text; `None` when members were kept and `value` is no
/// object (they would have nowhere to go).
pub fn to_vec_with(value: &Value, aside: &Aside) -> Option<Vec<u8>> {
    let mut out = to_vec(value);
    if aside.is_empty() {
        return Some(out);
    }
    if !value.is_object() || out.pop() != Some(b'}') {
        return None;
    }
    for run in aside.runs() {
        if out.last() != Some(&b'{') {
            out.push(b',');
        }
        out.extend_from_slice(run?);
    }
    out.push(b'}');
    Some(out)
}

/// Serializes `value` compactly, as `serde_json::to_vec` does; it cannot fail.
pub fn to_vec(value: &Value) -> Vec<u8> {
    // Room for a usual resource (Okta's 1.9 kB create is 1.6 kB compact),
    // written whole without growing; more room would be held by every
    // request in flight.
    let mut out = Vec::with_capacity(2048);
    write_value(&mut out, value);
    out
}

/// [`to_vec`] of `ops.into_json()`, written without building it: the
/// PatchOp a translated write sends.
pub fn patch_to_vec(ops: &scim_core::patch::PatchOp) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(b"{\"schemas\":[");
    write_str(&mut out, scim_core::patch::PATCH_URN);
    out.extend_from_slice(b"],\"Operations\":[");
    for (i, op) in ops.operations.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"op\":");
        write_str(&mut out, op.op.as_str());
        if let Some(path) = &op.path {
            out.extend_from_slice(b",\"path\":");
            write_str(&mut out, &path.text());
        }
        if let Some(value) = &op.value {
            out.extend_from_slice(b",\"value\":");
            write_value(&mut out, value);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

fn write_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // Rare in SCIM; serde_json formats them (integers, shortest floats).
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            out.push(b'{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                write_value(out, item);
            }
            out.push(b'}');
        }
    }
}

/// Where the string whose text starts at `from` (after its opening quote)
/// ends: its closing quote, an escape's second byte stepped over. Nothing
/// in the string is checked.
fn string_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at = escape_at(bytes, at)?;
        match bytes.get(at)? {
            b'"' => return Some(at),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

/// [`escape_bytes`] and the bytes outside ASCII: what ends a run of plain
/// ASCII in a JSON string.
pub(crate) fn stop_bytes(w: u64) -> u64 {
    escape_bytes(w) | (w & HIGH)
}

/// A JSON string: escapes as serde_json writes them (`\"`, `\\`, the short
/// forms `\b \t \n \f \r`, else `\u00xx`); everything else, non-ASCII
/// included, as it is. Most strings need no escape and are copied whole.
/// Inlined: a call's saving and restoring of registers counted about a
/// fifth of its cost on SCIM's short strings.
#[inline(always)]
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if has_escape(bytes) {
        for &b in bytes {
            match escape(b) {
                Some(escape) => out.extend_from_slice(&escape),
                None => out.push(b),
            }
        }
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

/// Whether any byte of `bytes` needs an escape: sixteen at a time
/// ([`Block::escapes`]), the last sixteen overlapping the ones before; a
/// string shorter than sixteen bytes eight at a time ([`any_flagged`]).
fn has_escape(bytes: &[u8]) -> bool {
    let Some(last) = bytes.len().checked_sub(BLOCK) else {
        return any_flagged(bytes, escape_bytes, |b| b < 0x20 || b == b'"' || b == b'\\');
    };
    let escapes = |at: usize| Block::at(bytes, at).is_none_or(|block| block.escapes() != 0);
    (0..last).step_by(BLOCK).any(escapes) || escapes(last)
}

/// Whether any byte of `bytes` is one that `flags` marks in a word of
/// eight (as [`escape_bytes`] does) and `is` says of one byte: eight at a
/// time, the last eight overlapping the ones before; a string shorter
/// than eight bytes a byte at a time.
pub(crate) fn any_flagged(bytes: &[u8], flags: impl Fn(u64) -> u64, is: impl Fn(u8) -> bool) -> bool {
    let word = |c: &[u8]| <[u8; 8]>::try_from(c).map_or(true, |c| flags(u64::from_le_bytes(c)) != 0);
    let Some(tail) = bytes.len().checked_sub(8).and_then(|start| bytes.get(start..)) else {
        return bytes.iter().any(|&b| is(b));
    };
    bytes.chunks_exact(8).any(word) || (!bytes.len().is_multiple_of(8) && word(tail))
}

/// The escape for byte `b`, when it needs one.
fn escape(b: u8) -> Option<EscapeBytes> {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        0x00..=0x1F => {
            let hi = HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0');
            let lo = HEX.get(usize::from(b & 0xF)).copied().unwrap_or(b'0');
            return Some(EscapeBytes::Long([b'\\', b'u', b'0', b'0', hi, lo]));
        }
        _ => return None,
    };
    Some(EscapeBytes::Short([b'\\', short]))
}

/// An escape sequence: two bytes or six.
enum EscapeBytes {
    Short([u8; 2]),
    Long([u8; 6]),
}

impl std::ops::Deref for EscapeBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            EscapeBytes::Short(b) => b,
            EscapeBytes::Long(b) => b,
        }
    }
}

#[cfg(test)]
mod tests;
