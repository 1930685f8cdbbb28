use super::*;
use crate::schema::Registry;
use serde_json::json;

#[test]
fn every_kind_is_at_its_own_place_in_all() {
    for (i, n) in Normalization::ALL.into_iter().enumerate() {
        assert_eq!(n.index(), i, "{n}");
    }
}

#[test]
fn member_remove_fix_cannot_be_turned_off() {
    let n = Normalizer::new(Preset::Generic).set(Normalization::MemberRemoveValues, false);
    assert!(n.is_enabled(Normalization::MemberRemoveValues));
    let reg = Registry::core();
    let mut body = json!({"schemas": [crate::patch::PATCH_URN], "Operations": [
        {"op": "remove", "path": "members", "value": [{"value": "a"}]}
    ]});
    let r = n.patch(&mut body, &reg.resource("Group").unwrap());
    assert_eq!(r.count(Normalization::MemberRemoveValues), 1);
    assert_eq!(body["Operations"], json!([{"op": "remove", "path": "members[value eq \"a\"]"}]));
}

#[test]
fn presets_choose_fixes() {
    assert_eq!(Preset::parse("ENTRA"), Some(Preset::Entra));
    assert_eq!(Preset::parse("okta"), Some(Preset::Okta));
    assert_eq!(Preset::parse("nope"), None);
    let generic = Normalizer::new(Preset::Generic);
    assert!(!generic.is_enabled(Normalization::ManagerShape));
    assert!(!generic.is_enabled(Normalization::LenientFilter));
    assert!(Normalizer::new(Preset::Entra).is_enabled(Normalization::ManagerShape));
    assert!(!generic.apply_options().replace_missing_adds);
    assert!(Normalizer::new(Preset::Entra).apply_options().replace_missing_adds);
    let off = Normalizer::new(Preset::Entra).set(Normalization::StringBoolean, false);
    let reg = Registry::core();
    let mut body = json!({"userName": "a", "active": "False"});
    off.resource(&mut body, &reg.resource("User").unwrap());
    assert_eq!(body["active"], "False", "a disabled fix does not run");
}

#[test]
fn every_label_is_distinct_snake_case() {
    let mut names: Vec<&str> = Normalization::ALL.iter().map(|n| n.as_str()).collect();
    assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_')));
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Normalization::ALL.len());
}

#[test]
fn form_decoding() {
    assert_eq!(form_decode("userName+eq+%22a%2Bb%40x.com%22"), "userName eq \"a+b@x.com\"");
    assert_eq!(form_decode("100%"), "100%");
    assert_eq!(form_decode("%zz%4"), "%zz%4");
    assert_eq!(form_decode("%C3%A9%FF"), "é\u{fffd}");
}

#[test]
fn odd_shapes_are_left_for_the_parser() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let n = Normalizer::new(Preset::Entra);
    for mut body in [
        json!(null),
        json!([1]),
        json!({"Operations": "x"}),
        json!({"Operations": [1, {"op": 3}, {"op": "add", "path": 5}]}),
    ] {
        let before = body.clone();
        n.patch(&mut body, &s);
        if let Some(ops) = before.get("Operations").and_then(|o| o.as_array()) {
            assert_eq!(body["Operations"].as_array().unwrap().len(), ops.len());
        }
    }
    let mut odd = json!({"userName": 5, "emails": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": [1], "manager": 7});
    n.resource(&mut odd, &s);
    assert_eq!(odd["manager"], 7, "nothing is moved into a malformed extension, nor lost");
    let mut stray = json!({"userName": "a", "manager": "m-1"});
    let r = n.resource(&mut stray, &s);
    assert_eq!(r.count(Normalization::ManagerShape), 1);
    assert_eq!(
        stray["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        json!({"manager": {"value": "m-1"}})
    );
    assert!(
        stray["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"))
    );
}

fn patch_body(ops: serde_json::Value) -> serde_json::Value {
    json!({"schemas": [crate::patch::PATCH_URN], "Operations": ops})
}

#[test]
fn pathless_schema_objects_are_not_split_as_dotted_keys() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    for preset in [Preset::Okta, Preset::Entra] {
        let mut body = patch_body(json!([{"op": "replace", "value": {
            "urn:ietf:params:scim:schemas:core:2.0:User": {"active": "False"},
            ent: {"department": "x"}
        }}]));
        Normalizer::new(preset).patch(&mut body, &s);
        let patch = crate::PatchOp::from_json(&body).unwrap();
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u", "active": true});
        let out = crate::patch::apply(&user, &patch, &s, ApplyOptions::default()).unwrap();
        assert_eq!(out["active"], false, "{preset:?}: the leaver is deactivated");
        assert_eq!(out[ent]["department"], "x");
        assert_eq!(out["schemas"].as_array().unwrap().len(), 2, "{out}");
    }
}

