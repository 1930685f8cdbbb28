use super::*;
use proptest::prelude::*;
use serde_json::json;

fn same_as_serde(v: &Value) {
    assert_eq!(
        String::from_utf8_lossy(&to_vec(v)),
        String::from_utf8_lossy(&serde_json::to_vec(v).unwrap()),
        "for {v:?}"
    );
}

/// Mostly plain bytes (a `#` right after a `"` is where a borrow
/// wrongly sets higher bits), now and then one that matters.
fn mostly_plain() -> impl Strategy<Value = u8> {
    prop_oneof![
        8 => Just(b'#'),
        1 => Just(b'"'),
        1 => Just(b'\\'),
        1 => Just(0x1f_u8),
        1 => Just(0x7f_u8),
        1 => Just(0x80_u8),
        1 => Just(0xff_u8),
        2 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The whole-text UTF-8 check judges bytes as `str`'s own does: text
    /// with bytes outside ASCII at any place, cut anywhere, one byte changed.
    #[test]
    fn utf8_judges_as_str_does(text in "[a-z\u{80}-\u{10ffff}\"]{0,80}", cut in any::<prop::sample::Index>(), flip in any::<(prop::sample::Index, u8)>()) {
        let mut bytes = text.into_bytes();
        for b in [bytes.clone(), bytes[..cut.index(bytes.len() + 1)].to_vec()] {
            prop_assert_eq!(utf8(&b).ok(), std::str::from_utf8(&b).ok());
        }
        if !bytes.is_empty() {
            let at = flip.0.index(bytes.len());
            bytes[at] = flip.1;
            prop_assert_eq!(utf8(&bytes).ok(), std::str::from_utf8(&bytes).ok());
        }
    }

    /// The first byte the masks flag is the first byte that needs an
    /// escape (or, for `stop_bytes`, also leaves ASCII), byte by byte.
    #[test]
    fn the_masks_flag_the_first_byte_that_matters(word in prop::array::uniform8(mostly_plain())) {
        let escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
        let first = |mask: u64| (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
        let w = u64::from_le_bytes(word);
        prop_assert_eq!(first(escape_bytes(w)), word.iter().position(|&b| escape(b)));
        prop_assert_eq!(first(stop_bytes(w)), word.iter().position(|&b| escape(b) || b >= 0x80));
    }
}

/// Every byte at every place of a word, with plain bytes before it and
/// each kind of byte after it (the ones a borrow or a high bit could
/// confuse): the masks flag the first byte that matters.
#[test]
fn the_masks_flag_the_first_byte_that_matters_for_every_byte_at_every_place() {
    let escape = |b: u8| b < 0x20 || b == b'"' || b == b'\\';
    let first = |mask: u64| (mask != 0).then(|| (mask.trailing_zeros() / 8) as usize);
    for place in 0..8 {
        for byte in 0..=255_u8 {
            for after in [b'a', 0x00, 0x1f, 0x20, b'"', b'#', b'\\', 0x7f, 0x80, 0x81, 0xa0, 0xa2, 0xdc, 0xff] {
                let mut word = [b'a'; 8];
                word[place] = byte;
                word.iter_mut().skip(place + 1).for_each(|b| *b = after);
                let w = u64::from_le_bytes(word);
                assert_eq!(first(escape_bytes(w)), word.iter().position(|&b| escape(b)), "{word:x?}");
                let stop = word.iter().position(|&b| escape(b) || b >= 0x80);
                assert_eq!(first(stop_bytes(w)), stop, "{word:x?}");
            }
        }
    }
}

#[test]
fn escapes_like_serde_json() {
    for s in [
        "",
        "a",
        "\"",
        "\\",
        "plain ascii longer than eight",
        "tab\there",
        "\u{0}\u{1}\u{1f}\u{7f}",
        "\u{8}\u{c}\n\r",
        "é漢字🙂 and \"quotes\" \\ back",
        "12345678\"",
        "1234567\n",
        "\"\"\"\"\"\"\"\"\"",
    ] {
        same_as_serde(&Value::String(s.to_owned()));
        same_as_serde(&json!({ s: [s, {s: null}] }));
    }
    same_as_serde(&json!({"n": [0, -1, 1.5, 1e300, u64::MAX, i64::MIN, 0.1], "b": [true, false], "e": {}, "a": []}));
}

/// Every ASCII byte at every place of strings of every length to 24 (the
/// words of eight and the overlapping last one), text outside ASCII after
/// it or not.
#[test]
fn every_ascii_byte_at_every_place_in_strings_of_every_length() {
    for len in 1..=24 {
        for b in 0u8..0x80 {
            for at in 0..len {
                let mut s: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                s[at] = b;
                let plain = String::from_utf8(s).unwrap();
                same_as_serde(&Value::String(plain.clone()));
                same_as_serde(&Value::String(format!("{plain}é")));
            }
        }
    }
}

#[test]
fn parses_like_serde_json() {
    let text = br#"{"userName":"b\u00e9a","x":[1,2.5,{"y":null}],"z":"\ud83d\ude42"}"#;
    assert_eq!(from_bytes(text).unwrap(), serde_json::from_slice::<Value>(text).unwrap());
    let bad = b"{\"a\":\"\xff\"}";
    assert_eq!(from_bytes(bad).unwrap_err().to_string(), serde_json::from_slice::<Value>(bad).unwrap_err().to_string());
    assert!(from_bytes(b"{").is_err());
    match document(bad, 64) {
        Err(Refused::Json(e)) => {
            assert_eq!(e.to_string(), serde_json::from_slice::<Value>(bad).unwrap_err().to_string());
        }
        other => panic!("not UTF-8, yet {other:?}"),
    }
}

fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        "[ -~\\x00-\\x1f\"\\\\]{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any::<String>(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn any_value_serializes_like_serde_json(v in any_value()) {
        let ours = to_vec(&v);
        prop_assert_eq!(&ours, &serde_json::to_vec(&v).unwrap());
        prop_assert_eq!(from_bytes(&ours).unwrap(), v);
    }

    /// A PatchOp written directly is the text of its JSON tree written:
    /// every op, paths bare, with a URN, a filter (quotes in it) or a
    /// sub-attribute, values of every kind or none.
    #[test]
    fn a_patch_op_is_written_as_its_json_tree_is(ops in prop::collection::vec(any_operation(), 0..4)) {
        let ops = scim_core::patch::PatchOp { operations: ops };
        prop_assert_eq!(patch_to_vec(&ops), serde_json::to_vec(&ops.into_json()).unwrap());
    }
}

