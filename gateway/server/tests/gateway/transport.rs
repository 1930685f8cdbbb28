//! How the gateway talks to upstreams and IdPs: HTTPS both ways with an
//! extra CA, a CONNECT proxy, HTTP/2, an HTTP/1.0 upstream that closes every
//! connection, and X-Forwarded-* trusted only from configured proxies.

use super::support::{
    FakeUpstream, Gateway, Handler, Seen, TOKEN, UPSTREAM_TOKEN, config, counting_server, json_response, send,
};
use http::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

fn echo() -> Handler {
    Arc::new(|_, seen: Seen| {
        let version = format!("{:?}", seen.headers.get("x-forwarded-proto"));
        json_response(200, &json!({"path": seen.uri.path(), "proto": version}))
    })
}

/// A gateway that serves HTTPS in front of the embedded store, and its CA.
async fn https_backend() -> (Gateway, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let text = format!(
        "{}\n[server.tls]\ncert_file = \"{}\"\nkey_file = \"{}\"",
        config("memory:", &[], "generic"),
        cert.display(),
        key.display()
    )
    .replace("tokens_file = \"{dir}/tokens\"", &format!("tokens_file = \"{}\"", dir.join("tokens").display()));
    std::fs::write(dir.join("tokens"), format!("{UPSTREAM_TOKEN}\n")).unwrap();
    (Gateway::start(&text).await, cert)
}

#[tokio::test]
async fn https_inbound_and_an_https_upstream_trusted_through_an_extra_ca() {
    let (backend, ca) = https_backend().await;
    let upstream = format!("https://localhost:{}/scim/v2", backend.handle.addr.port());
    let with_ca = config(&upstream, &[], "generic")
        .replace("timeout_ms = 5000", &format!("timeout_ms = 5000\nca_file = \"{}\"", ca.display()));
    let front = Gateway::start(&with_ca).await;
    let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "tls@example.com"});
    let r = front.call(Method::POST, "/scim/v2/Users", Some(user)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json);
    let location = r.json["meta"]["location"].as_str().unwrap();
    assert!(location.starts_with(&front.url("/scim/v2/Users/")), "{location}");
}

#[tokio::test]
async fn an_untrusted_upstream_certificate_is_a_502() {
    let (backend, _ca) = https_backend().await;
    let upstream = format!("https://localhost:{}/scim/v2", backend.handle.addr.port());
    let front = Gateway::start(&config(&upstream, &[], "generic")).await;
    let r = front.call(Method::GET, "/scim/v2/Users", None).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.json["status"], "502");
}

/// A minimal CONNECT proxy that counts tunnels.
async fn connect_proxy() -> (String, Arc<AtomicUsize>) {
    let (addr, tunnels) = counting_server(|client| async move {
        let mut reader = BufReader::new(client);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        let target = line.split(' ').nth(1).unwrap().to_owned();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).await.unwrap();
            if h == "\r\n" || h.is_empty() {
                break;
            }
        }
        assert!(line.starts_with("CONNECT "), "{line}");
        let mut upstream = tokio::net::TcpStream::connect(target).await.unwrap();
        let mut client = reader.into_inner();
        client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await.unwrap();
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    })
    .await;
    (format!("http://{addr}"), tunnels)
}

