//! Traces: the gateway exports OTLP over HTTP to a receiver started here,
//! which decodes the protobuf as a collector would. A request is a server
//! span with a child per phase, plugin and upstream call; the IdP's
//! `traceparent` is continued and the backend gets the upstream call's;
//! the trace id is in the audit record and the log line; no attribute
//! holds user data.

use super::support::{FakeUpstream, Gateway, Scim2Server, TOKEN, free_port, json_response, send, workspace};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use prost::Message;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One exported span, decoded, with its resource's attributes.
#[derive(Debug, Clone)]
struct Exported {
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    kind: i32,
    attributes: Vec<(String, String)>,
    resource: Vec<(String, String)>,
    error: bool,
}

impl Exported {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// An OTLP/HTTP receiver on a free loopback port: takes protobuf posts on
/// `/v1/traces` and keeps every span.
struct Receiver {
    server: FakeUpstream,
    spans: Arc<Mutex<Vec<Exported>>>,
}

impl Receiver {
    async fn start() -> Self {
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let server = FakeUpstream::start(Arc::new(move |_, seen| {
            let ok = seen.uri.path() == "/v1/traces" && seen.headers["content-type"] == "application/x-protobuf";
            let export = ExportTraceServiceRequest::decode(seen.body).expect("an OTLP protobuf export");
            kept.lock().unwrap().extend(decode(&export));
            http::Response::builder().status(if ok { 200 } else { 400 }).body(Full::new(Bytes::new())).unwrap()
        }))
        .await;
        Self { server, spans }
    }

    fn section(&self, extra: &str) -> String {
        format!(
            "\n[telemetry]\notlp_endpoint = \"http://{}\"\nservice_name = \"gateway-under-test\"\n{extra}\n",
            self.server.addr
        )
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }

