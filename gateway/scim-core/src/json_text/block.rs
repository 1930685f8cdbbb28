//! Sixteen bytes of JSON text looked at together. Each question about a
//! [`Block`] is answered as a mask: bit `k` for the block's byte `k`.
//!
//! On x86-64 the masks come from SSE2, which every x86-64 CPU has (a
//! compare of sixteen bytes and one move of their high bits, through
//! `safe_arch`'s safe wrappers); elsewhere from two eight-byte words. The
//! tests hold the two to each other.

/// How many bytes a [`Block`] holds.
pub const BLOCK: usize = 16;

/// Up to sixteen bytes of text from one place. A block near the end of
/// its text is padded; its padding is in no mask.
#[derive(Debug, Clone, Copy)]
pub struct Block {
    bytes: [u8; BLOCK],
    /// Which of the bytes are the text's.
    there: u32,
}

impl Block {
    /// The bytes of `s` from `at`; `None` at or past its end.
    #[inline(always)]
    pub fn at(s: &[u8], at: usize) -> Option<Block> {
        let rest = s.get(at..).filter(|rest| !rest.is_empty())?;
        if let Some(&bytes) = rest.first_chunk::<BLOCK>() {
            return Some(Block { bytes, there: ALL });
        }
        Some(Block::padded(rest))
    }

    /// [`Block::at`] with a short block made in place, for a loop over
    /// texts so short that most of their blocks are (the comparison of
    /// two members' texts, the gateway's `json/same.rs`). Written out:
    /// the two through one helper taking the short block's maker counted
    /// more (+160 and +411 instructions on the gateway's POSTs).
    #[inline(always)]
    pub fn at_short(s: &[u8], at: usize) -> Option<Block> {
        let rest = s.get(at..).filter(|rest| !rest.is_empty())?;
        if let Some(&bytes) = rest.first_chunk::<BLOCK>() {
            return Some(Block { bytes, there: ALL });
        }
        Some(Block::pad(rest))
    }

    /// The block of `rest`, shorter than a block: out of the way of the
    /// usual one, whose callers then keep fewer registers.
    #[cold]
    #[inline(never)]
    fn padded(rest: &[u8]) -> Block {
        Block::pad(rest)
    }

    /// `rest`, shorter than a block, copied into one.
    #[inline(always)]
    fn pad(rest: &[u8]) -> Block {
        let mut bytes = [0; BLOCK];
        bytes.iter_mut().zip(rest).for_each(|(to, &from)| *to = from);
        Block { bytes, there: ALL >> (BLOCK - rest.len().min(BLOCK)) }
    }

    /// The bytes that are the same as `other`'s at the same place, and
    /// the text's in both.
    #[inline(always)]
    pub fn same(self, other: Block) -> u32 {
        lanes::equal(self.bytes, other.bytes) & self.there & other.there
    }

    /// The bytes of the block that are not [`Block::same`]: those that
    /// differ, and those past the end of either text.
    #[inline(always)]
    pub fn differ(self, other: Block) -> u32 {
        !self.same(other) & ALL
    }

    /// The bytes that are `byte`.
    #[inline(always)]
    pub fn of(self, byte: u8) -> u32 {
        lanes::equal(self.bytes, [byte; BLOCK]) & self.there
    }

    /// The bytes of the text that are not JSON whitespace.
    #[inline(always)]
    pub fn not_spaces(self) -> u32 {
        !lanes::spaces(self.bytes) & self.there
    }

    /// The bytes a JSON string must escape: a quote, a backslash, a
    /// control character.
    #[inline(always)]
    pub fn escapes(self) -> u32 {
        lanes::escapes(self.bytes) & self.there
    }
}

/// Every byte of a block.
const ALL: u32 = (1 << BLOCK) - 1;

