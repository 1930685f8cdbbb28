//! PATCHes and searches, old and new side by side (issue 22, point 4):
//! the representation before issue 22 (serde_json's parse and its
//! writer) against the gateway's own (`json::document`, read from the
//! text by scim-core's builder, and `json::to_vec_with`), on generated
//! PatchOp and SearchRequest bodies spelled many ways, through
//! normalization and the rules (`phases::patch`, `phases::map_patch`,
//! `pipeline::search`). What reaches the backend must be the same bytes;
//! the normalizations, the intent and any error the IdP would get must be
//! the same too.

use super::*;
use crate::pipeline::phases::patch_intent;
use crate::pipeline::query::{rebuild_search, rewrite_with, search_param};
use scim_core::Intent;
use scim_core::patch::PatchOp;
use scim_mapper::PatchOutcome;

/// One of the two representations: how a body's text is read, and how
/// the write is written.
#[derive(Clone, Copy, Debug)]
enum Way {
    /// serde_json's parse and writer, as before issue 22.
    Old,
    /// The gateway's reader and writer, as the pipeline runs them.
    New,
}

impl Way {
    fn read(self, text: &str) -> Result<Value, String> {
        match self {
            Way::Old => serde_json::from_str(text).map_err(|e| e.to_string()),
            Way::New => document(text.as_bytes(), 64).map_err(|e| match e {
                Refused::TooDeep => "too deep".to_owned(),
                Refused::Json(e) => e.to_string(),
            }),
        }
    }

    fn write(self, body: &Value) -> Vec<u8> {
        match self {
            Way::Old => serde_json::to_vec(body).unwrap(),
            Way::New => to_vec_with(body, &Aside::default()).unwrap(),
        }
    }
}

/// What a request comes to: the error the IdP gets, or the bytes the
/// backend gets with what was normalized (and, for a PATCH, the intent).
#[derive(Debug, PartialEq)]
enum Reached {
    Refused(String),
    Answered(String),
    Sent { body: Vec<u8>, normalized: Vec<scim_core::normalize::Normalization>, intent: Option<Intent> },
}

/// The current resource a PATCH's rules may ask for: the same value for
/// both ways (how it is read is the PUT's side-by-side test's business).
fn current() -> Value {
    let mut user = serde_json::Map::from_iter(okta());
    user.insert("id".into(), json!("u1"));
    Value::Object(user)
}

/// A PATCH as `phases::patch` and `phases::map_patch` take it: normalized,
/// its intent settled (`phases::patch_intent`), the rules (with the current
/// resource when they ask for it), then written.
fn patched(way: Way, text: &str, program: &Program, preset: Preset) -> Reached {
    let mut doc = match way.read(text) {
        Ok(doc) => doc,
        Err(e) => return Reached::Refused(e),
    };
    let schema = program.registry().resource("User").unwrap();
    let sent = Intent::of_patch_json(&doc);
    let report = Normalizer::new(preset).patch(&mut doc, &schema);
    let mut ops = match PatchOp::from_json(&doc) {
        Ok(ops) => ops,
        Err(e) => return Reached::Refused(e.to_string()),
    };
    let intent = patch_intent("User", sent, &mut ops);
    let map = |current| program.map_patch("User", &ops, current, MapOptions::for_intent(intent));
    let mapped = match map(None) {
        Ok((PatchOutcome::NeedsCurrent(_), _)) => map(Some(&current())),
        other => other,
    };
    match mapped {
        Err(e) => Reached::Refused(e.to_string()),
        Ok((PatchOutcome::Ops(ops), _)) => {
            Reached::Sent { body: way.write(&ops.into_json()), normalized: report.applied, intent: Some(intent) }
        }
        Ok((outcome, _)) => Reached::Answered(format!("{outcome:?}")),
    }
}

/// A SearchRequest as `pipeline::search` takes it: its parameters read,
/// the filter normalized and every parameter rewritten
/// (`query::rewrite_with`), the body rebuilt and written.
fn searched(way: Way, text: &str, program: &Program, preset: Preset) -> Reached {
    let doc = match way.read(text) {
        Ok(doc) => doc,
        Err(e) => return Reached::Refused(e),
    };
    let schema = program.registry().resource("User").unwrap();
    let get = |k: &str| search_param(&doc, k);
    match rewrite_with(&Normalizer::new(preset), program, &schema, "User", get) {
        Err(e) => Reached::Refused(e.to_string()),
        Ok((rewritten, report)) => {
            let body = way.write(&rebuild_search(doc, &rewritten));
            Reached::Sent { body, normalized: report.applied, intent: None }
        }
    }
}

