use super::*;
use serde_json::json;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const NOTION: &str = "urn:ietf:params:scim:schemas:extension:notion:2.0:User";

fn ops(v: Value) -> PatchOp {
    PatchOp::from_json(&json!({"schemas": [scim_core::patch::PATCH_URN], "Operations": v})).unwrap()
}

#[test]
fn a_full_replace_of_members_is_recognized_with_a_path_or_without() {
    assert!(replaces_members(&ops(json!([{"op": "replace", "path": "members", "value": []}]))));
    assert!(replaces_members(&ops(json!([{"op": "replace", "value": {"Members": [{"value": "1"}]}}]))));
    assert!(!replaces_members(&ops(json!([{"op": "add", "path": "members", "value": [{"value": "1"}]}]))));
    assert!(!replaces_members(&ops(json!([{"op": "replace", "path": "members[value eq \"1\"]", "value": {}}]))));
    assert!(!replaces_members(&ops(json!([{"op": "replace", "value": {"displayName": "x"}}]))));
}

#[test]
fn only_a_put_on_a_patch_backend_or_a_patch_on_a_put_backend_needs_translating() {
    let replace = ops(json!([{"op": "replace", "path": "members", "value": []}]));
    let add = ops(json!([{"op": "add", "path": "members", "value": [{"value": "1"}]}]));
    assert!(patch_needs_current(UpdateMode::Put, None, "User", &add));
    assert!(patch_needs_current(UpdateMode::Patch, None, "Group", &replace));
    assert!(!patch_needs_current(UpdateMode::Patch, None, "Group", &add));
    assert!(!patch_needs_current(UpdateMode::AsSent, None, "Group", &replace));
    assert!(patch_needs_current(UpdateMode::AsSent, Some(100), "Group", &replace), "batches need adds and removes");
    assert!(!patch_needs_current(UpdateMode::AsSent, Some(100), "Group", &add));
    assert!(put_as_patch(UpdateMode::Patch) && !put_as_patch(UpdateMode::Put) && !put_as_patch(UpdateMode::AsSent));
}

#[test]
fn unmanaged_attributes_the_idp_leaves_out_keep_the_backends_value() {
    let current = json!({
        "id": "1", "meta": {"version": "W/\"1\""}, "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", NOTION],
        "userName": "a@x.com", "title": "Boss", "roles": [{"value": "admin"}],
        NOTION: {"role": "membership_admin"},
        ENT: {"department": "Sales", "costCenter": "42"}
    });
    let mut desired = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "a@x.com", "roles": [], ENT: {"costCenter": "43"}});
    let kept = keep_unmanaged(&current, &mut desired, &ManagedSet::new(None, "User"));
    assert_eq!(kept, 2, "roles and the Notion role: {desired}");
    assert_eq!(
        desired["roles"],
        json!([{"value": "admin"}]),
        "an empty list from the IdP does not wipe an unmanaged attribute"
    );
    assert_eq!(desired[NOTION]["role"], "membership_admin");
    assert!(desired["schemas"].as_array().unwrap().iter().any(|s| s == NOTION), "{desired}");
    assert!(desired.get("title").is_none(), "title is managed: the IdP left it out, so it goes");
    assert!(desired[ENT].get("department").is_none(), "department is managed");
    assert!(desired.get("id").is_none() && desired.get("meta").is_none(), "server-owned keys are not copied");
}

#[test]
fn a_declared_managed_list_replaces_the_default() {
    let declared =
        [Path::parse("userName").unwrap(), Path::parse("urn:ietf:params:scim:schemas:core:2.0:User:title").unwrap()];
    let managed = ManagedSet::new(Some(&scim_mapper::Managed::Only(declared.to_vec())), "User");
    assert!(managed.contains(None, "TITLE"), "a core-URN-qualified name names the core attribute");
    assert!(!managed.contains(None, "emails"), "not declared");
    let core = "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:User";
    assert!(managed.contains(Some(core), "Title"), "qualified, in any case");
    assert!(!managed.contains(Some(core), "titles") && !managed.contains(Some(ENT), "title"));
    let current = json!({"userName": "a", "emails": [{"value": "a@x.com"}], "title": "t"});
    let mut desired = json!({"userName": "a"});
    assert_eq!(keep_unmanaged(&current, &mut desired, &managed), 1);
    assert_eq!(desired, json!({"userName": "a", "emails": [{"value": "a@x.com"}]}));
}

