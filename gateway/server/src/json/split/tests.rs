use super::*;
use crate::json::{document_keeping, to_vec_with};
use crate::pipeline::aside::{Keeper, TextMembers};
use scim_core::normalize::{Normalizer, Preset};
use scim_core::schema::ENTERPRISE_URN;
use scim_core::schema::Registry;
use scim_mapper::Footprint;

/// Splits `text` as a User body with nothing touched by rules; returns
/// the tree and the kept members' keys and texts.
fn split_user(text: &str) -> Result<(Value, Vec<(String, String)>), Refused> {
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
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
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
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
fn a_built_key_given_twice_keeps_its_first_place_and_its_last_value_beside_kept_members() {
    let text = r#"{"active":true,"x-own":1,"title":"t","active":false,"nickName":"n"}"#;
    let (tree, kept) = split_user(text).unwrap();
    assert_eq!(keys(&kept), ["title", "nickName"]);
    let plain = within(text, 64).unwrap();
    let built: Vec<&String> = tree.as_object().unwrap().keys().collect();
    assert_eq!(built, ["active", "x-own"]);
    assert_eq!((&tree["active"], &tree["x-own"]), (&plain["active"], &plain["x-own"]));
    assert_eq!(tree["active"], false);
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
    let ext = r#"{"title":"a","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"d"}"#;
    let (tree, kept) = split_user(&format!("{ext}}}")).unwrap();
    assert!(kept.is_empty(), "a kept extension must be listed in schemas (normalization lists it): {tree}");
    let listed = format!(r#"{ext},"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","{ENTERPRISE_URN}"]}}"#);
    let kept = split_user(&listed).unwrap().1;
    assert_eq!(keys(&kept), ["title", ENTERPRISE_URN], "an extension's own id names no core attribute");
    let (_, kept) = split_user(&listed.replace("2.0:User\"]", "2.0:USER\"]")).unwrap();
    assert_eq!(keys(&kept), ["title", ENTERPRISE_URN], "listed in another case");
}

#[test]
fn kept_members_next_to_each_other_are_written_as_one_run_of_the_body() {
    let text = "{ \"schemas\" : [\"urn:ietf:params:scim:schemas:core:2.0:User\"] ,\n \"title\" :\t\"Boss\" ,\
                \"active\":true, \"phoneNumbers\" : [ {\"value\": \"1\", \"primary\" : true} ] ,\"nickName\":\"b\"\n}\n";
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
    let keeper = Keeper::new(schema, &members);
    let (tree, aside) = document_keeping(&bytes::Bytes::from(text), 64, &keeper).unwrap();
    let written = String::from_utf8(to_vec_with(&tree, &aside).unwrap()).unwrap();
    let runs = [r#""title" :	"Boss""#, r#""phoneNumbers" : [ {"value": "1", "primary" : true} ] ,"nickName":"b""#];
    assert!(written.ends_with(&format!(",{},{}}}", runs[0], runs[1])), "after the built ones, as sent: {written}");
    assert_eq!(crate::json::from_bytes(written.as_bytes()).unwrap(), within(text, 64).unwrap());
}

#[test]
fn a_key_with_escapes_is_built_and_the_members_beside_it_stay_text() {
    let text = r#"{"title":"a","nick\u004eame":"b","locale":"c"}"#;
    let (tree, kept) = split_user(text).unwrap();
    assert_eq!(keys(&kept), ["title", "locale"]);
    assert_eq!(tree, serde_json::json!({"nickName": "b"}), "read as serde_json reads it, and built");
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
    let keeper = Keeper::new(schema, &members);
    let (tree, aside) = document_keeping(&bytes::Bytes::from(text), 64, &keeper).unwrap();
    let written = crate::json::from_bytes(&to_vec_with(&tree, &aside).unwrap()).unwrap();
    assert_eq!(written, within(text, 64).unwrap());
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
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
    let keeper = Keeper::new(schema, &members);
    let body = bytes::Bytes::from(text);
    assert!(matches!(document_keeping(&body, 2, &keeper), Err(Refused::TooDeep)), "the array of objects is too deep");
    // An extension's array of objects goes a level deeper: below that,
    // every member is built.
    let (_, aside) = document_keeping(&body, 3, &keeper).unwrap();
    assert_eq!(aside.members().count(), 0);
    let (_, aside) = document_keeping(&body, 4, &keeper).unwrap();
    assert_eq!(aside.members().count(), 2);
}

/// Keeps members under `title` or `nickName`, and says no built member
/// names one otherwise (the current resource keeps the keys the body
/// kept: this only answers `names_kept`).
struct AnyValue(scim_core::schema::Attribute);

impl Keep for AnyValue {
    fn may_keep(&self, key: &str) -> Option<usize> {
        matches!(key, "title" | "nickName").then_some(0)
    }

    fn left(&self, _: usize, text: &str) -> Option<usize> {
        scim_core::normalize::left_prefix(&self.0, text)
    }
}

#[test]
fn a_current_member_is_kept_when_it_is_the_sent_tokens_and_else_parsed_as_the_plain_parse_would() {
    let reg = Registry::core();
    let title = reg.resource("User").unwrap().core_attribute("title").unwrap().clone();
    let keep = AnyValue(title);
    let body = br#"{"title":{"deep":[null,1.5,"\u00e9"]}}"#;
    let members = vec![Place { key: 2..7, value: 9..body.len() - 1, which: 0 }];
    let sent = Aside { text: bytes::Bytes::from_static(body), members, stripped: 0 };
    assert_eq!(sent.member(0), Some((&b"title"[..], &br#"{"deep":[null,1.5,"\u00e9"]}"#[..])));
    let paired = |text: &str| crate::json::document_paired(&bytes::Bytes::from(text.to_owned()), &sent, &keep);
    let (tree, p) = paired("{\"title\": {\"deep\": [null, 1.5, \"\\u00e9\"]},\n\"id\":\"x\"}").unwrap();
    assert_eq!((p.same.members().count(), tree), (1, serde_json::json!({"id": "x"})), "the same tokens stay text");
    let (tree, p) = paired(r#"{"title":{"deep":[]},"id":"x"}"#).unwrap();
    assert!(p.same.is_empty());
    assert_eq!(tree, serde_json::json!({"id": "x", "title": {"deep": []}}), "another value is built");
    // Each of these the plain parse refuses, and so does the pairing.
    const PARSE_DEPTH: usize = PARSER_MAX_DEPTH;
    let deep = format!("{{\"title\":{}1{}}}", "[".repeat(127), "]".repeat(127));
    let texts = [
        r#"{"title":"x\ud83d"}"#,
        r#"{"title":[1e400]}"#,
        r#"{"nickName":{"a\udc00":1}}"#,
        r#"{"title":{"deep":[nu ll,1.5,"\u00e9"]}}"#,
        r#"{"title":{"deep":[null,1.5,"\u00e9"]}"#,
        r#"{"title":{"deep":[null,1.5,"\u00e9"]},}"#,
        &deep,
    ];
    for text in texts {
        assert!(paired(text).is_none(), "refused as the plain parse refuses it: {text}");
        assert!(within(text, PARSE_DEPTH).is_err(), "{text}");
    }
}

#[test]
fn the_sent_members_are_paired_with_the_current_ones_of_the_same_tokens_and_the_rest_stay_on_their_sides() {
    let reg = Registry::core();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Generic));
    let keeper = Keeper::new(schema, &members);
    let sent = r#"{"title":"A","locale":"en","nickName":"n"}"#;
    let (_, sent) = document_keeping(&bytes::Bytes::from(sent), 64, &keeper).unwrap();
    let current = bytes::Bytes::from(r#"{"id":"1","locale": "en" ,"title":"B"}"#);
    let (tree, paired) = crate::json::document_paired(&current, &sent, &keeper).unwrap();
    let keys = |a: &Aside| a.members().map(|(k, _)| k.to_owned()).collect::<Vec<_>>();
    assert_eq!(keys(&paired.same), ["locale"]);
    assert_eq!(keys(&paired.desired), ["title", "nickName"]);
    assert_eq!(tree, serde_json::json!({"id": "1", "title": "B"}), "the current member that differs is built");
}

#[test]
fn two_kept_members_of_one_kind_are_a_repeat_and_a_kind_past_64_counts_as_one() {
    let kept = |kinds: &[usize]| -> Vec<Place> {
        kinds.iter().map(|&which| Place { key: 0..0, value: 0..0, which }).collect()
    };
    for (kinds, repeat) in [
        (&[][..], false),
        (&[0, 1, 2][..], false),
        (&[0, 1, 0][..], true),
        (&[63, 0, 62][..], false),
        (&[5, 63, 5][..], true),
        (&[64][..], true),
    ] {
        assert_eq!(kinds_repeat(kept(kinds).iter()), repeat, "{kinds:?}");
    }
}

#[test]
fn an_extension_of_an_idps_own_stays_text_three_deep_on_entra_and_pairs_with_the_current_one() {
    const ACME: &str = "urn:acme:params:scim:schemas:extension:acme:2.0:User";
    let mut reg = Registry::core();
    let badge = r#"{"name":"badges","type":"complex","multiValued":true,"subAttributes":[{"name":"value"}]}"#;
    reg.load_extensions(&format!(r#"{{"id":"{ACME}","attributes":[{badge}]}}"#), Some("User")).unwrap();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::new(&schema, &Footprint::Tops(Vec::new()), &Normalizer::new(Preset::Entra));
    let keeper = Keeper::new(schema, &members);
    let text = format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","{ACME}"],"title":"a","{ACME}":{{"badges":[{{"value":"b"}}]}}}}"#
    );
    let body = bytes::Bytes::from(text.clone());
    let (tree, aside) = document_keeping(&body, 64, &keeper).unwrap();
    let kept: Vec<&str> = aside.members().map(|(k, _)| k).collect();
    assert_eq!(kept, ["title", ACME]);
    let written = crate::json::from_bytes(&to_vec_with(&tree, &aside).unwrap()).unwrap();
    assert_eq!(written, within(&text, 64).unwrap());
    assert!(matches!(document_keeping(&body, 3, &keeper), Err(Refused::TooDeep)), "the body is four deep");
    assert!(matches!(within(&text, 3), Err(Refused::TooDeep)), "as the plain parse says");
    let (_, aside) = document_keeping(&body, 4, &keeper).unwrap();
    assert_eq!(aside.members().count(), 2, "the bound is just enough: kept");
    // The current resource of a PUT sent as a PATCH: the same tokens are
    // paired and left out; another value is built.
    let (_, sent) = document_keeping(&body, 64, &keeper).unwrap();
    let current = format!(
        r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","{ACME}"],"id":"1","{ACME}": {{ "badges" : [ {{"value":"b"}} ] }},"title":"z"}}"#
    );
    let (tree, paired) = crate::json::document_paired(&bytes::Bytes::from(current.clone()), &sent, &keeper).unwrap();
    let same: Vec<&str> = paired.same.members().map(|(k, _)| k).collect();
    assert_eq!(same, [ACME]);
    assert_eq!(tree["title"], "z", "the member that differs is built");
    let other = current.replace(r#""value":"b""#, r#""value":"c""#);
    let (tree, paired) = crate::json::document_paired(&bytes::Bytes::from(other), &sent, &keeper).unwrap();
    assert!(paired.same.is_empty());
    assert_eq!(tree[ACME]["badges"][0]["value"], "c");
}

#[test]
fn names_the_same_in_any_case_share_a_sign_and_most_others_do_not() {
    let upper = ENTERPRISE_URN.to_uppercase();
    for (a, b) in [("title", "TITLE"), ("userName", "USERNAME"), ("x", "X"), ("", ""), (ENTERPRISE_URN, &upper)] {
        assert!(scim_core::schema::same_name(a.as_bytes(), b.as_bytes()), "{a} / {b}");
        assert_eq!(sign(a.as_bytes()), sign(b.as_bytes()), "{a} / {b}");
    }
    let names = ["schemas", "userName", "name", "displayName", "active", "emails", "nickName", "title", "locale"];
    let signs: std::collections::HashSet<u64> = names.iter().map(|n| sign(n.as_bytes())).collect();
    assert_eq!(signs.len(), names.len(), "each of a User's usual keys has its own sign");
}
