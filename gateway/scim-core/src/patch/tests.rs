use super::*;
use crate::ScimType;
use crate::schema::Registry;
use proptest::prelude::*;
use serde_json::json;

fn op(v: Value) -> PatchOp {
    PatchOp::from_json(&json!({"schemas": [PATCH_URN], "Operations": v})).unwrap()
}

fn run(resource: &Value, ops: Value) -> Result<Value, ScimError> {
    let reg = Registry::core();
    let schema = reg.resource_for(resource).unwrap();
    apply(resource, &op(ops), &schema, ApplyOptions::default())
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bj@example.com", "type": "work", "primary": true},
            {"value": "babs@home.org", "type": "home"}
        ],
        "meta": {"resourceType": "User", "version": "W/\"1\""}
    })
}

fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Sales",
        "members": [{"value": "a", "display": "Ann"}, {"value": "b"}, {"value": "c"}]
    })
}

fn code(r: Result<Value, ScimError>) -> ScimType {
    r.unwrap_err().scim_type
}

#[test]
fn parse_is_strict_and_round_trips() {
    let body = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "add", "path": "emails[type eq \"work\"].value", "value": "x"},
        {"op": "remove", "path": "members[value eq \"2819c223\"]"},
        {"op": "replace", "value": {"active": false}}
    ]});
    let p = PatchOp::from_json(&body).unwrap();
    assert_eq!(p.to_json(), body);
    let bad = |b: Value| PatchOp::from_json(&b).unwrap_err();
    assert_eq!(bad(json!({"Operations": []})).scim_type, ScimType::InvalidSyntax);
    assert!(
        bad(json!({"schemas": [PATCH_URN], "Operations": [{"op": "Replace", "path": "a"}]})).detail.contains("Replace")
    );
    assert!(bad(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": 3}]})).detail.contains("path"));
    assert!(
        bad(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "value": 1, "extra": 1}]}))
            .detail
            .contains("extra")
    );
    assert_eq!(
        bad(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "a[b eq]"}]})).scim_type,
        ScimType::InvalidFilter
    );
    assert_eq!(
        bad(json!({"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "9a"}]})).scim_type,
        ScimType::InvalidPath
    );
    let many: Vec<Value> = (0..=MAX_PATCH_OPERATIONS).map(|_| json!({"op": "remove", "path": "title"})).collect();
    assert!(bad(json!({"schemas": [PATCH_URN], "Operations": many})).detail.contains("more than"));
}

#[test]
fn add_merges_multi_valued_and_complex() {
    let out =
        run(&group(), json!([{"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "d"}]}])).unwrap();
    let ids: Vec<&str> = out["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a", "b", "c", "d"], "existing values are not duplicated");
    let out = run(&user(), json!([{"op": "add", "path": "name", "value": {"middleName": "J"}}])).unwrap();
    assert_eq!(out["name"], json!({"givenName": "Barbara", "familyName": "Jensen", "middleName": "J"}));
    let out = run(&user(), json!([{"op": "add", "value": {"nickName": "Babs", "emails": [{"value": "n@x.com", "type": "other", "primary": true}]}}])).unwrap();
    assert_eq!(out["nickName"], "Babs");
    assert_eq!(out["emails"].as_array().unwrap().len(), 3);
    assert_eq!(out["emails"][0]["primary"], false, "only one value stays primary");
    assert_eq!(out["emails"][2]["primary"], true);
}

#[test]
fn add_with_value_filter_creates_or_updates() {
    let out =
        run(&user(), json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "new@example.com"}]))
            .unwrap();
    assert_eq!(out["emails"][0]["value"], "new@example.com");
    let out = run(&user(), json!([{"op": "add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555"}]))
        .unwrap();
    assert_eq!(out["phoneNumbers"], json!([{"type": "mobile", "value": "+1 555"}]));
}

#[test]
fn replace_semantics() {
    let out = run(
        &user(),
        json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@x.org", "type": "home"}}]),
    )
    .unwrap();
    assert_eq!(out["emails"][1], json!({"value": "h@x.org", "type": "home"}));
    let out = run(&user(), json!([{"op": "replace", "path": "emails", "value": [{"value": "only@x.com"}]}])).unwrap();
    assert_eq!(out["emails"], json!([{"value": "only@x.com"}]));
    let out =
        run(&user(), json!([{"op": "replace", "value": {"active": false, "name": {"givenName": "Babs"}}}])).unwrap();
    assert_eq!(out["active"], false);
    assert_eq!(out["name"], json!({"givenName": "Babs", "familyName": "Jensen"}), "unnamed sub-attributes stay");
    let out = run(&user(), json!([{"op": "replace", "path": "title", "value": "Boss"}])).unwrap();
    assert_eq!(out["title"], "Boss", "replace of a missing attribute adds it");
    assert_eq!(
        code(run(&user(), json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}]))),
        ScimType::NoTarget
    );
    let reg = Registry::core();
    let lenient = ApplyOptions { replace_missing_adds: true, ..ApplyOptions::default() };
    let p = op(json!([{"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x@y"}]));
    let out = apply(&user(), &p, &reg.resource("User").unwrap(), lenient).unwrap();
    assert_eq!(out["emails"][2], json!({"type": "other", "value": "x@y"}));
}

