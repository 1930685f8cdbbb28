use super::super::{Normalizer, Preset};
use crate::schema::{Attribute, Registry};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, Value, json};

fn leaves(key: &str, text: &str) -> bool {
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    Normalizer::new(Preset::Entra).leaves_member(key, text, &schema)
}

/// The member after normalizing a body holding it, as text (`None` when
/// normalization took it out).
fn normalized(rt: &str, key: &str, value: &Value) -> Option<String> {
    let reg = Registry::core();
    let schema = reg.resource(rt).unwrap();
    let mut body = json!({"schemas": [schema.core_urn()]});
    body.as_object_mut().unwrap().insert(key.to_owned(), value.clone());
    Normalizer::new(Preset::Entra).resource(&mut body, &schema);
    body.get(key).map(|v| serde_json::to_string(v).unwrap())
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
        let reg = Registry::core();
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
    let reg = Registry::core();
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
