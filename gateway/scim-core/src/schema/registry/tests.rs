use super::*;
use crate::schema::AttrType;

#[test]
fn same_name_is_equality_in_any_ascii_case() {
    let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut names = vec![urn.to_owned(), urn.to_ascii_uppercase(), "userName".into(), "USERNAME".into()];
    names.extend(
        ["username", "userNam", "userNamé", "userNamÉ", "", "emails", "groups", "@a", "`a", "`A"].map(String::from),
    );
    for at in 0..urn.len() {
        let mut b = urn.as_bytes().to_vec();
        b[at] ^= 0x20;
        names.push(String::from_utf8_lossy(&b).into_owned());
    }
    for a in &names {
        for b in &names {
            let want = a.eq_ignore_ascii_case(b);
            assert_eq!(crate::schema::same_name(a.as_bytes(), b.as_bytes()), want, "{a} and {b}");
        }
    }
}

/// The core registry with a writable core User attribute `ID`, which
/// the common (read-only) `id` shares a name with in another case.
fn with_core_id() -> Registry {
    let mut reg = Registry::core();
    let user = reg.schemas.iter_mut().find(|s| s.id == USER_URN).unwrap();
    let mut id = user.attributes[0].clone();
    id.name = "ID".into();
    id.mutability = Mutability::ReadWrite;
    user.attributes.push(id);
    reg.index();
    reg
}

#[test]
fn a_top_attribute_is_found_by_its_length_as_a_look_along_core_then_common_finds_it() {
    for (reg, rt) in [(Registry::core(), "User"), (Registry::core(), "Group"), (with_core_id(), "User")] {
        let schema = reg.resource(rt).unwrap();
        let (core, common) = (&schema.core().attributes, &reg.common.attributes);
        let names = core.iter().chain(common).map(|a| a.name.clone());
        let odd = ["", "x", "schemas", "USERNAME", "Id", "meta", "notAnAttribute", "émails"].map(String::from);
        for name in names.flat_map(|n| [n.to_ascii_uppercase(), n.to_ascii_lowercase(), n]).chain(odd) {
            let top = core.iter().chain(common).find(|a| a.name.eq_ignore_ascii_case(&name));
            let by_exact = core.iter().chain(common).find(|a| a.name == name);
            let same = |a: Option<&Attribute>, b: Option<&Attribute>| match (a, b) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (a, b) => a.is_none() && b.is_none(),
            };
            assert!(same(schema.top_attribute(None, &name), top), "{rt} {name}");
            assert!(same(schema.core_attribute(&name), by_exact.or(top)), "{rt} {name}");
        }
    }
}

#[test]
fn core_registry_resolves_case_insensitively() {
    let reg = Registry::core();
    let user = reg.resource("user").unwrap();
    assert_eq!(user.top_attribute(None, "USERNAME").unwrap().name, "userName");
    let p = AttrPath::parse("name.GIVENNAME").unwrap();
    assert_eq!(user.attribute(&p).unwrap().name, "givenName");
    let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:User:manager.value").unwrap();
    assert_eq!(user.attribute(&p).unwrap().name, "value");
    assert_eq!(user.top_attribute(None, "id").unwrap().mutability, Mutability::ReadOnly);
    assert_eq!(user.top_attribute(None, "active").unwrap().ty, AttrType::Boolean);
    assert!(user.top_attribute(None, "department").is_none());
}

#[test]
fn read_only_names_say_what_top_attribute_says_of_every_name() {
    let reg = Registry::core();
    let urns = [None, Some(USER_URN), Some(ENTERPRISE_URN), Some("urn:example:unknown")];
    for (rt, urn) in ["User", "Group"].into_iter().flat_map(|rt| urns.map(|u| (rt, u))) {
        let schema = reg.resource(rt).unwrap();
        let names = schema.read_only_names(urn);
        if urn.is_none() {
            assert!(names.iter().any(|n| n == "id") && names.iter().any(|n| n == "meta"), "{rt}: {names:?}");
        }
        let ext = schema.extensions().flat_map(|e| e.attributes.iter());
        let all = schema.core().attributes.iter().chain(&reg.common.attributes).chain(ext).map(|a| a.name.clone());
        for name in all.flat_map(|n| [n.to_uppercase(), n.clone(), format!("{n}x")]) {
            let found = schema.top_attribute(urn, &name);
            let read_only = found.is_some_and(|a| a.mutability == Mutability::ReadOnly);
            assert_eq!(names.iter().any(|r| r.eq_ignore_ascii_case(&name)), read_only, "{rt} {urn:?} {name}");
        }
    }
}

