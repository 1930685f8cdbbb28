//! Two kept members compared by their text: a PUT sent as a PATCH keeps
//! as text the members of the IdP's body and of the current resource that
//! nothing on the way reads, and a member whose two texts say the same
//! needs no operation, so neither is built (see `pipeline/aside.rs`).

use super::{Aside, escape_bytes};
use bytes::Bytes;

/// Whether two JSON texts (each one value serde_json has read) are the
/// same value because they are the same tokens: equal byte for byte once
/// the whitespace between tokens is left out. Strings are compared as
/// written, escapes included, so `"\u0041"` and `"A"` differ, as do the
/// same keys in another order and `1.0` against `1`: such pairs are built
/// and compared as values instead. Never true for two different values.
pub fn same_text(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    let (mut i, mut j) = (0, 0);
    loop {
        (i, j) = (skip_space(a, i), skip_space(b, j));
        let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) else { return a.get(i).is_none() && b.get(j).is_none() };
        if x != y {
            return false;
        }
        if x != b'"' {
            (i, j) = (i + 1, j + 1);
            continue;
        }
        // A string is compared whole, as written: up to its closing quote
        // in `a`, the same bytes in `b`.
        let Some(end) = string_end(a, i + 1) else { return false };
        let len = end + 1 - i;
        if a.get(i..=end) != b.get(j..j + len) {
            return false;
        }
        (i, j) = (end + 1, j + len);
    }
}

/// Where the string whose text starts at `from` (after its opening quote)
/// ends: its closing quote. Eight bytes at a time to the next quote or
/// backslash ([`escape_bytes`]); an escape's second byte is stepped over.
fn string_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        while let Some(word) = bytes.get(at..at + 8).and_then(|w| <[u8; 8]>::try_from(w).ok()) {
            let stops = escape_bytes(u64::from_le_bytes(word));
            if stops != 0 {
                at += (stops.trailing_zeros() / 8) as usize;
                break;
            }
            at += 8;
        }
        match bytes.get(at)? {
            b'"' => return Some(at),
            b'\\' => at += 2,
            _ => at += 1,
        }
    }
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\n' | b'\t' | b'\r')) {
        at += 1;
    }
    at
}

/// A request's kept members against the current resource's, kept for
/// the same keys ([`Aside::pair`]).
#[derive(Debug, Default)]
pub struct Paired {
    /// The request's members with no same-text member in the current
    /// resource: built into the write.
    pub desired: Aside,
    /// The current resource's members the request sent unchanged: no
    /// operation needs them, only an answer of the whole resource does.
    pub same: Aside,
}

impl Aside {
    /// The members of this request's body paired with those of the
    /// current resource (`current`, kept only under keys this one kept,
    /// each key once): a pair whose texts are [`same_text`] goes to
    /// `same`, the rest stay on their sides (the current resource's
    /// returned beside the pairing, to be built into it).
    pub fn pair(&self, mut current: Aside) -> (Paired, Aside) {
        let (mut desired, mut same) = (Vec::new(), Vec::new());
        for (key, text) in &self.members {
            let found = current.members.iter().position(|(k, _)| k == key);
            match found.filter(|&i| current.members.get(i).is_some_and(|(_, c)| same_text(text, c))) {
                Some(i) => same.push(current.members.remove(i)),
                None => desired.push((key.clone(), Bytes::clone(text))),
            }
        }
        (Paired { desired: Aside { members: desired }, same: Aside { members: same } }, current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::{Value, json};

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

    #[test]
    fn pairing_moves_same_texts_aside_and_leaves_the_rest_on_their_sides() {
        let aside = |m: &[(&str, &str)]| Aside {
            members: m.iter().map(|(k, t)| ((*k).to_owned(), Bytes::from(t.to_string()))).collect(),
        };
        let sent = aside(&[("title", "\"A\""), ("locale", "\"en\""), ("nickName", "\"n\"")]);
        let (paired, current) = sent.pair(aside(&[("locale", " \"en\" "), ("title", "\"B\"")]));
        let keys = |a: &Aside| a.members().map(|(k, _)| k.to_owned()).collect::<Vec<_>>();
        assert_eq!(keys(&paired.same), ["locale"]);
        assert_eq!(keys(&paired.desired), ["title", "nickName"]);
        assert_eq!(keys(&current), ["title"]);
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
}
