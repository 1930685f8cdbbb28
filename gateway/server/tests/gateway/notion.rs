//! The `notion` backend profile and upstream pacing, against a stand-in
//! for Notion's SCIM API that keeps Notion's documented limits: pages of at
//! most 100 (a larger `count` is refused), user filters on `email` only,
//! 429 and 529 when told to.

use super::support::{FakeUpstream, Gateway, Handler, Seen, config_with, json_response};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const NOTION: &str = "urn:ietf:params:scim:schemas:extension:notion:2.0:User";

#[derive(Default)]
pub struct State {
    pub users: Vec<Value>,
    /// Statuses to answer the next requests with, first first.
    busy: Vec<(u16, &'static str)>,
    pub seen: Vec<Seen>,
    /// Users deleted so far (ids are never given twice).
    deleted: usize,
}

fn error(status: u16, detail: &str) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": status.to_string(), "detail": detail});
    json_response(status, &body)
}

fn param(seen: &Seen, key: &str) -> Option<String> {
    let q = seen.uri.query().unwrap_or("");
    scim_core::normalize::form_decode(q)
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_owned())
}

fn list(st: &State, seen: &Seen) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    let count: usize = param(seen, "count").and_then(|c| c.parse().ok()).unwrap_or(100);
    if count > 100 {
        return error(400, "count must be at most 100");
    }
    let start: usize = param(seen, "startIndex").and_then(|c| c.parse().ok()).unwrap_or(1);
    let matching: Vec<&Value> = match param(seen, "filter") {
        None => st.users.iter().collect(),
        Some(f) => match f.strip_prefix("email eq ") {
            Some(lit) => st.users.iter().filter(|u| u["userName"] == lit.trim_matches('"')).collect(),
            None => return error(400, "unsupported filter"),
        },
    };
    let page: Vec<&Value> = matching.iter().skip(start - 1).take(count).copied().collect();
    json_response(
        200,
        &json!({"schemas": [LIST], "totalResults": matching.len(), "startIndex": start, "itemsPerPage": page.len(), "Resources": page}),
    )
}

pub fn notion(state: Arc<Mutex<State>>) -> Handler {
    Arc::new(move |_, seen: Seen| {
        let mut st = state.lock().unwrap();
        st.seen.push(seen.clone());
        if !st.busy.is_empty() {
            let (status, retry) = st.busy.remove(0);
            let mut r = error(status, "slow down");
            if !retry.is_empty() {
                r.headers_mut().insert("retry-after", retry.parse().unwrap());
            }
            return r;
        }
        let path = seen.uri.path().trim_start_matches("/v2").to_owned();
        match (&seen.method, path.as_str()) {
            (&Method::GET, "/Users") => list(&st, &seen),
            (&Method::GET, p) => match st.users.iter().find(|u| format!("/Users/{}", u["id"].as_str().unwrap()) == p) {
                Some(u) => json_response(200, u),
                None => error(404, "no such user"),
            },
            (&Method::POST, "/Users") => {
                let mut u: Value = serde_json::from_slice(&seen.body).unwrap();
                u["id"] = json!(format!("n{}", st.users.len() + st.deleted + 1));
                st.users.push(u.clone());
                json_response(201, &u)
            }
            // Writes are recorded (in `seen`) and answered with the user;
            // a replace of `userName` (the email) is applied.
            (&Method::PATCH, p) => {
                let op: Value = serde_json::from_slice(&seen.body).unwrap_or_default();
                match st.users.iter_mut().find(|u| format!("/Users/{}", u["id"].as_str().unwrap()) == p) {
                    Some(u) => {
                        for o in op["Operations"].as_array().into_iter().flatten() {
                            if o["path"] == "userName" {
                                u["userName"] = o["value"].clone();
                            }
                        }
                        json_response(200, u)
                    }
                    None => error(404, "no such user"),
                }
            }
            (&Method::DELETE, p) => {
                let before = st.users.len();
                st.users.retain(|u| format!("/Users/{}", u["id"].as_str().unwrap()) != p);
                st.deleted += before - st.users.len();
                match st.users.len() < before {
                    true => http::Response::builder().status(204).body(Default::default()).unwrap(),
                    false => error(404, "no such user"),
                }
            }
            _ => error(405, "not here"),
        }
    })
}