#[test]
fn a_star_manages_everything() {
    let all = ManagedSet::new(Some(&scim_mapper::Managed::All), "User");
    assert!(all.contains(None, "roles") && all.contains(Some(NOTION), "role"));
    let mut desired = json!({"userName": "a"});
    assert_eq!(keep_unmanaged(&json!({"userName": "a", "roles": [{"value": "x"}]}), &mut desired, &all), 0);
}

#[test]
fn members_already_there_take_the_backends_form_and_the_left_out_are_returned() {
    let current = json!({"members": [
        {"value": "u1", "display": "One", "$ref": "http://b/Users/u1"},
        {"value": "u2", "display": "Two"},
    ]});
    let mut desired =
        json!({"displayName": "G", "members": [{"value": "u1", "display": "One renamed"}, {"value": "u3"}]});
    let removed = settle_members(&current, &mut desired);
    assert_eq!(removed, vec![json!({"value": "u2", "display": "Two"})]);
    assert_eq!(desired["members"][0], current["members"][0], "no remove-and-add for a changed display");
    assert_eq!(desired["members"][1], json!({"value": "u3"}));
}

#[test]
fn members_are_settled_only_where_a_side_names_them_and_the_desired_key_takes_the_lower_case() {
    let user = json!({"id": "u", "userName": "a", "title": "t"});
    let mut desired = json!({"userName": "a"});
    assert!(settle_members(&user, &mut desired).is_empty());
    assert_eq!(desired, json!({"userName": "a"}), "a User gains no members key");
    // The desired side names members in another case, as no list: the
    // key is settled to the lower case, an empty list.
    let mut desired = json!({"userName": "a", "Members": "none"});
    assert!(settle_members(&user, &mut desired).is_empty());
    assert_eq!(desired, json!({"userName": "a", "members": []}));
    // Only the current side names them: all of them are removed.
    let group = json!({"id": "g", "members": [{"value": "u1"}]});
    let mut desired = json!({"displayName": "G"});
    assert_eq!(settle_members(&group, &mut desired), vec![json!({"value": "u1"})]);
    assert_eq!(desired, json!({"displayName": "G"}), "nothing wanted, no key added");
}

#[test]
fn a_member_listed_twice_keeps_both_entries_and_the_same_list_diffs_to_nothing() {
    let registry = scim_core::Registry::core();
    let schema = registry.resource("Group").unwrap();
    let twice = json!([{"value": "u1", "display": "A"}, {"value": "u1", "display": "B"}]);
    let current = json!({"id": "g", "displayName": "G", "members": twice});
    let mut desired = json!({"displayName": "G", "members": twice});
    assert!(settle_members(&current, &mut desired).is_empty());
    assert_eq!(desired["members"], twice, "each current entry stands for one wanted entry");
    assert!(diff(&current, &desired, &schema).unwrap().is_empty());
}

