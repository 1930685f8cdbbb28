//! The `aws` profile against a stand-in for AWS IAM Identity Center
//! (`scripts/standins/aws_identity_center.py`) that enforces AWS's
//! published limits: what the IdP sends lands, what AWS would refuse is
//! fixed or refused with a SCIM error that says why.

use super::support::{Gateway, UPSTREAM_TOKEN, config_with, free_port, send, workspace};
use http::{Method, StatusCode};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The stand-in on a free loopback port, killed on drop.
struct Aws {
    child: Child,
    root: String,
}

impl Aws {
    async fn start() -> Self {
        let python = std::env::var("SCIM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = workspace().join("scripts/standins/aws_identity_center.py");
        let port = free_port();
        let mut command = Command::new(python);
        command.arg(script).args(["--port", &port.to_string(), "--token", UPSTREAM_TOKEN]);
        let aws = Self {
            child: command.stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start the AWS stand-in"),
            root: format!("http://127.0.0.1:{port}"),
        };
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return aws;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the AWS stand-in did not start");
    }

    fn base(&self) -> String {
        format!("{}/scim/v2", self.root)
    }

    async fn standin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let r = send(method, &format!("{}/_standin/{path}", self.root), None, body.map(|b| b.to_string().into()), &[])
            .await;
        r.json
    }

    /// The SCIM requests AWS saw since the last call, and forgets them.
    async fn seen(&self) -> Vec<Value> {
        let all = self.standin(Method::GET, "requests", None).await;
        self.standin(Method::DELETE, "requests", None).await;
        all.as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Aws {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn setup(preset: &str) -> (Aws, Gateway) {
    let aws = Aws::start().await;
    let gw = Gateway::start(&config_with(&aws.base(), &[], preset, "profile = \"aws\"")).await;
    (aws, gw)
}

/// An Okta create: two emails, a password, an externalId (members without
/// one are taken as added by hand in the backend, and kept).
fn user(n: usize) -> Value {
    json!({
        "schemas": [USER], "externalId": format!("00u{n:03}"), "userName": format!("user{n:03}@example.com"), "displayName": format!("User {n}"),
        "name": {"givenName": "User", "familyName": format!("N{n}")},
        "emails": [{"value": format!("u{n}@old.example.com"), "type": "home"}, {"value": format!("user{n:03}@example.com"), "type": "work", "primary": true}],
        "password": "Okta-random-1!", "groups": [], "active": true
    })
}

async fn create_user(gw: &Gateway, n: usize) -> String {
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user(n))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    r.json["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn users_are_put_in_aws_terms_and_what_it_would_refuse_is_named() {
    let (aws, gw) = setup("okta").await;
    let id = create_user(&gw, 1).await;
    let stored = aws.standin(Method::GET, &format!("users/{id}"), None).await;
    assert_eq!(stored["emails"].as_array().unwrap().len(), 1, "one email, the primary: {stored}");
    assert_eq!(stored["emails"][0]["value"], "user001@example.com");
    assert!(stored.get("password").is_none() && stored.get("groups").is_none());

    aws.seen().await;
    let mut nameless = user(2);
    nameless["name"] = json!({"givenName": "Only"});
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(nameless)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json["detail"].as_str().unwrap().contains("name.familyName"), "{:?}", r.json);
    assert!(aws.seen().await.is_empty(), "nothing reached AWS");

    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user(1))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json["scimType"], "uniqueness", "{:?}", r.json);
    assert!(r.json.get("schema").is_none() && r.json.get("exceptionRequestId").is_none());

    // Entra's multi-attribute path-less PATCH, then Okta's deactivation.
    let ops = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": "Renamed", "title": "Eng", "name.familyName": "New"}}]});
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(ops)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let r = gw.call(Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(off)).await;
    assert!(r.status.is_success(), "{:?}", r.json);
    let stored = aws.standin(Method::GET, &format!("users/{id}"), None).await;
    assert_eq!(
        (&stored["displayName"], &stored["title"], &stored["active"]),
        (&json!("Renamed"), &json!("Eng"), &json!(false))
    );
}