    /// The spans of `trace`, waiting up to 10 s for at least `n`, the
    /// server span among them.
    async fn trace(&self, trace: &str, n: usize) -> Vec<Exported> {
        for _ in 0..200 {
            let found: Vec<Exported> = self.spans().into_iter().filter(|s| s.trace_id == trace).collect();
            // The server span ends last, and may come in a later export
            // than `n` of its children.
            if found.len() >= n && found.iter().any(|s| s.kind == SERVER) {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.spans().into_iter().filter(|s| s.trace_id == trace).collect()
    }
}

fn decode(export: &ExportTraceServiceRequest) -> Vec<Exported> {
    let mut out = Vec::new();
    for rs in &export.resource_spans {
        let resource = rs.resource.as_ref().map(|r| pairs(&r.attributes)).unwrap_or_default();
        for s in rs.scope_spans.iter().flat_map(|ss| &ss.spans) {
            out.push(Exported {
                trace_id: hex(&s.trace_id),
                span_id: hex(&s.span_id),
                parent: hex(&s.parent_span_id),
                name: s.name.clone(),
                kind: s.kind,
                attributes: pairs(&s.attributes),
                resource: resource.clone(),
                // STATUS_CODE_ERROR is 2.
                error: s.status.as_ref().is_some_and(|st| st.code == 2),
            });
        }
    }
    out
}

fn pairs(kvs: &[KeyValue]) -> Vec<(String, String)> {
    kvs.iter().map(|kv| (kv.key.clone(), text(kv.value.as_ref()))).collect()
}

fn text(v: Option<&AnyValue>) -> String {
    match v.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The span kinds of OTLP: SERVER is 2, CLIENT is 3.
const SERVER: i32 = 2;
const CLIENT: i32 = 3;

/// Every attribute key a span may carry: the bounded set.
const ALLOWED: [&str; 20] = [
    "scim.items",
    "http.request.method",
    "http.response.status_code",
    "error.type",
    "scim.route",
    "scim.resource",
    "scim.preset",
    "scim.mapping_version",
    "scim.fault",
    "scim.intent",
    "scim.normalizations",
    "scim.rules_failed",
    "scim.profile",
    "scim.direction",
    "scim.purpose",
    "scim.plugin.position",
    "scim.plugin.direction",
    "scim.plugin.outcome",
    "service.name",
    "service.version",
];

const IDP_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const IDP_SPAN: &str = "00f067aa0ba902b7";

fn traceparent(trace: &str, span: &str, flags: &str) -> String {
    format!("00-{trace}-{span}-{flags}")
}

/// An Okta create full of personal data.
fn jane() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jdoe-9731", "externalId": "ext-5f7c2a",
        "name": {"givenName": "Janina", "familyName": "Dobrowolska"},
        "emails": [{"value": " Janina.Dobrowolska@Example.COM ", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+48 601 555 017", "type": "mobile"}],
        "password": "Sup3r-secret!", "active": true
    })
}

async fn call(gw: &Gateway, method: Method, path: &str, body: Option<Value>, headers: &[(&str, &str)]) -> Value {
    let r = send(method, &gw.url(path), Some(TOKEN), body.map(|b| Bytes::from(b.to_string())), headers).await;
    assert!(r.status.is_success(), "{} {}", r.status, r.json);
    r.json
}

fn plugins() -> &'static str {
    "\n[[mapping.plugins]]\nname = \"full-name\"\npath = \"{plugins}/full-name.wasm\"\nresources = [\"User\"]\n"
}

#[tokio::test]
async fn each_request_is_a_server_span_with_a_child_per_phase_plugin_and_upstream_call_and_no_user_data() {
    let receiver = Receiver::start().await;
    let scim2 = Scim2Server::start().await;
    let config = format!(
        "{}{}\n[audit]\nurl = \"sqlite://{{dir}}/audit.db\"\nmax_wait_ms = 100\n{}",
        super::support::config(&scim2.base, &["okta-to-notion.toml"], "okta"),
        plugins(),
        receiver.section("export_interval_ms = 100")
    );
    let gw = Gateway::start(&config).await;
    // A create continuing the IdP's trace.
    let parent = traceparent(IDP_TRACE, IDP_SPAN, "01");
    let created = call(&gw, Method::POST, "/scim/v2/Users", Some(jane()), &[("traceparent", &parent)]).await;
    let id = created["id"].as_str().unwrap().to_owned();
    // A filtered list and a deactivation, each a trace of its own.
    let filter = "/scim/v2/Users?filter=userName%20eq%20%22jdoe-9731%22";
    call(&gw, Method::GET, filter, None, &[]).await;
    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    call(&gw, Method::PATCH, &format!("/scim/v2/Users/{id}"), Some(off), &[]).await;
    let refused = send(Method::GET, &gw.url("/scim/v2/Users"), Some("wrong-token"), None, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);

    // The create: the IdP's trace continued, one child per phase.
    let create = receiver.trace(IDP_TRACE, 9).await;
    let root = create.iter().find(|s| s.kind == SERVER).expect("a server span");
    assert_eq!((root.name.as_str(), root.parent.as_str()), ("POST User", IDP_SPAN), "{root:?}");
    assert_eq!(root.attr("http.response.status_code"), Some("201"));
    assert_eq!(root.attr("scim.route"), Some("default"));
    let children: Vec<&str> = create.iter().filter(|s| s.parent == root.span_id).map(|s| s.name.as_str()).collect();
    for phase in [
        "route and auth",
        "read body",
        "normalize",
        "map request",
        "plugin full-name",
        "backend profile",
        "upstream forward",
        "map response",
    ] {
        assert!(children.contains(&phase), "{phase} missing from {children:?}");
    }
    let upstream = create.iter().find(|s| s.name == "upstream forward").unwrap();
    assert_eq!((upstream.kind, upstream.attr("scim.purpose")), (CLIENT, Some("forward")));
    assert_eq!(upstream.attr("http.response.status_code"), Some("201"));
    let plugin = create.iter().find(|s| s.name == "plugin full-name").unwrap();
    assert_eq!(plugin.attr("scim.plugin.outcome"), Some("ok"));
    assert_eq!(
        root.resource.iter().find(|(k, _)| k == "service.name").map(|(_, v)| v.as_str()),
        Some("gateway-under-test")
    );

    // The deactivation: its own trace, read then written, a deprovisioning.
    let deactivation = wait_for(&receiver, "PATCH User").await;
    let spans = receiver.trace(&deactivation.trace_id, 6).await;
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"upstream current_read") && names.contains(&"upstream forward"), "{names:?}");
    let normalize = spans.iter().find(|s| s.name == "normalize").unwrap();
    assert_eq!(normalize.attr("scim.intent"), Some("deprovision"));
    assert!(deactivation.parent.is_empty(), "a trace the gateway started has no parent");

    // The refused request: the phase failed; for the request, an error
    // of the client's (a 4xx), not the gateway's.
    let refused = wait_for(&receiver, "GET Other").await;
    assert_eq!((refused.attr("error.type"), refused.error), (Some("unauthorized"), false), "{refused:?}");
    let auth = receiver.trace(&refused.trace_id, 2).await.into_iter().find(|s| s.name == "route and auth");
    assert!(auth.is_some_and(|s| s.error && s.attr("error.type") == Some("unauthorized")));

