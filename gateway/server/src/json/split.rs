//! A JSON object whose top-level members are either built into the tree
//! or, where a [`Keep`] says so, kept as text.
//!
//! - A request body ([`split`]): the members' places are found by the
//!   object's grammar (`split/spans.rs`); a member that may stay text is
//!   read once by normalization's check, which reads the text itself and
//!   builds nothing ([`Keep::left`]), and kept when it passes; every other
//!   member is parsed, each from its own text. A member normalization
//!   strips whole, or that the rules discard, is read the same way
//!   and left out ([`Keep::fate`]): only the stripped ones' count is held.
//!   Anything out of the ordinary gives the whole body to the plain parse
//!   ([`super::parse::within`]) instead: the grammar fails or a member
//!   does not parse (so the IdP gets the same error either way), a kept
//!   member whose attribute (or extension) another key also names in any
//!   case, or that `schemas` lists, or that a URN key may name, or a kept
//!   extension `schemas` does not list (see [`Keep::names_kept`]).
//! - The current resource a PUT is diffed against ([`paired`]): the
//!   members' places are found without reading them (`split/spans.rs`),
//!   the built ones parsed, each from its own text, and each kept one
//!   paired with the body's member under its key when it is the same
//!   tokens, or else parsed too, as it is found.
//!
//! See `pipeline/aside.rs` for who may keep what.

use super::parse::{PARSER_MAX_DEPTH, State, part_at, within};
use super::same::same_prefix;
use super::{Aside, Paired, Place, Refused};
use scim_core::json_text::object_with_room;
use scim_core::normalize::MEMBER_MAX_DEPTH;
use serde_json::{Map, Value};
use std::ops::Range;

/// Which top-level members of a body may stay text.
pub trait Keep {
    /// Which kind of kept member the one under `key` could be, asked
    /// before its value is read; `None`: it is built.
    fn may_keep(&self, key: &str) -> Option<usize>;
    /// How long the value `text` starts with is, when a member of kind
    /// `which` with that value stays text, or is left out where
    /// [`Keep::fate`] says so (its check passes); `None`: it is built.
    fn left(&self, which: usize, text: &str) -> Option<usize>;
    /// Whether the built members may name a kept member other than by a
    /// key equal to its key in any case (looked at apart), or otherwise
    /// make keeping unsafe (a kept extension `schemas` does not list);
    /// `is_kept` says whether a name is a kept member's key. Then nothing
    /// stays text.
    fn names_kept(&self, built: &Map<String, Value>, is_kept: &dyn Fn(&str) -> bool) -> bool {
        let _ = (built, is_kept);
        false
    }
    /// Whether a member of kind `which` that passed [`Keep::left`] stays
    /// text or is left out of the body altogether ([`Fate`]). Left out,
    /// it still counts as kept when its name is looked for elsewhere
    /// ([`Keep::names_kept`], a key naming it twice).
    fn fate(&self, which: usize) -> Fate {
        let _ = which;
        Fate::Kept
    }
    /// How many members the tree's top level has room for beside the
    /// built ones: as many as kinds may be left out as the rules'
    /// ([`Fate::Dropped`]). Those the rules write whole are added back
    /// then without growing it; those they only delete leave their room
    /// unused.
    fn room(&self) -> usize {
        0
    }
}

/// What becomes of a member that passed [`Keep::left`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It stays text, written after the built members.
    Kept,
    /// Left out: normalization strips it whole, and counts it
    /// ([`Aside::stripped`]).
    Stripped,
    /// Left out: the rules discard it (delete it, or write the whole of
    /// it from other members or a constant), and normalization would
    /// leave it as it is (nothing is counted).
    Dropped,
}

