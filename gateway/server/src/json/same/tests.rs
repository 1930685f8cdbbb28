use super::*;
use proptest::prelude::*;
use serde_json::{Value, json};

/// Whether `b` is the same tokens as `a`, whole.
fn same_text(a: &[u8], b: &[u8]) -> bool {
    a == b || same_prefix(a, b).is_some_and(|len| skip_space(b, len) == b.len())
}

#[test]
fn texts_that_differ_only_in_spaces_between_tokens_are_the_same() {
    let pretty = serde_json::to_string_pretty(&json!({"a": [1, {"b": "x y"}], "c": null})).unwrap();
    assert!(same_text(pretty.as_bytes(), br#"{"a":[1,{"b":"x y"}],"c":null}"#));
    assert!(same_text(b" \"a\"\r\n", b"\"a\""));
    assert!(same_text(b"[ ]", b"[]"));
}

#[test]
fn spaces_inside_strings_and_escapes_count() {
    assert!(!same_text(br#""x y""#, br#""xy""#));
    assert!(!same_text(br#""\u0041""#, br#""A""#));
    assert!(!same_text(br#"["a\"",1]"#, br#"["a\" ",1]"#));
    assert!(!same_text(br#""a\\" "#, br#""a\\\"""#));
    assert!(same_text(br#"{"k": "a\" b"}"#, br#"{"k":"a\" b"}"#));
}

#[test]
fn the_same_value_written_otherwise_is_not_the_same_text() {
    assert!(!same_text(br#"{"a":1,"b":2}"#, br#"{"b":2,"a":1}"#));
    assert!(!same_text(b"1.0", b"1"));
    assert!(!same_text(b"[1]", b"[1,2]"));
    assert!(!same_text(b"", b"1"));
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3_i64..3).prop_map(Value::from),
        prop::sample::select(vec![0.5, 1.0, -2.25]).prop_map(Value::from),
        "[a-c \"\\\\\u{e9}\n]{0,4}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(("[ab]", inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(crate::proptest_cases(1024))]
    /// Never the same text for different values; always for the same
    /// value written compactly and pretty-printed.
    #[test]
    fn same_text_means_the_same_value(a in value(), b in value(), pretty in any::<bool>()) {
        let (ta, tb) = (a.to_string(), serde_json::to_string_pretty(&b).unwrap());
        let compact_b = b.to_string();
        prop_assert_eq!(same_text(ta.as_bytes(), tb.as_bytes()), a == b && ta == compact_b);
        let written = if pretty { serde_json::to_string_pretty(&a).unwrap() } else { a.to_string() };
        prop_assert!(same_text(ta.as_bytes(), written.as_bytes()));
    }
}

#[test]
fn spaces_that_cut_a_number_or_literal_are_not_between_tokens() {
    assert!(!same_text(b"12", b"1 2"));
    assert!(!same_text(b"[true]", b"[tr ue]"));
    assert!(!same_text(b"{\"a\":-1.5}", b"{\"a\":-1 .5}"));
    assert!(same_text(b"[1,2]", b"[ 1 ,\n2 ]"));
    assert!(same_text(b"{\"a\":null}", b"{ \"a\" : null }"));
}

#[test]
fn a_start_that_is_the_same_tokens_is_measured_without_the_spaces_after_it() {
    assert_eq!(same_prefix(br#"{"a": [1, "x\"y"]}"#, br#"{"a":[1,"x\"y"]}  ,"b":2}"#), Some(16));
    assert_eq!(same_prefix(b"12", b"12,"), Some(2));
    assert_eq!(same_prefix(b"\"ab\"", b"\"ac\""), None);
    assert_eq!(same_prefix(b"[1]", b"[1"), None);
}

/// The comparison as first written: a token at a time, each string
/// compared whole from its end in `a`.
fn reference(a: &[u8], b: &[u8]) -> bool {
    let (mut i, mut j, mut after_scalar) = (0, 0, false);
    loop {
        let (next_i, next_j) = (skip_space(a, i), skip_space(b, j));
        let spaced = next_i != i || next_j != j;
        (i, j) = (next_i, next_j);
        let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) else { return a.get(i).is_none() && b.get(j).is_none() };
        if x != y || (spaced && after_scalar && is_scalar(x)) {
            return false;
        }
        if x != b'"' {
            (i, j, after_scalar) = (i + 1, j + 1, is_scalar(x));
            continue;
        }
        let Some(end) = crate::json::string_end(a, i + 1) else { return false };
        let len = end + 1 - i;
        if a.get(i..=end) != b.get(j..j + len) {
            return false;
        }
        (i, j, after_scalar) = (end + 1, j + len, false);
    }
}

/// `text` edited: at each drawn place a space, a newline, a byte taken
/// out, or one of the bytes that matter in JSON put in or in its place
/// (or a NUL, which no padding at the end of a block may pass for).
fn edited(text: &str, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    for &(at, how) in edits {
        let at = at % (out.len() + 1);
        let byte = b" \n\"\\1a,:]}e.\0"[usize::from(how) % 13];
        match how % 3 {
            0 => out.insert(at, byte),
            1 if at < out.len() => {
                out.remove(at);
            }
            _ if at < out.len() => out[at] = byte,
            _ => out.push(byte),
        }
    }
    out
}

proptest! {
    #![proptest_config(crate::proptest_cases(2048))]
    /// Sixteen bytes at a time says what a token at a time says, on text
    /// edited anywhere (in strings, in numbers, in escapes); and what it
    /// finds the same parses to the same value.
    #[test]
    fn same_text_says_what_the_token_by_token_comparison_says(
        a in value(),
        pretty in any::<bool>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
        spaces in prop::collection::vec(any::<usize>(), 0..4),
    ) {
        let text = if pretty { serde_json::to_string_pretty(&a).unwrap() } else { a.to_string() };
        let mut b = edited(&text, &edits);
        for at in spaces {
            b.insert(at % (b.len() + 1), b' ');
        }
        let same = same_text(text.as_bytes(), &b);
        prop_assert_eq!(same, reference(text.as_bytes(), &b), "{} against {}", text, String::from_utf8_lossy(&b));
        if same {
            prop_assert_eq!(serde_json::from_slice::<Value>(&b).ok(), Some(a));
        }
    }
}