    // The audit trail names each write's trace.
    let audit = gw.handle.gateway().audit.clone().unwrap();
    let filter = scim_gateway::audit::store::Filter::from_pairs([("trace_id", IDP_TRACE)]).unwrap();
    let records = audit_records(&audit, &filter).await;
    assert_eq!(records.len(), 1, "the create's record");
    assert_eq!(records[0].method, "POST");
    let filter =
        scim_gateway::audit::store::Filter::from_pairs([("trace_id", deactivation.trace_id.as_str())]).unwrap();
    let records = audit_records(&audit, &filter).await;
    assert!(records.len() == 1 && records[0].deprovisioning, "{records:?}");

    // No user data anywhere: only the bounded keys, none of the values.
    let all = receiver.spans();
    assert!(all.len() >= 20, "{} spans", all.len());
    let secrets = ["jdoe", "janina", "dobrowolska", "example", "5f7c2a", "601 555", "sup3r", TOKEN, id.as_str()];
    for span in &all {
        for (key, value) in span.attributes.iter().chain(&span.resource) {
            let allowed =
                ALLOWED.contains(&key.as_str()) || key.starts_with("telemetry.sdk.") || key == "service.instance.id";
            assert!(allowed, "attribute {key} is not in the bounded set ({span:?})");
            let lower = value.to_lowercase();
            assert!(!secrets.iter().any(|s| lower.contains(&s.to_lowercase())), "{key} = {value} holds user data");
        }
        let name = span.name.to_lowercase();
        assert!(!secrets.iter().any(|s| name.contains(&s.to_lowercase())), "span name {name}");
    }
}

