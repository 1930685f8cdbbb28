use super::*;
use scim_core::filter::Mode;
use scim_core::patch::PATCH_URN;
use serde_json::json;

fn filter_ok(rt: &str, text: &str) -> bool {
    lists::check_filter(rt, &scim_core::Filter::parse_with(text, Mode::Strict).unwrap()).is_ok()
}

#[test]
fn only_eq_joined_by_and_on_what_aws_filters_on_is_sent() {
    assert!(filter_ok("User", r#"userName eq "a@x.com""#));
    assert!(filter_ok("User", r#"externalId eq "1" and userName eq "a""#));
    assert!(!filter_ok("User", r#"groups.value eq "g""#), "only what AWS confirms");
    assert!(filter_ok("Group", r#"id eq "g" and members eq "u""#));
    assert!(filter_ok("Group", r#"members.value eq "u""#));
    assert!(!filter_ok("User", r#"userName sw "a""#));
    assert!(!filter_ok("User", r#"userName eq "a" or userName eq "b""#));
    assert!(!filter_ok("User", r#"emails[type eq "work"].value eq "a""#));
    assert!(!filter_ok("User", r#"displayName eq "a""#));
}

#[test]
fn a_user_keeps_one_value_of_each_list_and_loses_what_aws_refuses() {
    let user = json!({
        "userName": "a", "displayName": "A", "name": {"givenName": "A", "familyName": "B"},
        "emails": [{"value": "x@y", "display": "X"}, {"value": "a@y", "primary": true}],
        "password": "p", "photos": [{"value": "u"}],
        ENTERPRISE: {"manager": {"value": "m", "displayName": "M"}}
    });
    let out = users::resource(user, Intent::Provision).unwrap();
    assert_eq!(out["emails"], json!([{"value": "a@y", "primary": true}]));
    assert!(out.get("password").is_none() && out.get("photos").is_none());
    assert_eq!(out[ENTERPRISE]["manager"], json!({"value": "m"}));
}

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[test]
fn a_user_without_a_required_attribute_is_told_which_unless_it_deprovisions() {
    let user = json!({"userName": "a", "displayName": "A", "name": {"givenName": "A"}});
    let e = users::resource(user.clone(), Intent::Provision).unwrap_err();
    assert_eq!(e.status(), StatusCode::BAD_REQUEST);
    assert!(e.to_string().contains("no name.familyName"), "{e}");
    assert!(users::resource(user, Intent::Deprovision).is_ok(), "a deactivation is never refused here");
}

#[test]
fn a_user_patch_is_one_operation_per_attribute_with_one_on_active() {
    let body = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "replace", "value": {"displayName": "A", "active": true, ENTERPRISE: {"department": "R"}}},
        {"op": "replace", "path": "active", "value": false},
        {"op": "add", "path": "password", "value": "p"},
    ]});
    let out = users::patch(body).unwrap();
    let paths: Vec<&str> = out["Operations"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["displayName", format!("{ENTERPRISE}:department").as_str(), "active"]);
    assert_eq!(out["Operations"][2]["value"], false, "the last operation on active stays");
}

#[test]
fn a_group_patch_touches_only_what_aws_lets_it() {
    let body = json!({"schemas": [PATCH_URN], "Operations": [
        {"op": "add", "value": {"members": [{"value": "u"}], "description": "x"}},
        {"op": "replace", "path": "displayName", "value": "Eng"},
    ]});
    let out = users::group_patch(body).unwrap();
    let paths: Vec<&str> = out["Operations"].as_array().unwrap().iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["members", "displayName"]);
}

#[test]
fn aws_errors_are_put_in_rfc_7644s_shape() {
    let aws = json!({"schema": "urn:ietf:params:scim:api:messages:2.0:Error", "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409", "detail": "Duplicate", "exceptionRequestId": "req-1", "timeStamp": "2026-01-01"});
    let out = rfc_error(StatusCode::CONFLICT, aws);
    assert_eq!(out["scimType"], "uniqueness");
    assert!(out.get("schema").is_none() && out.get("timeStamp").is_none() && out.get("exceptionRequestId").is_none());
    assert_eq!(out["detail"], "Duplicate (AWS request id req-1)");
}
