//! The old and the new document side by side (issue 22, point 4): a body
//! parsed whole, normalized, mapped and written, against the same body
//! with members kept as text, on generated bodies, mappings and presets.
//! What reaches the backend (as JSON: the kept members come after the
//! others), the normalizations counted, the rules' report and any error
//! the IdP would get must be the same.

use super::*;
use crate::json::{Refused, document, document_keeping, to_vec, to_vec_with};
use bytes::Bytes;
use proptest::prelude::*;
use scim_core::normalize::{Normalizer, Preset};
use scim_core::schema::Registry;
use scim_mapper::{MapOptions, MappingSource, Operation, Program};
use serde_json::{Value, json};
use std::sync::OnceLock;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The mappings the bodies go through: none, Okta to Notion, one whose
/// rules read, rename and remove attributes a body may keep (and write
/// into the enterprise extension), one whose JSONPath reads the root
/// again inside a filter, and one that writes whole attributes a body
/// may hold (a constant, a multi-valued one from another), which are then
/// left out of the tree unread.
fn programs() -> &'static [Program] {
    static PROGRAMS: OnceLock<Vec<Program>> = OnceLock::new();
    PROGRAMS.get_or_init(|| {
        let notion = include_str!("../../../../../mappings/okta-to-notion.toml");
        let busy = r#"version = 1
[[User.request]]
rename = "locale"
to = "preferredLanguage"
[[User.request]]
target = "nickName"
template = "{title} ({userType})"
when = 'timezone pr'
[[User.request]]
remove = "addresses"
[[User.request]]
target = "phoneNumbers.value"
from = "phoneNumbers.value"
transforms = ["trim"]
[[User.request]]
target = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division"
from = "userType"
"#;
        // A JSONPath that reads the root again inside its filter.
        let rooted =
            "version = 1\n[[User.request]]\ntarget = \"displayName\"\nfrom = '$.emails[?@.type == $.userType].value'\n";
        let writes = r#"version = 1
[[User.request]]
target = "title"
value = "Engineer"
[[User.request]]
target = "ims"
from = "phoneNumbers"
"#;
        ["version = 1\n", notion, busy, rooted, writes]
            .iter()
            .map(|text| {
                let sources = [MappingSource { name: "m.toml", text }];
                scim_mapper::compile(&sources, Registry::core()).unwrap().program
            })
            .collect()
    })
}

/// Okta's create, member by member.
fn okta() -> Vec<(String, Value)> {
    let okta: Value = serde_json::from_str(include_str!("../../../../mapper/benches/okta-user.json")).unwrap();
    okta.as_object().unwrap().clone().into_iter().collect()
}