/// Parses `text` (the body `bytes` hold) as [`within`] does, keeping as
/// text the top-level members `keep` keeps and leaving out the ones it
/// strips or drops (normalization would strip them, or the rules discard
/// them: the tree is the plain parse's once normalized and mapped).
pub fn split(text: &str, bytes: &bytes::Bytes, max_depth: usize, keep: &dyn Keep) -> Result<(Value, Aside), Refused> {
    match spanned(text, bytes, max_depth, keep) {
        Some(split) => Ok(split),
        None => within(text, max_depth).map(|tree| (tree, Aside::default())),
    }
}

/// [`split`] when nothing is out of the ordinary (see the module text).
fn spanned(text: &str, bytes: &bytes::Bytes, max_depth: usize, keep: &dyn Keep) -> Option<(Value, Aside)> {
    let left = max_depth.checked_sub(1)?;
    let texts = left >= MEMBER_MAX_DEPTH;
    let (tree, mut kept) = read_members(
        text,
        |key, rest, start, state, kept| {
            let which = (texts && !key.escaped).then(|| keep.may_keep(&key.text)).flatten();
            match which.and_then(|w| Some((w, keep.left(w, rest)?))) {
                Some((which, len)) => kept_at(kept, which, key.at, start, len),
                None => built(key, rest, left, state),
            }
        },
        keep.room(),
    )?;
    (kept.is_empty() || !named_twice(text, &tree, kept.iter(), keep)).then_some(())?;
    let mut stripped = 0;
    kept.retain(|k| match keep.fate(k.which) {
        Fate::Kept => true,
        Fate::Stripped => {
            stripped += 1;
            false
        }
        Fate::Dropped => false,
    });
    aside(bytes, kept).map(|aside| (tree, Aside { stripped, ..aside }))
}

/// The members of the object `text` is, each given to `read` (its key, the
/// text from its value on, where that starts, and the entry stack and
/// kept list to put it in), which says how long its value is: the
/// top-level object made from the stack, with `room` for as many more
/// members, and the kept members in their order. `None` when
/// [`spans::members`] gives none.
fn read_members<'t>(
    text: &'t str,
    mut read: impl FnMut(spans::Key<'t>, &'t str, usize, &mut State, &mut Vec<Place>) -> Option<usize>,
    room: usize,
) -> Option<(Value, Vec<Place>)> {
    let (mut state, mut kept) = (State { entries: Vec::with_capacity(24), too_deep: false }, Vec::with_capacity(24));
    spans::members(text, |key, rest, start| read(key, rest, start, &mut state, &mut kept))?;
    Some((object_with_room(&mut state.entries, 0, room), kept))
}

/// Keeps the member of kind `which` whose key lies at `key` and whose
/// value of `len` bytes starts at `start` (as text, or to be left out);
/// gives its length.
fn kept_at(kept: &mut Vec<Place>, which: usize, key: Range<usize>, start: usize, len: usize) -> Option<usize> {
    kept.push(Place { key, value: start..start.checked_add(len)?, which });
    Some(len)
}

/// The member whose value `rest` starts with, parsed, put on the entry
/// stack under its key (the top-level object is made from the stack at
/// the end: a key given twice keeps its first place and its last value,
/// as serde_json's parse does), and its length; `None` when it does not
/// parse (the plain parse decides then).
fn built(key: spans::Key<'_>, rest: &str, left: usize, state: &mut State) -> Option<usize> {
    let (value, len) = part_at(rest, left, state)?;
    state.entries.push((key.text.into_owned(), value));
    Some(len)
}