#[tokio::test]
async fn lists_page_by_cursor_and_filters_aws_cannot_run_are_refused() {
    let (aws, gw) = setup("okta").await;
    let mut ids = Vec::new();
    for n in 0..250 {
        ids.push(create_user(&gw, n).await);
    }
    aws.seen().await;
    let r = gw.call(Method::GET, "/scim/v2/Users?startIndex=101&count=100", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(
        (&r.json["startIndex"], &r.json["itemsPerPage"], &r.json["totalResults"]),
        (&json!(101), &json!(100), &json!(250))
    );
    let got: Vec<&str> = r.json["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(got, ids[100..200].iter().map(String::as_str).collect::<Vec<_>>());
    let seen = aws.seen().await;
    assert!(seen.iter().all(|s| !s["query"].as_str().unwrap_or("").contains("startIndex")), "AWS pages by cursor");
    // The next page starts from the cursor already seen.
    let r = gw.call(Method::GET, "/scim/v2/Users?startIndex=201&count=100", None).await;
    assert_eq!(r.json["itemsPerPage"], 50);
    assert_eq!(aws.seen().await.len(), 1, "one page read, not three");

    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20sw%20%22user%22", None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json["scimType"], "invalidFilter");
    assert!(aws.seen().await.is_empty(), "never filtered by listing everything");
    let r = gw.call(Method::GET, "/scim/v2/Users?filter=userName%20eq%20%22user007%40example.com%22", None).await;
    assert_eq!(r.json["totalResults"], 1, "{:?}", r.json);
    // AWS has no /.search: its 404 must not read as "no such user".
    let search = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"user007@example.com\""});
    let r = gw.call(Method::POST, "/scim/v2/Users/.search", Some(search)).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{:?}", r.json);
}

#[tokio::test]
async fn groups_take_patch_only_and_their_members_are_found_and_batched() {
    let (aws, gw) = setup("okta").await;
    let mut ids = Vec::new();
    for n in 0..150 {
        ids.push(create_user(&gw, n).await);
    }
    let members: Vec<Value> = ids.iter().map(|id| json!({"value": id})).collect();
    let r = gw
        .call(
            Method::POST,
            "/scim/v2/Groups",
            Some(json!({"schemas": [GROUP], "displayName": "Eng", "members": members})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let gid = r.json["id"].as_str().unwrap().to_owned();
    let stored = aws.standin(Method::GET, &format!("groups/{gid}"), None).await;
    assert_eq!(stored["members"].as_array().unwrap().len(), 150, "created with 100, patched with 50");

    // Okta's full-object PUT: 100 members kept, 50 gone, a rename.
    let kept: Vec<Value> = ids[..100].iter().map(|id| json!({"value": id})).collect();
    let put = json!({"schemas": [GROUP], "id": gid, "displayName": "Engineering", "members": kept});
    let r = gw.call(Method::PUT, &format!("/scim/v2/Groups/{gid}"), Some(put)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["members"].as_array().unwrap().len(), 100, "the answer shows the members AWS hides");
    let stored = aws.standin(Method::GET, &format!("groups/{gid}"), None).await;
    assert_eq!(stored["displayName"], "Engineering");
    assert_eq!(stored["members"].as_array().unwrap().len(), 100);
    let methods: Vec<String> = aws.seen().await.iter().map(|s| s["method"].as_str().unwrap().to_owned()).collect();
    assert!(!methods.contains(&"PUT".to_owned()), "AWS has no group PUT");

    let r = gw.call(Method::GET, &format!("/scim/v2/Groups/{gid}?excludedAttributes=members"), None).await;
    assert_eq!(r.json["members"], json!([]), "Entra's lookup asks for no members, and none are looked up");
    assert!(aws.seen().await.len() == 1, "one read");
}

#[tokio::test]
async fn a_busy_aws_is_waited_for_on_reads_and_a_post_is_never_replayed() {
    let (aws, gw) = setup("okta").await;
    let id = create_user(&gw, 1).await;
    aws.seen().await;
    aws.standin(Method::POST, "throttle", Some(json!({"count": 1, "retry_after": 1}))).await;
    let r = gw.call(Method::GET, &format!("/scim/v2/Users/{id}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "a read rides out the 429");
    aws.standin(Method::POST, "throttle", Some(json!({"count": 1, "retry_after": 1}))).await;
    aws.seen().await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(user(2))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(aws.seen().await.len(), 1, "the POST went once");
}
