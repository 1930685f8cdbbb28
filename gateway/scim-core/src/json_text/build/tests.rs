use super::*;
use crate::json_text::PARSER_MAX_DEPTH;
use crate::json_text::texts::{cuts, document_text, mangled};
use proptest::prelude::*;

fn whole_of(text: &str, left: usize) -> Option<Value> {
    let mut entries = Vec::new();
    let built = build_document(text, left, &mut entries);
    assert!(entries.is_empty(), "the entry stack is left as it was found: {text}");
    built
}

fn part_of(text: &str, left: usize) -> Option<(Value, usize)> {
    let mut entries = vec![(String::from("below"), Value::Null)];
    let built = build_value(text, left, &mut entries);
    assert_eq!(entries.len(), 1, "the entry stack is left as it was found: {text}");
    built
}

/// What serde_json's stream makes of the value `text` starts with: the
/// value's text (compact, keys in order) and where it ends.
fn serde_part(text: &str) -> Option<(String, usize)> {
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let value = values.next()?.ok()?;
    Some((value.to_string(), values.byte_offset()))
}

/// Holds the builder to serde_json on `text`: whatever it builds, whole
/// or as the start of a text, serde_json reads as the same value (keys in
/// the same order) ending at the same place.
fn holds_to_serde_json(text: &str) -> Result<(), TestCaseError> {
    if let Some(value) = whole_of(text, usize::MAX) {
        let theirs = serde_json::from_str::<Value>(text);
        prop_assert!(theirs.is_ok(), "built text serde_json refuses: {:?}", text);
        prop_assert_eq!(value.to_string(), theirs.unwrap().to_string());
    }
    if let Some((value, end)) = part_of(text, usize::MAX) {
        prop_assert_eq!(Some((value.to_string(), end)), serde_part(text), "for {:?}", text);
    }
    Ok(())
}

#[test]
fn a_document_is_built_as_serde_json_parses_it() {
    for text in [
        r#"{"userName":"b\u00e9a","x":[1,-2,2.5,{"y":null}],"z":"\ud83d\ude42","e":{},"a":[]}"#,
        r#"{"a":1,"b":2,"a":3}"#,
        r#"{"n":[0,-0,0.1,18446744073709551615,18446744073709551616,-9223372036854775808,-9223372036854775809]}"#,
        " [ true , false , null , \"x\" ] \n",
        "{\n  \"name\": {\"givenName\": \"Jos\u{e9}\", \"familyName\": \"\\\"Q\\\"\"},\n  \"emails\": []\n}",
        "\"\"",
        "-0.0",
    ] {
        let built = whole_of(text, usize::MAX).unwrap_or_else(|| panic!("not built: {text}"));
        assert_eq!(built.to_string(), serde_json::from_str::<Value>(text).unwrap().to_string(), "{text}");
    }
}

#[test]
fn what_serde_json_refuses_or_needs_more_than_a_scan_is_not_built() {
    for text in [
        "{",
        r#"{"a":}"#,
        r#"{"a":1}x"#,
        r#"{"a":"\x"}"#,
        "\"\\ud800\"",
        "\"\\ude00\\ud800\"",
        "",
        " ",
        "[1,]",
        r#"{"a":1,}"#,
        "01",
        "1.",
        "-",
        "nul",
        "\"tab\there\"",
        "{'a':1}",
        "[1 2]",
        r#"{"a" 1}"#,
        // serde_json reads these; a scan cannot match its numbers exactly.
        "1e3",
        "[1E-2]",
        "1234567890123456789012345678901234567890.5",
    ] {
        assert_eq!(whole_of(text, usize::MAX), None, "{text}");
    }
}

#[test]
fn a_part_ends_where_serde_json_s_stream_ends_it() {
    for (text, end) in [
        (r#""a\"b", "x": 1}"#, Some(6)),
        ("12,", Some(2)),
        ("  true}", Some(6)),
        ("\n{\"a\":[1,{\"b\":null}],\"a\":2} , ", Some(27)),
        ("-0.5]", Some(4)),
        ("\"\"x", Some(2)),
        ("[]x", Some(2)),
        ("12x", None),
        ("nullx", None),
        ("[1,", None),
    ] {
        assert_eq!(part_of(text, 8).map(|(_, e)| e), end, "{text}");
        assert_eq!(serde_part(text).map(|(_, e)| e), end, "serde_json's stream on {text}");
    }
}

#[test]
fn nesting_is_built_within_the_bound_and_serde_json_s() {
    let nested = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    assert!(whole_of(&nested(3), 3).is_some());
    assert_eq!(whole_of(&nested(4), 3), None);
    assert_eq!(whole_of("{}", 0), None);
    assert!(whole_of("1", 0).is_some());
    assert!(whole_of(&nested(PARSER_MAX_DEPTH), usize::MAX).is_some());
    assert_eq!(whole_of(&nested(PARSER_MAX_DEPTH + 1), usize::MAX), None);
    assert_eq!(part_of(&format!("{}, 2", nested(5)), 4), None);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// Every generated document is built, as serde_json parses it.
    #[test]
    fn any_document_without_exponents_is_built_as_serde_json_parses_it(text in document_text()) {
        let built = whole_of(&text, usize::MAX);
        prop_assert!(built.is_some(), "not built: {}", text);
        holds_to_serde_json(&text)?;
        let (_, end) = part_of(&format!("{text},"), usize::MAX).unwrap();
        prop_assert_eq!(end, text.len());
    }

    /// Documents mangled where they are cut: whatever is built, serde_json
    /// reads as the same value.
    #[test]
    fn mangled_text_is_built_only_as_serde_json_reads_it(
        text in document_text(),
        cuts in cuts(),
    ) {
        holds_to_serde_json(&mangled(text, &cuts))?;
    }
}
