use super::answer;
use crate::proxy::rewrite::{integer_counts, urls_in};
use bytes::Bytes;
use proptest::prelude::*;
use scim_core::LIST_RESPONSE_URN;
use serde_json::{Value, json};

const UP: &str = "http://up:8000/v2";
const PUBLIC: &str = "https://gw.example/scim/v2";

/// What the parsed path makes of a success nothing maps: the counts of a
/// list made integers, then the URLs rewritten (`exchange.rs`).
fn parsed_path(text: &[u8]) -> Value {
    let mut v: Value = serde_json::from_slice(text).unwrap();
    let schemas = v.get("schemas").and_then(Value::as_array);
    let is_list = v.get("Resources").is_some() || schemas.is_some_and(|s| s.iter().any(|u| u == LIST_RESPONSE_URN));
    if let (true, Some(map)) = (is_list, v.as_object_mut()) {
        integer_counts(map);
    }
    urls_in(&mut v, UP, PUBLIC);
    v
}

fn passed(text: &str) -> Option<String> {
    answer(&Bytes::copy_from_slice(text.as_bytes()), UP, PUBLIC).map(|b| String::from_utf8(b.to_vec()).unwrap())
}

#[test]
fn an_answer_without_upstream_urls_goes_back_as_the_same_bytes() {
    let text =
        "{ \"id\": \"1\",\n  \"userName\": \"b\\u00e9a\", \"n\": 1.50, \"meta\": {\"location\": \"https://other/x\"} }";
    let body = Bytes::copy_from_slice(text.as_bytes());
    let out = answer(&body, UP, PUBLIC).unwrap();
    assert_eq!(out, body);
    assert_eq!(out.as_ptr(), body.as_ptr(), "no copy is made");
}

#[test]
fn upstream_urls_are_rewritten_in_place_and_nothing_else_moves() {
    let text = concat!(
        "{\"id\":\"1\", \"meta\": {\"location\": \"http://up:8000/v2/Users/1\"},\n",
        " \"members\": [{\"$ref\": \"http://up:8000/v2/Users/2\", \"value\": \"2\"}, {\"$ref\": \"http://up:8000/v20/x\"}],",
        " \"note\": \"http://up:8000/v2/Users/1\", \"location\": \"http://up:8000/v2\"}"
    );
    let out = passed(text).unwrap();
    let expected = text
        .replace("\"http://up:8000/v2/Users/1\"}", "\"https://gw.example/scim/v2/Users/1\"}")
        .replace("\"http://up:8000/v2/Users/2\"", "\"https://gw.example/scim/v2/Users/2\"")
        .replace("\"location\": \"http://up:8000/v2\"", "\"location\": \"https://gw.example/scim/v2\"");
    assert_eq!(out, expected);
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), parsed_path(text.as_bytes()));
}

#[test]
fn what_the_pass_cannot_vouch_for_is_left_to_the_parsed_path() {
    for text in [
        "[]",
        "\"a\"",
        "1",
        "null",
        "{\"a\": 1",
        "{\"a\": 1} x",
        "{\"a\": 1}{}",
        "{\"a\": \"\\ud800\"}",
        // The URL written with escapes.
        "{\"meta\": {\"location\": \"http:\\/\\/up:8000\\/v2\\/Users\\/1\"}}",
        // Lists whose counts the parsed path would change.
        "{\"Resources\": [], \"totalResults\": \"2\", \"itemsPerPage\": 0}",
        "{\"Resources\": [], \"startIndex\": 1.0, \"itemsPerPage\": 0}",
        "{\"Resources\": [], \"totalResults\": -1, \"itemsPerPage\": 0}",
        "{\"Resources\": [], \"totalResults\": 0}",
        "{\"schemas\": [\"urn:ietf:params:scim:api:messages:2.0:ListResponse\"], \"totalResults\": 0}",
    ] {
        assert_eq!(passed(text), None, "{text}");
    }
    assert_eq!(answer(&Bytes::from_static(b"{\"a\": \"\xff\"}"), UP, PUBLIC), None);
    assert_eq!(answer(&Bytes::from_static(b"{}"), UP, "https://gw\"/x"), None, "a public base to escape");
}

