use super::*;
use crate::schema::Registry;
use proptest::prelude::*;
use serde_json::json;

fn p(s: &str) -> Filter {
    Filter::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn err(s: &str) -> String {
    Filter::parse(s).unwrap_err().detail
}

#[test]
fn precedence_not_over_and_over_or() {
    assert_eq!(p("a eq 1 or b eq 2 and c eq 3").to_string(), "a eq 1 or b eq 2 and c eq 3");
    assert!(matches!(p("a eq 1 or b eq 2 and c eq 3"), Filter::Or(_, r) if matches!(*r, Filter::And(..))));
    assert!(matches!(p("a eq 1 and b eq 2 or c eq 3"), Filter::Or(l, _) if matches!(*l, Filter::And(..))));
    assert!(matches!(p("not (a pr) and b pr"), Filter::And(l, _) if matches!(*l, Filter::Not(..))));
    assert_eq!(p("(a eq 1 or b eq 2) and c eq 3").to_string(), "(a eq 1 or b eq 2) and c eq 3");
    assert_eq!(p("a pr and (b pr and c pr)").to_string(), "a pr and (b pr and c pr)");
    assert_eq!(p("((a pr))").to_string(), "a pr");
}

#[test]
fn names_and_operators_are_case_insensitive() {
    assert_eq!(
        p("userName EQ \"x\" AND title Pr OR NOT (x Ne 1)").to_string(),
        "userName eq \"x\" and title pr or not (x ne 1)"
    );
}

#[test]
fn literals_are_json() {
    let f = p(r#"a eq "q\"uo\\te\u00e9" or b eq -1.5e3 or c eq true or d eq null or e eq False"#);
    assert_eq!(f.to_string(), r#"a eq "q\"uo\\teé" or b eq -1500.0 or c eq true or d eq null or e eq false"#);
}

#[test]
fn value_paths_and_urns() {
    let f = p(r#"emails[type eq "work" and value co "@example.com"].value ew ".com""#);
    assert_eq!(f.to_string(), r#"emails[type eq "work" and value co "@example.com"].value ew ".com""#);
    let f = p("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x\"");
    let Filter::Compare { path, .. } = f else { panic!() };
    assert_eq!(path.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
    assert_eq!((path.name.as_str(), path.sub.as_deref()), ("manager", Some("value")));
}

#[test]
fn errors_say_where() {
    assert_eq!(err("userName eq"), "invalid filter at column 12: expected a value, found the end");
    assert_eq!(
        err("userName xx \"a\""),
        "invalid filter at column 10: unknown operator \"xx\" (eq, ne, co, sw, ew, gt, ge, lt, le, pr)"
    );
    assert_eq!(err("(a pr"), "invalid filter at column 6: expected ')', found the end");
    assert_eq!(err("a pr b pr"), "invalid filter at column 6: expected \"and\", \"or\" or the end of the filter");
    assert_eq!(
        err("externalId eq jyoung"),
        "invalid filter at column 15: expected a JSON value; quote strings (\"...\")"
    );
    assert_eq!(err("a eq \"open"), "invalid filter at column 6: unterminated string literal");
    assert_eq!(err("not a pr"), "invalid filter at column 5: expected '(' after \"not\"");
    assert_eq!(
        err("emails[type eq \"w\""),
        "invalid filter at column 19: expected ']' to close the value filter, found the end"
    );
    assert_eq!(err("   "), "the filter is empty");
    assert_eq!(err("a eq x\u{0}y"), "invalid filter at column 7: control character outside a string literal");
    assert!(Filter::parse_with("a eq 0\u{0}meta", Mode::Lenient).is_err(), "no control characters in unquoted values");
    assert!(err("9abc eq 1").contains("column 1"));
    let e = Filter::parse("a eq").unwrap_err();
    assert_eq!((e.status(), e.scim_type.as_str()), (400, "invalidFilter"));
}

#[test]
fn lenient_mode_reads_unquoted_values() {
    let f = Filter::parse_with("externalId eq jyoung and userName eq jane@x.com", Mode::Lenient).unwrap();
    assert_eq!(f.to_string(), "externalId eq \"jyoung\" and userName eq \"jane@x.com\"");
    assert_eq!(Filter::parse_with("n eq 42", Mode::Lenient).unwrap().to_string(), "n eq 42");
}

#[test]
fn limits_hold() {
    let deep = format!("{}a pr{}", "(".repeat(40), ")".repeat(40));
    assert!(err(&deep).contains("nested deeper than"));
    let many = vec!["a pr"; MAX_FILTER_TERMS + 1].join(" and ");
    assert!(err(&many).contains("more than 256"));
    let long = format!("a eq \"{}\"", "x".repeat(MAX_FILTER_LEN));
    assert!(err(&long).contains("longer than"));
    let ok = vec!["a pr"; MAX_FILTER_TERMS].join(" or ");
    assert!(Filter::parse(&ok).is_ok());
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "BJensen",
        "userName": "bjensen@example.com",
        "name": {"familyName": "O'Malley", "givenName": "Barbara"},
        "title": "Tour Guide",
        "userType": "Employee",
        "active": true,
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}, {"value": "babs@jensen.org", "type": "home"}],
        "meta": {"lastModified": "2011-05-13T04:42:34Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "manager": {"value": "26118915"}}
    })
}

#[test]
fn evaluation_follows_the_schema() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let m = |f: &str| p(f).matches(&user(), Some(&s));
    assert!(m("USERNAME eq \"BJENSEN@example.com\""), "userName is not caseExact");
    assert!(!m("externalId eq \"bjensen\""), "externalId is caseExact");
    assert!(m("externalId eq \"BJensen\""));
    assert!(m("name.familyName co \"malley\""));
    assert!(m("title pr and not (nickName pr)"));
    assert!(m("emails co \"jensen.org\""), "multi-valued complex compares its value");
    assert!(m("emails[type eq \"work\" and primary eq true].value eq \"bjensen@example.com\""));
    assert!(!m("emails[type eq \"home\"].value eq \"bjensen@example.com\""));
    assert!(m("emails.type eq \"home\""));
    assert!(m("meta.lastModified gt \"2011-05-13T04:42:33+00:00\""), "dateTime compares as time");
    assert!(!m("meta.lastModified gt \"2011-05-13T06:42:35+02:00\""));
    assert!(m("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"26118915\""));
    assert!(m("urn:ietf:params:scim:schemas:core:2.0:User:userName sw \"bj\""));
    assert!(m("active eq true") && !m("active eq false") && !m("active gt true"));
    assert!(m("nickName ne \"x\"") && !m("userName ne \"bjensen@example.com\""));
    assert!(m("nickName eq null") && m("title ne null"));
    assert!(m("schemas eq \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\""));
    assert!(m(
        "userName gt \"a\" and userName lt \"c\" and userName ge \"bjensen@example.com\" and userName le \"bjensen@example.com\""
    ));
    assert!(!m("emails[type eq \"work\"] and title eq \"nope\""));
}

#[test]
fn validation_rejects_bad_operators_for_types() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    assert!(p("active gt true").validate(&s).is_err());
    assert!(p("emails[primary lt true]").validate(&s).is_err());
    assert!(p("name eq \"x\"").validate(&s).is_err());
    assert!(p("name.givenName eq \"x\" and emails[type eq \"w\"]").validate(&s).is_ok());
    assert_eq!(p("active ge false").validate(&s).unwrap_err().scim_type, crate::ScimType::InvalidFilter);
}

fn arb_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("userName".to_owned()),
        Just("title".to_owned()),
        Just("x-custom_1".to_owned()),
        "[a-zA-Z][a-zA-Z0-9_-]{0,8}".prop_filter("keyword", |s| {
            !["and", "or", "not", "pr", "true", "false", "null"].contains(&s.to_ascii_lowercase().as_str())
        }),
    ]
}