#[test]
fn a_put_diffed_against_the_current_group_adds_and_removes_single_members() {
    let registry = scim_core::Registry::core();
    let schema = registry.resource("Group").unwrap();
    let current = json!({"id": "g", "displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]});
    let mut desired = json!({"displayName": "G", "members": [{"value": "u2"}, {"value": "u3"}]});
    settle_members(&current, &mut desired);
    let text = diff(&current, &desired, &schema).unwrap().to_json().to_string();
    assert!(text.contains(r#"members[value eq \"u1\"]"#), "{text}");
    assert!(text.contains(r#""value":[{"value":"u3"}]"#), "{text}");
    assert!(!text.contains("replace"), "never a whole-list replace: {text}");
}

#[test]
fn only_plain_ids_are_looked_up() {
    assert!(paths::plain_id("2819c223-7f76-453a-919d-413861904646"));
    for bad in ["", ".", "..", "a/b", "a?b", "%2e%2e", "a b"] {
        assert!(!paths::plain_id(bad), "{bad}");
    }
}

#[test]
fn a_put_body_leaves_meta_to_the_server_and_lists_the_extensions_it_holds() {
    let core = "urn:ietf:params:scim:schemas:core:2.0:User";
    let body = json!({"schemas": [core, NOTION], "id": "1", "meta": {}, "userName": "a", NOTION: {}, ENT: {"department": "x"}});
    assert_eq!(
        put_body(body, core),
        json!({"schemas": [core, ENT], "id": "1", "userName": "a", ENT: {"department": "x"}})
    );
}

#[test]
fn a_patch_naming_a_whole_extension_adds_to_or_drops_that_extension() {
    let registry = scim_core::Registry::core();
    let schema = registry.resource("User").unwrap();
    let current = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "a"});
    let add = ops(
        json!([{"op": "add", "path": ENT, "value": {"department": "Sales"}}, {"op": "replace", "path": "title", "value": "t"}]),
    );
    let added = patched(&current, &add, &schema).unwrap();
    assert_eq!(added[ENT], json!({"department": "Sales"}), "{added}");
    assert_eq!(added["title"], "t");
    let removed = patched(&added, &ops(json!([{"op": "remove", "path": ENT}])), &schema).unwrap();
    assert!(removed.get(ENT).is_none(), "{removed}");
    assert_eq!(removed["title"], "t");
}

/// Keeping unmanaged attributes as it was before the desired document's
/// keys were looked up in order: every key asked afresh, in the document as
/// the earlier keys left it.
fn keep_unmanaged_asking_afresh(current: &Value, desired: &mut Value, managed: &ManagedSet) -> u64 {
    let (Some(cur), Some(des)) = (current.as_object(), desired.as_object_mut()) else { return 0 };
    let mut kept = 0;
    for (key, value) in cur {
        if SERVER_OWNED.iter().any(|s| s.eq_ignore_ascii_case(key)) || is_empty(value) {
            continue;
        }
        if let (true, Some(ext)) = (is_urn(key), value.as_object()) {
            kept += keep_extension(key, ext, des, managed);
        } else if get_ci(des, key).is_none_or(is_empty) && !managed.contains(None, key) {
            remove_ci(des, key);
            des.insert(key.clone(), value.clone());
            kept += 1;
        }
    }
    kept
}

fn resource_strategy() -> impl proptest::strategy::Strategy<Value = Value> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec![
        "title", "Title", "roles", "ROLES", "nickName", "id", "Meta", "userName", ENT, NOTION,
    ]);
    let value = prop::sample::select(vec![
        json!(""),
        json!("x"),
        json!([]),
        json!([{"value": "a"}]),
        json!({}),
        json!({"role": "r", "department": "d"}),
        json!({"costCenter": ""}),
    ]);
    prop::collection::vec((key, value), 0..9)
        .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

proptest::proptest! {
    /// Looking the desired document's keys up in order keeps exactly what
    /// asking every key afresh kept, in the same key order.
    #[test]
    fn keeping_unmanaged_attributes_in_order_keeps_what_asking_afresh_kept(
        current in resource_strategy(),
        desired in resource_strategy(),
    ) {
        let managed = ManagedSet::new(None, "User");
        let (mut fast, mut slow) = (desired.clone(), desired);
        let kept = keep_unmanaged(&current, &mut fast, &managed);
        proptest::prop_assert_eq!(kept, keep_unmanaged_asking_afresh(&current, &mut slow, &managed));
        proptest::prop_assert_eq!(fast.to_string(), slow.to_string());
    }
}