/// Whether `mask` has an odd number of bits set.
#[inline(always)]
pub fn odd(mask: u32) -> bool {
    mask.count_ones() % 2 == 1
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod lanes {
    use super::BLOCK;
    use safe_arch::{bitor_m128i, cmp_eq_mask_i8_m128i, m128i, min_u8_m128i, move_mask_i8_m128i, set_splat_i8_m128i};

    /// A bit per byte where `a` and `b` are the same.
    #[inline(always)]
    pub(super) fn equal(a: [u8; BLOCK], b: [u8; BLOCK]) -> u32 {
        move_mask_i8_m128i(cmp_eq_mask_i8_m128i(m128i::from(a), m128i::from(b))) as u32
    }

    /// A bit per byte of `a` that is JSON whitespace.
    #[inline(always)]
    pub(super) fn spaces(a: [u8; BLOCK]) -> u32 {
        let v = m128i::from(a);
        let is = |byte: u8| cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(byte as i8));
        move_mask_i8_m128i(bitor_m128i(bitor_m128i(is(b' '), is(b'\n')), bitor_m128i(is(b'\t'), is(b'\r')))) as u32
    }

    /// A bit per byte of `a` that is a quote, a backslash, or below 0x20.
    #[inline(always)]
    pub(super) fn escapes(a: [u8; BLOCK]) -> u32 {
        let v = m128i::from(a);
        let is = |byte: u8| cmp_eq_mask_i8_m128i(v, set_splat_i8_m128i(byte as i8));
        // Below 0x20: the unsigned minimum with 0x1f is the byte itself.
        let control = cmp_eq_mask_i8_m128i(min_u8_m128i(v, set_splat_i8_m128i(0x1f)), v);
        move_mask_i8_m128i(bitor_m128i(bitor_m128i(is(b'"'), is(b'\\')), control)) as u32
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod lanes {
    pub(super) use super::words::{equal, escapes, spaces};
}

/// The same masks from eight-byte words: the other targets', and the
/// tests' reference on x86-64.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod words {
    use super::BLOCK;

    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const QUOTES: u64 = 0x2222_2222_2222_2222;
    const BACKSLASHES: u64 = 0x5c5c_5c5c_5c5c_5c5c;

    /// A bit per byte where `a` and `b` are the same.
    #[inline(always)]
    pub(super) fn equal(a: [u8; BLOCK], b: [u8; BLOCK]) -> u32 {
        let b = u128::from_le_bytes(b);
        by_words(a, |w, half| zero_bytes(w ^ (b >> (64 * half)) as u64))
    }

    /// A bit per byte of `a` that is JSON whitespace.
    #[inline(always)]
    pub(super) fn spaces(a: [u8; BLOCK]) -> u32 {
        let is = |w: u64, byte: u8| zero_bytes(w ^ u64::from_le_bytes([byte; 8]));
        by_words(a, |w, _| is(w, b' ') | is(w, b'\n') | is(w, b'\t') | is(w, b'\r'))
    }

    /// A bit per byte of `a` that is a quote, a backslash, or below 0x20.
    #[inline(always)]
    pub(super) fn escapes(a: [u8; BLOCK]) -> u32 {
        by_words(a, |w, _| zero_bytes(w ^ QUOTES) | zero_bytes(w ^ BACKSLASHES) | controls(w))
    }

    /// The mask of `a` from its two words (and which half each is, 0 or
    /// 1): `word` marks its bytes by their high bits.
    #[inline(always)]
    fn by_words(a: [u8; BLOCK], word: impl Fn(u64, u32) -> u64) -> u32 {
        let a = u128::from_le_bytes(a);
        high_bits(word(a as u64, 0)) | high_bits(word((a >> 64) as u64, 1)) << 8
    }

    /// The high bit of each byte of `w` below 0x20, and no other bit: its
    /// low seven bits plus 0x60 reach the high bit from 0x20 on, with no
    /// carry out of the byte, and a byte with the high bit set is no
    /// control character.
    fn controls(w: u64) -> u64 {
        !((w & LOW).wrapping_add(0x6060_6060_6060_6060) | w) & !LOW
    }

    /// The high bit of each byte of `w` that is zero, and no other bit
    /// (no borrow runs from one byte into the next).
    fn zero_bytes(w: u64) -> u64 {
        !((w & LOW).wrapping_add(LOW) | w | LOW)
    }

    /// The high bits of a word's bytes gathered into a byte's bits.
    fn high_bits(high: u64) -> u32 {
        ((high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u32
    }
}

#[cfg(test)]
mod tests;