#[test]
fn ops_with_unknown_members_are_left_for_the_parser() {
    let reg = Registry::core();
    let g = reg.resource("Group").unwrap();
    for preset in [Preset::Generic, Preset::Entra] {
        let mut body = patch_body(json!([{"op": "remove", "path": "members", "values": [{"value": "u1"}]}]));
        Normalizer::new(preset).patch(&mut body, &g);
        assert!(crate::PatchOp::from_json(&body).unwrap_err().detail.contains("values"), "never a remove-all");
    }
    let mut body = patch_body(json!([{"op": "remove", "path": "members", "Value": [{"value": "u1"}]}]));
    Normalizer::new(Preset::Generic).set(Normalization::OpNameCase, false).patch(&mut body, &g);
    assert!(crate::PatchOp::from_json(&body).is_err());
}

#[test]
fn a_manager_change_keeps_the_new_manager() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut body = patch_body(json!([
        {"op": "Add", "path": "manager", "value": [{"$ref": null, "value": "new"}]},
        {"op": "Remove", "path": "manager[value eq \"old\"]"}
    ]));
    let n = Normalizer::new(Preset::Entra);
    n.patch(&mut body, &s);
    let ops = body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2, "the new manager replaces the old whole; the filtered remove is gone: {body}");
    assert_eq!((ops[0]["op"].as_str(), ops[1]["op"].as_str()), (Some("remove"), Some("add")));
    let user = json!({"userName": "u", ent: {"manager": {"value": "old"}}});
    let out = crate::patch::apply(&user, &crate::PatchOp::from_json(&body).unwrap(), &s, n.apply_options()).unwrap();
    assert_eq!(out[ent]["manager"], json!({"value": "new"}));
}

#[test]
fn lenient_numbers_compare_as_the_attribute_type() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let n = Normalizer::new(Preset::Entra);
    let (f, _) = n.filter("externalId eq 12345", &s).unwrap();
    assert_eq!(f.to_string(), "externalId eq \"12345\"");
    assert!(f.matches(&json!({"externalId": "12345"}), Some(&s)));
    let (f, _) = n.filter("externalId eq 1.50 or externalId eq 123456789012345678901234567890", &s).unwrap();
    assert_eq!(f.to_string(), "externalId eq \"1.50\" or externalId eq \"123456789012345678901234567890\"");
}

#[test]
fn entra_removes_managers_and_nulls_in_their_odd_shapes() {
    let reg = Registry::core();
    let u = reg.resource("User").unwrap();
    let n = Normalizer::new(Preset::Entra);
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let run = |ops: serde_json::Value| {
        let mut body = patch_body(ops);
        n.patch(&mut body, &u);
        body["Operations"].clone()
    };
    // a null value is no value: an RFC remove of the attribute
    assert_eq!(
        run(json!([{"op": "remove", "path": "emails", "value": null}])),
        json!([{"op": "remove", "path": "emails"}])
    );
    // values without `value` are selected by all their simple fields
    assert_eq!(
        run(json!([{"op": "Remove", "path": "addresses", "value": [{"type": "home", "locality": "Oslo"}]}])),
        json!([{"op": "remove", "path": "addresses[type eq \"home\" and locality eq \"Oslo\"]"}])
    );
    assert_eq!(
        run(json!([{"op": "remove", "path": "tags", "value": ["a"]}])),
        json!([{"op": "remove", "path": "tags[value eq \"a\"]"}])
    );
    // a new manager replaces the old one whole
    let ops = run(json!([{"op": "Replace", "path": "manager", "value": "new"}]));
    let user = json!({"userName": "u", ent: {"manager": {"value": "old", "$ref": "https://x/Users/old", "displayName": "Old"}}});
    let out = crate::patch::apply(&user, &crate::PatchOp::from_json(&patch_body(ops)).unwrap(), &u, n.apply_options())
        .unwrap();
    assert_eq!(out[ent]["manager"], json!({"value": "new"}));
    // a plain string manager inside a path-less extension object
    let ops = run(json!([{"op": "replace", "value": {ent: {"manager": "m2"}}}]));
    assert_eq!(ops, json!([{"op": "replace", "value": {ent: {"manager": {"value": "m2"}}}}]));
    // a filtered manager remove with an unknown member is left for the parser
    let ops = run(
        json!([{"op": "remove", "path": "manager[value eq \"x\"]", "extra": 1}, {"op": "add", "path": "manager", "value": "y"}]),
    );
    assert!(crate::PatchOp::from_json(&patch_body(ops)).is_err());
    // a null extension object is not mistaken for a dotted key
    let ops = run(json!([{"op": "replace", "value": {ent: null, "displayName": "D"}}]));
    assert_eq!(ops, json!([{"op": "replace", "value": {ent: null, "displayName": "D"}}]));
    let e = crate::patch::apply(
        &json!({"userName": "u"}),
        &crate::PatchOp::from_json(&patch_body(ops)).unwrap(),
        &u,
        n.apply_options(),
    );
    assert_eq!(e.unwrap_err().scim_type, crate::ScimType::InvalidValue);
}

