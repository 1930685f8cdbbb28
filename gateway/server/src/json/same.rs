//! Two kept members compared by their text: a PUT sent as a PATCH keeps
//! as text the members of the IdP's body and of the current resource that
//! nothing on the way reads, and a member whose two texts say the same
//! needs no operation, so neither is built (see `pipeline/aside.rs`; the
//! split of the current resource, `split.rs`'s `paired`, asks
//! [`same_prefix`] as it finds each member's end).

use super::{Aside, is_space, skip_space};
use scim_core::json_text::{BLOCK, Block, odd};

/// How long the start of `b` (any text) is that is the same tokens as
/// all of `a` (one JSON value), without the spaces after it; `None` when
/// no start of `b` is. The same tokens: equal byte for byte once the
/// whitespace between tokens is left out. Strings are compared as
/// written, escapes included, so `"\u0041"` and `"A"` differ, as do the
/// same keys in another order and `1.0` against `1`: such pairs are built
/// and compared as values instead. Whitespace that would cut a number or
/// literal in two (`1 2` against `12`) is not between tokens. So when `a`
/// is one JSON value serde_json reads, the start of `b` that is the same
/// tokens is one too, and the same value: `b` itself need not have been
/// read.
///
/// Sixteen bytes at a time while the two are the same: a run of the same
/// bytes is the same tokens, and only whether it ends inside a string is
/// worked out (from its quotes; a backslash goes the byte path, with the
/// byte after it). Where the two differ, only spaces between tokens may.
///
/// Always inlined into its one caller, the split of the current resource
/// (called once a kept member): the inliner's choice otherwise moved with
/// unrelated changes, by over 1,000 instructions a PUT sent as a PATCH.
#[inline(always)]
pub(super) fn same_prefix(a: &[u8], b: &[u8]) -> Option<usize> {
    let (mut i, mut j, mut in_string) = (0, 0, false);
    loop {
        (i, j, in_string) = same_blocks(a, b, (i, j, in_string));
        let Some(&x) = a.get(i) else { return Some(j) };
        match (in_string, b.get(j) == Some(&x)) {
            (true, false) => return None,
            (true, true) if x == b'\\' => {
                // An escape's second byte, the same in both, whatever it is.
                (a.get(i + 1).is_some() && a.get(i + 1) == b.get(j + 1)).then_some(())?;
                (i, j) = (i + 2, j + 2);
            }
            (_, true) => {
                in_string ^= x == b'"';
                (i, j) = (i + 1, j + 1);
            }
            (false, false) => (i, j) = between_tokens(a, b, i, j)?,
        }
    }
}

/// [`same_prefix`]'s block loop, from `at` (where `a` and `b` are, and
/// whether inside a string): sixteen bytes at a time over what is the
/// same, across spaces that differ after punctuation. It stops for the
/// byte path at a backslash, inside a string where the two differ, at a
/// difference it does not take, or at the end of either text.
///
/// A block the same on both sides with no backslash (the usual one) asks
/// only for its quotes' parity.
#[inline(always)]
fn same_blocks(a: &[u8], b: &[u8], at: (usize, usize, bool)) -> (usize, usize, bool) {
    let (mut i, mut j, mut in_string) = at;
    while let (Some(x), Some(y)) = (Block::at_short(a, i), Block::at_short(b, j)) {
        let stops = x.differ(y) | x.of(b'\\');
        // The bits below the first stop (all of them when none is).
        let before = stops.wrapping_sub(1) & !stops;
        in_string ^= odd(x.of(b'"') & before);
        if stops == 0 {
            (i, j) = (i + BLOCK, j + BLOCK);
            continue;
        }
        let run = stops.trailing_zeros() as usize;
        (i, j) = (i + run, j + run);
        if in_string || i >= a.len() {
            break;
        }
        match spaces_after_punctuation(a, b, i, j) {
            Some(next) => (i, j) = next,
            None => break,
        }
    }
    (i, j, in_string)
}

/// [`between_tokens`] where the bytes before `i` end no number or literal
/// (`a` and `b` agree up to `i` and `j`, outside a string): the usual
/// difference between two writers of the same JSON, `{"a": 1, "b": 2}`
/// against `{"a":1,"b":2}`, taken in the block loop's stride. `None`: the
/// byte before is not such (or is a space), or no spaces differ; the
/// general path decides.
#[inline(always)]
fn spaces_after_punctuation(a: &[u8], b: &[u8], i: usize, j: usize) -> Option<(usize, usize)> {
    let &before = a.get(i.checked_sub(1)?)?;
    (!is_space(before) && !is_scalar(before)).then_some(())?;
    let next = (skip_space(a, i), skip_space(b, j));
    (next != (i, j)).then_some(next)
}

/// Where `a` and `b` go on after the spaces at `i` and `j` (outside a
/// string, where their bytes differ), when it is spaces that differ and
/// they are not between two bytes of one number or literal.
fn between_tokens(a: &[u8], b: &[u8], i: usize, j: usize) -> Option<(usize, usize)> {
    let (next_i, next_j) = (skip_space(a, i), skip_space(b, j));
    if (next_i, next_j) == (i, j) {
        return None;
    }
    let before = a.get(..i).and_then(|done| done.iter().rev().find(|&&c| !is_space(c)));
    let cuts = before.is_some_and(|&c| is_scalar(c)) && a.get(next_i).is_some_and(|&c| is_scalar(c));
    (!cuts).then_some((next_i, next_j))
}

/// Whether `byte` (outside strings) belongs to a number or a literal.
fn is_scalar(byte: u8) -> bool {
    !matches!(byte, b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"')
}

/// A request's kept members against the current resource's, kept for
/// the same keys (`json::document_paired`).
#[derive(Debug, Default)]
pub struct Paired {
    /// The request's members with no same-text member in the current
    /// resource: built into the write.
    pub desired: Aside,
    /// The current resource's members the request sent unchanged: no
    /// operation needs them, only an answer of the whole resource does.
    pub same: Aside,
}

impl Paired {
    /// Every member a request's body kept wanted, none paired (the
    /// current resource kept none as text).
    pub fn unpaired(sent: &Aside) -> Self {
        Paired { desired: sent.clone(), same: Aside::default() }
    }
}

#[cfg(test)]
mod tests;