/// The current resource's `text` (the body `bytes` hold) split for
/// [`super::document_paired`]: a member under a key `sent` has (written
/// without escapes) is kept, every other one parsed into the tree as the
/// plain parse would, each from its own text. A kept member whose text is
/// the same tokens as `sent`'s is paired with it ([`Paired::same`], the
/// sent one not built); any other is parsed into the tree too, as it is
/// found. `None` when the text is not an object by its own grammar
/// ([`spans::members`]), a built member does not parse, or a kept member
/// is named twice (by a key, or otherwise as `names` says): the plain
/// parse decides then.
pub(super) fn paired(text: &str, bytes: &bytes::Bytes, sent: &Aside, names: &dyn Keep) -> Option<(Value, Paired)> {
    let left = PARSER_MAX_DEPTH - 1;
    let mut hint = 0;
    let (tree, kept) = read_members(
        text,
        |key, rest, start, state, kept| {
            let Some(which) = sent.position_of(&key.text, hint).filter(|_| !key.escaped) else {
                return built(key, rest, left, state);
            };
            hint = which + 1;
            match sent.member(which).and_then(|(_, value)| same_prefix(value, rest.as_bytes())) {
                Some(len) => kept_at(kept, which, key.at, start, len),
                None => built(key, rest, left, state),
            }
        },
        0,
    )?;
    let mut paired = vec![false; sent.members.len()];
    kept.iter().for_each(|k| paired.get_mut(k.which).into_iter().for_each(|p| *p = true));
    (kept.is_empty() || !named_twice(text, &tree, kept.iter(), names)).then_some(())?;
    let same = aside(bytes, kept)?;
    let members = sent.members.iter().zip(&paired).filter(|(_, p)| !**p).map(|(m, _)| m.clone()).collect();
    Some((tree, Paired { desired: Aside { text: sent.text.clone(), members, stripped: 0 }, same }))
}

/// The kept members as places in the body `bytes` holds (`None` if a
/// place were outside it, which the spans are not). With none kept, the
/// body is not held.
fn aside(bytes: &bytes::Bytes, kept: Vec<Place>) -> Option<Aside> {
    if kept.is_empty() {
        return Some(Aside::default());
    }
    for k in &kept {
        bytes.get(k.key.clone())?;
        bytes.get(k.value.clone())?;
    }
    Some(Aside { text: bytes.clone(), members: kept, stripped: 0 })
}

/// Whether a kept member's attribute is also named elsewhere in the body
/// (normalization would keep one of the two, the backend might keep the
/// other, or normalization would decide on a name it no longer sees): by
/// a built key in any case, by what `keep` says the built members name,
/// or by a second kept member of the same kind.
fn named_twice<'k>(text: &str, tree: &Value, kept: impl Iterator<Item = &'k Place> + Clone, keep: &dyn Keep) -> bool {
    let Some(built) = tree.as_object() else { return true };
    let key = |k: &Place| text.as_bytes().get(k.key.clone()).unwrap_or_default();
    let same = |k: &Place, b: &str| k.key.len() == b.len() && scim_core::schema::same_name(key(k), b.as_bytes());
    // A bit per kept key's length and first byte in either case (as
    // `same_name` compares them): most names share neither with a kept
    // key, and need no comparing.
    let signs = kept.clone().fold(0, |all, k| all | sign(key(k)));
    let is_kept = |name: &str| signs & sign(name.as_bytes()) != 0 && kept.clone().any(|k| same(k, name));
    let by_built = built.keys().any(|b| is_kept(b)) || keep.names_kept(built, &is_kept);
    by_built || kinds_repeat(kept)
}

/// One of 64 bits for a name's length and its first byte with ASCII's case
/// bit set: two names the same in any case have the same one.
fn sign(name: &[u8]) -> u64 {
    let first = name.first().map_or(0, |c| c | 0x20);
    1_u64 << (name.len().wrapping_mul(11).wrapping_add(usize::from(first)) % 64)
}

/// Whether two kept members are of the same kind: a bit per kind (a kind
/// past the 64th counts as a repeat: the plain parse decides then).
fn kinds_repeat<'k>(mut kept: impl Iterator<Item = &'k Place>) -> bool {
    let mut seen = 0_u64;
    !kept.all(|k| {
        let bit = u32::try_from(k.which).ok().and_then(|w| 1_u64.checked_shl(w)).unwrap_or(0);
        let fresh = bit != 0 && seen & bit == 0;
        seen |= bit;
        fresh
    })
}

mod spans;

#[cfg(test)]
mod tests;