async fn setup(extra: &str, users: usize) -> (FakeUpstream, Gateway, Arc<Mutex<State>>) {
    let state = Arc::new(Mutex::new(State::default()));
    for i in 1..=users {
        state
            .lock()
            .unwrap()
            .users
            .push(json!({"schemas": [USER], "id": format!("n{i}"), "userName": format!("user{i}@example.com")}));
    }
    let up = FakeUpstream::start(notion(state.clone())).await;
    let keys = format!("profile = \"notion\"\n{extra}");
    let gw = Gateway::start(&config_with(&up.url(), &["identity.toml"], "okta", &keys)).await;
    (up, gw, state)
}

fn seen_params(state: &Mutex<State>, key: &str) -> Vec<String> {
    state.lock().unwrap().seen.iter().map(|s| param(s, key).unwrap_or_default()).collect()
}

#[tokio::test]
async fn a_list_over_100_is_served_from_several_pages_with_the_backends_totals() {
    let (_up, gw, state) = setup("", 250).await;
    let r = gw.call(Method::GET, "/scim/v2/Users?startIndex=1&count=250", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["totalResults"], 250);
    assert_eq!(r.json["itemsPerPage"], 250);
    assert_eq!(r.json["startIndex"], 1);
    let ids: Vec<&str> = r.json["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 250);
    assert_eq!((ids[0], ids[100], ids[249]), ("n1", "n101", "n250"), "in order, none twice");
    assert_eq!(seen_params(&state, "count"), ["100", "100", "50"]);
    assert_eq!(seen_params(&state, "startIndex"), ["1", "101", "201"]);
    let calls = |purpose: &str| gw.metric(&format!("scim_gateway_upstream_requests_total{{purpose=\"{purpose}\""));
    assert_eq!((calls("page"), calls("forward")), (3.0, 0.0), "every upstream call is counted by its purpose");

    // A window that runs past the end stops at the backend's total.
    state.lock().unwrap().seen.clear();
    let r = gw.call(Method::GET, "/scim/v2/Users?startIndex=201&count=120", None).await;
    assert_eq!(r.json["itemsPerPage"], 50, "{:?}", r.json);
    assert_eq!(r.json["startIndex"], 201);
    assert_eq!(r.json["totalResults"], 250);
    assert_eq!(seen_params(&state, "count"), ["100"], "the first page already reached the end");

    // 100 or fewer is one request, as the IdP sent it.
    state.lock().unwrap().seen.clear();
    let r = gw.call(Method::GET, "/scim/v2/Users?startIndex=1&count=100", None).await;
    assert_eq!(r.json["itemsPerPage"], 100);
    assert_eq!(seen_params(&state, "count"), ["100"]);
}

#[tokio::test]
async fn user_filters_reach_notion_as_email_filters() {
    let (_up, gw, state) = setup("", 3).await;
    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22user2%40example.com%22", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["totalResults"], 1);
    assert_eq!(r.json["Resources"][0]["id"], "n2");
    assert_eq!(seen_params(&state, "filter"), [r#"email eq "user2@example.com""#]);
}

#[tokio::test]
async fn a_manager_id_is_sent_as_the_managers_email_and_comes_back_as_the_id() {
    let (_up, gw, state) = setup("", 2).await;
    let user = json!({"schemas": [USER, ENT], "userName": "new@example.com", ENT: {"manager": {"value": "n2"}}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(r.json[ENT]["manager"]["value"], "n2", "the IdP sees the id it sent");
    let stored = state.lock().unwrap().users.last().unwrap().clone();
    assert_eq!(stored[ENT]["manager"]["value"], "user2@example.com", "Notion got the email: {stored}");
    let calls = |purpose: &str| gw.metric(&format!("scim_gateway_upstream_requests_total{{purpose=\"{purpose}\""));
    assert_eq!((calls("lookup"), calls("forward")), (1.0, 1.0), "one manager lookup, one forward");
    // The lookup is cached: a second user with the same manager reads nothing more.
    let before = state.lock().unwrap().seen.len();
    let user = json!({"schemas": [USER, ENT], "userName": "other@example.com", ENT: {"manager": {"value": "n2"}}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    assert_eq!(state.lock().unwrap().seen.len(), before + 1, "only the POST");

    let unknown = json!({"schemas": [USER, ENT], "userName": "x@example.com", ENT: {"manager": {"value": "n99"}}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(unknown)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert_eq!(r.json["scimType"], "invalidValue");
    assert!(r.json["detail"].as_str().unwrap().contains("n99"));
}

#[tokio::test]
async fn idp_roles_become_notions_role_and_owner_is_never_granted_by_default() {
    let (_up, gw, state) =
        setup("[upstream.notion]\nroles = { Admin = \"membership_admin\", Guest = \"restricted_member\" }", 0).await;
    let user = json!({"schemas": [USER], "userName": "a@example.com", "roles": [{"value": "admin", "primary": true}]});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let stored = state.lock().unwrap().users[0].clone();
    assert_eq!(stored[NOTION]["role"], "membership_admin", "{stored}");
    assert!(stored.get("roles").is_none(), "Notion gets its own role attribute only");
    assert!(stored["schemas"].as_array().unwrap().contains(&json!(NOTION)));
    assert_eq!(r.json["roles"][0]["value"], "Admin", "the answer carries the IdP's role value");

    let hits = state.lock().unwrap().seen.len();
    let owner = json!({"schemas": [USER, NOTION], "userName": "b@example.com", NOTION: {"role": "owner"}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(owner)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert_eq!(r.json["scimType"], "mutability");
    assert_eq!(state.lock().unwrap().seen.len(), hits, "nothing was forwarded");
}

#[tokio::test]
async fn idempotent_requests_ride_out_429_and_529_and_others_get_429_or_503_with_retry_after() {
    let (_up, gw, state) = setup("busy_retries = 2", 1).await;
    state.lock().unwrap().busy = vec![(429, "0"), (529, "0")];
    let r = gw.call(Method::GET, "/scim/v2/Users/n1", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(gw.metric("scim_gateway_upstream_retries_total"), 2.0);

    state.lock().unwrap().busy = vec![(529, "")];
    let r =
        gw.call(Method::POST, "/scim/v2/Users", Some(json!({"schemas": [USER], "userName": "c@example.com"}))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "no IdP knows 529");
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.json["status"], "503");

    state.lock().unwrap().busy = vec![(429, "7")];
    let r =
        gw.call(Method::POST, "/scim/v2/Users", Some(json!({"schemas": [USER], "userName": "c@example.com"}))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "7", "the backend's own wait");
    assert_eq!(state.lock().unwrap().users.len(), 1, "a POST is never sent twice");

    // Past the budget, the IdP gets the 429 at once, not 30 s later.
    state.lock().unwrap().busy = vec![(429, "30")];
    let started = std::time::Instant::now();
    let r = gw.call(Method::GET, "/scim/v2/Users/n1", None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers["retry-after"], "30");
}

#[tokio::test]
async fn over_the_rate_limit_requests_wait_in_the_queue_or_get_429() {
    let (_up, gw, state) = setup("[upstream.rate_limit]\nper_second = 1\nburst = 1\nqueue = 0", 1).await;
    let r = gw.call(Method::GET, "/scim/v2/Users/n1", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = gw.call(Method::GET, "/scim/v2/Users/n1", None).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{:?}", r.json);
    assert_eq!(r.headers["retry-after"], "1");
    assert_eq!(r.json["status"], "429");
    assert_eq!(state.lock().unwrap().seen.len(), 1, "the refused request never reached the backend");
    assert_eq!(gw.metric("scim_gateway_rate_limited_total"), 1.0);

    let (_up, gw, state) = setup("[upstream.rate_limit]\nper_second = 50\nburst = 1\nqueue = 10", 1).await;
    // Four at once: one goes, three wait their turn (20 ms apart), so the
    // last cannot start before 60 ms: the limiter's doing, not the machine's.
    let get = || gw.call(Method::GET, "/scim/v2/Users/n1", None);
    let started = std::time::Instant::now();
    let (a, b, c, d) = tokio::join!(get(), get(), get(), get());
    assert!(started.elapsed() >= std::time::Duration::from_millis(55), "{:?}", started.elapsed());
    for r in [a, b, c, d] {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    }
    assert_eq!(state.lock().unwrap().seen.len(), 4);
    assert_eq!(gw.metric("scim_gateway_rate_limit_queue_depth"), 0.0, "the queue is empty again");
    assert_eq!(gw.metric("scim_gateway_rate_limit_queue_capacity"), 10.0);
}

#[tokio::test]
async fn a_patch_of_roles_or_manager_is_sent_in_notions_terms() {
    let (_up, gw, state) = setup("[upstream.notion]\nroles = { Admin = \"membership_admin\" }", 2).await;
    let body = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    let ops = body(json!([
        {"op": "add", "path": "roles", "value": [{"value": "Admin"}]},
        {"op": "replace", "path": format!("{ENT}:manager"), "value": {"value": "n2"}}
    ]));
    let r = gw.call(Method::PATCH, "/scim/v2/Users/n1", Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let sent: Value = serde_json::from_slice(&state.lock().unwrap().seen.last().unwrap().body).unwrap();
    let text = sent.to_string();
    assert!(text.contains(&format!(r#""path":"{NOTION}:role","value":"membership_admin""#)), "{text}");
    assert!(text.contains(r#""value":{"value":"user2@example.com"}"#), "{text}");
    assert!(!text.contains("\"roles\""), "{text}");

    let hits = state.lock().unwrap().seen.len();
    let owner = body(json!([{"op": "replace", "path": format!("{NOTION}:role"), "value": "owner"}]));
    let r = gw.call(Method::PATCH, "/scim/v2/Users/n1", Some(owner)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.json);
    assert_eq!(state.lock().unwrap().seen.len(), hits, "nothing was forwarded");
    // A deactivation that also names owner goes through without it.
    let off = body(json!([{"op": "replace", "value": {"active": false, NOTION: {"role": "owner"}}}]));
    let r = gw.call(Method::PATCH, "/scim/v2/Users/n1", Some(off)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let sent = String::from_utf8(state.lock().unwrap().seen.last().unwrap().body.to_vec()).unwrap();
    assert!(sent.contains(r#""active":false"#) && !sent.contains("owner"), "{sent}");
}

#[tokio::test]
async fn a_deactivation_never_waits_on_the_managers_lookup_and_a_busy_lookup_is_no_400() {
    let (_up, gw, state) = setup("busy_retries = 0", 3).await;
    let last_sent = |m: Method| {
        let seen = state.lock().unwrap().seen.iter().rev().find(|s| s.method == m).cloned();
        serde_json::from_slice::<Value>(&seen.expect("it reached the backend").body).unwrap()
    };
    // A manager not yet looked up: the deactivation goes at once, without it.
    let off = |manager: &str| json!({"schemas": [USER, ENT], "userName": "user1@example.com", "active": false, ENT: {"manager": {"value": manager}}});
    let r = gw.call(Method::PUT, "/scim/v2/Users/n1", Some(off("n2"))).await;
    let seen: Vec<Method> = state.lock().unwrap().seen.iter().map(|s| s.method.clone()).collect();
    // The stand-in takes no PUT (405): the deactivation goes again alone, as a PATCH.
    assert_eq!(seen, [Method::PUT, Method::PATCH], "no lookup before the deactivation");
    assert!(r.status.is_success(), "{:?}", r.json);
    assert_eq!(last_sent(Method::PATCH)["Operations"][0]["value"], false);
    let sent = last_sent(Method::PUT);
    assert_eq!(sent["active"], false);
    assert!(sent[ENT].get("manager").is_none(), "{sent}");
    // A manager already looked up goes as its email.
    let user = json!({"schemas": [USER, ENT], "userName": "new@example.com", ENT: {"manager": {"value": "n2"}}});
    assert_eq!(gw.call(Method::POST, "/scim/v2/Users", Some(user)).await.status, StatusCode::CREATED);
    gw.call(Method::PUT, "/scim/v2/Users/n1", Some(off("n2"))).await;
    assert_eq!(last_sent(Method::PUT)[ENT]["manager"]["value"], "user2@example.com");
    // Not a deactivation: a busy lookup is the backend's error, not the IdP's.
    state.lock().unwrap().busy = vec![(429, "5")];
    // (n1 is known from the answers above; n3 is not.)
    let user = json!({"schemas": [USER, ENT], "userName": "x@example.com", ENT: {"manager": {"value": "n3"}}});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{:?}", r.json);
    // A path-less PATCH naming the manager by id sends the email.
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {ENT: {"manager": {"value": "n2"}}}}]});
    let r = gw.call(Method::PATCH, "/scim/v2/Users/n1", Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    assert!(last_sent(Method::PATCH).to_string().contains("user2@example.com"), "{}", last_sent(Method::PATCH));
}

#[tokio::test]
async fn a_patch_left_empty_by_the_profile_is_answered_without_the_backend() {
    let (_up, gw, state) = setup("[upstream.notion]\nroles = { Admin = \"membership_admin\" }", 1).await;
    let hits = state.lock().unwrap().seen.len();
    let ops = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "roles", "value": [{"value": "Intern"}]}]});
    let r = gw.call(Method::PATCH, "/scim/v2/Users/n1", Some(ops)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{:?}", r.json);
    assert_eq!(state.lock().unwrap().seen.len(), hits, "an empty PatchOp is never sent");
}
