use super::*;

/// The mask by asking each byte.
fn each(bytes: &[u8], f: impl Fn(usize, u8) -> bool) -> u32 {
    bytes.iter().enumerate().filter(|&(k, &b)| f(k, b)).fold(0, |m, (k, _)| m | 1 << k)
}

/// Texts with every byte value at every place, and the same with one
/// byte changed (its high bit, its low bit, or all of its bits
/// inverted), at every length.
fn pairs() -> impl Iterator<Item = (Vec<u8>, Vec<u8>)> {
    (0..=BLOCK + 1).flat_map(|len| {
        (0..=255_u8).flat_map(move |v| {
            let a: Vec<u8> = (0..len).map(|k| v.wrapping_add((k * 37) as u8)).collect();
            (0..len).flat_map(move |at| {
                let a = a.clone();
                [0x80_u8, 0x01, 0xff].into_iter().map(move |flip| {
                    let mut b = a.clone();
                    b[at] ^= flip;
                    (a.clone(), b)
                })
            })
        })
    })
}

#[test]
fn same_is_each_byte_compared_where_both_texts_are() {
    for (a, b) in pairs() {
        let (x, y) = (Block::at(&a, 0), Block::at(&b, 0));
        let (Some(x), Some(y)) = (x, y) else {
            assert!(a.is_empty(), "a block of {a:x?}");
            continue;
        };
        let want = each(&a[..a.len().min(BLOCK)], |k, byte| b.get(k) == Some(&byte));
        assert_eq!(x.same(y), want, "{a:x?} against {b:x?}");
        assert_eq!(x.same(x), each(&a[..a.len().min(BLOCK)], |_, _| true), "{a:x?} against itself");
    }
}

#[test]
fn of_finds_every_byte_value_and_no_padding() {
    for len in 0..=BLOCK + 1 {
        let text: Vec<u8> = (0..len).map(|k| (k * 17) as u8).collect();
        for byte in 0..=255_u8 {
            for from in 0..len {
                let block = Block::at(&text, from).unwrap();
                let rest = &text[from..text.len().min(from + BLOCK)];
                assert_eq!(block.of(byte), each(rest, |_, b| b == byte), "{byte:x} in {text:x?} from {from}");
            }
        }
        assert!(Block::at(&text, len).is_none(), "at the end of {len}");
        assert!(Block::at(&text, len + 1).is_none(), "past the end of {len}");
    }
}

#[test]
fn the_word_masks_are_the_vector_masks() {
    for (a, b) in pairs().filter(|(a, _)| a.len() == BLOCK) {
        let (a, b): ([u8; BLOCK], [u8; BLOCK]) = (a.try_into().unwrap(), b.try_into().unwrap());
        assert_eq!(words::equal(a, b), lanes::equal(a, b), "{a:x?} against {b:x?}");
        assert_eq!(words::equal(a, a), ALL, "{a:x?}");
        assert_eq!(words::escapes(b), lanes::escapes(b), "{b:x?}");
        assert_eq!(words::spaces(b), lanes::spaces(b), "{b:x?}");
    }
}

#[test]
fn not_spaces_are_the_bytes_of_the_text_other_than_json_whitespace() {
    let space = |_: usize, c: u8| matches!(c, b' ' | b'\n' | b'\t' | b'\r');
    for len in 1..=BLOCK + 1 {
        for byte in 0..=255_u8 {
            let text: Vec<u8> = (0..len).map(|k| [byte, b' ', b'\n', b'\t', b'\r'][k % 5]).collect();
            let block = Block::at(&text, 0).unwrap();
            let rest = &text[..len.min(BLOCK)];
            assert_eq!(block.not_spaces(), each(rest, |k, c| !space(k, c)), "{text:x?}");
            assert_eq!(words::spaces(block.bytes) & block.there, each(rest, space), "{text:x?}");
        }
    }
}

#[test]
fn escapes_are_quotes_backslashes_and_control_characters_and_no_padding() {
    let escaped = |_: usize, b: u8| b == b'"' || b == b'\\' || b < 0x20;
    for len in 1..=BLOCK + 1 {
        for byte in 0..=255_u8 {
            let text: Vec<u8> =
                (0..len).map(|k| if k % 3 == 1 { byte } else { 0x1f_u8.wrapping_add((k * 29) as u8) }).collect();
            let block = Block::at(&text, 0).unwrap();
            assert_eq!(block.escapes(), each(&text[..len.min(BLOCK)], escaped), "{text:x?}");
        }
    }
}

