//! JSON texts for property tests: documents as SCIM bodies hold them
//! and the odd ones, and the same mangled where they are cut (the
//! builder's tests and the left-out members' share them).

use proptest::prelude::*;
use serde_json::Value;

/// Strings as a SCIM body holds them, and the odd ones.
pub(crate) fn string_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 @.-]{0,40}".prop_map(|s| format!("\"{s}\"")),
        any::<String>().prop_map(|s| Value::String(s).to_string()),
        Just(r#""\u00e9\n\t\"\\\/\b\f\r""#.to_owned()),
        Just(r#""\uD83D\uDE00 é 😀""#.to_owned()),
    ]
}

/// JSON texts without exponents: strings of every kind, numbers an IdP
/// sends, duplicate keys, compact or spaced out.
pub(crate) fn document_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        (-1e6..1e6f64).prop_map(|f| format!("{f:.3}")),
        string_text(),
    ];
    let space = prop_oneof![Just(""), Just(" "), Just("\n    "), Just("\t\r\n")];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        let key = prop_oneof![Just("\"a\"".to_owned()), Just("\"emails\"".to_owned()), string_text()];
        let item = (space.clone(), inner, space.clone()).prop_map(|(a, v, b)| format!("{a}{v}{b}"));
        prop_oneof![
            prop::collection::vec(item.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
            prop::collection::vec((key, item), 0..6).prop_map(|kv| {
                let members: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// Bytes that break or bend JSON where they land.
pub(crate) const SPLINTERS: [&str; 16] =
    ["\"", "\\", ",", "{", "}", "[", "]", ":", " ", "0", "-", "e", ".", "\u{1}", "\\ud800", "tru"];

/// Where and how to cut a text: one to three cuts.
pub(crate) fn cuts() -> impl Strategy<Value = Vec<(prop::sample::Index, u8, prop::sample::Index)>> {
    prop::collection::vec((any::<prop::sample::Index>(), 0..3u8, any::<prop::sample::Index>()), 1..4)
}

/// `text` with each of `cuts` made: a character taken out, a splinter
/// put in before it, or the character replaced by a splinter.
pub(crate) fn mangled(mut text: String, cuts: &[(prop::sample::Index, u8, prop::sample::Index)]) -> String {
    for (at, op, splinter) in cuts {
        let at = at.index(text.len() + 1);
        if !text.is_char_boundary(at) {
            continue;
        }
        let splinter = *splinter.get(&SPLINTERS);
        let next = text[at..].chars().next().map_or(0, char::len_utf8);
        match op {
            0 => text.replace_range(at..at + next, ""),
            1 => text.insert_str(at, splinter),
            _ => text.replace_range(at..at + next, splinter),
        }
    }
    text
}