#[test]
fn a_list_with_integer_counts_passes_with_its_resources_urls_rewritten() {
    let list = json!({
        "schemas": [LIST_RESPONSE_URN], "totalResults": 1, "startIndex": 1, "itemsPerPage": 1,
        "Resources": [{"id": "1", "meta": {"location": "http://up:8000/v2/Users/1"}}]
    });
    let text = serde_json::to_string_pretty(&list).unwrap();
    let out = passed(&text).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), parsed_path(text.as_bytes()));
    assert!(out.contains("https://gw.example/scim/v2/Users/1"), "{out}");
}

#[test]
fn an_escaped_key_is_read_by_its_name() {
    let text = "{\"meta\": {\"\\u006cocation\": \"http://up:8000/v2/Users/1\"}}";
    let out = passed(text).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), parsed_path(text.as_bytes()));
}

/// Values like an answer's: URLs in and out of the upstream, the list's
/// keys and URN, numbers of every kind.
fn answer_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u32>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        (-1e6..1e6f64).prop_map(Value::from),
        prop_oneof![
            Just("http://up:8000/v2/Users/1"),
            Just("http://up:8000/v2"),
            Just("http://up:8000/v2?x=1"),
            Just("http://up:8000/v20/x"),
            Just("https://elsewhere/Users/3"),
            Just(LIST_RESPONSE_URN),
            Just("2"),
            Just("é \" \\ \u{1}"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    let key = prop_oneof![
        Just("location"),
        Just("$ref"),
        Just("schemas"),
        Just("Resources"),
        Just("totalResults"),
        Just("startIndex"),
        Just("itemsPerPage"),
        Just("id"),
        Just("é"),
    ];
    leaf.prop_recursive(4, 40, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// The text a backend might write for `v`: compact, pretty, or with its
/// slashes escaped.
fn spelled(v: &Value, how: u8) -> String {
    match how % 3 {
        0 => serde_json::to_string(v).unwrap(),
        1 => serde_json::to_string_pretty(v).unwrap(),
        _ => serde_json::to_string(v).unwrap().replace('/', "\\/"),
    }
}

proptest! {
    /// The two answer paths side by side: whatever passes verbatim is, as
    /// JSON, what the parsed path answers; and an object with no list keys
    /// and no escaped URL always passes.
    #[test]
    fn the_verbatim_answer_is_the_parsed_paths_answer(v in answer_value(), how in any::<u8>()) {
        let text = spelled(&v, how);
        let out = passed(&text);
        if let Some(out) = &out {
            prop_assert_eq!(serde_json::from_str::<Value>(out).unwrap(), parsed_path(text.as_bytes()));
        }
        let listish = ["Resources", "ListResponse", "totalResults", "startIndex", "itemsPerPage"];
        if v.is_object() && how % 3 != 2 && !listish.iter().any(|k| text.contains(k)) {
            prop_assert!(out.is_some(), "{} was not passed", text);
        }
    }
}

/// Bytes that break or bend JSON where they land.
const SPLINTERS: [&[u8]; 22] = [
    b"\"",
    b"\\",
    b",",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b" ",
    b"0",
    b"-",
    b"e",
    b".",
    b"\x01",
    b"\\ud800",
    b"\\udc00x",
    b"\xc3\xa9",
    b"\xff",
    b"tru",
    b"null",
    b"\\u00e9",
    b"\xef\xbb\xbf",
];

/// Number spellings, valid and not, to put where a count goes.
fn number_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,5})?([eE][+-]?[0-9]{1,3})?",
        Just("01".to_owned()),
        Just("1.".to_owned()),
        Just(".5".to_owned()),
        Just("-".to_owned()),
        Just("1e400".to_owned()),
        Just("18446744073709551615".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("-0".to_owned()),
    ]
}

