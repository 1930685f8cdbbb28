use super::*;
use crate::json_text::texts::{cuts, document_text, mangled};
use crate::normalize::{Preset, Report};
use crate::schema::Registry;
use proptest::prelude::*;
use serde_json::{Value, json};

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::core)
}

fn has_null(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(items) => items.iter().any(has_null),
        Value::Object(m) => m.values().any(has_null),
        _ => false,
    }
}

/// How many arrays and objects are nested in `v`, itself counted.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// How deep arrays and objects nest in a JSON text, by its brackets
/// outside strings.
fn text_depth(text: &str) -> usize {
    let (mut depth, mut deepest, mut in_string, mut escaped) = (0_usize, 0, false, false);
    for b in text.bytes() {
        match (in_string, b) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') | (false, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// A body of `rt` with `key: value` among other members, normalized by
/// `n` whole; and the same body without the member, normalized as one
/// from which it was left out.
fn both_ways(n: &Normalizer, rt: &str, key: &str, value: &Value) -> ((Value, Report), (Value, Report)) {
    let schema = registry().resource(rt).unwrap();
    let mut whole = json!({"displayName": "d", "schemas": [schema.core_urn()], "userName": " u "});
    whole.as_object_mut().unwrap().insert(key.to_owned(), value.clone());
    let mut without = whole.clone();
    without.as_object_mut().unwrap().shift_remove(key);
    let whole_report = n.resource(&mut whole, &schema);
    let without_report = n.resource_with_stripped(&mut without, &schema, 1);
    ((whole, whole_report), (without, without_report))
}

#[test]
fn only_a_read_only_attribute_named_exactly_is_stripped_and_only_while_the_strip_is_on() {
    let user = registry().resource("User").unwrap();
    let group = registry().resource("Group").unwrap();
    let on = Normalizer::new(Preset::Generic);
    for key in ["id", "meta", "groups"] {
        assert!(stripped_attribute(key, &user, &on).is_some(), "{key}");
    }
    assert!(stripped_attribute("id", &group, &on).is_some() && stripped_attribute("members", &group, &on).is_none());
    let others = ["Meta", "ID", "userName", "active", "password", "emails", "x-custom", crate::schema::ENTERPRISE_URN];
    for key in others {
        assert!(stripped_attribute(key, &user, &on).is_none(), "{key}");
    }
    let off = Normalizer::new(Preset::Generic).set(Normalization::ReadOnlyStripped, false);
    assert!(stripped_attribute("meta", &user, &off).is_none(), "the strip off: built and kept");
}

#[test]
fn leaving_a_stripped_member_out_comes_to_the_same_body_and_the_same_count() {
    // Every core or common attribute of both types: the ones said to be
    // stripped are, counted once, as if they had been left out.
    let values = [json!("x"), json!({"resourceType": "User", "version": "W/\"1\""}), json!([{"value": "g"}]), json!(7)];
    for preset in [Preset::Generic, Preset::Okta, Preset::Entra] {
        let n = Normalizer::new(preset);
        for rt in ["User", "Group"] {
            let schema = registry().resource(rt).unwrap();
            for def in schema.core_and_common() {
                let stripped = stripped_attribute(&def.name, &schema, &n).is_some();
                for value in &values {
                    let ((whole, whole_report), (without, without_report)) = both_ways(&n, rt, &def.name, value);
                    let gone = whole.get(&def.name).is_none();
                    let counted = whole_report.count(Normalization::ReadOnlyStripped) == 1;
                    assert_eq!(stripped, gone && counted, "{rt} {}: {whole}", def.name);
                    if stripped {
                        assert_eq!(
                            (&whole, &whole_report.applied),
                            (&without, &without_report.applied),
                            "{}",
                            def.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_members_left_out_are_counted_with_the_ones_the_strip_finds() {
    let schema = registry().resource("User").unwrap();
    let on = Normalizer::new(Preset::Generic);
    let report = on.resource_with_stripped(&mut json!({"userName": "u", "meta": {}}), &schema, 2);
    assert_eq!(report.count(Normalization::ReadOnlyStripped), 3);
}

#[test]
fn active_is_never_left_out_even_where_a_loaded_schema_makes_it_read_only() {
    // An operator's schema file may replace the core User schema.
    let mut reg = Registry::core();
    let user = json!({"id": crate::schema::USER_URN, "name": "User", "attributes": [
        {"name": "userName", "type": "string", "mutability": "readWrite"},
        {"name": "active", "type": "boolean", "mutability": "readOnly"},
        {"name": "nickName", "type": "string", "mutability": "readOnly"},
    ]});
    reg.load_extensions(&user.to_string(), None).unwrap();
    let schema = reg.resource("User").unwrap();
    assert_eq!(schema.core_attribute("active").unwrap().mutability, Mutability::ReadOnly, "the schema took");
    let n = Normalizer::new(Preset::Generic);
    assert!(stripped_attribute("nickName", &schema, &n).is_some(), "another read-only attribute is");
    assert!(stripped_attribute("active", &schema, &n).is_none());
}

#[test]
fn a_value_without_null_within_three_levels_is_read_to_its_end() {
    let cases = [
        (r#""x" ,"#, Some(3)),
        (r#"{"resourceType": "User", "n": -1.5} }"#, Some(35)),
        ("[ ]", Some(3)),
        ("[[[1]]]", Some(7)),
        (r#"[{"value": "g", "display": "\u00e9"}]"#, Some(37)),
        ("truex", Some(4)),
        (" \n1", Some(3)),
        ("[[[[1]]]]", None),
        (" null", None),
        ("null", None),
        (r#"{"a": null}"#, None),
        ("[1, null]", None),
        ("tru", None),
        (r#"{"a" 1}"#, None),
        ("[1,]", None),
        ("{,}", None),
        ("01", None),
        ("1e5", None),
        ("-", None),
        (r#""\ud800""#, None),
        ("\"a\u{1}\"", None),
        (r#"{"a": 1"#, None),
        ("", None),
    ];
    for (text, len) in cases {
        assert_eq!(stripped_prefix(text), len, "{text}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// A generated value is read to its end when its text holds no null
    /// and nests within the bound; whatever is read holds neither (a key
    /// given twice may hide a null or a level from the parsed value, and
    /// then the text is built, which is safe).
    #[test]
    fn any_value_is_read_whole_when_it_has_no_null_and_nests_within_the_bound(text in document_text()) {
        let value: Value = serde_json::from_str(&text).unwrap();
        let read = stripped_prefix(&text);
        if read.is_some() {
            prop_assert!(!has_null(&value) && depth(&value) <= STRIPPED_MAX_DEPTH, "{}", text);
        }
        let may = !text.contains("null") && text_depth(&text) <= STRIPPED_MAX_DEPTH;
        if may {
            prop_assert_eq!(read, Some(text.len()), "{}", text);
        }
        prop_assert_eq!(stripped_prefix(&format!("{text} ,")), read);
    }

    /// Mangled text: whatever is read, serde_json reads as a value with no
    /// null, within the bound.
    #[test]
    fn mangled_text_is_read_only_as_a_value_serde_json_takes(text in document_text(), cuts in cuts()) {
        let text = mangled(text, &cuts);
        if let Some(len) = stripped_prefix(&text) {
            let value: Result<Value, _> = serde_json::from_str(&text[..len]);
            prop_assert!(value.is_ok(), "read {} of {}", len, text);
            let value = value.unwrap();
            prop_assert!(!has_null(&value) && depth(&value) <= STRIPPED_MAX_DEPTH, "{}", text);
        }
    }
}
