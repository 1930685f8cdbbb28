//! The SDK's JSON against serde_json: same text written, same values read,
//! same texts refused.

use super::{from_str, skip_plain, to_string};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn reference(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok()
}

/// Strings that exercise escaping: quotes, backslashes, controls, non-ASCII
/// and runs long enough for the eight-byte scan.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z\"\\\\\u{0}-\u{1f}\u{7f}é€😀 ]{0,40}", "[a-zA-Z0-9@.]{0,24}",]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(Value::from),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A text near JSON: a valid one with a piece cut, doubled or replaced.
fn damaged() -> impl Strategy<Value = String> {
    let piece = "[\\[\\]{}\",:\\\\ 0-9eE+.\\-tfnulr]{0,3}|\\\\u[0-9a-fA-F]{0,4}";
    (value(), any::<prop::sample::Index>(), 0usize..4, piece).prop_map(|(v, at, cut, with)| {
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        let chars: Vec<char> = text.chars().collect();
        let at = at.index(chars.len() + 1);
        let end = (at + cut).min(chars.len());
        let mut out: String = chars[..at].iter().collect();
        out.push_str(&with);
        out.extend(&chars[end..]);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn writes_what_serde_json_writes(v in value()) {
        prop_assert_eq!(to_string(&v), serde_json::to_string(&v).unwrap());
    }

    #[test]
    fn reads_what_serde_json_reads(v in value()) {
        for text in [serde_json::to_string(&v).unwrap(), serde_json::to_string_pretty(&v).unwrap()] {
            prop_assert_eq!(from_str(&text).ok(), reference(&text), "{}", text);
        }
    }

    #[test]
    fn refuses_what_serde_json_refuses(text in damaged()) {
        prop_assert_eq!(from_str(&text).ok(), reference(&text), "{}", text);
    }

    #[test]
    fn the_scan_finds_the_first_byte_to_escape(bytes in prop::collection::vec(
        prop_oneof![Just(b'"'), Just(b'\\'), 0u8..0x20, Just(b'a'), 0x20u8..=0xff], 0..40)) {
        for from in 0..=bytes.len() {
            let naive = (from..bytes.len())
                .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..0x20))
                .unwrap_or(bytes.len());
            prop_assert_eq!(skip_plain(&bytes, from), naive, "from {} in {:?}", from, bytes);
        }
    }

    #[test]
    fn short_texts_agree(text in "[\\[\\]{}\",:\\\\ 0-9eE+.\\-tfnulrau\u{1}]{0,12}") {
        prop_assert_eq!(from_str(&text).ok(), reference(&text), "{}", text);
    }
}

#[test]
fn edge_cases_agree_with_serde_json() {
    let cases = [
        r#""\ud83d\ude00""#,
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx""#,
        r#""\ud83d\u0041""#,
        r#""\u00e9\n\t\/""#,
        r#""\x""#,
        "\"a\u{1}\"",
        "\"a\u{7f}\"",
        r#""\u12""#,
        "-0",
        "-0.0",
        "0.1e-2",
        "1E+2",
        "1e400",
        "-1e400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "01",
        "1.",
        ".1",
        "-",
        "+1",
        "1e",
        "tru",
        "nul",
        "true false",
        " [1 , 2 ] ",
        "[1,]",
        "{\"a\":1,}",
        r#"{"a":1,"b":2,"a":3}"#,
        "{\"a\" 1}",
        "{1:2}",
        "",
        "   ",
        "\u{feff}{}",
        "[\"\\u0000\"]",
    ];
    for text in cases {
        assert_eq!(from_str(text).ok(), reference(text), "{text}");
    }
}

#[test]
fn nesting_is_limited_as_serde_json_limits_it() {
    for depth in [1, 127, 128, 129, 200] {
        let text = "[".repeat(depth) + &"]".repeat(depth);
        assert_eq!(from_str(&text).is_ok(), reference(&text).is_some(), "depth {depth}");
        let text = "{\"a\":".repeat(depth) + "1" + &"}".repeat(depth);
        assert_eq!(from_str(&text).is_ok(), reference(&text).is_some(), "depth {depth}");
    }
    assert!(from_str(&"[".repeat(129)).is_err());
}

#[test]
fn a_repeated_key_keeps_its_last_value() {
    let v = from_str(r#"{"a":1,"b":2,"a":3}"#).unwrap();
    assert_eq!(to_string(&v), r#"{"a":3,"b":2}"#);
    assert_eq!(v, json!({"a": 3, "b": 2}));
}

#[test]
fn errors_say_where() {
    let e = from_str("{\"a\": tru}").unwrap_err();
    assert_eq!(e.to_string(), "invalid JSON at byte 6: expected a value");
    let e = from_str("[1, 2] x").unwrap_err();
    assert_eq!(e.to_string(), "invalid JSON at byte 7: trailing characters");
}