const PATHS: [&str; 20] = [
    "",
    "active",
    "Active",
    "userName",
    "name.givenName",
    "name",
    "emails",
    r#"emails[type eq "work"].value"#,
    r#"emails[TYPE eq "work"]"#,
    "displayName",
    "title",
    "nickName",
    "phoneNumbers",
    "password",
    "groups",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "members",
    "emails[value",
];

const OPS: [&str; 7] = ["add", "Add", "replace", "Replace", "remove", "REMOVE", "bogus"];

/// Values an operation may carry; `None` leaves `value` out.
fn values() -> Vec<Option<Value>> {
    vec![
        None,
        Some(json!(false)),
        Some(json!("False")),
        Some(json!("true")),
        Some(json!(" A@B.COM ")),
        Some(json!("\u{e9}x/y\n\u{1f600}")),
        Some(json!(42)),
        Some(json!(1.5)),
        Some(Value::Null),
        Some(json!({"givenName": "Ann", "familyName": "Bee"})),
        Some(json!([{"value": " X@Y.COM ", "type": "work", "primary": true}])),
        Some(json!({"active": false})),
        Some(json!({"userName": "u", "name": {"givenName": "A", "familyName": "B"}, "password": "p"})),
        Some(json!({ENTERPRISE: {"department": "D", "manager": {"value": "m1"}}})),
        Some(json!({"value": "m1"})),
        Some(json!([])),
    ]
}

/// One drawn operation: its op, path and value, each an index.
type DrawnOp = (usize, usize, usize);

fn patch_body(ops: &[DrawnOp], schemas: bool, key: &str) -> Value {
    let values = values();
    let ops: Vec<Value> = ops
        .iter()
        .map(|&(op, path, value)| {
            if op % 8 == 7 {
                return deactivating(path);
            }
            let mut o = serde_json::Map::new();
            o.insert("op".into(), json!(OPS[op % OPS.len()]));
            let path = PATHS[path % PATHS.len()];
            if !path.is_empty() {
                o.insert("path".into(), json!(path));
            }
            if let Some(v) = &values[value % values.len()] {
                o.insert("value".into(), v.clone());
            }
            Value::Object(o)
        })
        .collect();
    let mut body = serde_json::Map::new();
    if schemas {
        body.insert("schemas".into(), json!(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]));
    }
    body.insert(key.into(), Value::Array(ops));
    Value::Object(body)
}

/// An operation that deactivates the user, in one of the ways IdPs write
/// it (Entra's string and capitalized op, a value object without a path).
fn deactivating(which: usize) -> Value {
    match which % 4 {
        0 => json!({"op": "replace", "path": "active", "value": false}),
        1 => json!({"op": "Replace", "value": {"active": "False"}}),
        2 => json!({"op": "Add", "path": "Active", "value": "false"}),
        _ => json!({"op": "replace", "value": {"active": false, "displayName": "Gone"}}),
    }
}

const FILTERS: [&str; 12] = [
    r#"userName eq "A@B.COM""#,
    r#"emails[type eq "work" and value co "@x"]"#,
    r#"name.givenName sw "A""#,
    r#"active eq "True""#,
    "displayName pr",
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "D""#,
    "title eq \"\u{e9}/x\\\"q\"",
    "userName eq",
    r#"(userName eq "a") or not (active eq false)"#,
    r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
    r#"USERNAME Eq "x""#,
    "userName eq 'x'",
];

const LISTS: [&str; 4] = ["userName,emails", "name.givenName", "displayName, title", ENTERPRISE];

