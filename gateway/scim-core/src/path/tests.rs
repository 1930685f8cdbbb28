use super::*;
use crate::ScimType;
use crate::schema::{ENTERPRISE_URN, Registry};
use serde_json::{Value, json};

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen",
        "Name": {"givenName": "Barbara"},
        "emails": [{"value": "w@x.com", "type": "work"}, {"value": "h@x.com", "type": "home", "primary": true}]
    })
}

#[test]
fn parse_and_print_round_trip() {
    for text in [
        "name.givenName",
        "emails[type eq \"work\"].value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
        "addresses[type eq \"work\" and primary eq true].streetAddress",
        "$ref",
        "title",
    ] {
        assert_eq!(Path::parse(text).unwrap().to_string(), text);
        assert_eq!(Path::parse(text).unwrap().into_text(), text, "moved or written, the same text");
    }
    let p = Path::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
    assert_eq!(p.urn.as_deref(), Some(ENTERPRISE_URN));
    assert_eq!((p.name.as_str(), p.sub.as_deref()), ("manager", Some("value")));
}

#[test]
fn bad_paths_are_invalid_path() {
    for text in [
        "",
        "9name",
        "name.",
        "name.given.name",
        "emails[type eq \"w\"",
        "emails[type eq \"w\"]value",
        "name.givenName[x pr]",
        "a b",
    ] {
        let e = Path::parse(text).unwrap_err();
        assert!(matches!(e.scim_type, ScimType::InvalidPath | ScimType::InvalidFilter), "{text}: {e}");
    }
    assert_eq!(Path::parse("emails[type eq]").unwrap_err().scim_type, ScimType::InvalidFilter);
    assert!(Path::parse(&"a".repeat(MAX_PATH_LEN + 1)).is_err());
}

#[test]
fn get_matches_names_case_insensitively() {
    let u = user();
    let reg = Registry::core();
    let s = reg.resource("User");
    let get = |p: &str| Path::parse(p).unwrap().get(&u, s.as_ref()).into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(get("name.GIVENNAME"), [json!("Barbara")]);
    assert_eq!(get("emails[type eq \"WORK\"].value"), [json!("w@x.com")]);
    assert_eq!(get("emails.value"), [json!("w@x.com"), json!("h@x.com")]);
    assert_eq!(get("emails[primary eq true]").len(), 1);
    assert!(get("nickName").is_empty());
    assert_eq!(get("urn:ietf:params:scim:schemas:core:2.0:User:userName"), [json!("bjensen")]);
}

#[test]
fn get_leaves_out_nulls_and_visit_stops_where_it_is_told() {
    let u = json!({
        "nickName": null,
        "emails": [{"value": null, "type": "work"}, {"value": "w@x.com", "type": "work"}, {"type": "work"}, null],
    });
    let reg = Registry::core();
    let s = reg.resource("User");
    let path = |p: &str| Path::parse(p).unwrap();
    assert!(path("nickName").get(&u, s.as_ref()).is_empty(), "a null value is none");
    assert_eq!(path("emails[type eq \"work\"].value").get(&u, s.as_ref()), [&json!("w@x.com")]);
    assert_eq!(path("emails").get(&u, s.as_ref()).len(), 1, "the array itself");
    let mut seen = Vec::new();
    path("emails[type eq \"work\"]").visit(&u, s.as_ref(), |v| {
        seen.push(v.clone());
        if seen.len() == 2 { std::ops::ControlFlow::Break(()) } else { std::ops::ControlFlow::Continue(()) }
    });
    assert_eq!(seen, [json!({"value": null, "type": "work"}), json!({"value": "w@x.com", "type": "work"})]);
}

#[test]
fn set_creates_what_is_missing() {
    let reg = Registry::core();
    let s = reg.resource("User");
    let mut u = user();
    Path::parse("name.familyName").unwrap().set(&mut u, json!("Jensen"), s.as_ref()).unwrap();
    assert_eq!(u["Name"], json!({"givenName": "Barbara", "familyName": "Jensen"}), "existing key spelling is kept");
    Path::parse("emails[type eq \"other\"].value").unwrap().set(&mut u, json!("o@x.com"), s.as_ref()).unwrap();
    assert_eq!(u["emails"][2], json!({"type": "other", "value": "o@x.com"}));
    Path::parse("emails[type eq \"work\"].display").unwrap().set(&mut u, json!("W"), s.as_ref()).unwrap();
    assert_eq!(u["emails"][0]["display"], "W");
    let e = Path::parse("emails[type ne \"x\" or value pr].value").unwrap();
    let mut fresh = json!({});
    assert_eq!(e.set(&mut fresh, json!("v"), s.as_ref()).unwrap_err().scim_type, ScimType::NoTarget);
    let e = Path::parse("userName.x").unwrap().set(&mut u, json!(1), s.as_ref()).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidPath);
    assert!(Path::parse("a").unwrap().set(&mut json!([1]), json!(1), None).is_err());
}