#[test]
fn remove_semantics() {
    let out = run(&group(), json!([{"op": "remove", "path": "members[value eq \"b\"]"}])).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 2);
    let out = run(&group(), json!([{"op": "remove", "path": "members"}])).unwrap();
    assert!(out.get("members").is_none(), "a remove without a filter removes every member (RFC 7644 3.5.2.2)");
    let out =
        run(&group(), json!([{"op": "remove", "path": "members", "value": [{"value": "a"}, {"value": "c"}]}])).unwrap();
    assert_eq!(out["members"], json!([{"value": "b"}]), "a value list removes only those members");
    let out = run(&group(), json!([{"op": "remove", "path": "members[value eq \"zzz\"]"}])).unwrap();
    assert_eq!(out, group(), "removing what is not there is a no-op");
    let out = run(
        &user(),
        json!([{"op": "remove", "path": "name.givenName"}, {"op": "remove", "path": "emails[type eq \"home\"]"}]),
    )
    .unwrap();
    assert_eq!(out["name"], json!({"familyName": "Jensen"}));
    assert_eq!(out["emails"].as_array().unwrap().len(), 1);
    let out = run(&user(), json!([{"op": "remove", "path": "emails[primary eq true].type"}])).unwrap();
    assert!(out["emails"][0].get("type").is_none());
    assert_eq!(code(run(&user(), json!([{"op": "remove"}]))), ScimType::NoTarget);
}

#[test]
fn mutability_is_enforced() {
    assert_eq!(code(run(&user(), json!([{"op": "replace", "path": "id", "value": "other"}]))), ScimType::Mutability);
    assert_eq!(code(run(&user(), json!([{"op": "remove", "path": "meta"}]))), ScimType::Mutability);
    assert_eq!(code(run(&user(), json!([{"op": "remove", "path": "userName"}]))), ScimType::Mutability);
    assert_eq!(
        code(run(&user(), json!([{"op": "add", "path": "groups", "value": [{"value": "g"}]}]))),
        ScimType::Mutability
    );
    assert_eq!(
        code(run(&group(), json!([{"op": "replace", "path": "members[value eq \"a\"].value", "value": "z"}]))),
        ScimType::Mutability
    );
    let same_id = run(&user(), json!([{"op": "replace", "value": {"id": "u1", "displayName": "B"}}])).unwrap();
    assert_eq!(same_id["displayName"], "B", "a read-only value that does not change is accepted");
}

#[test]
fn invalid_values_and_paths() {
    assert_eq!(code(run(&user(), json!([{"op": "add", "value": "x"}]))), ScimType::InvalidValue);
    assert_eq!(code(run(&user(), json!([{"op": "add", "path": "title"}]))), ScimType::InvalidValue);
    assert_eq!(code(run(&user(), json!([{"op": "replace", "path": "name", "value": "x"}]))), ScimType::InvalidValue);
    assert_eq!(
        code(run(&user(), json!([{"op": "add", "path": "userName[value eq \"x\"].y", "value": 1}]))),
        ScimType::InvalidPath
    );
    let reg = Registry::core();
    let strict = ApplyOptions { reject_unknown_attributes: true, ..ApplyOptions::default() };
    let err = apply(
        &user(),
        &op(json!([{"op": "add", "path": "favouriteColour", "value": "x"}])),
        &reg.resource("User").unwrap(),
        strict,
    );
    assert_eq!(code(err), ScimType::InvalidPath);
}