/// The first server span named `name`.
async fn wait_for(receiver: &Receiver, name: &str) -> Exported {
    for _ in 0..200 {
        if let Some(s) = receiver.spans().into_iter().find(|s| s.kind == SERVER && s.name == name) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no {name} span in {:?}", receiver.spans().iter().map(|s| &s.name).collect::<BTreeSet<_>>());
}

async fn audit_records(
    audit: &scim_gateway::audit::Audit,
    filter: &scim_gateway::audit::store::Filter,
) -> Vec<scim_gateway::audit::record::Record> {
    for _ in 0..100 {
        match audit.store().query(filter).await {
            Ok(found) if !found.is_empty() => return found,
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    Vec::new()
}

#[tokio::test]
async fn the_sampling_ratio_keeps_no_trace_the_gateway_starts_but_follows_an_idp_that_samples() {
    let receiver = Receiver::start().await;
    let config = format!(
        "{}\n[audit]\nurl = \"sqlite://{{dir}}/audit.db\"\nmax_wait_ms = 100\n{}",
        super::support::config("memory:", &[], "okta"),
        receiver.section("sampling_ratio = 0\nexport_interval_ms = 100")
    );
    let gw = Gateway::start(&config).await;
    let unsampled = call(&gw, Method::POST, "/scim/v2/Users", Some(jane()), &[]).await;
    let parent = traceparent(IDP_TRACE, IDP_SPAN, "01");
    let mut other = jane();
    other["userName"] = json!("someone-else");
    call(&gw, Method::POST, "/scim/v2/Users", Some(other), &[("traceparent", &parent)]).await;
    let sampled = receiver.trace(IDP_TRACE, 5).await;
    assert!(sampled.iter().any(|s| s.kind == SERVER), "the IdP's sampled trace is kept");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let others: Vec<Exported> = receiver.spans().into_iter().filter(|s| s.trace_id != IDP_TRACE).collect();
    assert!(others.is_empty(), "sampling_ratio = 0 exports nothing the gateway started: {others:?}");
    // The unsampled create still has a trace id, in its audit record.
    let audit = gw.handle.gateway().audit.clone().unwrap();
    let id = unsampled["id"].as_str().unwrap();
    let filter = scim_gateway::audit::store::Filter::from_pairs([("resource_id", id)]).unwrap();
    let records = audit_records(&audit, &filter).await;
    let trace = records.first().and_then(|r| r.trace_id.clone()).expect("a trace id");
    assert!(trace.len() == 32 && trace != IDP_TRACE, "{trace}");
}

#[tokio::test]
async fn without_telemetry_the_idps_traceparent_reaches_the_backend_untouched() {
    let upstream = FakeUpstream::start(Arc::new(|_, seen| {
        let tp = seen.headers.get("traceparent").map(|v| v.to_str().unwrap().to_owned());
        json_response(
            200,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": tp}),
        )
    }))
    .await;
    let gw = Gateway::start(&super::support::config(&upstream.url(), &[], "okta")).await;
    let parent = traceparent(IDP_TRACE, IDP_SPAN, "01");
    let got = call(&gw, Method::GET, "/scim/v2/Users/u1", None, &[("traceparent", &parent)]).await;
    assert_eq!(got["userName"], json!(parent));
}

/// The binary in its own process: spans flushed on SIGTERM, the backend
/// given the upstream call's traceparent, the trace id in the log line.
#[tokio::test]
async fn the_backend_gets_the_upstream_calls_traceparent_and_the_log_line_names_the_trace() {
    let receiver = Receiver::start().await;
    let sent = Arc::new(Mutex::new(Vec::new()));
    let seen = sent.clone();
    let upstream = FakeUpstream::start(Arc::new(move |_, s| {
        let tp = s.headers.get("traceparent").map(|v| v.to_str().unwrap().to_owned());
        seen.lock().unwrap().push(tp);
        json_response(
            200,
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1", "userName": "x"}),
        )
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens"), format!("idp:{TOKEN}\n")).unwrap();
    let port = free_port();
    // Exported only at shutdown: the flush on SIGTERM is what delivers them.
    let config = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\nbase_path = \"/scim/v2\"\n[server.auth]\ntokens_file = \"tokens\"\n[admin]\n[upstream]\nurl = \"{}\"\n[mapping]\npreset = \"okta\"\n{}",
        upstream.url(),
        receiver.section("export_interval_ms = 600000")
    );
    std::fs::write(dir.path().join("gateway.toml"), config).unwrap();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scim-gateway"))
        .args(["serve", "--config"])
        .arg(dir.path().join("gateway.toml"))
        .env("RUST_LOG", "info")
        .current_dir(workspace())
        .stderr(log)
        .spawn()
        .unwrap();
    super::replicas::wait_port(port).await;
    let parent = traceparent(IDP_TRACE, IDP_SPAN, "01");
    let url = format!("http://127.0.0.1:{port}/scim/v2/Users/u1");
    let r = send(Method::GET, &url, Some(TOKEN), None, &[("traceparent", &parent)]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(receiver.spans().is_empty(), "nothing exported before the flush");
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    // Waited for without blocking this runtime: the receiver runs on it.
    let exited = loop {
        match child.try_wait().unwrap() {
            Some(status) => break status,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert!(exited.success());

    let spans = receiver.trace(IDP_TRACE, 4).await;
    let forward = spans.iter().find(|s| s.name == "upstream forward").expect("the upstream call's span");
    let got = sent.lock().unwrap().clone();
    let expected = vec![Some(traceparent(IDP_TRACE, &forward.span_id, "01"))];
    assert_eq!(got, expected, "the backend continues the upstream call's span");
    assert_ne!(forward.span_id, IDP_SPAN);
    let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
    let line = log.lines().find(|l| l.contains("request_id")).expect("the request's log line");
    assert!(line.contains(&format!("trace_id=\"{IDP_TRACE}\"")), "{line}");
}

/// A collector that takes connections and never answers: exports wait on
/// it in the background, the queue fills and spans are dropped, and every
/// request, a deactivation among them, is answered as without traces.
#[tokio::test]
async fn a_hung_collector_costs_spans_never_a_request_or_a_deactivation() {
    let (port, held) = super::support::hung_server().await;
    let section = format!(
        "\n[telemetry]\notlp_endpoint = \"http://127.0.0.1:{port}\"\nmax_queue = 8\nexport_interval_ms = 50\ntimeout_ms = 60000\n"
    );
    let config = format!("{}{section}", super::support::config("memory:", &[], "okta"));
    let config = config.replace("[upstream]", "[server.limits]\nrequest_timeout_ms = 5000\n[upstream]");
    let gw = Gateway::start(&config).await;
    for n in 0..40 {
        let mut user = jane();
        user["userName"] = json!(format!("user-{n}"));
        let created = call(&gw, Method::POST, "/scim/v2/Users", Some(user), &[]).await;
        if n % 10 == 0 {
            let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": false}]});
            let path = format!("/scim/v2/Users/{}", created["id"].as_str().unwrap());
            call(&gw, Method::PATCH, &path, Some(off), &[]).await;
            let (_, stored) = gw.backend_get(&path.replace("/scim/v2", "")).await;
            assert_eq!(stored["active"], json!(false), "the deactivation landed");
        }
    }
    held.abort();
}
