//! What a mapping's rules read and write, per resource type and direction:
//! the attributes the gateway must build from a request body.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use scim_mapper::{Direction, Footprint, MappingSource, Program};

fn compile(text: &str) -> Program {
    let sources = [MappingSource { name: "m.toml", text }];
    scim_mapper::compile(&sources, scim_core::Registry::core()).map(|c| c.program).unwrap()
}

fn tops(p: &Program, rt: &str) -> Vec<String> {
    match p.footprint(rt, Direction::Request) {
        Footprint::Tops(t) => t,
        Footprint::Everything => panic!("a footprint was expected"),
    }
}

#[test]
fn okta_to_notion_touches_what_its_rules_name_and_nothing_else() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/okta-to-notion.toml")).unwrap();
    let p = compile(&text);
    let mut t = tops(&p, "User");
    t.sort();
    let mut expected = vec!["emails", "username", "name", "displayname", "password", "groups"];
    expected.push("urn:ietf:params:scim:schemas:extension:okta:2.0:user:fullname");
    expected.sort_unstable();
    assert_eq!(t, expected);
    let f = p.footprint("User", Direction::Request);
    assert!(f.touches("userName") && f.touches("USERNAME") && !f.touches("title") && !f.touches("phoneNumbers"));
    assert_eq!(p.footprint("Group", Direction::Request), Footprint::Tops(Vec::new()), "no Group rules");
}

#[test]
fn conditions_templates_renames_and_each_count_as_touching() {
    let p = compile(
        r#"version = 1
[[User.request]]
target = "nickName"
template = "{name.givenName}"
when = 'title eq "x"'
[[User.request]]
rename = "locale"
to = "preferredLanguage"
[[User.request]]
target = "phoneNumbers.value"
from = "phoneNumbers.value"
transforms = ["trim"]
"#,
    );
    let mut t = tops(&p, "User");
    t.sort();
    assert_eq!(t, ["locale", "name", "nickname", "phonenumbers", "preferredlanguage", "title"]);
}

#[test]
fn a_jsonpath_from_the_root_touches_everything() {
    let p = compile("version = 1\n[[User.request]]\ntarget = \"nickName\"\nfrom = \"$..value\"\n");
    assert_eq!(p.footprint("User", Direction::Request), Footprint::Everything);
    assert!(p.footprint("User", Direction::Request).touches("anything"));
}

#[test]
fn a_jsonpath_that_names_the_root_again_in_a_filter_touches_everything() {
    for from in ["$.emails[?@.type == $.userType].value", "$.emails[?$.title].value"] {
        let p = compile(&format!("version = 1\n[[User.request]]\ntarget = \"displayName\"\nfrom = '{from}'\n"));
        assert_eq!(p.footprint("User", Direction::Request), Footprint::Everything, "{from}");
    }
    let p = compile(
        "version = 1\n[[User.request]]\ntarget = \"displayName\"\nfrom = '$.emails[?@.type == \"work\"].value'\n",
    );
    assert_eq!(p.footprint("User", Direction::Request), Footprint::Tops(vec!["emails".into(), "displayname".into()]));
}

#[test]
fn an_extension_is_touched_by_a_rule_on_any_of_its_attributes_in_any_case() {
    const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/okta-to-notion.toml")).unwrap();
    let notion = compile(&text).footprint("User", Direction::Request);
    assert!(!notion.touches_extension(ENTERPRISE), "okta-to-notion reads the Okta extension only");
    assert!(notion.touches_extension("urn:ietf:params:scim:schemas:extension:okta:2.0:User"));
    assert!(!notion.touches_extension("urn:ietf:params:scim:schemas:extension:okta:2"), "a prefix within a part");
    let division = format!("version = 1\n[[User.request]]\ntarget = \"{ENTERPRISE}:division\"\nfrom = \"userType\"\n");
    let p = compile(&division);
    assert!(p.footprint("User", Direction::Request).touches_extension(ENTERPRISE));
    assert!(p.footprint("User", Direction::Request).touches_extension(&ENTERPRISE.to_ascii_uppercase()));
    let manager = format!("version = 1\n[[User.request]]\ntarget = \"title\"\nfrom = \"{ENTERPRISE}:manager.value\"\n");
    assert!(compile(&manager).footprint("User", Direction::Request).touches_extension(ENTERPRISE));
    assert!(Footprint::Everything.touches_extension(ENTERPRISE));
    assert!(!Footprint::Tops(vec!["title".into()]).touches_extension(ENTERPRISE));
}