#[test]
fn extension_attributes_manage_schemas() {
    let reg = Registry::core();
    let s = reg.resource("User");
    let mut u = user();
    let dept = Path::parse(&format!("{ENTERPRISE_URN}:department")).unwrap();
    let mgr =
        Path::parse(&format!("{}:manager.value", ENTERPRISE_URN.to_uppercase().replacen("URN", "urn", 1))).unwrap();
    dept.set(&mut u, json!("Retail"), s.as_ref()).unwrap();
    mgr.set(&mut u, json!("m1"), s.as_ref()).unwrap();
    assert_eq!(
        u[ENTERPRISE_URN],
        json!({"department": "Retail", "manager": {"value": "m1"}}),
        "URN spelled canonically"
    );
    assert_eq!(u["schemas"].as_array().unwrap().iter().filter(|x| *x == ENTERPRISE_URN).count(), 1);
    assert_eq!(dept.remove(&mut u, s.as_ref()), 1);
    assert!(u["schemas"].as_array().unwrap().contains(&json!(ENTERPRISE_URN)), "still has manager");
    assert_eq!(mgr.remove(&mut u, s.as_ref()), 1);
    assert!(u.get(ENTERPRISE_URN).is_none());
    assert!(!u["schemas"].as_array().unwrap().contains(&json!(ENTERPRISE_URN)));
}

#[test]
fn remove_counts_what_went() {
    let mut u = user();
    assert_eq!(Path::parse("emails[type eq \"home\"]").unwrap().remove(&mut u, None), 1);
    assert_eq!(Path::parse("emails[type eq \"home\"]").unwrap().remove(&mut u, None), 0);
    assert_eq!(Path::parse("emails.type").unwrap().remove(&mut u, None), 1);
    assert_eq!(Path::parse("emails[value eq \"w@x.com\"]").unwrap().remove(&mut u, None), 1);
    assert!(u.get("emails").is_none(), "an emptied multi-valued attribute is unassigned");
    assert_eq!(Path::parse("name.givenName").unwrap().remove(&mut u, None), 1);
    assert!(u.get("Name").is_none(), "an emptied complex attribute is unassigned");
}

/// `emails` in three spellings (1, 2, 3; the exact one last), then
/// `filler` more keys: a map small enough to be scanned, or not.
fn emails_three_ways(filler: usize) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("EMAILS".into(), json!(1));
    m.insert("Emails".into(), json!(2));
    m.insert("emails".into(), json!(3));
    for i in 0..filler {
        m.insert(format!("k{i}"), json!(i));
    }
    m
}

#[test]
fn get_exact_finds_only_the_exact_spelling_as_get_does_small_or_large() {
    for filler in [0, 40] {
        let mut m = emails_three_ways(filler);
        for name in ["emails", "Emails", "eMails", "email", "k3", ""] {
            assert_eq!(get_exact(&m, name), m.get(name), "{name} ({filler} more keys)");
        }
        *get_exact_mut(&mut m, "Emails").unwrap() = json!("changed");
        assert_eq!((m["Emails"].clone(), m["emails"].clone()), (json!("changed"), json!(3)));
        assert!(get_exact_mut(&mut m, "eMails").is_none());
    }
}

#[test]
fn get_ci_prefers_the_exact_spelling_then_the_first_in_any_case_small_or_large() {
    for filler in [0, 40] {
        let m = emails_three_ways(filler);
        assert_eq!(get_ci(&m, "emails"), Some(&json!(3)), "exact first ({filler} more keys)");
        assert_eq!(get_ci(&m, "eMails"), Some(&json!(1)), "else the first in any case ({filler} more keys)");
        assert_eq!(get_ci(&m, "email"), None);
    }
}

