use super::*;
use crate::json::{document_keeping, to_vec_with};
use crate::pipeline::aside::{Keeper, TextMembers};
use scim_core::schema::Registry;
use scim_mapper::Footprint;

/// Splits `text` as a User body with nothing touched by rules; returns
/// the tree and the kept members' keys and texts.
fn split_user(text: &str) -> Result<(Value, Vec<(String, String)>), Refused> {
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()));
    let keeper = Keeper::new(schema, &members);
    let (tree, aside) = document_keeping(&bytes::Bytes::from(text.to_owned()), 64, &keeper)?;
    let kept = aside.members().map(|(k, t)| (k.to_owned(), String::from_utf8_lossy(t).into_owned())).collect();
    Ok((tree, kept))
}

fn keys(kept: &[(String, String)]) -> Vec<&str> {
    kept.iter().map(|(k, _)| k.as_str()).collect()
}

#[test]
fn members_normalization_leaves_stay_text_spaces_and_all() {
    let text = "{ \"schemas\" : [\"urn:ietf:params:scim:schemas:core:2.0:User\"] ,\n \"title\" :\t\"Boss\" ,\
                \"active\":true, \"phoneNumbers\" : [ {\"value\": \"1\", \"primary\" : true} ] ,\"nickName\":\"b\"\n}\n";
    let (tree, kept) = split_user(text).unwrap();
    assert_eq!(
        kept,
        [
            ("title".to_owned(), "\"Boss\"".to_owned()),
            ("phoneNumbers".to_owned(), "[ {\"value\": \"1\", \"primary\" : true} ]".to_owned()),
            ("nickName".to_owned(), "\"b\"".to_owned()),
        ]
    );
    let built: Vec<&String> = tree.as_object().unwrap().keys().collect();
    assert_eq!(built, ["schemas", "active"], "active is always built");
}

#[test]
fn the_tree_and_the_kept_text_write_what_the_plain_parse_holds() {
    let text = r#"{"userName":"a","title":"x","name":{"givenName":"A"},"emails":[{"value":"a@b","primary":true}],"externalId":"-1"}"#;
    let (tree, kept) = split_user(text).unwrap();
    assert_eq!(keys(&kept), ["userName", "title", "name", "emails", "externalId"]);
    assert_eq!(tree, serde_json::json!({}));
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()));
    let keeper = Keeper::new(schema, &members);
    let (tree, aside) = document_keeping(&bytes::Bytes::from(text), 64, &keeper).unwrap();
    let written = to_vec_with(&tree, &aside).unwrap();
    assert_eq!(written, text.as_bytes(), "all kept, in the order sent: the text itself");
}

#[test]
fn a_member_the_check_does_not_pass_is_built_in_its_place() {
    let text = r#"{"title":null,"nickName":"n","locale":"True","phoneNumbers":[{"VALUE":"1"}],"timezone":"z"}"#;
    let (tree, kept) = split_user(text).unwrap();
    assert_eq!(keys(&kept), ["nickName", "locale", "timezone"], "a string is fine where no boolean is due");
    let plain = within(text, 64).unwrap();
    let built: Vec<&String> = tree.as_object().unwrap().keys().collect();
    assert_eq!(built, ["title", "phoneNumbers"]);
    assert_eq!(tree["title"], plain["title"]);
    assert_eq!(tree["phoneNumbers"], plain["phoneNumbers"]);
}

#[test]
fn an_attribute_named_twice_or_a_urn_key_builds_everything() {
    for text in [
        r#"{"title":"a","title":"b"}"#,
        r#"{"title":"a","TITLE":"b"}"#,
        r#"{"Title":"b","title":"a"}"#,
        r#"{"title":"a","urn:ietf:params:scim:schemas:core:2.0:User:title":"b"}"#,
        r#"{"urn:ietf:params:scim:schemas:core:2.0:User":{"title":"b"},"title":"a"}"#,
        r#"{"title":"a","URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER":{}}"#,
        r#"{"title":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"d"}"#,
        r#"{"title":"a","ti\u0074le":"b"}"#,
        r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","TITLE"],"title":"a"}"#,
        r#"{"title":"a","Schemas":["title"]}"#,
    ] {
        let (tree, kept) = split_user(text).unwrap();
        assert!(kept.is_empty(), "{text}: {kept:?}");
        assert_eq!(tree.to_string(), within(text, 64).unwrap().to_string(), "{text}");
    }
    let ext = r#"{"title":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d"}}"#;
    assert_eq!(keys(&split_user(ext).unwrap().1), ["title"], "an extension's own id names no core attribute");
}

