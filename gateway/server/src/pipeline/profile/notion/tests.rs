use super::*;
use scim_core::filter::Mode;

fn renamed(text: &str) -> String {
    let mut q = RewrittenQuery {
        filter: Some(Filter::parse_with(text, Mode::Strict).unwrap()),
        attributes: None,
        excluded_attributes: None,
        sort_by: None,
    };
    filter("User", &mut q);
    q.filter.unwrap().to_string()
}

#[test]
fn user_filters_use_notions_attributes() {
    assert_eq!(renamed(r#"userName eq "a@x.com""#), r#"email eq "a@x.com""#);
    assert_eq!(renamed(r#"emails[type eq "work"].value eq "a@x.com""#), r#"email eq "a@x.com""#);
    assert_eq!(renamed(r#"emails.value eq "a@x.com""#), r#"email eq "a@x.com""#);
    assert_eq!(
        renamed(r#"name.givenName eq "Jane" and name.familyName eq "Doe""#),
        r#"given_name eq "Jane" and family_name eq "Doe""#
    );
    assert_eq!(renamed(r#"externalId eq "x""#), r#"externalId eq "x""#, "others pass as they are");
}

#[test]
fn group_filters_are_left_alone() {
    let mut q = RewrittenQuery {
        filter: Some(Filter::parse_with(r#"displayName eq "Eng""#, Mode::Strict).unwrap()),
        attributes: None,
        excluded_attributes: None,
        sort_by: None,
    };
    filter("Group", &mut q);
    assert_eq!(q.filter.unwrap().to_string(), r#"displayName eq "Eng""#);
}

#[test]
fn the_idp_role_is_the_primary_one_else_the_first() {
    let roles = serde_json::json!([{"value": "Guest"}, {"value": "Admin", "primary": true}]);
    assert_eq!(idp_role(&roles).as_deref(), Some("Admin"));
    assert_eq!(idp_role(&serde_json::json!([{"value": "Guest"}])).as_deref(), Some("Guest"));
    assert_eq!(
        idp_role(&serde_json::json!({"value": "Guest"})).as_deref(),
        Some("Guest"),
        "Entra's decoded single role"
    );
    assert_eq!(idp_role(&serde_json::json!([])), None);
}
