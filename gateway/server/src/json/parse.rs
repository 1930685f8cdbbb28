//! A JSON document parsed into a `Value` with a bound on its nesting. The
//! tree is serde_json's own. It is first built straight from the text
//! (`scim_core::json_text::build_document`, or `build_value` for one value
//! of a larger text), in one pass; what that refuses (an exponent, text
//! that is not JSON, nesting past the bound) serde_json's parser reads
//! again from the start, and its value or error stands. Either way
//! objects are made at their final size from a stack of entries shared by
//! the whole parse, instead of growing (and rehashing) key by key, and
//! nesting is counted on the way down instead of by a second walk over
//! the finished tree.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};
use std::fmt;

pub use scim_core::json_text::PARSER_MAX_DEPTH;

/// Why a text is not a document.
#[derive(Debug)]
pub enum Refused {
    /// Arrays and objects nest deeper than allowed.
    TooDeep,
    /// Not JSON: serde_json's error, with its line and column.
    Json(serde_json::Error),
}

/// Parses `text`, refusing arrays and objects nested more than `max_depth`
/// deep anywhere in the text (the document itself counts: `{}` needs 1; a
/// value a later duplicate key replaces counts too). The same `Value` as
/// `serde_json::from_str`, keys in the same order, the last of duplicate
/// keys winning at the first one's place.
pub fn within(text: &str, max_depth: usize) -> Result<Value, Refused> {
    build(text, max_depth, &mut State::for_document()).map_err(|e| match e {
        Refused::Json(e) => Refused::from(e),
        too_deep => too_deep,
    })
}

/// Parses `text` as `serde_json::from_str` does, with its errors (only
/// serde_json's own bound on nesting applies), on `state`'s entry stack:
/// several parses one after the other may share one (a scalar's needs
/// none, and an object's grows it once for all).
pub(super) fn unbounded_in(text: &str, state: &mut State) -> Result<Value, serde_json::Error> {
    build(text, usize::MAX, state).map_err(|e| match e {
        Refused::Json(e) => e,
        Refused::TooDeep => serde::de::Error::custom("nested too deep"),
    })
}

/// The parse: `TooDeep` only when it stopped on `max_depth`, any other
/// error serde_json's as it is. `state`'s stack is left as it was found.
fn build(text: &str, max_depth: usize, state: &mut State) -> Result<Value, Refused> {
    let base = state.entries.len();
    state.too_deep = false;
    if let Some(value) = scim_core::json_text::build_document(text, max_depth, &mut state.entries) {
        return Ok(value);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = Build { left: max_depth, state }.deserialize(&mut de).and_then(|v| de.end().map(|()| v));
    // A parse that fails may leave entries behind.
    state.entries.truncate(base);
    match (parsed, state.too_deep) {
        (Ok(value), _) => Ok(value),
        (Err(_), true) => Err(Refused::TooDeep),
        (Err(e), false) => Err(Refused::Json(e)),
    }
}

/// The value `text` starts with (spaces before it skipped), one value of
/// a larger document, parsed with `left` levels of nesting allowed and the
/// entry stack the document's other parses share: the value and where it
/// ends in `text`, found by the parse that builds it (the builder's, or
/// serde_json's stream when the builder refuses; what follows is not
/// read, but for the byte after a number or literal, which must end it);
/// `None` if it does not parse within them.
pub(super) fn part_at(text: &str, left: usize, state: &mut State) -> Option<(Value, usize)> {
    if let Some(found) = scim_core::json_text::build_value(text, left, &mut state.entries) {
        return Some(found);
    }
    // serde_json's stream says where a value ended, but takes a type, not
    // a seed: the bound and the entry stack go aside for the type's parse.
    let lend = |state: &mut State| {
        PART.with_borrow_mut(|(bound, lent)| {
            *bound = left;
            std::mem::swap(lent, state);
        })
    };
    lend(state);
    let mut values = serde_json::Deserializer::from_str(text).into_iter::<Bounded>();
    let parsed = values.next();
    lend(state);
    match parsed {
        Some(Ok(Bounded(value))) => Some((value, values.byte_offset())),
        _ => None,
    }
}

thread_local! {
    /// A [`part_at`] in progress: its bound and the entry stack it was lent.
    static PART: std::cell::RefCell<(usize, State)> =
        const { std::cell::RefCell::new((0, State { entries: Vec::new(), too_deep: false })) };
}

/// A value parsed by [`Build`] with [`PART`]'s bound and entry stack.
struct Bounded(Value);

impl<'de> serde::Deserialize<'de> for Bounded {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        PART.with_borrow_mut(|(left, state)| Build { left: *left, state }.deserialize(de).map(Bounded))
    }
}