#[test]
fn a_key_with_escapes_next_to_a_kept_member_builds_everything() {
    let text = r#"{"title":"a","nick\u004eame":"b","locale":"c"}"#;
    let (tree, kept) = split_user(text).unwrap();
    assert!(kept.is_empty());
    assert_eq!(tree.to_string(), within(text, 64).unwrap().to_string());
}

#[test]
fn broken_or_too_deep_text_is_refused_as_the_plain_parse_refuses_it() {
    let deep = format!(r#"{{"title":"a","x":{}1{}}}"#, "[".repeat(70), "]".repeat(70));
    for text in [
        r#"{"title":"a""#,
        r#"{"title":"a",}"#,
        r#"{"title":"\ud800"}"#,
        r#"{"title":"a"} x"#,
        r#"{"phoneNumbers":[{"value":"1"}"#,
        r#"{"title" "a"}"#,
        r#"["title"]"#,
        "",
        deep.as_str(),
    ] {
        let split = split_user(text).map(|(tree, kept)| (tree.to_string(), kept));
        let plain = within(text, 64).map(|tree| (tree.to_string(), Vec::new()));
        match (split, plain) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(Refused::TooDeep), Err(Refused::TooDeep)) => {}
            (Err(Refused::Json(a)), Err(Refused::Json(b))) => assert_eq!(a.to_string(), b.to_string(), "{text}"),
            (a, b) => panic!("{text}: split {a:?}, plain {b:?}"),
        }
    }
}

#[test]
fn nothing_stays_text_where_the_depth_bound_leaves_no_room_for_it() {
    let text = r#"{"phoneNumbers":[{"value":"1"}],"title":"a"}"#;
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()));
    let keeper = Keeper::new(schema, &members);
    let body = bytes::Bytes::from(text);
    assert!(matches!(document_keeping(&body, 2, &keeper), Err(Refused::TooDeep)), "the array of objects is too deep");
    let (_, aside) = document_keeping(&body, 3, &keeper).unwrap();
    assert_eq!(aside.members().count(), 2);
}

/// Keeps every member under `title` or `nickName`, any value (as the
/// current resource of a PUT sent as a PATCH does).
struct AnyValue(Attribute);

impl Keep for AnyValue {
    fn may_keep(&self, key: &str) -> Option<usize> {
        matches!(key, "title" | "nickName").then_some(0)
    }

    fn attribute(&self, _: usize) -> Option<&Attribute> {
        Some(&self.0)
    }

    fn checks(&self) -> Checks {
        Checks::Nothing
    }
}

#[test]
fn a_member_kept_without_a_check_still_holds_to_what_the_parse_takes() {
    let reg = Registry::core();
    let title = reg.resource("User").unwrap().core_attribute("title").unwrap().clone();
    let keep = AnyValue(title);
    let split = |text: &str| document_keeping(&bytes::Bytes::from(text.to_owned()), PARSE_DEPTH, &keep);
    const PARSE_DEPTH: usize = crate::json::PARSER_MAX_DEPTH;
    let (_, aside) = split(r#"{"title":{"deep":[null,1.5,"\u00e9"]},"id":"x"}"#).unwrap();
    assert_eq!(aside.members().count(), 1, "any JSON stays text");
    // serde_json skips each of these without a word; its parse refuses them.
    let deep = format!("{{\"title\":{}1{}}}", "[".repeat(127), "]".repeat(127));
    for text in [r#"{"title":"x\ud83d"}"#, r#"{"title":[1e400]}"#, r#"{"nickName":{"a\udc00":1}}"#, &deep] {
        assert!(split(text).is_err(), "refused as the plain parse refuses it: {text}");
        assert!(within(text, PARSE_DEPTH).is_err(), "{text}");
    }
}