fn arb_path() -> impl Strategy<Value = AttrPath> {
    let urn = prop_oneof![
        3 => Just(None),
        1 => Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned())),
    ];
    (urn, arb_name(), proptest::option::of(arb_name())).prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
}

fn arb_literal() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<String>().prop_map(Value::String),
        "[ -~]{0,12}".prop_map(Value::String),
        any::<i64>().prop_map(|n| json!(n)),
        (-1.0e6f64..1.0e6).prop_map(|f| json!(f)),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ]
}

fn arb_op() -> impl Strategy<Value = CompareOp> {
    prop_oneof![
        Just(CompareOp::Eq),
        Just(CompareOp::Ne),
        Just(CompareOp::Co),
        Just(CompareOp::Sw),
        Just(CompareOp::Ew),
        Just(CompareOp::Gt),
        Just(CompareOp::Ge),
        Just(CompareOp::Lt),
        Just(CompareOp::Le),
    ]
}

fn arb_leaf() -> impl Strategy<Value = Filter> {
    prop_oneof![
        (arb_path(), arb_op(), arb_literal()).prop_map(|(path, op, value)| Filter::Compare { path, op, value }),
        arb_path().prop_map(Filter::Present),
    ]
}

fn arb_simple_path() -> impl Strategy<Value = AttrPath> {
    arb_name().prop_map(|name| AttrPath { urn: None, name, sub: None })
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    arb_leaf().prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.clone().prop_map(|a| Filter::Not(Box::new(a))),
            (arb_simple_path(), inner, proptest::option::of((arb_simple_path(), arb_op(), arb_literal()))).prop_map(
                |(path, filter, then)| Filter::ValuePath {
                    path,
                    filter: Box::new(filter),
                    then: then.map(|(path, op, value)| Box::new(Filter::Compare { path, op, value })),
                }
            ),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn print_then_parse_gives_the_same_tree(f in arb_filter()) {
        let printed = f.to_string();
        let parsed = Filter::parse(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&f), "printed: {}", printed);
    }

    #[test]
    fn parsing_never_panics(s in "\\PC{0,64}") {
        let _ = Filter::parse(&s);
        let _ = Filter::parse_with(&s, Mode::Lenient);
    }
}

#[test]
fn string_comparison_folds_case_unless_case_exact() {
    let reg = Registry::core();
    let s = reg.resource("User").unwrap();
    let u = json!({"userName": "Åsa.Öberg@Example.com", "externalId": "AbC", "title": "Ab"});
    let m = |f: &str| p(f).matches(&u, Some(&s));
    assert!(m("userName eq \"åsa.öberg@example.COM\""), "non-ASCII case folds too");
    assert!(m("userName sw \"ÅSA\"") && m("userName ew \"EXAMPLE.COM\"") && m("userName co \"ÖBERG\""));
    assert!(m("title sw \"AB\"") && m("title ew \"aB\"") && !m("title sw \"abc\"") && !m("title ew \"xab\""));
    assert!(m("title lt \"AC\"") && m("title gt \"AA\"") && m("title ge \"ab\"") && m("title le \"aB\""));
    assert!(
        m("externalId eq \"AbC\"")
            && !m("externalId eq \"abc\"")
            && !m("externalId sw \"ab\"")
            && m("externalId ew \"bC\"")
    );
}