impl From<serde_json::Error> for Refused {
    /// serde_json's error as it is, unless it is serde_json's own bound on
    /// nesting ([`PARSER_MAX_DEPTH`]), which is too deep whatever the bound
    /// asked for.
    fn from(e: serde_json::Error) -> Self {
        match e.to_string().starts_with("recursion limit exceeded") {
            true => Refused::TooDeep,
            false => Refused::Json(e),
        }
    }
}

/// What the whole parse shares.
pub(super) struct State {
    /// The entries of the objects being read, innermost last.
    pub(super) entries: Vec<(String, Value)>,
    /// Set when the parse stopped on the depth bound.
    pub(super) too_deep: bool,
}

impl State {
    /// The state of one document's parse: room for the entries of a
    /// User's top level and one object inside it.
    pub(super) fn for_document() -> Self {
        State { entries: Vec::with_capacity(32), too_deep: false }
    }

    /// The state of parses of single members, which may be scalars: no
    /// room held until an object needs it.
    pub(super) fn for_members() -> Self {
        State { entries: Vec::new(), too_deep: false }
    }
}

/// Builds one value; `left`: how many more levels of nesting are allowed.
pub(super) struct Build<'s> {
    pub(super) left: usize,
    pub(super) state: &'s mut State,
}

impl Build<'_> {
    /// The bound for the values inside a container, or the error that
    /// stops the parse.
    fn inside<E: serde::de::Error>(&mut self) -> Result<usize, E> {
        match self.left.checked_sub(1) {
            Some(left) => Ok(left),
            None => {
                self.state.too_deep = true;
                Err(E::custom("nested too deep"))
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Build<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Build<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any valid JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(n.into()))
    }

    fn visit_f64<E>(self, n: f64) -> Result<Value, E> {
        Ok(Number::from_f64(n).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<Value, A::Error> {
        let left = self.inside()?;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Build { left, state: &mut *self.state })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Value, A::Error> {
        let left = self.inside()?;
        let start = self.state.entries.len();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(Build { left, state: &mut *self.state })?;
            self.state.entries.push((key, value));
        }
        Ok(scim_core::json_text::object_from(&mut self.state.entries, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The text of serde_json's own parse and of ours, side by side (key
    /// order counts: `Value`'s equality ignores it).
    fn same_as_serde(text: &str) {
        let theirs = serde_json::from_str::<Value>(text).map(|v| v.to_string());
        let ours = within(text, 128).map(|v| v.to_string());
        match (ours, theirs) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "for {text}"),
            (Err(Refused::Json(a)), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "for {text}"),
            (a, b) => panic!("for {text}: ours {a:?}, serde_json's {b:?}"),
        }
    }

    #[test]
    fn parses_and_refuses_like_serde_json() {
        for text in [
            r#"{"userName":"b\u00e9a","x":[1,-2,2.5,1e400,{"y":null}],"z":"\ud83d\ude42","e":{},"a":[]}"#,
            r#"{"a":1,"b":2,"a":3}"#,
            r#"{"n":[0,-0,0.1,18446744073709551615,-9223372036854775808,1.7976931348623157e308]}"#,
            r#" [ true , false , null , "x" ] "#,
            "{",
            r#"{"a":}"#,
            r#"{"a":1}x"#,
            r#"{"a":"\x"}"#,
            "\"\\ud800\"",
            "",
        ] {
            same_as_serde(text);
        }
    }

    #[test]
    fn nesting_is_counted_from_the_document() {
        let nested = |n: usize| format!("{}1{}", r#"{"a":"#.repeat(n), "}".repeat(n));
        assert!(within(&nested(64), 64).is_ok());
        assert!(matches!(within(&nested(65), 64), Err(Refused::TooDeep)));
        assert!(matches!(within("[[]]", 1), Err(Refused::TooDeep)));
        assert!(within("[[]]", 2).is_ok());
        assert!(matches!(within("{}", 0), Err(Refused::TooDeep)));
        assert!(within("1", 0).is_ok());
        // serde_json's own bound, whatever the one asked for.
        assert!(within(&nested(PARSER_MAX_DEPTH), PARSER_MAX_DEPTH + 1).is_ok());
        assert!(matches!(within(&nested(PARSER_MAX_DEPTH + 1), 1000), Err(Refused::TooDeep)));
        assert!(matches!(within(&"[".repeat(300), 1000), Err(Refused::TooDeep)));
        let unbounded = |text: &str| unbounded_in(text, &mut State::for_document());
        assert!(unbounded(&nested(PARSER_MAX_DEPTH)).is_ok());
        let e = unbounded(&nested(PARSER_MAX_DEPTH + 1)).unwrap_err();
        assert!(e.to_string().starts_with("recursion limit exceeded"), "{e}");
        // Brackets in strings are text.
        assert!(within(r#"{"a":"[[[[{{{{\"]]"}"#, 1).is_ok());
        // A value a later duplicate key replaces was sent all the same.
        assert!(matches!(within(r#"{"b":[],"b":null}"#, 1), Err(Refused::TooDeep)));
    }

    #[test]
    fn a_value_at_the_start_of_a_text_is_parsed_and_its_end_found() {
        let mut state = State { entries: Vec::with_capacity(8), too_deep: false };
        for (before, value, after) in [
            ("", r#""a\"b""#, r#", "x": 1}"#),
            ("", "12", ","),
            ("  ", "true", "}"),
            ("\n", r#"{"a":[1,{"b":null}],"a":2}"#, " , "),
            ("", "-0.5e1", "]"),
            ("", "\"\"", ""),
        ] {
            let text = format!("{before}{value}{after}");
            let parsed = part_at(&text, 8, &mut state);
            let expected = serde_json::from_str::<Value>(value).unwrap();
            assert_eq!(parsed, Some((expected, before.len() + value.len())), "{text}");
        }
        for text in ["12x", "[1,", r#""\ud800""#, r#"{"a":1,}"#, "", " ", "nul"] {
            assert_eq!(part_at(text, 8, &mut state), None, "{text}");
        }
        assert!(!state.too_deep);
        assert!(part_at("[[1]]", 1, &mut state).is_none() && state.too_deep, "the bound holds, and says so");
        assert!(state.entries.capacity() >= 8, "the entry stack comes back to its owner");
    }

    fn any_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| format!("{f:e}")),
            any::<String>().prop_map(|s| Value::String(s).to_string()),
            "\"[a-c\\\\\"]{0,6}\"",
        ];
        leaf.prop_recursive(5, 64, 6, |inner| {
            let key = prop_oneof![Just("\"a\"".to_owned()), Just("\"b\"".to_owned()), "\"[a-z]{0,3}\""];
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(|items| format!("[{}]", items.join(","))),
                prop::collection::vec((key, inner), 0..6).prop_map(|kv| {
                    let members: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
                    format!("{{{}}}", members.join(","))
                }),
            ]
        })
    }

    /// How deep arrays and objects nest in valid JSON `text`: brackets
    /// outside strings counted. Every value of the text counts, a
    /// duplicate key's replaced value too: the bound is on what was sent.
    fn text_depth(text: &str) -> usize {
        let (mut depth, mut deepest, mut in_string, mut escaped) = (0usize, 0, false, false);
        for c in text.chars() {
            match (in_string, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (true, false, '"') | (false, _, '"') => in_string = !in_string,
                (false, _, '[' | '{') => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                (false, _, ']' | '}') => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest
    }

    proptest! {
        /// Generated documents (duplicate keys, escapes, numbers of every
        /// kind, broken strings among them) parse to the same tree, or fail
        /// with the same error, as serde_json's parse.
        #[test]
        fn any_document_parses_as_serde_json_parses_it(text in any_text()) {
            same_as_serde(&text);
        }

        #[test]
        fn the_depth_bound_is_the_text_s_depth(text in any_text(), max in 0usize..8) {
            if serde_json::from_str::<Value>(&text).is_err() {
                return Ok(());
            }
            let deep = text_depth(&text) > max;
            prop_assert_eq!(matches!(within(&text, max), Err(Refused::TooDeep)), deep);
        }
    }
}