#[test]
fn all_or_nothing() {
    let before = user();
    let err = run(
        &before,
        json!([
            {"op": "replace", "path": "title", "value": "x"},
            {"op": "replace", "path": "id", "value": "y"}
        ]),
    )
    .unwrap_err();
    assert!(err.detail.starts_with("Operations[1]:"), "{}", err.detail);
    assert_eq!(before, user());
}

#[test]
fn extensions_add_and_drop_their_schema_urn() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let out = run(&user(), json!([{"op": "add", "path": format!("{ent}:department"), "value": "Retail"}])).unwrap();
    assert_eq!(out[ent]["department"], "Retail");
    assert!(out["schemas"].as_array().unwrap().contains(&json!(ent)));
    let out = run(&out, json!([{"op": "remove", "path": format!("{ent}:department")}])).unwrap();
    assert!(out.get(ent).is_none());
    assert!(!out["schemas"].as_array().unwrap().contains(&json!(ent)));
    let out = run(&user(), json!([{"op": "add", "value": {ent: {"employeeNumber": "7"}}}])).unwrap();
    assert_eq!(out[ent]["employeeNumber"], "7");
}

#[test]
fn diff_is_minimal() {
    let mut new = user();
    new["name"]["givenName"] = json!("Babs");
    new["active"] = json!(false);
    new["title"] = json!("Boss");
    new.as_object_mut().unwrap().remove("emails");
    new["meta"] = json!({"version": "W/\"2\""});
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let d = diff(&user(), &new, &s).unwrap();
    let mut got = d.to_json()["Operations"].as_array().unwrap().clone();
    got.sort_by_key(|v| v.to_string());
    let mut want = vec![
        json!({"op": "replace", "path": "name.givenName", "value": "Babs"}),
        json!({"op": "replace", "path": "active", "value": false}),
        json!({"op": "remove", "path": "emails"}),
        json!({"op": "add", "path": "title", "value": "Boss"}),
    ];
    want.sort_by_key(|v| v.to_string());
    assert_eq!(got, want);
    assert_eq!(d.operations.len(), 4);
    let mut g2 = group();
    g2["members"] = json!([{"value": "a", "display": "Ann"}, {"value": "c"}, {"value": "d"}]);
    let s = reg.resource("Group").unwrap();
    let d = diff(&group(), &g2, &s).unwrap();
    assert_eq!(
        d.to_json()["Operations"],
        json!([
            {"op": "remove", "path": "members[value eq \"b\"]"},
            {"op": "add", "path": "members", "value": [{"value": "d"}]}
        ])
    );
    assert!(diff(&group(), &group(), &s).unwrap().is_empty());
    let odd = json!({"displayName": "x", "bad key": 1});
    assert_eq!(diff(&group(), &odd, &s).unwrap_err().scim_type, ScimType::InvalidPath);
}

/// Sorts every array so that resources compare without regard to the order
/// of multi-valued attributes.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            items.sort_by_key(|i| i.to_string());
            Value::Array(items)
        }
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        other => other.clone(),
    }
}

fn arb_user() -> impl Strategy<Value = Value> {
    let name = proptest::option::of(("[A-Z][a-z]{0,5}", proptest::option::of("[A-Z][a-z]{0,5}")));
    let emails = proptest::collection::btree_set("[a-d]{1,2}@x\\.com", 0..4);
    let title = proptest::option::of("[a-z ]{1,8}");
    let dept = proptest::option::of("[A-Z]{2}");
    (name, emails, title, any::<Option<bool>>(), dept).prop_map(|(name, emails, title, active, dept)| {
        let mut u = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "u"});
        if let Some((g, f)) = name {
            u["name"] = json!({"givenName": g});
            if let Some(f) = f {
                u["name"]["familyName"] = json!(f);
            }
        }
        if !emails.is_empty() {
            u["emails"] = Value::Array(emails.into_iter().map(|e| json!({"value": e, "type": "work"})).collect());
        }
        if let Some(t) = title {
            u["title"] = json!(t);
        }
        if let Some(a) = active {
            u["active"] = json!(a);
        }
        if let Some(d) = dept {
            let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
            u[ent] = json!({"department": d});
            u["schemas"].as_array_mut().unwrap().push(json!(ent));
        }
        u
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn applying_a_diff_gives_the_new_resource(old in arb_user(), new in arb_user()) {
        let reg = Registry::core();
        let s = reg.resource("User").unwrap();
        let d = diff(&old, &new, &s).unwrap();
        let reparsed = PatchOp::from_json(&d.to_json());
        prop_assert!(d.is_empty() || reparsed.as_ref() == Ok(&d), "{:?}", reparsed);
        let out = apply(&old, &d, &s, ApplyOptions::default()).unwrap();
        prop_assert_eq!(canonical(&out), canonical(&new), "diff: {}", d.to_json());
    }
}

