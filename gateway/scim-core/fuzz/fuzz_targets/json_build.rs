//! The tree built straight from JSON text: for any text and any nesting
//! bound, whatever `build_document` builds serde_json parses as the same
//! value (keys in the same order), within the bound; and whatever
//! `build_value` builds from the start of the text, serde_json's stream
//! reads as the same value, ending at the same place. And whatever
//! `stripped_prefix` reads (a member left out because normalization
//! strips it whole) is a value serde_json takes, with no null, within its
//! bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_core::json_text::{build_document, build_value};
use scim_core::normalize::{STRIPPED_MAX_DEPTH, stripped_prefix};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&bound, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    // Unbounded, or a small bound (the gateway's is 64 or less).
    let left = if bound == 0 { usize::MAX } else { usize::from(bound % 12) };
    // An entry below the builder's own: it must be left where it is.
    let mut entries = vec![(String::from("below"), Value::Null)];
    if let Some(built) = build_document(text, left, &mut entries) {
        let theirs: Value = serde_json::from_str(text).expect("a built document is JSON");
        assert_eq!(built.to_string(), theirs.to_string(), "{text:?}");
        assert!(depth(&built) <= left, "{text:?} nests deeper than {left}");
    }
    assert_eq!(entries.len(), 1, "the entry stack is left as it was found");
    if let Some((built, end)) = build_value(text, left, &mut entries) {
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        let theirs = stream.next().and_then(Result::ok).expect("a built value is what serde_json's stream reads");
        assert_eq!((built.to_string(), end), (theirs.to_string(), stream.byte_offset()), "{text:?}");
        assert!(depth(&built) <= left, "{text:?} nests deeper than {left}");
    }
    assert_eq!(entries.len(), 1, "the entry stack is left as it was found");
    if let Some(end) = stripped_prefix(text) {
        let read = text.get(..end).expect("a read value ends on a character boundary");
        let theirs: Value = serde_json::from_str(read).expect("a value read to be left out is JSON");
        assert!(!has_null(&theirs), "{text:?}: a null read to be left out");
        assert!(depth(&theirs) <= STRIPPED_MAX_DEPTH, "{text:?} nests deeper than {STRIPPED_MAX_DEPTH}");
    }
});

/// Whether `value` holds a null anywhere.
fn has_null(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.iter().any(has_null),
        Value::Object(members) => members.values().any(has_null),
        _ => false,
    }
}

/// How deep arrays and objects nest in `value` (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(members) => 1 + members.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
