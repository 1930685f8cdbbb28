//! Microsoft Entra ID's provisioning requests replayed through the gateway
//! (preset `entra`, `entra-to-notion.toml`) against scim2-server and the
//! embedded store, in Entra's default mode and with `?aadOptscim062020`
//! (the tenant URL flag that makes Entra more RFC-like). The requests are
//! the ones Microsoft publishes in "Tutorial: Develop and plan provisioning
//! for a SCIM endpoint" and "Known issues and resolutions with SCIM 2.0
//! protocol compliance"; every case checks what the backend stores, read
//! around the gateway, not only the status.

use super::support::{Response, Setup, member_ids};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const AD_GROUP: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";

/// The two ways Entra talks.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Default,
    /// `?aadOptscim062020`: lower-case ops, boolean `active`, member
    /// removal by filter, path-less replace with dotted keys.
    Opt062020,
}

/// One Entra tenant URL: the gateway's, with the flag when set.
struct Entra {
    s: Setup,
    mode: Mode,
}

impl Entra {
    fn url(&self, path: &str) -> String {
        match (self.mode, path.contains('?')) {
            (Mode::Default, _) => path.to_owned(),
            (Mode::Opt062020, true) => format!("{path}&aadOptscim062020"),
            (Mode::Opt062020, false) => format!("{path}?aadOptscim062020"),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.s.call(method, &self.url(path), body).await
    }

    /// `Replace` in the default mode, `replace` with the flag.
    fn op(&self, name: &str) -> String {
        match self.mode {
            Mode::Default => format!("{}{}", name[..1].to_uppercase(), &name[1..]),
            Mode::Opt062020 => name.to_owned(),
        }
    }

    async fn patch(&self, path: &str, ops: Value) -> Response {
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let r = self.call(Method::PATCH, path, Some(body)).await;
        assert!(r.status.is_success(), "PATCH {path}: {} {:?}", r.status, r.json);
        r
    }

    async fn stored(&self, path: &str) -> Value {
        let (status, body) = self.s.stored(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }
}

/// Microsoft's create, with the explicit nulls older samples send and the
/// client `meta` every sample sends.
fn entra_user(tag: &str) -> Value {
    json!({
        "schemas": [USER, ENT],
        "externalId": format!("0a21f0f2-8d2a-4f8e-bf98-{tag}"),
        "userName": format!("Test_User_{tag}"),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("Test_User_{tag}@testuser.com")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "title": null,
        ENT: {"manager": null, "department": null},
        "roles": []
    })
}

async fn create(e: &Entra, tag: &str) -> String {
    let r = e.call(Method::POST, "/Users", Some(entra_user(tag))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    r.json["id"].as_str().unwrap().to_owned()
}

async fn users(e: &Entra) -> (String, String) {
    // Test Connection: a user that cannot exist must be an empty list.
    let r = e.call(Method::GET, "/Users?filter=userName+eq+%22ba6a7d2e-0d2f-4a4b-9f51-1f9a1b2c3d4e%22", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!((r.json["totalResults"].clone(), r.json["Resources"].clone()), (json!(0), json!([])));

    let id = create(e, "ab6490ee").await;
    let at = format!("/Users/{id}");
    let stored = e.stored(&at).await;
    assert_eq!(stored["userName"], "test_user_ab6490ee@testuser.com", "userName is the work email");
    assert_eq!(stored["externalId"], "0a21f0f2-8d2a-4f8e-bf98-ab6490ee");
    assert!(stored.get("title").is_none() && stored.get("roles").is_none_or(|r| r == &json!([])), "{stored}");
    assert_ne!(stored["meta"]["resourceType"], Value::Null, "the server's meta, not a client's");

    // Matching: externalId unquoted, as in Microsoft's sample.
    let r = e.call(Method::GET, "/Users?filter=externalId+eq+0a21f0f2-8d2a-4f8e-bf98-ab6490ee", None).await;
    assert_eq!(r.json["totalResults"], 1, "{:?}", r.json);
    assert_eq!(r.json["Resources"][0]["id"], id.as_str());
    let r = e.call(Method::GET, "/Users?filter=userName+eq+%22non-existent%20user%22", None).await;
    assert_eq!(r.json["totalResults"], 0);
    // Matching on userName, where the tenant feeds it the work email.
    let r = e.call(Method::GET, "/Users?filter=userName+eq+%22Test_User_ab6490ee%40testuser.com%22", None).await;
    assert_eq!(r.json["totalResults"], 1, "{:?}", r.json);
    assert_eq!(r.json["Resources"][0]["id"], id.as_str());

    // Update: a multi-valued and a single-valued attribute.
    let ops = json!([
        {"op": e.op("replace"), "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
        {"op": e.op("replace"), "path": "name.familyName", "value": "updatedFamilyName"}
    ]);
    e.patch(&at, ops).await;
    let stored = e.stored(&at).await;
    assert_eq!(stored["emails"][0]["value"], "updatedemail@microsoft.com");
    assert_eq!(stored["userName"], "updatedemail@microsoft.com", "userName follows the work email");
    assert_eq!(stored["name"]["formatted"], "givenName updatedFamilyName");

    // Manager: Entra's array form, then its filtered remove.
    let manager = create(e, "5b50642d").await;
    let ops = json!([{"op": e.op("add"), "path": "manager", "value": [{"$ref": null, "value": manager}]}]);
    e.patch(&at, ops).await;
    assert_eq!(e.stored(&at).await[ENT]["manager"]["value"], manager.as_str());
    e.patch(&at, json!([{"op": e.op("remove"), "path": format!("manager[value eq \"{manager}\"]")}])).await;
    assert!(e.stored(&at).await[ENT].get("manager").is_none());

    // A role JSON-encoded inside a string.
    let role = r#"{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}"#;
    e.patch(&at, json!([{"op": e.op("add"), "path": "roles", "value": [{"value": role}]}])).await;
    let stored = e.stored(&at).await;
    assert_eq!(stored["roles"][0]["value"], "25", "{stored}");
    assert_eq!(stored["roles"][0]["display"], "Role1234");

    if e.mode == Mode::Opt062020 {
        // One path-less replace with dotted and URN-prefixed keys.
        let value = json!({"name.givenName": "Pvl", format!("{ENT}:employeeNumber"): "E-1001"});
        e.patch(&at, json!([{"op": "replace", "value": value}])).await;
        let stored = e.stored(&at).await;
        assert_eq!(stored["name"]["givenName"], "Pvl");
        assert_eq!(stored["name"]["formatted"], "Pvl updatedFamilyName");
        assert_eq!(stored[ENT]["employeeNumber"], "E-1001");
    }

    // Deactivation: a string in the default mode, a boolean with the flag.
    let active = match e.mode {
        Mode::Default => json!("False"),
        Mode::Opt062020 => json!(false),
    };
    e.patch(&at, json!([{"op": e.op("replace"), "path": "active", "value": active}])).await;
    assert_eq!(e.stored(&at).await["active"], false);
    (id, manager)
}

async fn groups(e: &Entra, members: [&str; 2]) {
    let group = json!({
        "schemas": [GROUP, AD_GROUP], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName", "meta": {"resourceType": "Group"}
    });
    let r = e.call(Method::POST, "/Groups", Some(group)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let gid = r.json["id"].as_str().unwrap().to_owned();
    let at = format!("/Groups/{gid}");
    let stored = e.stored(&at).await;
    assert_eq!(
        (stored["displayName"].clone(), stored["externalId"].clone()),
        (json!("displayName"), json!("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"))
    );

    let r =
        e.call(Method::GET, "/Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22", None).await;
    assert_eq!(r.json["totalResults"], 1, "{:?}", r.json);
    let r = e.call(Method::GET, &format!("{at}?excludedAttributes=members"), None).await;
    assert_eq!(r.json["id"], gid.as_str());

    e.patch(&at, json!([{"op": e.op("replace"), "path": "displayName", "value": "updatedDisplayName"}])).await;
    assert_eq!(e.stored(&at).await["displayName"], "updatedDisplayName");

    // Members added with `$ref: null`.
    let add: Vec<Value> = members.iter().map(|m| json!({"$ref": null, "value": m})).collect();
    e.patch(&at, json!([{"op": e.op("add"), "path": "members", "value": add}])).await;
    assert_eq!(member_ids(&e.stored(&at).await), sorted(&members));

    // One member removed: by a value array (default) or a filter (flag).
    // Sent as-is to an RFC server, the value-array form empties the group.
    let op = match e.mode {
        Mode::Default => json!({"op": "Remove", "path": "members", "value": [{"$ref": null, "value": members[0]}]}),
        Mode::Opt062020 => json!({"op": "remove", "path": format!("members[value eq \"{}\"]", members[0])}),
    };
    e.patch(&at, json!([op])).await;
    assert_eq!(member_ids(&e.stored(&at).await), vec![members[1].to_owned()], "only that member went");

    assert_eq!(e.call(Method::DELETE, &at, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(e.s.stored(&at).await.0, StatusCode::NOT_FOUND);
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    v.sort();
    v
}

async fn suite(s: Setup, mode: Mode) {
    let e = Entra { s, mode };
    let (user, manager) = users(&e).await;
    groups(&e, [&user, &manager]).await;
    let r = e.call(Method::DELETE, &format!("/Users/{user}"), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(e.s.stored(&format!("/Users/{user}")).await.0, StatusCode::NOT_FOUND);
}

const MAPPING: &str = "entra-to-notion.toml";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_default_mode_on_scim2_server() {
    suite(Setup::scim2(MAPPING, "entra").await, Mode::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_aad_opt_scim062020_on_scim2_server() {
    suite(Setup::scim2(MAPPING, "entra").await, Mode::Opt062020).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_default_mode_on_the_embedded_store() {
    suite(Setup::memory(MAPPING, "entra").await, Mode::Default).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_aad_opt_scim062020_on_the_embedded_store() {
    suite(Setup::memory(MAPPING, "entra").await, Mode::Opt062020).await;
}

#[tokio::test]
async fn the_aad_opt_flag_never_reaches_the_backend() {
    use super::support::{FakeUpstream, Gateway, Handler, Seen, config, json_response};
    use std::sync::{Arc, Mutex};
    let queries = Arc::new(Mutex::new(Vec::new()));
    let q = queries.clone();
    let handler: Handler = Arc::new(move |_, seen: Seen| {
        q.lock().unwrap().push(seen.uri.query().map(str::to_owned));
        json_response(
            200,
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "Resources": []}),
        )
    });
    let up = FakeUpstream::start(handler).await;
    let gw = Gateway::start(&config(&up.url(), &[MAPPING], "entra")).await;
    gw.call(Method::GET, "/scim/v2/Users?aadOptscim062020", None).await;
    gw.call(Method::GET, "/scim/v2/Users?filter=externalId+eq+x&aadOptscim062020", None).await;
    let seen = queries.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], None, "nothing left of the query");
    let second = seen[1].clone().unwrap();
    assert!(second.contains("filter=") && !second.to_ascii_lowercase().contains("aadopt"), "{second}");
}