#[test]
fn filtered_add_selects_values_once() {
    let out = run(
        &user(),
        json!([{"op": "add", "path": "emails[type eq \"work\"]", "value": {"type": "other", "value": "n@x.com"}}]),
    )
    .unwrap();
    assert_eq!(out["emails"].as_array().unwrap().len(), 2, "no value is appended");
    assert_eq!(out["emails"][0], json!({"value": "n@x.com", "type": "other", "primary": true}));
}

#[test]
fn values_must_fit_the_schema() {
    let e = run(&user(), json!([{"op": "replace", "path": "active", "value": "False"}])).unwrap_err();
    assert_eq!(e.scim_type, ScimType::InvalidValue);
    assert!(e.detail.contains("\"active\" must be of type boolean, not a string"), "{}", e.detail);
    assert_eq!(
        code(run(&user(), json!([{"op": "add", "path": "emails", "value": [{"value": "a", "primary": "yes"}]}]))),
        ScimType::InvalidValue
    );
    assert_eq!(
        code(run(&user(), json!([{"op": "replace", "path": "userName", "value": ["a"]}]))),
        ScimType::InvalidValue
    );
    assert_eq!(
        code(run(&user(), json!([{"op": "replace", "value": {"name": {"givenName": 5}}}]))),
        ScimType::InvalidValue
    );
    assert_eq!(
        code(run(&user(), json!([{"op": "add", "path": "name[givenName eq \"A\"].familyName", "value": "x"}]))),
        ScimType::InvalidPath
    );
    let mut no_name = user();
    no_name.as_object_mut().unwrap().remove("name");
    assert_eq!(
        code(run(&no_name, json!([{"op": "add", "path": "name[givenName eq \"A\"].familyName", "value": "x"}]))),
        ScimType::InvalidPath
    );
}

#[test]
fn read_only_and_immutable_sub_attributes_hold_inside_objects() {
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let e = run(
        &user(),
        json!([{"op": "replace", "path": format!("{ent}:manager"), "value": {"value": "m", "displayName": "x"}}]),
    )
    .unwrap_err();
    assert_eq!(e.scim_type, ScimType::Mutability, "{}", e.detail);
    assert_eq!(
        code(run(&group(), json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "z"}}]))),
        ScimType::Mutability
    );
    let ok = run(
        &group(),
        json!([{"op": "replace", "path": "members[value eq \"a\"]", "value": {"value": "a", "display": "Anna"}}]),
    )
    .unwrap();
    assert_eq!(ok["members"][0], json!({"value": "a", "display": "Anna"}));
}

#[test]
fn primary_is_unique_after_any_write() {
    let out =
        run(&user(), json!([{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}])).unwrap();
    assert_eq!((out["emails"][0]["primary"].clone(), out["emails"][1]["primary"].clone()), (json!(false), json!(true)));
    let out =
        run(&user(), json!([{"op": "add", "path": "emails", "value": [{"value": "BABS@home.org", "primary": true}]}]))
            .unwrap();
    assert_eq!(out["emails"].as_array().unwrap().len(), 2, "an add of a known value updates it");
    assert_eq!(out["emails"][1]["primary"], true);
    assert_eq!(out["emails"][0]["primary"], false);
}

#[test]
fn removes_that_name_values_never_remove_all() {
    let out = run(&group(), json!([{"op": "remove", "path": "members", "value": "b"}])).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 2);
    let out = run(&group(), json!([{"op": "remove", "path": "members", "value": {"value": "zzz"}}])).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 3);
    let out = run(
        &user(),
        json!([{"op": "replace", "path": "emails", "value": [{"value": "a@x"}, {"value": "a@x", "type": "work"}]}]),
    )
    .unwrap();
    assert_eq!(out["emails"].as_array().unwrap().len(), 2, "replace sets exactly what was sent");
}

