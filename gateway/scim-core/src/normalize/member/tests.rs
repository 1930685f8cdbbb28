use super::super::{Normalization, Normalizer, Preset};
use super::{Shape, SubKeys, leaves_extension, leaves_value};
use crate::schema::{AttrType, Attribute, ENTERPRISE_URN, Registry, Schema};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};

/// The core registry, made once (long property runs draw many cases).
fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::core)
}

fn leaves(key: &str, text: &str) -> bool {
    let reg = registry();
    let schema = reg.resource("User").unwrap();
    Normalizer::new(Preset::Entra).leaves_member(key, text, &schema)
}

/// The member after normalizing a body holding it, as text (`None` when
/// normalization took it out).
fn normalized(rt: &str, key: &str, value: &Value) -> Option<String> {
    normalized_by(&Normalizer::new(Preset::Entra), rt, key, value)
}

/// [`normalized`] by `normalizer`.
fn normalized_by(normalizer: &Normalizer, rt: &str, key: &str, value: &Value) -> Option<String> {
    let reg = registry();
    let schema = reg.resource(rt).unwrap();
    let mut body = json!({"schemas": [schema.core_urn()]});
    body.as_object_mut().unwrap().insert(key.to_owned(), value.clone());
    normalizer.resource(&mut body, &schema);
    body.get(key).map(|v| serde_json::to_string(v).unwrap())
}

/// Every fix on but the manager's, which keeps the enterprise extension
/// from being left.
fn without_manager_fix() -> Normalizer {
    Normalizer::new(Preset::Entra).set(Normalization::ManagerShape, false)
}

/// The enterprise extension's schema.
fn enterprise() -> &'static Schema {
    registry().resource("User").unwrap().extension(ENTERPRISE_URN).unwrap()
}

#[test]
fn okta_members_the_rules_do_not_touch_are_left_as_they_are() {
    let okta: Value = serde_json::from_str(include_str!("../../../../mapper/benches/okta-user.json")).unwrap();
    for key in ["nickName", "title", "userType", "preferredLanguage", "locale", "timezone", "externalId"] {
        assert!(leaves(key, &okta[key].to_string()), "{key}");
    }
    for key in ["phoneNumbers", "addresses", "emails", "name", "displayName", "userName", "active", "password"] {
        let text = okta[key].to_string();
        assert!(leaves(key, &text), "{key}: {text}");
        assert_eq!(normalized("User", key, &okta[key]), Some(text), "{key}");
    }
}