/// Members a body is drawn from: Okta's create, and keys and shapes the
/// kept path must leave to the plain one.
fn pool() -> Vec<(String, Value)> {
    let mut pool = okta();
    pool.extend([
        ("roles".to_owned(), json!([{"value": "{\"id\":\"r1\",\"displayName\":\"R\"}"}])),
        ("id".to_owned(), json!("abc")),
        ("urn:ietf:params:scim:schemas:core:2.0:User:title".to_owned(), json!("Qualified")),
        (format!("{ENTERPRISE}:department"), json!("Qualified dept")),
        ("manager".to_owned(), json!("m-1")),
        ("x-custom".to_owned(), json!({"a": [1, 2.5, null]})),
        ("profileUrl".to_owned(), json!("https://example.com/\u{e9}\n")),
        ("ims".to_owned(), json!([{"value": "im", "type": "xmpp", "primary": false}])),
        ("schemas".to_owned(), json!(["urn:ietf:params:scim:schemas:core:2.0:User", "TITLE", "locale", "urn:x"])),
        ("userType".to_owned(), json!("work")),
        (ENTERPRISE.to_owned(), json!({"department": "D", "manager": {"value": "m-2"}, "employeeNumber": "7"})),
        (ENTERPRISE.to_owned(), json!({})),
        (ENTERPRISE.to_ascii_lowercase(), json!({"division": "lower"})),
        ("schemas".to_owned(), json!(["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE.to_ascii_lowercase()])),
        // Read-only members, stripped whole: left out unless a null or
        // nesting past the bound has them built.
        ("groups".to_owned(), json!([{"value": "g1", "display": "G", "$ref": "https://x/Groups/g1"}])),
        ("meta".to_owned(), json!({"resourceType": "User", "created": "2024-01-01T00:00:00Z", "x": [[1.5]]})),
        ("meta".to_owned(), json!({"location": null})),
        ("id".to_owned(), json!([[[["deep"]]]])),
        // Members okta-to-notion discards (`password`, `userName` and
        // `displayName`: deleted, or written from other members), and the
        // busy mapping (`addresses`): left out unless normalization would
        // change them.
        ("password".to_owned(), json!(null)),
        ("password".to_owned(), json!({"nested": [1, null]})),
        ("password".to_owned(), json!(" spaced ")),
        ("userName".to_owned(), json!(null)),
        ("userName".to_owned(), json!(" Spaced@Example.COM ")),
        ("displayName".to_owned(), json!(["not", "a", "string"])),
        ("displayName".to_owned(), json!({"a": null})),
        ("addresses".to_owned(), json!([{"type": "work", "primary": "true"}])),
    ]);
    pool
}

/// One drawn member: which of the pool, how its key is spelled, what is
/// done to its value, the spaces around it.
#[derive(Debug, Clone)]
struct Drawn {
    at: usize,
    flip_key: bool,
    change: u8,
    space: u8,
}

fn drawn() -> impl Strategy<Value = Vec<Drawn>> {
    let one = (any::<usize>(), prop::bool::weighted(0.05), any::<u8>(), any::<u8>())
        .prop_map(|(at, flip_key, change, space)| Drawn { at, flip_key, change, space });
    prop::collection::vec(one, 0..16)
}

fn flip(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_lowercase() { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect()
}

/// The first object in a value (itself, or a list's first item).
fn first(v: &mut Value) -> Option<&mut serde_json::Map<String, Value>> {
    match v {
        Value::Array(items) => items.first_mut().and_then(Value::as_object_mut),
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The value changed as `change` says (most draws leave it alone).
fn changed(value: &Value, change: u8) -> Value {
    let mut v = value.clone();
    match change % 16 {
        0 => v = Value::Null,
        1 => v = json!("True"),
        2 => v = json!(1.5),
        3 => v = json!(-7),
        4 => {
            if let Some((k, _)) = first(&mut v).and_then(|m| m.iter().next().map(|(k, x)| (k.clone(), x.clone()))) {
                first(&mut v).map(|m| m.insert(k, Value::Null));
            }
        }
        5 => {
            if let Some(m) = first(&mut v) {
                let entries: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
                m.extend(entries.into_iter().enumerate().map(|(i, (k, x))| (if i == 0 { flip(&k) } else { k }, x)));
            }
        }
        6 => {
            first(&mut v).map(|m| m.insert("primary".into(), json!("true")));
        }
        7 => {
            first(&mut v).map(|m| m.insert("$ref".into(), Value::Null));
        }
        9 => {
            edit_a_string(&mut v);
        }
        _ => {}
    }
    v
}

/// The first string in `v` with its last character changed: a value of
/// the same length and shape that differs.
fn edit_a_string(v: &mut Value) -> bool {
    match v {
        Value::String(s) => {
            let last = s.pop();
            s.push(if last == Some('X') { 'Y' } else { 'X' });
            true
        }
        Value::Array(items) => items.iter_mut().any(edit_a_string),
        Value::Object(m) => m.values_mut().any(edit_a_string),
        _ => false,
    }
}

/// A body's text: the drawn members, some pretty-printed, with spaces.
fn text_of(members: &[Drawn]) -> String {
    text_from(&pool(), members)
}

/// Okta's whole create, a third of its members changed, their keys
/// spelled and spaced as `members` draws them (its `schemas` lists the
/// enterprise extension, which is kept as text when nothing else stops
/// it).
fn okta_text(members: &[Drawn]) -> String {
    let neutral = |i: usize| Drawn { at: i, flip_key: false, change: 42, space: 0 };
    let drawn = |i: usize| members.get(i).filter(|d| d.at % 3 == 0).map(|d| Drawn { at: i, ..d.clone() });
    let all: Vec<Drawn> = (0..okta().len()).map(|i| drawn(i).unwrap_or_else(|| neutral(i))).collect();
    text_from(&okta(), &all)
}

/// [`text_of`] with members drawn from `pool`.
fn text_from(pool: &[(String, Value)], members: &[Drawn]) -> String {
    let spaces = ["", " ", "\n  ", "\t", " \r\n "];
    let mut out = String::from("{");
    for (i, d) in members.iter().enumerate() {
        let (key, value) = &pool[d.at % pool.len()];
        let key = if d.flip_key { flip(key) } else { key.clone() };
        let value = changed(value, d.change);
        let value = match (d.change, d.change % 16) {
            // A lone surrogate and a number out of range: serde_json
            // skips both without a word, its parse into a `Value` refuses
            // them.
            (10, _) => r#""x\ud83d""#.to_owned(),
            (11, _) => "1e400".to_owned(),
            // The same tokens but for a space inside a number or literal.
            (12, _) => space_in_a_token(&value.to_string()),
            // Escapes the text check must read as serde_json does (a
            // surrogate pair, a lone one), integers at the edges of
            // serde_json's and past them, a leading zero, a sub-key
            // written with an escape.
            (13, _) => r#""\u00e9\ud83d\ude00\n\/""#.to_owned(),
            (14, _) => r#""\udc00x""#.to_owned(),
            (15, _) => "18446744073709551615".to_owned(),
            (26, _) => "18446744073709551616".to_owned(),
            (27, _) => "-0".to_owned(),
            (28, _) => "01".to_owned(),
            (29, _) => value.to_string().replacen("\"value\"", "\"valu\\u0065\"", 1),
            (_, 8) => serde_json::to_string_pretty(&value).unwrap(),
            _ => value.to_string(),
        };
        let sp = spaces[usize::from(d.space) % spaces.len()];
        if i > 0 {
            out.push(',');
        }
        let mut key = serde_json::to_string(&key).unwrap();
        if let (30, Some(c)) = (d.change, key.chars().find(char::is_ascii_alphabetic)) {
            // The same key with its first letter written as an escape:
            // read, and built (a kept key's twin forces the whole parse).
            key = key.replacen(c, &format!("\\u{:04x}", u32::from(c)), 1);
        }
        out.push_str(&format!("{sp}{key}{sp}:{sp}{value}{sp}"));
    }
    out.push('}');
    out
}

/// `text` with a space put between the first two bytes of a number or
/// literal (`tr ue`, `1 2`), or inside its first string when it has none.
fn space_in_a_token(text: &str) -> String {
    let (mut in_string, mut escaped, mut first_in_string) = (false, false, None);
    let bytes = text.as_bytes();
    for (i, pair) in bytes.windows(2).enumerate() {
        let scalar = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'.';
        match (in_string, pair[0]) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (true, b'"') => in_string = false,
            (true, _) => {}
            (false, b'"') => {
                in_string = true;
                first_in_string = first_in_string.or(Some(i + 1));
            }
            (false, b) if scalar(b) && scalar(pair[1]) => return format!("{} {}", &text[..=i], &text[i + 1..]),
            _ => {}
        }
    }
    let at = first_in_string.unwrap_or(0);
    format!("{} {}", &text[..at], &text[at..])
}

/// What one way of reading a body comes to: the error the IdP gets, or
/// what the backend gets (as JSON) with the normalizations and the rules'
/// report.
#[derive(Debug, PartialEq)]
enum Outcome {
    Refused(String),
    Unmapped(String),
    Sent { body: Value, normalized: Vec<scim_core::normalize::Normalization>, rules: String },
}

fn refused(e: Refused) -> Outcome {
    Outcome::Refused(match e {
        Refused::TooDeep => "too deep".into(),
        Refused::Json(e) => e.to_string(),
    })
}

/// Normalized, mapped and written: `aside` holds the members kept as text.
fn through(program: &Program, preset: Preset, mut tree: Value, aside: &Aside) -> Outcome {
    let reg = program.registry();
    let schema = reg.resource("User").unwrap();
    let report = Normalizer::new(preset).resource_with_stripped(&mut tree, &schema, aside.stripped());
    match program.map_resource("User", Operation::Create, tree, None, MapOptions::default()) {
        Err(e) => Outcome::Unmapped(e.to_string()),
        Ok((mapped, rules)) => {
            let written = to_vec_with(&mapped, aside).unwrap();
            let keys = top_keys(&written);
            let distinct: std::collections::HashSet<&String> = keys.iter().collect();
            assert_eq!(distinct.len(), keys.len(), "a key written twice: {}", String::from_utf8_lossy(&written));
            let body = crate::json::from_bytes(&written).unwrap();
            Outcome::Sent { body, normalized: report.applied, rules: format!("{rules:?}") }
        }
    }
}

/// The top-level keys of a written body, duplicates included (a parsed
/// `Value` keeps one of each).
fn top_keys(body: &[u8]) -> Vec<String> {
    struct Keys;
    impl<'de> serde::de::Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, _)) = map.next_entry::<String, serde::de::IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::Deserializer::deserialize_map(&mut de, Keys).unwrap()
}

fn plain(text: &str, program: &Program, preset: Preset) -> Outcome {
    match document(text.as_bytes(), 64) {
        Ok(tree) => {
            let written = through(program, preset, tree, &Aside::default());
            if let Outcome::Sent { body, .. } = &written {
                assert_eq!(*body, crate::json::from_bytes(&to_vec(body)).unwrap());
            }
            written
        }
        Err(e) => refused(e),
    }
}

/// What [`kept`] lists for each member it left out.
const LEFT_OUT: &str = "(left out)";

/// The new way, and the keys of the members it kept as text ([`LEFT_OUT`]
/// for each one it left out).
fn kept(text: &str, program: &Program, preset: Preset) -> (Outcome, Vec<String>) {
    let reg = program.registry();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::for_rules(&schema, program, &Normalizer::new(preset));
    let keeper = Keeper::new(schema, &members);
    match document_keeping(&Bytes::from(text.to_owned()), 64, &keeper) {
        Ok((tree, aside)) => {
            let mut keys: Vec<String> = aside.members().map(|(k, _)| k.to_owned()).collect();
            keys.extend((0..aside.stripped()).map(|_| LEFT_OUT.to_owned()));
            (through(program, preset, tree, &aside), keys)
        }
        Err(e) => (refused(e), Vec::new()),
    }
}

proptest! {
    #![proptest_config(crate::proptest_cases(512))]
    #[test]
    fn a_body_with_members_kept_as_text_reaches_the_backend_as_the_whole_parse_does(
        members in drawn(),
        okta_only in any::<bool>(),
        program in 0..5_usize,
        preset in prop_oneof![Just(Preset::Generic), Just(Preset::Okta), Just(Preset::Entra)],
    ) {
        // Half the bodies Okta's create, some of it changed: the
        // enterprise extension is often kept in those.
        let text = if okta_only { okta_text(&members) } else { text_of(&members) };
        let program = &programs()[program];
        let (new, _) = kept(&text, program, preset);
        prop_assert_eq!(new, plain(&text, program, preset), "{}", text);
    }
}

/// One value drawn from `strategy`.
fn sample<S: Strategy>(strategy: S, runner: &mut proptest::test_runner::TestRunner) -> S::Value {
    proptest::strategy::ValueTree::current(&strategy.new_tree(runner).unwrap())
}

#[test]
fn the_drawn_bodies_keep_members_often_and_not_always() {
    // The property means little unless the kept path is often taken, and
    // the plain one too.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut some, mut none, mut extension, mut left_out) = (0, 0, 0, 0);
    let (mut dropped, mut password_built, mut user_name_dropped, mut user_name_built) = (0, 0, 0, 0);
    let mut title_dropped = 0;
    for i in 0..500 {
        let members = sample(drawn(), &mut runner);
        let text = if i % 2 == 0 { okta_text(&members) } else { text_of(&members) };
        match member_of(&text, &programs()[1], "password") {
            Some(true) => password_built += 1,
            Some(false) => dropped += 1,
            None => {}
        }
        match member_of(&text, &programs()[1], "userName") {
            Some(true) => user_name_built += 1,
            Some(false) => user_name_dropped += 1,
            None => {}
        }
        title_dropped += usize::from(member_of(&text, &programs()[4], "title") == Some(false));
        let keys = kept(&text, &programs()[0], Preset::Okta).1;
        match keys.len() {
            0 => none += 1,
            _ => some += 1,
        }
        extension += usize::from(keys.iter().any(|k| k == ENTERPRISE));
        left_out += usize::from(keys.iter().any(|k| k == LEFT_OUT));
    }
    assert!(left_out > 100, "read-only members left out in {left_out} bodies");
    // A drawn body without `schemas` keeps nothing when it has the
    // enterprise extension (a kept extension must be listed).
    assert!(some > 100 && none > 50, "kept in {some} bodies, in none of {none}");
    assert!(extension > 40, "the enterprise extension kept in {extension} bodies");
    assert!(dropped > 50 && password_built > 5, "password left out in {dropped} bodies, built in {password_built}");
    let (left, built) = (user_name_dropped, user_name_built);
    assert!(left > 50 && built > 5, "userName left out in {left} bodies, built in {built}");
    assert!(title_dropped > 50, "title (written as a constant) left out in {title_dropped} bodies");
}

/// For a body with the key `name`, through `program`: whether that member
/// was built (`Some(true)`) or left out (`Some(false)`: one the rules
/// discard is never kept as text); `None` without one (or when the body
/// is no object).
fn member_of(text: &str, program: &Program, name: &str) -> Option<bool> {
    let reg = program.registry();
    let schema = reg.resource("User").unwrap();
    let members = TextMembers::for_rules(&schema, program, &Normalizer::new(Preset::Okta));
    let (tree, aside) = document_keeping(&Bytes::from(text.to_owned()), 64, &Keeper::new(schema, &members)).ok()?;
    assert!(aside.members().all(|(k, _)| k != name), "{name} kept as text: {text}");
    let sent = serde_json::from_str::<Value>(text).ok()?.get(name).is_some();
    sent.then(|| tree.get(name).is_some())
}

#[test]
fn a_member_the_rules_discard_is_left_out_unbuilt_and_uncounted() {
    let notion = &programs()[1];
    let body = |password: &str| {
        format!(
            r#"{{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u", "password": {password}, "title": "t", "displayName": "Old", "emails": [{{"value": " A@B.COM ", "primary": true}}], "name": {{"givenName": "Ann", "familyName": "Bee"}}}}"#
        )
    };
    for (password, left_out) in [(r#""secret""#, true), ("null", false), (r#"{"a": null}"#, false), (r#"" x ""#, true)]
    {
        let text = body(password);
        let reg = notion.registry();
        let schema = reg.resource("User").unwrap();
        let members = TextMembers::for_rules(&schema, notion, &Normalizer::new(Preset::Okta));
        let keeper = Keeper::new(schema, &members);
        let (tree, aside) = document_keeping(&Bytes::from(text.clone()), 64, &keeper).unwrap();
        assert_eq!(tree.get("password").is_none(), left_out, "{text}: {tree}");
        for written in ["userName", "displayName"] {
            assert!(tree.get(written).is_none(), "{text}: {written} is written by a rule, so left out: {tree}");
        }
        assert_eq!(aside.stripped(), 0, "{text}: nothing normalization strips");
        assert_eq!(aside.members().map(|(k, _)| k).collect::<Vec<_>>(), ["title"], "{text}");
        let new = kept(&text, notion, Preset::Okta).0;
        assert_eq!(new, plain(&text, notion, Preset::Okta), "{text}");
        let Outcome::Sent { body, .. } = new else { panic!("{text}: not sent: {new:?}") };
        assert_eq!((&body["userName"], &body["displayName"]), (&json!("a@b.com"), &json!("Ann Bee")), "{body}");
    }
    // Without a rule that discards them, they are kept as text.
    let (_, keys) = kept(&body(r#""secret""#), &programs()[0], Preset::Okta);
    assert_eq!(keys, ["userName", "password", "title", "displayName", "emails", "name"]);
}

mod put_as_patch;
mod requests;

#[test]
fn read_only_members_are_left_out_only_while_normalization_strips_them() {
    let reg = Registry::core();
    let text = r#"{"id": "u1", "meta": {"resourceType": "User"}, "userName": "u", "active": false}"#;
    for (strip, left_out) in [(true, 2), (false, 0)] {
        let normalizer =
            Normalizer::new(Preset::Generic).set(scim_core::normalize::Normalization::ReadOnlyStripped, strip);
        let members = TextMembers::for_rules(&reg.resource("User").unwrap(), &programs()[0], &normalizer);
        let keeper = Keeper::new(reg.resource("User").unwrap(), &members);
        let (tree, aside) = document_keeping(&Bytes::from_static(text.as_bytes()), 64, &keeper).unwrap();
        assert_eq!(aside.stripped(), left_out, "strip on: {strip}");
        assert_eq!(tree.get("meta").is_some(), !strip, "{tree}");
        assert_eq!(tree["active"], false, "active is always built");
    }
}
