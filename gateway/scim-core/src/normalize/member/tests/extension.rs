//! The check of a User's extension members (the enterprise extension
//! and an IdP's own), against serde_json's reading and normalization.

use super::*;

/// A drawn member of the enterprise extension: some of its attributes,
/// each drawn as a member of its own, and maybe a key it does not define.
#[derive(Debug, Clone)]
struct DrawnExtension {
    members: Vec<Drawn>,
    unknown: bool,
}

fn drawn_extension() -> impl Strategy<Value = DrawnExtension> {
    (prop::collection::vec(drawn(), 0..4), prop::bool::weighted(0.03))
        .prop_map(|(members, unknown)| DrawnExtension { members, unknown })
}

/// The drawn extension member's value.
fn extension_value(d: &DrawnExtension) -> Value {
    let ext = enterprise();
    let mut object = Map::new();
    for one in &d.members {
        let (key, value) = member(one, &ext.attributes[one.attr % ext.attributes.len()]);
        object.insert(key, value);
    }
    if d.unknown {
        object.insert("costcentre".into(), json!("x"));
    }
    Value::Object(object)
}

proptest! {
    /// An extension's member the check leaves, normalization leaves too.
    #[test]
    fn an_extension_member_the_check_leaves_normalization_leaves_too(d in drawn_extension()) {
        let value = extension_value(&d);
        let text = serde_json::to_string(&value).unwrap();
        let normalizer = without_manager_fix();
        let schema = registry().resource("User").unwrap();
        if normalizer.leaves_member(ENTERPRISE_URN, &text, &schema) {
            prop_assert_eq!(normalized_by(&normalizer, "User", ENTERPRISE_URN, &value), Some(text));
        }
    }

    /// The check of an extension's text says what reading it with
    /// serde_json says, compact or pretty, edited anywhere.
    #[test]
    fn the_extension_text_check_says_what_serde_json_reading_it_says(
        d in drawn_extension(), pretty in any::<bool>(), edits in edits(),
    ) {
        let value = extension_value(&d);
        let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
        let text = edited(&text.unwrap(), &edits);
        let left = leaves_extension(enterprise(), &text);
        match by_serde_as(Shape::Schema(&enterprise().attributes), &text) {
            Some(read) => prop_assert_eq!(left, read, "{}", text),
            None => prop_assert!(!left, "{}", text),
        }
        if left {
            prop_assert!(serde_json::from_str::<Value>(&text).is_ok(), "{}", text);
        }
    }
}

#[test]
fn the_drawn_extension_members_are_often_left_and_often_not() {
    let schema = registry().resource("User").unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for _ in 0..2_000 {
        let d = drawn_extension().new_tree(&mut runner).unwrap().current();
        let text = extension_value(&d).to_string();
        match without_manager_fix().leaves_member(ENTERPRISE_URN, &text, &schema) {
            true => yes += 1,
            false => no += 1,
        }
    }
    assert!(yes > 200 && no > 200, "left {yes}, not left {no}");
}

#[test]
fn the_okta_enterprise_member_is_left_unless_the_manager_fix_is_on() {
    let okta: Value = serde_json::from_str(include_str!("../../../../../mapper/benches/okta-user.json")).unwrap();
    let schema = registry().resource("User").unwrap();
    let text = okta[ENTERPRISE_URN].to_string();
    assert!(without_manager_fix().leaves_member(ENTERPRISE_URN, &text, &schema));
    assert_eq!(
        normalized_by(&without_manager_fix(), "User", ENTERPRISE_URN, &okta[ENTERPRISE_URN]),
        Some(text.clone())
    );
    assert!(!Normalizer::new(Preset::Entra).leaves_member(ENTERPRISE_URN, &text, &schema), "the manager fix");
    assert!(Normalizer::new(Preset::Okta).leaves_member(ENTERPRISE_URN, &text, &schema));
}