#[test]
fn members_normalization_would_change_are_not_left() {
    let cases = [
        ("Title", r#""x""#, "the key in another case"),
        ("id", r#""x""#, "read-only: stripped"),
        ("groups", r#"[]"#, "read-only: stripped"),
        ("meta", r#"{"resourceType":"User"}"#, "read-only: stripped"),
        ("schemas", r#"["urn:x"]"#, "the URN list is fixed as a whole"),
        ("roles", r#"[{"value":"{\"id\":\"r\"}"}]"#, "JSON-encoded roles are decoded"),
        ("title", "null", "nulls are dropped"),
        ("phoneNumbers", r#"[{"value":"1","type":null}]"#, "nested nulls are dropped"),
        ("emails", r#"[{"Value":"a@b"}]"#, "a sub-attribute in another case"),
        ("emails", r#"[{"value":"a@b","primary":"True"}]"#, "a string boolean"),
        ("active", r#""false""#, "a string boolean"),
        ("emails", r#"[{"value":"a@b","$ref":null}]"#, "a null $ref"),
        ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", r#"{}"#, "not a core attribute"),
        ("nonsense", r#""x""#, "no attribute at all"),
    ];
    for (key, text, why) in cases {
        assert!(!leaves(key, text), "{key}: {text} ({why})");
    }
}

#[test]
fn text_a_built_tree_would_write_otherwise_or_refuse_is_not_left() {
    let cases = [
        ("emails", r#"[{"value":"a","value":"b"}]"#, "a key twice: the tree keeps the last"),
        ("emails", r#"[{"value":"a","display":"b","type":"c","display":"d"}]"#, "a key twice"),
        ("emails", r#"[{"value":"a","extra":"b"}]"#, "a key that is no sub-attribute"),
        ("title", "1.5", "a fraction"),
        ("title", "1e2", "an exponent"),
        ("title", "-0", "negative zero"),
        ("title", r#"["x"]"#, "a list where one value is expected"),
        ("emails", r#"{"value":"a"}"#, "one value where a list is expected"),
        ("emails", r#"[{"value":["a"]}]"#, "nested deeper than an array of objects"),
        ("name", r#""x""#, "a scalar where an object is expected"),
        ("title", r#""\ud800""#, "a lone surrogate"),
        ("title", "\"a\u{1}\"", "a raw control character"),
        ("title", r#""x" "y""#, "text after the value"),
        ("title", r#""x"#, "an unfinished string"),
    ];
    for (key, text, why) in cases {
        assert!(!leaves(key, text), "{key}: {text} ({why})");
    }
    for (key, text) in [("title", r#""\u00e9\n""#), ("externalId", "-42"), ("emails", r#"[ {"value" : "a" } ]"#)] {
        assert!(leaves(key, text), "{key}: {text}: escapes, integers and spaces are fine");
    }
}

/// A member drawn without a schema: which attribute (by position), how
/// its key and sub-attribute keys are spelled, and its values; it is made
/// into JSON against the attribute it lands on. Most draws have the
/// attribute's shape, so that a wrong value deep inside is what decides.
#[derive(Debug, Clone)]
struct Drawn {
    attr: usize,
    key_flipped: bool,
    shaped: bool,
    items: Vec<Vec<Entry>>,
    scalar: Value,
}

/// A key of a complex value: a sub-attribute (by position) or none of
/// them, maybe in another case, and its value.
#[derive(Debug, Clone)]
struct Entry {
    at: usize,
    unknown: bool,
    flipped: bool,
    value: Value,
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        12 => "[a-z@. ]{0,6}".prop_map(Value::from),
        6 => any::<bool>().prop_map(Value::from),
        6 => any::<i64>().prop_map(Value::from),
        1 => prop_oneof![Just("True"), Just("false"), Just(" TRUE ")].prop_map(Value::from),
        1 => Just(r#"{"value":"r","display":"R"}"#).prop_map(Value::from),
        1 => Just(Value::Null),
        1 => (-1e6..1e6_f64).prop_map(Value::from),
        1 => Just(json!(["x"])),
    ]
}

fn entry() -> impl Strategy<Value = Entry> {
    (any::<usize>(), prop::bool::weighted(0.03), prop::bool::weighted(0.03), scalar())
        .prop_map(|(at, unknown, flipped, value)| Entry { at, unknown, flipped, value })
}

fn drawn() -> impl Strategy<Value = Drawn> {
    let items = prop::collection::vec(prop::collection::vec(entry(), 0..4), 0..3);
    (any::<usize>(), prop::bool::weighted(0.05), prop::bool::weighted(0.95), items, scalar())
        .prop_map(|(attr, key_flipped, shaped, items, scalar)| Drawn { attr, key_flipped, shaped, items, scalar })
}

fn flip(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// The drawn member as a key and a value for `def`.
fn member(d: &Drawn, def: &Attribute) -> (String, Value) {
    let key = if d.key_flipped { flip(&def.name) } else { def.name.clone() };
    let object = |entries: &Vec<Entry>| {
        let mut m = Map::new();
        for e in entries {
            let sub = def.sub_attributes.get(e.at % def.sub_attributes.len().max(1));
            let name = sub.filter(|_| !e.unknown).map_or_else(|| format!("x{}", e.at % 7), |s| s.name.clone());
            m.insert(if e.flipped { flip(&name) } else { name }, e.value.clone());
        }
        Value::Object(m)
    };
    let one = |entries: Option<&Vec<Entry>>| match (def.sub_attributes.is_empty(), entries) {
        (false, Some(e)) => object(e),
        _ => d.scalar.clone(),
    };
    let value = match def.multi_valued == d.shaped {
        true => Value::Array(d.items.iter().map(|e| one(Some(e))).collect()),
        false => one(d.items.first()),
    };
    (key, value)
}

proptest! {
    /// The one direction that matters: a member the check leaves is one
    /// normalization (every fix on) leaves, for User and Group.
    #[test]
    fn a_member_the_check_leaves_normalization_leaves_too(d in drawn(), group in any::<bool>()) {
        let rt = if group { "Group" } else { "User" };
        let reg = registry();
        let schema = reg.resource(rt).unwrap();
        let common = ["id", "externalId", "meta"].into_iter().filter_map(|n| schema.core_attribute(n));
        let attrs: Vec<&Attribute> = schema.core().attributes.iter().chain(common).collect();
        let def = attrs[d.attr % attrs.len()];
        let (key, value) = member(&d, def);
        let text = serde_json::to_string(&value).unwrap();
        if Normalizer::new(Preset::Entra).leaves_member(&key, &text, &schema) {
            prop_assert_eq!(normalized(rt, &key, &value), Some(text), "{}", key);
        }
    }
}

#[test]
fn the_drawn_members_are_often_left_and_often_not() {
    // The property above means little if the check almost never says yes
    // (or no) on what it is given.
    let reg = registry();
    let schema = reg.resource("User").unwrap();
    let attrs: Vec<&Attribute> = schema.core().attributes.iter().collect();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..2_000 {
        let d = drawn().new_tree(&mut runner).unwrap().current();
        let (key, value) = member(&d, attrs[d.attr % attrs.len()]);
        match Normalizer::new(Preset::Entra).leaves_member(&key, &value.to_string(), &schema) {
            true => yes += 1,
            false => no += 1,
        }
    }
    assert!(yes > 200 && no > 200, "left {yes}, not left {no}");
}

/// The check as serde_json reads the text (the check before it read the
/// text itself): `Some(left)`, or `None` when a sub-attribute's key was
/// written with an escape (the text check leaves those to the tree).
fn by_serde(def: &Attribute, text: &str) -> Option<bool> {
    by_serde_as(Shape::of(def), text)
}

/// [`by_serde`] of a value in `shape`.
fn by_serde_as(shape: Shape<'_>, text: &str) -> Option<bool> {
    use serde::de::DeserializeSeed;
    let escaped = std::cell::Cell::new(false);
    let mut de = serde_json::Deserializer::from_str(text);
    let left = Read { shape, escaped: &escaped }.deserialize(&mut de);
    let left = left.and_then(|left| de.end().map(|()| left)).unwrap_or(false);
    (!escaped.get()).then_some(left)
}

/// Reads a value in `shape` with serde_json: whether it is left as it is.
#[derive(Clone, Copy)]
struct Read<'a, 'c> {
    shape: Shape<'a>,
    escaped: &'c std::cell::Cell<bool>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Read<'_, '_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Read<'_, '_> {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(self.shape.takes(AttrType::Boolean))
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(self.shape.takes(AttrType::Integer))
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(self.shape.takes(AttrType::Integer))
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(self.shape.takes(AttrType::String))
    }
    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let item = self.shape.items().map(|def| Read { shape: Shape::Item(def), ..self });
        let mut left = item.is_some();
        while let Some(one) = seq.next_element_seed(Read { shape: item.map_or(self.shape, |i| i.shape), ..self })? {
            left &= one;
        }
        Ok(left)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let fields = self.shape.fields();
        let (mut left, mut keys) = (fields.is_some(), SubKeys::default());
        while let Some((key, escaped)) = map.next_key_seed(Key)? {
            self.escaped.set(self.escaped.get() || escaped);
            let named =
                fields.and_then(|(attributes, inner)| Some(inner.shape(keys.take(attributes, key.as_bytes())?)));
            left &= named.is_some();
            left &= map.next_value_seed(Read { shape: named.unwrap_or(self.shape), ..self })?;
        }
        Ok(left && (keys.any() || !matches!(self.shape, Shape::Schema(_))))
    }
}

/// A key, and whether it was written with an escape (serde_json lends
/// the text of one without).
struct Key;

impl<'de> serde::de::DeserializeSeed<'de> for Key {
    type Value = (String, bool);
    fn deserialize<D: serde::Deserializer<'de>>(self, de: D) -> Result<(String, bool), D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Key {
    type Value = (String, bool);
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a key")
    }
    fn visit_borrowed_str<E: serde::de::Error>(self, key: &'de str) -> Result<(String, bool), E> {
        Ok((key.to_owned(), false))
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<(String, bool), E> {
        Ok((key.to_owned(), true))
    }
}

/// What an edit puts into a member's text: JSON's grammar, its escapes
/// (surrogates paired and not) and its numbers.
const PIECES: [&str; 37] = [
    "\\",
    "\"",
    "\\u",
    "\\u00e9",
    "\\u00E9",
    "\\ud800",
    "\\udc00",
    "\\ud83d\\ude00",
    "\\ud83d\\u0041",
    "\\uD83D\\uDE00",
    "0",
    "01",
    "-",
    "-0",
    "7",
    "1.",
    "e5",
    "E",
    ".5",
    "18446744073709551615",
    "9223372036854775808",
    " ",
    "\n",
    "\t",
    "\u{1}",
    "\u{7f}",
    "é",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "true",
    "null",
    "\\n",
    "\\x",
];

/// `text` with each edit made in turn: at a character's place (`at`,
/// modulo their number), a piece put in before it, put in its place, or
/// the character taken out.
fn edited(text: &str, edits: &[(usize, u8, usize)]) -> String {
    let mut t = text.to_owned();
    for &(at, how, piece) in edits {
        let places: Vec<usize> = t.char_indices().map(|(i, _)| i).chain([t.len()]).collect();
        let i = places[at % places.len()];
        let next = places.iter().copied().find(|&p| p > i);
        let piece = PIECES[piece % PIECES.len()];
        match (how % 3, next) {
            (0, _) | (_, None) => t.insert_str(i, piece),
            (1, Some(n)) => t.replace_range(i..n, piece),
            (_, Some(n)) => t.replace_range(i..n, ""),
        }
    }
    t
}

/// A drawn member's attribute, of User or Group, and its text: compact or
/// pretty, then edited.
fn drawn_text(d: &Drawn, group: bool, pretty: bool, edits: &[(usize, u8, usize)]) -> (Attribute, String) {
    let reg = registry();
    let schema = reg.resource(if group { "Group" } else { "User" }).unwrap();
    let attrs: Vec<&Attribute> = schema.core().attributes.iter().collect();
    let def = attrs[d.attr % attrs.len()];
    let (_, value) = member(d, def);
    let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
    (def.clone(), edited(&text.unwrap(), edits))
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8, usize)>> {
    prop::collection::vec((any::<usize>(), any::<u8>(), any::<usize>()), 0..3)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The check reads the text itself and says what reading it with
    /// serde_json says, on members drawn and edited anywhere; what it
    /// leaves, serde_json's parse takes. A sub-attribute's key written
    /// with an escape it does not leave.
    #[test]
    fn the_text_check_says_what_serde_json_reading_it_says(
        d in drawn(), group in any::<bool>(), pretty in any::<bool>(), edits in edits(),
    ) {
        let (def, text) = drawn_text(&d, group, pretty, &edits);
        let left = leaves_value(&def, &text);
        match by_serde(&def, &text) {
            Some(read) => prop_assert_eq!(left, read, "{}: {}", def.name, text),
            None => prop_assert!(!left, "{}: {}", def.name, text),
        }
        if left {
            prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{}", text);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// Numbers by themselves, near the edges of serde_json's integers: the
    /// check says what reading them with serde_json says.
    #[test]
    fn numbers_are_left_as_serde_json_reads_them(text in "-?[0-9]{0,3}(0|[1-9][0-9]{15,19})?([.eE][-+0-9]{0,2})?") {
        let reg = registry();
        let schema = reg.resource("User").unwrap();
        for key in ["externalId", "active"] {
            let def = schema.core_attribute(key).unwrap();
            prop_assert_eq!(Some(leaves_value(def, &text)), by_serde(def, &text), "{}: {}", key, text);
        }
    }
}

#[test]
fn the_edited_members_are_often_left_and_often_not() {
    // The property above means little unless edited texts are often
    // left, and often refused by serde_json.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut left, mut refused, mut edited) = (0, 0, 0);
    for _ in 0..4_000 {
        let (d, pretty, e) = (drawn(), any::<bool>(), edits()).new_tree(&mut runner).unwrap().current();
        let (def, text) = drawn_text(&d, false, pretty, &e);
        edited += usize::from(!e.is_empty());
        left += usize::from(leaves_value(&def, &text) && !e.is_empty());
        refused += usize::from(serde_json::from_str::<Value>(&text).is_err());
    }
    assert!(left > 200 && refused > 400 && edited > 2_000, "left {left}, refused {refused}, of {edited} edited");
}

#[test]
fn escapes_and_numbers_are_held_to_what_serde_json_takes() {
    let cases = [
        ("title", r#""\ud83d\ude00""#, true),
        ("title", r#""\uD83D\uDE00""#, true),
        ("title", r#""\ud83d\u0041""#, false),
        ("title", r#""\udc00""#, false),
        ("title", r#""\ud83d""#, false),
        ("title", r#""\x""#, false),
        ("title", r#""\u00g0""#, false),
        ("title", r#""\u+0e9""#, false),
        ("externalId", "0", true),
        ("externalId", "01", false),
        ("externalId", "-", false),
        ("externalId", "123456789012345678", true),
        ("externalId", "-123456789012345678", true),
        ("externalId", "18446744073709551615", true),
        ("externalId", "18446744073709551616", false),
        ("externalId", "-9223372036854775808", true),
        ("externalId", "-9223372036854775809", false),
        ("externalId", "1.0", false),
        ("externalId", "1E2", false),
        ("emails", r#"[{"valu\u0065":"a"}]"#, false),
        ("emails", "[]", true),
        ("emails", "[ ]", true),
        ("emails", "[{}]", true),
        ("emails", "[{},]", false),
        ("emails", "[,]", false),
        ("emails", r#"[{"value":"a",}]"#, false),
        ("active", "tru", false),
        ("active", "truee", false),
    ];
    for (key, text, left) in cases {
        assert_eq!(leaves(key, text), left, "{key}: {text}");
        if left {
            assert!(serde_json::from_str::<Value>(text).is_ok(), "{text}");
        }
    }
}

mod extension;