#[test]
fn a_core_attribute_named_as_a_common_one_decides_whether_it_is_read_only() {
    let reg = with_core_id();
    let schema = reg.resource("User").unwrap();
    assert_eq!(schema.top_attribute(None, "id").unwrap().mutability, Mutability::ReadWrite);
    let names = schema.read_only_names(None);
    assert!(!names.iter().any(|r| r.eq_ignore_ascii_case("id")), "the core ID shadows the common id: {names:?}");
    assert!(names.iter().any(|n| n == "meta"), "{names:?}");
    let superset = schema.read_only_core_or_common();
    assert!(superset.iter().any(|n| n == "id") && superset.iter().any(|n| n == "meta"), "{superset:?}");
}

#[test]
fn notion_extension_loads_from_file_text() {
    let mut reg = Registry::core();
    let text = include_str!("../../../../../mappings/schemas/notion-user.json");
    reg.load_extensions(text, None).unwrap();
    let user = reg.resource("User").unwrap();
    let role = user.top_attribute(Some("urn:ietf:params:scim:schemas:extension:notion:2.0:User"), "ROLE");
    assert_eq!(role.unwrap().canonical_values.len(), 4);
}

#[test]
fn read_only_names_of_a_loaded_extension_are_known_once_it_is_loaded() {
    let mut reg = Registry::core();
    let urn = "urn:example:params:scim:schemas:extension:badge:2.0:User";
    assert!(reg.resource("User").unwrap().read_only_names(Some(urn)).is_empty());
    let text =
        format!(r#"{{"id":"{urn}","attributes":[{{"name":"badgeId","mutability":"readOnly"}},{{"name":"floor"}}]}}"#);
    reg.load_extensions(&text, None).unwrap();
    let user = reg.resource("User").unwrap();
    assert_eq!(user.read_only_names(Some(&urn.to_uppercase().replacen("URN", "urn", 1))), ["badgeId"]);
    assert!(reg.resource("Group").unwrap().read_only_names(Some(urn)).is_empty(), "only User is extended");
}

#[test]
fn bad_schema_files_report_every_problem() {
    let mut reg = Registry::core();
    let text = r#"{"id":"nope","attributes":[{"name":"a b"},{"name":"x","type":"complex"},{"name":"X"}]}"#;
    let errors = reg.load_extensions(text, Some("User")).unwrap_err();
    assert_eq!(errors.len(), 4, "{errors:?}");
    let errors = reg.load_extensions("{\n  \"id\": ", Some("User")).unwrap_err();
    assert!(errors[0].location.starts_with("2:"), "{errors:?}");
    let errors = reg.load_extensions(r#"{"id":"urn:x","attributes":[],"bogus":1}"#, Some("User")).unwrap_err();
    assert!(errors[0].message.contains("bogus"));
    let errors = reg.load_extensions(r#"{"id":"urn:x:Thing","attributes":[]}"#, None).unwrap_err();
    assert!(errors[0].message.contains("which resource type"));
}

#[test]
fn resource_for_uses_schemas_or_meta() {
    let reg = Registry::core();
    let g = serde_json::json!({"schemas": [GROUP_URN]});
    assert_eq!(reg.resource_for(&g).unwrap().name(), "Group");
    let u = serde_json::json!({"meta": {"resourceType": "User"}});
    assert_eq!(reg.resource_for(&u).unwrap().name(), "User");
}
