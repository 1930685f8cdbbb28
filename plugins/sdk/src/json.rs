//! JSON text to and from `serde_json::Value`: what the SDK reads the
//! resource with and writes the result with.
//!
//! serde_json is the reference, and the tests check these against it (same
//! values from the same text, same text from the same values, the same
//! texts refused). They exist because a call parses and writes the whole
//! resource inside the sandbox, where serde_json's generic visitor, its
//! byte-at-a-time string escaping and its maps growing one key at a time
//! cost about half of a call (see docs/benchmarks.md): here strings are
//! scanned eight bytes at a time and each object's map is built once, at
//! its final size. Numbers, rare in SCIM, are handed to serde_json.

mod read;
mod write;

#[cfg(test)]
mod tests;

pub use read::{ReadError, from_str};
pub use write::{to_string, write_value};

/// A mask with the high bit set in the bytes of `word` that are `"`, `\`
/// or a control character (below 0x20): the bytes a JSON string must
/// escape. Borrows can mark bytes above the first such byte too, so only
/// the lowest mark is to be trusted; it always is exact.
#[inline]
fn escape_marks(word: u64) -> u64 {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let quote = word ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = word ^ (ONES * u64::from(b'\\'));
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (below_space | quote | backslash) & HIGH
}

/// The index of the first byte at or after `from` that is `"`, `\` or a
/// control character, or `bytes.len()`. Eight bytes at a time while eight
/// are left, then one at a time.
#[inline]
fn skip_plain(bytes: &[u8], mut from: usize) -> usize {
    while let Some(chunk) = bytes.get(from..from + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let marks = escape_marks(u64::from_le_bytes(word));
        if marks != 0 {
            return from + (marks.trailing_zeros() / 8) as usize;
        }
        from += 8;
    }
    while let Some(&b) = bytes.get(from) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return from;
        }
        from += 1;
    }
    bytes.len()
}
