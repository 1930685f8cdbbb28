//! Scanning JSON text a byte, eight or sixteen bytes at a time
//! ([`Block`]): whitespace, and the bytes a JSON string must escape; a
//! text read a token at a time as serde_json reads it ([`Text`]); and a
//! `serde_json::Value` built straight from its text ([`build_value`],
//! [`build_document`]); a walk over a value that builds nothing and
//! tells a reader what it holds ([`walk`]). Shared by the gateway's
//! readers of JSON text and normalization's checks of a member's text.

mod block;
mod build;
mod text;
#[cfg(test)]
pub(crate) mod texts;
pub mod walk;

pub use block::{BLOCK, Block, odd};
pub use build::{Entries, build_document, build_value, object_from, object_with_room};
pub use text::{PARSER_MAX_DEPTH, Text};

/// The first byte at or after `at` that is not JSON whitespace (the end
/// of `bytes` when none is). No space or one is the usual (compact text,
/// `": "`): a byte or two looked at; a longer run (an indentation) goes
/// sixteen bytes at a time.
#[inline]
pub fn skip_space(bytes: &[u8], at: usize) -> usize {
    if !bytes.get(at).is_some_and(|&b| is_space(b)) {
        return at;
    }
    if !bytes.get(at + 1).is_some_and(|&b| is_space(b)) {
        return at + 1;
    }
    skip_space_run(bytes, at + 2)
}

/// [`skip_space`] inside a run of whitespace, from `at`.
fn skip_space_run(bytes: &[u8], at: usize) -> usize {
    first_stop(bytes, at, Block::not_spaces).unwrap_or(bytes.len())
}

/// The first byte at or after `from` that `stops` marks in its block,
/// sixteen bytes at a time; `None` when none is.
#[inline(always)]
fn first_stop(bytes: &[u8], from: usize, stops: impl Fn(Block) -> u32) -> Option<usize> {
    let mut at = from;
    while let Some(block) = Block::at(bytes, at) {
        let stops = stops(block);
        if stops != 0 {
            return Some(at + stops.trailing_zeros() as usize);
        }
        at += BLOCK;
    }
    None
}

/// Whether `byte` is JSON whitespace.
#[inline]
pub fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\n' | b'\t' | b'\r')
}

/// The first byte at or after `from` that a JSON string must escape (a
/// quote, a backslash, a control character), found sixteen bytes at a
/// time ([`Block::escapes`]); `None` when there is none.
#[inline]
pub fn escape_at(bytes: &[u8], from: usize) -> Option<usize> {
    first_stop(bytes, from, Block::escapes)
}

/// One in each byte's lowest bit.
pub const LANES: u64 = 0x0101_0101_0101_0101;
/// Each byte's highest bit.
pub const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of the first byte of `w` that is `byte` (bits above it may
/// be set wrongly, by a borrow running on from it; none is set when no
/// byte is): the lowest set bit says where the first one is.
#[inline]
pub fn any_byte(w: u64, byte: u8) -> u64 {
    let v = w ^ (LANES * u64::from(byte));
    v.wrapping_sub(LANES) & !v & HIGH
}

/// The bytes of `w` (little-endian) that need an escape in a JSON string
/// (control characters, `"` and `\`): the lowest set bit is the high bit
/// of the first such byte; bits above it may be set wrongly (a borrow runs
/// on from a byte found). Zero when there is none.
#[inline]
pub fn escape_bytes(w: u64) -> u64 {
    let below_space = w.wrapping_sub(LANES * 0x20) & !w & HIGH;
    below_space | any_byte(w, b'"') | any_byte(w, b'\\')
}

/// Whether `a` and `b` are the same bytes. For the short names that schema
/// lookups compare (up to 16 bytes), two loads of each and no call: the
/// first and last four or eight bytes, which overlap to cover them all.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    fn ends<const N: usize>(s: &[u8]) -> Option<(&[u8; N], &[u8; N])> {
        Some((s.first_chunk::<N>()?, s.last_chunk::<N>()?))
    }
    match a.len() {
        0..4 => a == b,
        4..8 => ends::<4>(a) == ends::<4>(b),
        8..=16 => ends::<8>(a) == ends::<8>(b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_at, is_space, same_bytes, skip_space};

    #[test]
    fn escape_at_finds_the_first_byte_to_escape_from_any_start_in_text_of_any_length() {
        for len in 0..=24_usize {
            for stop_at in (0..len).map(Some).chain([None]) {
                for stop in [b'"', b'\\', 0x00, 0x1f] {
                    let mut text = vec![b'a'; len];
                    if let Some(at) = stop_at {
                        text[at] = stop;
                        text[at..].iter_mut().skip(1).for_each(|b| *b = 0xc3);
                    }
                    for from in 0..=len {
                        let want = stop_at.filter(|&at| at >= from);
                        assert_eq!(escape_at(&text, from), want, "{text:x?} from {from}");
                    }
                    assert_eq!(escape_at(&text, len + 1), None, "past the end");
                }
            }
        }
    }

    #[test]
    fn skip_space_finds_the_first_byte_after_a_run_of_any_length_from_any_start() {
        for len in 0..=40_usize {
            for end in [None, Some(b'x'), Some(0x0b), Some(0xc3)] {
                let mut text: Vec<u8> = (0..len).map(|k| b" \n\t\r"[k % 4]).collect();
                text.extend(end);
                for from in 0..=text.len() {
                    let want = text[from..].iter().position(|&b| !is_space(b)).map_or(text.len(), |at| from + at);
                    assert_eq!(skip_space(&text, from), want, "{text:x?} from {from}");
                }
                assert_eq!(skip_space(&text, text.len() + 1), text.len() + 1, "past the end");
            }
        }
    }

    #[test]
    fn same_bytes_is_equality_at_every_length_and_every_place_of_a_difference() {
        for len in 0..=24_usize {
            let a: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
            assert!(same_bytes(&a, &a.clone()), "{len}");
            for at in 0..len {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_bytes(&a, &b), "{len} differing at {at}");
            }
            let longer = [a.as_slice(), b"x"].concat();
            assert!(!same_bytes(&a, &longer) && !same_bytes(&longer, &a), "{len} against one longer");
        }
    }

    #[test]
    fn a_string_read_as_bytes_is_the_string_read_as_text() {
        let strings = [
            r#""""#,
            r#""plain""#,
            r#""Zoë ünïcode""#,
            r#""a\nb""#,
            r#""\u00e9\"q\"""#,
            r#""\ud83d\ude00""#,
            r#""\ud83d""#,
            "\"raw\u{1}control\"",
            r#""unterminated"#,
            r#""bad \x escape""#,
        ];
        for text in strings {
            let (mut a, mut b) = (super::Text::new(text), super::Text::new(text));
            let (as_text, as_bytes) = (a.string(), b.string_bytes());
            let as_text = as_text.map(|(s, at)| (s.as_bytes().to_vec(), at));
            assert_eq!(as_text, as_bytes.map(|(s, at)| (s.into_owned(), at)), "{text}");
            if as_bytes_read(text) {
                assert_eq!(a.at(), b.at(), "the reader is left at the same place: {text}");
            }
        }
        assert!(as_bytes_read(r#""plain""#) && !as_bytes_read(r#""unterminated"#));
    }

    fn as_bytes_read(text: &str) -> bool {
        super::Text::new(text).string_bytes().is_some()
    }
}