#[test]
fn odd_is_an_odd_number_of_bits_counted_one_by_one() {
    for mask in 0..=ALL {
        let ones = (0..BLOCK).filter(|k| mask >> k & 1 == 1).count();
        assert_eq!(odd(mask), ones % 2 == 1, "{mask:x}");
    }
}

#[test]
fn the_word_masks_are_exact_for_every_two_neighbouring_bytes_at_the_words_edges() {
    for x in 0..=255_u8 {
        for y in 0..=255_u8 {
            for at in [0, 6, 7, 8, 14] {
                let mut a = [b'a'; BLOCK];
                (a[at], a[at + 1]) = (x, y);
                let mut b = a;
                b[at] = y;
                assert_eq!(words::equal(a, b), lanes::equal(a, b), "{a:x?} against {b:x?}");
                assert_eq!(words::escapes(a), lanes::escapes(a), "{a:x?}");
                assert_eq!(words::escapes(a), each(&a, |_, c| c == b'"' || c == b'\\' || c < 0x20), "{a:x?}");
                assert_eq!(words::spaces(a), lanes::spaces(a), "{a:x?}");
                assert_eq!(words::spaces(a), each(&a, |_, c| matches!(c, b' ' | b'\n' | b'\t' | b'\r')), "{a:x?}");
            }
        }
    }
}

#[test]
fn the_word_escapes_of_a_padded_block_are_each_byte_asked_within_the_text() {
    for len in 1..=BLOCK {
        for byte in 0..=255_u8 {
            let text: Vec<u8> = (0..len).map(|k| if k % 2 == 0 { byte } else { b'x' }).collect();
            let block = Block::at(&text, 0).unwrap();
            let escaped = |_: usize, c: u8| c == b'"' || c == b'\\' || c < 0x20;
            assert_eq!(words::escapes(block.bytes) & block.there, each(&text, escaped), "{text:x?}");
        }
    }
}

#[test]
fn differ_is_every_byte_not_the_same_padding_included() {
    for (a, b) in pairs().filter(|(a, _)| !a.is_empty()) {
        let (x, y) = (Block::at(&a, 0).unwrap(), Block::at(&b, 0).unwrap());
        assert_eq!(x.differ(y), !x.same(y) & ALL, "{a:x?} against {b:x?}");
    }
    let (short, long) = (Block::at(b"ab", 0).unwrap(), Block::at(b"abcd", 0).unwrap());
    assert_eq!(short.differ(long), ALL & !0b11, "past the end of the shorter");
    let nul = Block::at(b"ab\0", 0).unwrap();
    assert_eq!(short.same(nul), 0b11, "a NUL in the text against the padding");
}

#[test]
fn a_block_near_the_end_of_a_long_text_is_the_block_of_its_last_bytes_alone() {
    // Past the last whole block of a text, the block holds what a copy of
    // the rest alone holds, and its padding is in no mask.
    let sample = b"ab\" \\\x1f\t{c}\n\r,:xyz\x80\xffq";
    for len in BLOCK..=BLOCK * 2 + 1 {
        let s: Vec<u8> = (0..len).map(|k| sample[(k * 7) % sample.len()]).collect();
        for at in 0..len {
            let (x, alone) = (Block::at(&s, at).unwrap(), Block::at(&s[at..], 0).unwrap());
            let short = Block::at_short(&s, at).unwrap();
            let n = (len - at).min(BLOCK);
            assert_eq!((short.same(x), short.escapes()), ((1 << n) - 1, x.escapes()), "len {len} at {at}");
            assert_eq!(x.same(alone), (1 << n) - 1, "len {len} at {at}");
            assert_eq!((x.escapes(), x.not_spaces()), (alone.escapes(), alone.not_spaces()), "len {len} at {at}");
            for byte in 0..=255 {
                assert_eq!(x.of(byte), alone.of(byte), "len {len} at {at}, byte {byte}");
            }
        }
        assert!(Block::at(&s, len).is_none());
    }
}