#[test]
fn read_only_attributes_are_stripped_in_any_case_and_the_rest_keep_their_order() {
    let reg = Registry::core();
    let mut body = json!({"ID": "1", "userName": "a", "groups": [], "title": "t", "Meta": {"version": "W/\"1\""},
                          "nickName": "n"});
    let r = Normalizer::new(Preset::Generic).resource(&mut body, &reg.resource("User").unwrap());
    assert_eq!(r.count(Normalization::ReadOnlyStripped), 3);
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["userName", "title", "nickName", "schemas"], "schemas added last");
    assert_eq!(body["nickName"], "n", "a key after the stripped ones is still found by its name");
}

#[test]
fn nulls_and_extensions_left_empty_are_dropped_and_a_body_without_them_is_left_in_order() {
    let reg = Registry::core();
    let user = reg.resource("User").unwrap();
    let n = Normalizer::new(Preset::Generic);
    let ent = crate::schema::ENTERPRISE_URN;
    let mut body = json!({"title": null, "userName": "a", ent: {"department": null}, "nickName": null,
                          "schemas": [crate::schema::USER_URN]});
    let r = n.resource(&mut body, &user);
    assert_eq!(r.count(Normalization::NullValue), 3);
    assert_eq!(body, json!({"userName": "a", "schemas": [crate::schema::USER_URN]}));
    let mut plain = json!({"userName": "a", ent: {"department": "d"}, "title": "t",
                           "schemas": [crate::schema::USER_URN, ent]});
    let before = plain.clone();
    let r = n.resource(&mut plain, &user);
    assert_eq!((r.count(Normalization::NullValue), r.count(Normalization::MissingSchemaUrn)), (0, 0));
    assert_eq!(plain.to_string(), before.to_string(), "the same members in the same order");
    let mut unlisted = json!({"userName": "a", ent: {"department": "d"}, "schemas": [crate::schema::USER_URN]});
    assert_eq!(n.resource(&mut unlisted, &user).count(Normalization::MissingSchemaUrn), 1);
    assert_eq!(unlisted["schemas"], json!([crate::schema::USER_URN, ent]));
}

#[test]
fn unknown_urns_leave_schemas_only_when_no_key_holds_their_data() {
    let n = Normalizer::new(Preset::Entra);
    let reg = Registry::core();
    let user = reg.resource("User").unwrap();
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let known = json!({"schemas": [core, crate::schema::ENTERPRISE_URN], "userName": "a"});
    let mut body = known.clone();
    let r = n.resource(&mut body, &user);
    assert_eq!((body, r.count(Normalization::UnknownSchemaUrn)), (known, 0), "every URN known: nothing dropped");
    let mut body = json!({"schemas": [core, "urn:x:gone", "URN:X:Data", 7], "userName": "a", "urn:x:data": {"k": 1}});
    let r = n.resource(&mut body, &user);
    assert_eq!(body["schemas"], json!([core, "URN:X:Data"]), "data under the URN in any case keeps it");
    assert_eq!(r.count(Normalization::UnknownSchemaUrn), 2, "the unknown URN and the entry that is no string");
}
