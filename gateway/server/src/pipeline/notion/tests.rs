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
fn paging_reads_the_last_count_and_start_index() {
    let p = |q: &[(&str, &str)]| paging(&q.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>());
    assert_eq!(p(&[("count", "10"), ("count", "250"), ("startIndex", "3")]), (Some(250), 3));
    assert_eq!(p(&[("startIndex", "0")]), (None, 1), "startIndex below 1 is 1");
    assert_eq!(p(&[("count", "lots")]), (None, 1));
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