fn discarded(text: &str) -> Vec<String> {
    compile(text).discarded("User", Direction::Request)
}

#[test]
fn okta_to_notion_discards_the_password_the_groups_and_the_names_it_writes() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../mappings/okta-to-notion.toml")).unwrap();
    assert_eq!(discarded(&text), ["displayname", "groups", "password", "username"]);
    assert!(compile(&text).discarded("Group", Direction::Request).is_empty(), "no Group rules");
    assert!(compile(&text).discarded("User", Direction::Response).is_empty(), "no response rules");
}

#[test]
fn an_attribute_is_discarded_while_no_rule_reads_it_or_writes_part_of_it() {
    let remove = "version = 1\n[[User.request]]\nremove = \"password\"\n";
    assert_eq!(discarded(remove), ["password"]);
    let core = "version = 1\n[[User.request]]\nremove = \"urn:ietf:params:scim:schemas:core:2.0:User:Password\"\n";
    assert_eq!(discarded(core), ["password"], "the core schema's URN names the same attribute");
    let twice = format!("{remove}[[User.request]]\nremove = \"PASSWORD\"\n");
    assert_eq!(discarded(&twice), ["password"]);
    for (why, more) in [
        ("written again", "target = \"password\"\nvalue = \"x\"\n"),
        ("written from another attribute", "target = \"password\"\nfrom = \"nickName\"\n"),
        ("written by a template", "target = \"password\"\ntemplate = \"{name.givenName}\"\n"),
    ] {
        let text = format!("{remove}[[User.request]]\n{more}");
        assert_eq!(discarded(&text), ["password"], "{why}");
    }
    for (why, more) in [
        ("read by another rule", "target = \"nickName\"\nfrom = \"password\"\n"),
        ("read by a condition", "target = \"nickName\"\nvalue = \"x\"\nwhen = 'password pr'\n"),
        ("transformed in place", "target = \"password\"\nfrom = \"password\"\ntransforms = [\"trim\"]\n"),
        ("written from itself, with a default", "target = \"password\"\nfrom = \"password\"\ndefault = \"x\"\n"),
        ("written from a list naming itself", "target = \"password\"\nfirst_of = [\"nickName\", \"password\"]\n"),
        ("written by a template of itself", "target = \"password\"\ntemplate = \"x{password}\"\n"),
        ("written on a condition", "target = \"password\"\nvalue = \"x\"\nwhen = 'title pr'\n"),
        ("renamed", "rename = \"password\"\nto = \"nickName\"\n"),
        ("renamed into", "rename = \"nickName\"\nto = \"password\"\n"),
        ("removed on a condition", "remove = \"password\"\nwhen = 'title pr'\n"),
        ("written on create only", "target = \"password\"\nvalue = \"x\"\non = \"create\"\n"),
        ("read from the root by a JSONPath", "target = \"nickName\"\nfrom = \"$..value\"\n"),
    ] {
        let text = format!("{remove}[[User.request]]\n{more}");
        assert!(!discarded(&text).contains(&"password".to_owned()), "{why}: {:?}", discarded(&text));
    }
    for (why, partial) in [
        ("a sub-attribute removed", "remove = \"name.givenName\"\n"),
        ("a sub-attribute written", "target = \"name.formatted\"\nvalue = \"x\"\n"),
        ("one value of many removed", "remove = 'emails[type eq \"work\"]'\n"),
        ("one value of many written", "target = 'emails[type eq \"work\"].value'\nvalue = \"x\"\n"),
        (
            "an extension's attribute",
            "remove = \"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager\"\n",
        ),
        ("transformed in place", "target = \"nickName\"\nfrom = \"nickName\"\ntransforms = [\"lower\"]\n"),
    ] {
        let text = format!("version = 1\n[[User.request]]\n{partial}");
        assert!(discarded(&text).is_empty(), "{why}: {:?}", discarded(&text));
    }
    let other = format!(
        "{remove}[[User.request]]\nremove = \"addresses\"\n[[User.request]]\ntarget = \"title\"\nfrom = \"addresses.locality\"\n"
    );
    assert_eq!(discarded(&other), ["password", "title"], "the reader of `addresses` leaves `password` alone");
    let written = "version = 1\n[[User.request]]\ntarget = \"nickName\"\nfrom = \"title\"\n";
    assert_eq!(discarded(written), ["nickname"], "a write alone discards what came in");
}