/// A SearchRequest: which parameters it has (`has`'s bits), the filter,
/// and the attribute lists as strings or arrays.
fn search_body(has: u8, filter: usize, list: usize, arrays: bool) -> Value {
    let mut body = serde_json::Map::new();
    body.insert("schemas".into(), json!(["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]));
    let list_value = |i: usize| {
        let text = LISTS[i % LISTS.len()];
        match arrays {
            true => json!(text.split(',').map(str::trim).collect::<Vec<_>>()),
            false => json!(text),
        }
    };
    let members = [
        ("filter", json!(FILTERS[filter % FILTERS.len()])),
        ("attributes", list_value(list)),
        ("excludedAttributes", list_value(list + 1)),
        ("sortBy", json!(["userName", "name.familyName", "emails.value"][list % 3])),
        ("startIndex", json!(1)),
        ("count", json!(10)),
    ];
    for (i, (k, v)) in members.into_iter().enumerate() {
        if has & (1 << i) != 0 {
            body.insert(k.into(), v);
        }
    }
    Value::Object(body)
}

/// `body`'s text spelled as `how` draws: compact or pretty, slashes and a
/// key's letter escaped, or the text cut or a byte put in (errors must
/// agree too).
fn spelled(body: &Value, how: u8, at: usize) -> String {
    let text = match how % 2 {
        0 => serde_json::to_string(body).unwrap(),
        _ => serde_json::to_string_pretty(body).unwrap(),
    };
    let cut = |t: &str| at % (t.len() + 1);
    match how / 2 % 8 {
        0 => text.replace('/', "\\/"),
        1 => text.replacen("\"op\"", "\"\\u006fp\"", 1).replacen("\"path\"", "\"pat\\u0068\"", 1),
        2 if at.is_multiple_of(3) => text[..text.floor_char_boundary(cut(&text))].to_owned(),
        3 if at.is_multiple_of(3) => {
            let i = text.floor_char_boundary(cut(&text));
            format!("{}{}{}", &text[..i], ["}", ",", "\"", "\\", "\u{0}"][at / 3 % 5], &text[i..])
        }
        4 => text.replacen("\"value\"", "\"value\": 1, \"value\"", 1),
        _ => text,
    }
}

fn presets() -> impl Strategy<Value = Preset> {
    prop_oneof![Just(Preset::Generic), Just(Preset::Okta), Just(Preset::Entra)]
}

proptest! {
    #![proptest_config(crate::proptest_cases(512))]
    #[test]
    fn a_patch_reaches_the_backend_as_the_old_representation_sent_it(
        ops in prop::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 0..5),
        schemas in any::<bool>(),
        lower in prop::bool::weighted(0.2),
        how in any::<u8>(),
        at in any::<usize>(),
        program in 0..5_usize,
        preset in presets(),
    ) {
        let body = patch_body(&ops, schemas, if lower { "operations" } else { "Operations" });
        let text = spelled(&body, how, at);
        let program = &programs()[program];
        prop_assert_eq!(patched(Way::New, &text, program, preset), patched(Way::Old, &text, program, preset), "{}", text);
    }

    #[test]
    fn a_search_reaches_the_backend_as_the_old_representation_sent_it(
        has in any::<u8>(),
        filter in any::<usize>(),
        list in any::<usize>(),
        arrays in any::<bool>(),
        how in any::<u8>(),
        at in any::<usize>(),
        program in 0..5_usize,
        preset in presets(),
    ) {
        let text = spelled(&search_body(has, filter, list, arrays), how, at);
        let program = &programs()[program];
        prop_assert_eq!(searched(Way::New, &text, program, preset), searched(Way::Old, &text, program, preset), "{}", text);
    }
}

#[test]
fn the_drawn_patches_and_searches_reach_the_backend_often_and_not_always() {
    // The properties mean little unless most drawn requests are sent and
    // some are refused, by the reader and by the rest.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut sent, mut unread, mut refused, mut deprovisions) = (0, 0, 0, 0);
    let patches = (prop::collection::vec((any::<usize>(), any::<usize>(), any::<usize>()), 1..5), any::<u8>());
    for i in 0..400 {
        let (ops, how) = sample(patches.clone(), &mut runner);
        let text = match i % 2 {
            0 => spelled(&patch_body(&ops, true, "Operations"), how, i),
            _ => spelled(&search_body(u8::try_from(i % 64).unwrap(), i, i, i % 3 == 0), how, i),
        };
        let reached = match i % 2 {
            0 => patched(Way::New, &text, &programs()[1], Preset::Okta),
            _ => searched(Way::New, &text, &programs()[1], Preset::Okta),
        };
        match reached {
            Reached::Sent { intent, .. } => {
                sent += 1;
                deprovisions += usize::from(intent == Some(Intent::Deprovision));
            }
            Reached::Refused(e) if Way::Old.read(&text).is_err() => unread += usize::from(!e.is_empty()),
            _ => refused += 1,
        }
    }
    assert!(sent > 150 && unread > 10 && refused > 20 && deprovisions > 10, "{sent} {unread} {refused} {deprovisions}");
}

#[test]
fn a_deactivation_patch_is_sent_the_same_both_ways_under_every_mapping() {
    let text = r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations":[{"op":"Replace","value":{"active":"False","password":"p"}}]}"#;
    for program in programs() {
        let new = patched(Way::New, text, program, Preset::Entra);
        assert_eq!(new, patched(Way::Old, text, program, Preset::Entra));
        let Reached::Sent { body, intent, .. } = new else { panic!("not sent: {new:?}") };
        assert_eq!(intent, Some(Intent::Deprovision));
        let body: Value = serde_json::from_slice(&body).unwrap();
        let deactivates = |op: &Value| match op.get("path") {
            Some(path) => path == "active" && op["value"] == false,
            None => op["value"]["active"] == false,
        };
        assert!(body["Operations"].as_array().unwrap().iter().any(deactivates), "{body}");
    }
}