#[tokio::test]
async fn upstream_connections_go_through_the_configured_proxy() {
    let up = FakeUpstream::start(echo()).await;
    let (proxy, tunnels) = connect_proxy().await;
    let gw = Gateway::start_with(&config(&up.url(), &[], "generic"), Some(proxy)).await;
    let r = gw.call(Method::GET, "/scim/v2/Users/1", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(r.json["path"], "/v2/Users/1");
    assert_eq!(tunnels.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_http2_only_upstream_is_reached_with_http2() {
    let up = FakeUpstream::start(Arc::new(|_, seen: Seen| {
        json_response(200, &json!({"version": format!("{:?}", seen.headers.get("x-request-id").is_some())}))
    }))
    .await;
    let gw = Gateway::start(
        &config(&up.url(), &[], "generic").replace("timeout_ms = 5000", "timeout_ms = 5000\nhttp2_only = true"),
    )
    .await;
    let r = gw.call(Method::GET, "/scim/v2/Users/1", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json);
    assert_eq!(up.hits(), 1);
}

/// An HTTP/1.0 server that answers one request per connection, then closes.
async fn http10_upstream() -> (String, Arc<AtomicUsize>) {
    let (addr, conns) = counting_server(|mut s| async move {
        let mut buf = vec![0u8; 8192];
        let _ = s.read(&mut buf).await;
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "old@example.com"}).to_string();
        let resp = format!("HTTP/1.0 200 OK\r\nContent-Type: application/scim+json\r\n\r\n{body}");
        let _ = s.write_all(resp.as_bytes()).await;
        let _ = s.shutdown().await;
    })
    .await;
    (format!("http://{addr}/v2"), conns)
}

#[tokio::test]
async fn an_upstream_that_closes_every_connection_works() {
    let (url, conns) = http10_upstream().await;
    let gw = Gateway::start(&config(&url, &[], "generic")).await;
    for _ in 0..3 {
        let r = gw.call(Method::GET, "/scim/v2/Users/1", None).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.json["userName"], "old@example.com");
    }
    assert_eq!(conns.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn forwarded_headers_are_trusted_only_from_configured_proxies() {
    let base = Arc::new(std::sync::OnceLock::<String>::new());
    let b = base.clone();
    let forwarding = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    let f = forwarding.clone();
    let loc: Handler = Arc::new(move |_, seen: Seen| {
        let header = |n: &str| seen.headers.get(n).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        f.lock().unwrap().push((header("x-forwarded-for"), header("x-forwarded-proto")));
        let url = format!("{}/Users/1", b.get().unwrap());
        let mut r = json_response(201, &json!({"id": "1", "meta": {"location": url}}));
        r.headers_mut().insert("location", url.parse().unwrap());
        r
    });
    let up = FakeUpstream::start(loc).await;
    base.set(up.url()).unwrap();
    let spoof =
        [("x-forwarded-host", "idp-facing.example"), ("x-forwarded-proto", "https"), ("x-forwarded-for", "6.6.6.6")];
    let body = Some(bytes::Bytes::from_static(b"{\"userName\":\"a\"}"));

    let untrusted = Gateway::start(&config(&up.url(), &[], "generic")).await;
    let r = send(Method::POST, &untrusted.url("/scim/v2/Users"), Some(TOKEN), body.clone(), &spoof).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.headers["location"], untrusted.url("/scim/v2/Users/1"), "spoofed headers are ignored");
    assert_eq!(r.json["meta"]["location"], untrusted.url("/scim/v2/Users/1"));

    let trusted_config =
        config(&up.url(), &[], "generic").replace("[server]\n", "[server]\ntrusted_proxies = [\"127.0.0.0/8\"]\n");
    let trusted = Gateway::start(&trusted_config).await;
    let r = send(Method::POST, &trusted.url("/scim/v2/Users"), Some(TOKEN), body.clone(), &spoof).await;
    assert_eq!(r.headers["location"], "https://idp-facing.example/scim/v2/Users/1");
    let seen = forwarding.lock().unwrap().clone();
    let expected = [("127.0.0.1", "http"), ("6.6.6.6, 127.0.0.1", "https")].map(|(f, p)| (f.to_owned(), p.to_owned()));
    assert_eq!(seen, expected, "the upstream is told the peer, and a trusted proxy's chain and scheme");

    let public = config(&up.url(), &[], "generic")
        .replace("[server]\n", "[server]\npublic_url = \"https://scim.example.com/scim/v2/\"\n");
    let fixed = Gateway::start(&public).await;
    let r = send(Method::POST, &fixed.url("/scim/v2/Users"), Some(TOKEN), body, &spoof).await;
    assert_eq!(r.json["meta"]["location"], "https://scim.example.com/scim/v2/Users/1");
}