/// What the pass makes of `text`, held to serde_json: it passes only text
/// serde_json reads, and then gives the parsed path's answer.
fn holds_to_serde_json(text: &[u8]) -> Result<(), TestCaseError> {
    let Some(out) = answer(&Bytes::copy_from_slice(text), UP, PUBLIC) else { return Ok(()) };
    prop_assert!(serde_json::from_slice::<Value>(text).is_ok(), "passed text serde_json refuses: {:?}", text);
    prop_assert_eq!(serde_json::from_slice::<Value>(&out).unwrap(), parsed_path(text));
    Ok(())
}

proptest! {
    #![proptest_config(crate::proptest_cases(2048))]

    /// Answers mangled byte by byte: whatever the pass vouches for,
    /// serde_json reads, as the same answer.
    #[test]
    fn mangled_text_passes_only_as_serde_json_reads_it(
        v in answer_value(),
        how in any::<u8>(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<prop::sample::Index>()), 1..4),
    ) {
        let mut text = spelled(&v, how).into_bytes();
        for (at, op, splinter) in cuts {
            let at = at.index(text.len() + 1);
            let splinter = *splinter.get(&SPLINTERS);
            match op {
                0 if at < text.len() => { text.remove(at); }
                1 => { text.splice(at..at, splinter.iter().copied()); }
                _ if at < text.len() => { text.splice(at..=at, splinter.iter().copied()); }
                _ => {}
            }
        }
        holds_to_serde_json(&text)?;
    }

    /// Counts and other values spelled every way a number can be, and
    /// some ways it cannot.
    #[test]
    fn numbers_pass_only_as_serde_json_reads_them(n in number_text(), key in 0..4usize, list in any::<bool>()) {
        let key = ["totalResults", "startIndex", "itemsPerPage", "n"][key];
        let resources = if list { "\"Resources\": [], " } else { "" };
        let text = format!("{{{resources}\"itemsPerPage\": 0, \"{key}\": {n}}}");
        holds_to_serde_json(text.as_bytes())?;
        let plain = format!("{{\"n\": {n}}}");
        holds_to_serde_json(plain.as_bytes())?;
        // A number serde_json reads, written without an exponent and not
        // too long, passes where no count is at stake.
        if serde_json::from_str::<Value>(&plain).is_ok() && !n.contains(['e', 'E']) && n.len() <= 40 {
            prop_assert!(passed(&plain).is_some(), "{} was not passed", plain);
        }
    }
}

#[test]
fn nesting_passes_as_deep_as_serde_json_reads() {
    let nested = |depth: usize| format!("{{\"a\": {}1{}}}", "[".repeat(depth - 1), "]".repeat(depth - 1));
    assert!(passed(&nested(crate::json::PARSER_MAX_DEPTH)).is_some());
    assert!(serde_json::from_str::<Value>(&nested(crate::json::PARSER_MAX_DEPTH + 1)).is_err());
    assert_eq!(passed(&nested(crate::json::PARSER_MAX_DEPTH + 1)), None);
}

#[test]
fn strings_with_every_escape_and_non_ascii_text_pass() {
    let text =
        "{\"s\": \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 é 😀\", \"t\": \"plain ascii text\"}";
    assert_eq!(passed(text).as_deref(), Some(text));
    assert_eq!(passed("{\"s\": \"\\uD83D\"}"), None, "half a surrogate pair");
    assert_eq!(passed("{\"s\": \"\\uDE00\\uD83D\"}"), None, "a pair the wrong way round");
    assert_eq!(passed("{\"s\": \"tab\there\"}"), None, "a raw control character");
    assert_eq!(passed("{\"s\": \"\\x\"}"), None, "an unknown escape");
    assert_eq!(passed("{\"s\": \"\\u12\"}"), None, "a short \\u escape");
    assert_eq!(passed("{\"s\": \"\\u+123\"}"), None, "a sign is not a hex digit");
}