#[test]
fn large_groups_stay_linear() {
    let members: Vec<Value> = (0..50_000).map(|i| json!({"value": format!("m{i}")})).collect();
    let g =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "All", "members": members});
    let adds: Vec<Value> = (25_000..75_000).map(|i| json!({"value": format!("m{i}")})).collect();
    let out = run(&g, json!([{"op": "add", "path": "members", "value": adds}])).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 75_000);
    let doomed: Vec<Value> = (0..40_000).map(|i| json!({"value": format!("m{i}")})).collect();
    let out = run(&out, json!([{"op": "remove", "path": "members", "value": doomed}])).unwrap();
    assert_eq!(out["members"].as_array().unwrap().len(), 35_000);
    let reg = Registry::core();
    let s = reg.resource("Group").unwrap();
    let e = diff(&g, &out, &s).unwrap_err();
    assert!(e.detail.contains("40001 operations"), "a diff never yields a PatchOp the parser refuses: {}", e.detail);
    let mut fewer = g.clone();
    fewer["members"].as_array_mut().unwrap().truncate(45_000);
    assert_eq!(diff(&g, &fewer, &s).unwrap().operations.len(), 5_000);
}

#[test]
fn diff_leaves_read_only_attributes_alone() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut stored = user();
    stored["groups"] = json!([{"value": "g1", "display": "Sales"}]);
    stored[ent] = json!({"manager": {"value": "m1", "displayName": "Boss"}});
    let mut put = user();
    put[ent] = json!({"manager": {"value": "m1"}});
    assert!(diff(&stored, &put, &s).unwrap().is_empty(), "{}", diff(&stored, &put, &s).unwrap().to_json());
}

#[test]
fn diff_reads_qualified_keys_as_their_attributes() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let mut stored = user();
    stored[ent] = json!({"department": "Retail"});
    let mut put = user();
    put[format!("{ent}:department")] = json!("Retail");
    assert!(diff(&stored, &put, &s).unwrap().is_empty());
    put[format!("{ent}:department")] = json!("Sales");
    assert_eq!(
        diff(&stored, &put, &s).unwrap().to_json()["Operations"],
        json!([{"op": "replace", "path": format!("{ent}:department"), "value": "Sales"}])
    );
}

#[test]
fn diffs_and_applies_keep_read_only_integer_and_simple_value_rules() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    // a diff never adds read-only sub-attributes the applier would refuse
    let mut new = user();
    new[ent] = json!({"manager": {"value": "m1", "displayName": "Boss"}});
    let d = diff(&user(), &new, &s).unwrap();
    let out = apply(&user(), &d, &s, ApplyOptions::default()).unwrap();
    assert_eq!(out[ent]["manager"], json!({"value": "m1"}));
    // a key that is no path fails the diff only when it changed
    let mut odd = user();
    odd["@odata.type"] = json!("x");
    assert!(diff(&odd, &odd, &s).unwrap().is_empty());
    // integers written as 5.0 are integers
    let mut reg2 = Registry::core();
    reg2.load_extensions(r#"{"id":"urn:x:Score:2.0:User","attributes":[{"name":"score","type":"integer"}]}"#, None)
        .unwrap();
    let s2 = reg2.resource("User").unwrap();
    let p = op(json!([{"op": "add", "path": "urn:x:Score:2.0:User:score", "value": 5.0}]));
    assert!(apply(&user(), &p, &s2, ApplyOptions::default()).is_ok());
    let p = op(json!([{"op": "add", "path": "urn:x:Score:2.0:User:score", "value": 5.5}]));
    assert_eq!(apply(&user(), &p, &s2, ApplyOptions::default()).unwrap_err().scim_type, ScimType::InvalidValue);
    // simple multi-valued values are addressed as `value`
    let tagged = json!({"userName": "u", "tags": ["a", "b"]});
    let out =
        apply(&tagged, &op(json!([{"op": "remove", "path": "tags[value eq \"a\"]"}])), &s, ApplyOptions::default())
            .unwrap();
    assert_eq!(out["tags"], json!(["b"]));
}

mod batched;
mod equal;