#[test]
fn extension_members_normalization_would_change_are_not_left() {
    let schema = registry().resource("User").unwrap();
    let lower = ENTERPRISE_URN.to_ascii_lowercase();
    let cases = [
        (ENTERPRISE_URN, "{}", "an empty extension is dropped"),
        (ENTERPRISE_URN, r#"{"department":null}"#, "nulls are dropped (and then the extension)"),
        (ENTERPRISE_URN, r#"{"Department":"x"}"#, "an attribute in another case"),
        (ENTERPRISE_URN, r#"{"department":"x","extra":"y"}"#, "a key the extension does not define"),
        (ENTERPRISE_URN, r#"{"manager":{"value":"m","$ref":null}}"#, "a null $ref"),
        (ENTERPRISE_URN, r#"{"manager":"m"}"#, "a scalar where an object is expected"),
        (ENTERPRISE_URN, r#"{"department":"a","department":"b"}"#, "a key twice"),
        (ENTERPRISE_URN, r#""x""#, "no object"),
        (lower.as_str(), r#"{"department":"x"}"#, "the URN in another case"),
        ("urn:ietf:params:scim:schemas:extension:other:2.0:User", r#"{"a":"x"}"#, "no extension of User"),
    ];
    for (key, text, why) in cases {
        assert!(!without_manager_fix().leaves_member(key, text, &schema), "{key}: {text} ({why})");
    }
    let text = r#"{ "department" : "x", "manager": {"value": "m"} }"#;
    assert!(without_manager_fix().leaves_member(ENTERPRISE_URN, text, &schema), "spaces are fine");
    let around = format!(" \n{text}\t");
    assert!(without_manager_fix().leaves_member(ENTERPRISE_URN, &around, &schema), "around it too");
}

const ACME: &str = "urn:acme:params:scim:schemas:extension:acme:2.0:User";
const ACME_ROLES: &str = "urn:acme:params:scim:schemas:extension:acmeroles:2.0:User";

/// The core registry with two User extensions of an IdP's own: one with a
/// list of complex values (a member three deep), one with `roles`.
fn custom() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut reg = Registry::core();
        let badge = r#"{"name":"badges","type":"complex","multiValued":true,"subAttributes":[
            {"name":"value","type":"string"},{"name":"primary","type":"boolean"},{"name":"level","type":"integer"}]}"#;
        let acme = format!(r#"{{"id":"{ACME}","attributes":[{badge},{{"name":"floor","type":"integer"}}]}}"#);
        let roles = format!(
            r#"{{"id":"{ACME_ROLES}","attributes":[{{"name":"roles","type":"complex","multiValued":true,
                "subAttributes":[{{"name":"value","type":"string"}}]}}]}}"#
        );
        reg.load_extensions(&acme, Some("User")).unwrap();
        reg.load_extensions(&roles, Some("User")).unwrap();
        reg
    })
}

#[test]
fn an_extension_of_an_idps_own_is_left_three_deep_and_never_with_roles() {
    let schema = custom().resource("User").unwrap();
    let entra = Normalizer::new(Preset::Entra);
    let badges = json!({"badges": [{"value": "b1", "primary": true, "level": 3}, {"value": "b2"}], "floor": 7});
    let text = badges.to_string();
    assert!(entra.leaves_member(ACME, &text, &schema), "every fix on: the manager fix is the enterprise one's");
    let mut body = json!({"schemas": [schema.core_urn(), ACME], ACME: badges.clone()});
    entra.resource(&mut body, &schema);
    assert_eq!(body[ACME], badges, "normalization leaves it as the check said");
    let string_boolean = json!({"badges": [{"value": "b1", "primary": "True"}]}).to_string();
    assert!(!entra.leaves_member(ACME, &string_boolean, &schema), "a string boolean three deep");
    let roles = json!({"roles": [{"value": "{\"id\":\"r1\",\"displayName\":\"R\"}"}]});
    assert!(!entra.leaves_member(ACME_ROLES, &roles.to_string(), &schema), "roles may be JSON-encoded");
    let mut body = json!({"schemas": [schema.core_urn(), ACME_ROLES], ACME_ROLES: roles.clone()});
    entra.resource(&mut body, &schema);
    assert_ne!(body[ACME_ROLES], roles, "the plain pipeline decodes them, so they could not stay text");
    assert!(!without_manager_fix().leaves_member(ACME_ROLES, r#"{"roles":[{"value":"r"}]}"#, &schema));
}