#[test]
fn get_ci_mut_changes_the_value_find_key_names_in_place() {
    for filler in [0, 40] {
        let mut m = emails_three_ways(filler);
        for name in ["emails", "eMails", "Emails", "email", "k3"] {
            let before = m.clone();
            let found = find_key(&m, name);
            match get_ci_mut(&mut m, name) {
                Some(v) => *v = json!("changed"),
                None => assert_eq!(found, None, "{name}"),
            }
            let changed: Vec<&String> = m.iter().filter(|(k, v)| before.get(*k) != Some(*v)).map(|(k, _)| k).collect();
            assert_eq!(changed, found.iter().collect::<Vec<_>>(), "{name} ({filler} more keys)");
            assert!(m.keys().eq(before.keys()), "no key moved, none added");
        }
    }
}

#[test]
fn set_writes_an_existing_key_where_it_is_and_a_new_one_at_the_end() {
    let reg = Registry::core();
    let s = reg.resource("User");
    let mut u = user();
    Path::parse("USERNAME").unwrap().set(&mut u, json!("b2"), s.as_ref()).unwrap();
    Path::parse("name.GIVENNAME").unwrap().set(&mut u, json!("B"), s.as_ref()).unwrap();
    Path::parse("displayname").unwrap().set(&mut u, json!("Bee"), s.as_ref()).unwrap();
    Path::parse("name.middlename").unwrap().set(&mut u, json!("M"), s.as_ref()).unwrap();
    let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["schemas", "userName", "Name", "emails", "displayName"]);
    assert_eq!(u["userName"], "b2");
    assert_eq!(u["Name"], json!({"givenName": "B", "middleName": "M"}));
}

proptest::proptest! {
    /// The map's own keys in its order (some left out, some in another
    /// case), then names out of order, repeated or missing: `InOrder`
    /// answers every lookup as `position_ci` does.
    #[test]
    fn in_order_lookups_answer_as_position_ci(
        keys in proptest::collection::vec("[aAbBcd]{1,2}", 0..8),
        how in proptest::collection::vec(0..3u8, 8),
        names in proptest::collection::vec("[aAbBc]{1,2}", 0..12),
    ) {
        let map: serde_json::Map<String, Value> =
            keys.iter().enumerate().map(|(i, k)| (k.clone(), json!(i))).collect();
        let in_map_order = map.keys().zip(&how).filter_map(|(k, how)| match how {
            0 => Some(k.clone()),
            1 => Some(k.to_uppercase()),
            _ => None,
        });
        let mut in_order = InOrder::new(&map);
        for name in &in_map_order.chain(names).collect::<Vec<_>>() {
            proptest::prop_assert_eq!(in_order.position_ci(name), position_ci(&map, name), "{}", name);
        }
    }
}

#[test]
fn a_located_path_reads_and_writes_as_the_path_with_its_schema() {
    let registry = Registry::core();
    let schema = registry.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut doc = user();
    doc[ent] = json!({"department": "Ops", "Manager": {"value": "m1"}});
    let paths = [
        "userName",
        "USERNAME",
        "name.givenName",
        "name.Formatted",
        "emails",
        "emails.value",
        "emails[type eq \"work\"].value",
        "emails[TYPE eq \"WORK\"].Value",
        "emails[primary eq true]",
        "phoneNumbers[type eq \"mobile\"].value",
        "shoeSize",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:manager.value",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
        "urn:example:other:2.0:User:badge",
    ];
    for text in paths {
        let path = Path::parse(text).unwrap();
        let at = path.locate(&schema);
        let mut read = Vec::new();
        path.visit_located(&doc, &at, |v| {
            read.push(v);
            std::ops::ControlFlow::Continue(())
        });
        assert_eq!(read, path.get(&doc, Some(&schema)), "{text}: read");
        let value = if path.filter.is_some() && path.sub.is_none() { json!({"value": "n"}) } else { json!("n") };
        let (mut by_schema, mut located) = (doc.clone(), doc.clone());
        let written = path.set(&mut by_schema, value.clone(), Some(&schema)).map_err(|e| e.detail);
        assert_eq!(path.set_located(&mut located, value, &at).map_err(|e| e.detail), written, "{text}: written");
        assert_eq!(located, by_schema, "{text}: the document written");
    }
}