fn any_operation() -> impl Strategy<Value = scim_core::patch::PatchOperation> {
    use scim_core::patch::{OpKind, PatchOperation};
    const PATHS: [&str; 5] = [
        "title",
        "name.givenName",
        r#"emails[type eq "work" and value co "\"q\""].value"#,
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        r#"members[value eq "2819c223"]"#,
    ];
    let path = prop::option::of(prop::sample::select(&PATHS[..]));
    let op = prop::sample::select(&[OpKind::Add, OpKind::Remove, OpKind::Replace][..]);
    (op, path, prop::option::of(any_value())).prop_map(|(op, path, value)| PatchOperation {
        op,
        path: path.map(|p| scim_core::path::Path::parse(p).unwrap()),
        value,
    })
}

#[test]
fn members_parsed_one_after_another_share_one_entry_stack_and_leave_it_empty() {
    let texts: [&[u8]; 7] = [
        br#""plain""#,
        br#"[{"type":"work","value":"+1 555"},{"type":"home","value":"+1 556","primary":true}]"#,
        br#"{"a":{"b":[1,{"c":2}]},"a":3}"#,
        br#"{"broken":[1,2}"#,
        br#"{"x":1e400}"#,
        br#"{"after":"an error","n":[null,true,1.5e3]}"#,
        b"\"\xff\"",
    ];
    let mut state = parse::State::for_members();
    for text in texts {
        let ours = member_from_bytes(text, &mut state).map_err(|e| e.to_string());
        let theirs = serde_json::from_slice::<Value>(text).map_err(|e| e.to_string());
        assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(text));
        assert!(state.entries.is_empty(), "entries left behind by {}", String::from_utf8_lossy(text));
    }
}

#[test]
fn an_escape_at_any_place_of_a_string_of_any_length_is_written_as_serde_json_writes_it() {
    // Below sixteen bytes a string is looked at eight at a time, from
    // sixteen on sixteen at a time with the last block overlapping: an
    // escape in any block, the overlap included, must be seen.
    for len in 0..50 {
        same_as_serde(&Value::String("a".repeat(len)));
        for at in 0..len {
            for byte in ['"', '\\', '\n', '\u{1f}', '\u{0}'] {
                let mut s: Vec<char> = vec!['a'; len];
                s[at] = byte;
                same_as_serde(&Value::String(s.into_iter().collect()));
            }
        }
    }
}
