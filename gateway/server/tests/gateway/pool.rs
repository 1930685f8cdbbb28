//! The upstream connection pool: connections reused, never more of them
//! than requests in flight at once, idle ones closed after
//! `pool_idle_timeout_ms`, and a POST never written twice when a pooled
//! connection turns out closed.

use super::support::{Gateway, TOKEN, UPSTREAM_TOKEN, config_with, counting_server};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What a counting upstream saw.
struct Counts {
    accepted: Arc<AtomicUsize>,
    traffic: Arc<Traffic>,
}

/// Connections still open, and POSTs.
#[derive(Default)]
struct Traffic {
    open: AtomicUsize,
    posts: AtomicUsize,
}

/// How the counting upstream behaves.
#[derive(Clone, Copy)]
struct Behaviour {
    /// How long it takes to answer.
    delay: Duration,
    /// Closes a connection (without saying so) when no next request comes
    /// within this long.
    close_idle_after: Option<Duration>,
    /// Characters of padding in each answer.
    pad: usize,
}

/// A keep-alive HTTP/1.1 upstream that answers every request with a user
/// and counts connections accepted and still open, and POSTs.
async fn counting_upstream(behaviour: Behaviour) -> (String, Counts) {
    let traffic = Arc::new(Traffic::default());
    let t = traffic.clone();
    let (addr, accepted) = counting_server(move |s| {
        let t = t.clone();
        async move {
            t.open.fetch_add(1, Ordering::SeqCst);
            serve(s, behaviour, &t).await;
            t.open.fetch_sub(1, Ordering::SeqCst);
        }
    })
    .await;
    (format!("http://{addr}/v2"), Counts { accepted, traffic })
}

async fn serve(s: TcpStream, b: Behaviour, seen: &Traffic) {
    let mut reader = BufReader::new(s);
    loop {
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        let n = match b.close_idle_after {
            Some(after) => match tokio::time::timeout(after, read).await {
                Ok(n) => n,
                Err(_) => return,
            },
            None => read.await,
        };
        if n.unwrap_or(0) == 0 {
            return;
        }
        if line.starts_with("POST ") {
            seen.posts.fetch_add(1, Ordering::SeqCst);
        }
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).await.unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0u8; length];
        reader.read_exact(&mut body).await.unwrap();
        tokio::time::sleep(b.delay).await;
        let pad = "x".repeat(b.pad);
        let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "u@example.com", "title": pad});
        let text = user.to_string();
        let head = format!(
            "HTTP/1.1 201 Created\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\n\r\n",
            text.len()
        );
        if reader.get_mut().write_all(format!("{head}{text}").as_bytes()).await.is_err() {
            return;
        }
    }
}

fn new_user() -> serde_json::Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "u@example.com"})
}

async fn gateway(upstream: &str, keys: &str) -> Gateway {
    gateway_with_workers(upstream, keys, 2).await
}

async fn gateway_with_workers(upstream: &str, keys: &str, workers: usize) -> Gateway {
    let text =
        config_with(upstream, &[], "generic", keys).replace("[server]", &format!("[server]\nworkers = {workers}"));
    Gateway::start(&text).await
}

/// An IdP that keeps one connection open and sends `count` POSTs on it,
/// one after another.
async fn keep_alive_idp(url: String, count: usize) {
    let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(1).build_http::<Full<Bytes>>();
    for _ in 0..count {
        let req = Request::post(&url)
            .header("authorization", format!("Bearer {TOKEN}"))
            .header("content-type", "application/scim+json")
            .body(Full::new(Bytes::from(new_user().to_string())))
            .unwrap();
        let resp = client.request(req).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CREATED);
        resp.into_body().collect().await.unwrap();
    }
}

#[tokio::test]
async fn waves_of_concurrent_requests_open_no_more_connections_than_were_in_flight() {
    let slow = Behaviour { delay: Duration::from_millis(150), close_idle_after: None, pad: 0 };
    let (url, counts) = counting_upstream(slow).await;
    let gw = Arc::new(gateway(&url, "").await);
    for _ in 0..3 {
        let wave: Vec<_> = (0..6)
            .map(|_| {
                let gw = gw.clone();
                tokio::spawn(async move { gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await })
            })
            .collect();
        for r in wave {
            let r = r.await.unwrap();
            assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        }
    }
    assert_eq!(counts.traffic.posts.load(Ordering::SeqCst), 18);
    let accepted = counts.accepted.load(Ordering::SeqCst);
    assert!(accepted <= 6, "18 requests, at most 6 at once, took {accepted} upstream connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_load_from_four_idp_connections_holds_four_upstream_connections() {
    let quick = Behaviour { delay: Duration::from_millis(1), close_idle_after: None, pad: 0 };
    let (url, counts) = counting_upstream(quick).await;
    let gw = gateway_with_workers(&url, "", 1).await;
    let idps: Vec<_> = (0..4).map(|_| tokio::spawn(keep_alive_idp(gw.url("/scim/v2/Users"), 100))).collect();
    for idp in idps {
        idp.await.unwrap();
    }
    assert_eq!(counts.traffic.posts.load(Ordering::SeqCst), 400);
    let accepted = counts.accepted.load(Ordering::SeqCst);
    assert!(accepted <= 4, "four IdP connections on one worker took {accepted} upstream connections");
}

#[tokio::test]
async fn one_request_after_another_reuses_the_connection() {
    let quick = Behaviour { delay: Duration::ZERO, close_idle_after: None, pad: 0 };
    let (url, counts) = counting_upstream(quick).await;
    let gw = gateway(&url, "").await;
    for _ in 0..10 {
        let r = gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    // Each call is a new IdP connection, dealt to the two workers in turn:
    // each worker keeps one upstream connection.
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn connections_idle_longer_than_pool_idle_timeout_are_closed() {
    let quick = Behaviour { delay: Duration::ZERO, close_idle_after: None, pad: 0 };
    let (url, counts) = counting_upstream(quick).await;
    let gw = gateway(&url, "pool_idle_timeout_ms = 100").await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(counts.traffic.open.load(Ordering::SeqCst), 1);
    for _ in 0..50 {
        if counts.traffic.open.load(Ordering::SeqCst) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(counts.traffic.open.load(Ordering::SeqCst), 0, "the idle connection is still open after 1 s");
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_after_the_upstream_dropped_the_idle_connection_is_sent_once_on_a_new_one() {
    let impatient = Behaviour { delay: Duration::ZERO, close_idle_after: Some(Duration::from_millis(50)), pad: 0 };
    let (url, counts) = counting_upstream(impatient).await;
    let gw = gateway(&url, "retries = 0").await;
    for n in 1..=4 {
        let r = gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        assert_eq!(counts.traffic.posts.load(Ordering::SeqCst), n, "a POST is written once");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 4, "a closed connection is never reused");
}

/// An upstream that starts to listen on `addr` after `after`, takes one
/// connection and answers its one request with a user: the request's
/// line and headers, lower case, are sent on the channel.
fn late_upstream(addr: std::net::SocketAddr, after: Duration) -> tokio::sync::oneshot::Receiver<Vec<String>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let (s, _) = listener.accept().await.unwrap();
        let mut reader = BufReader::new(s);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push(line.trim_end().to_ascii_lowercase());
        }
        let text = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1"}).to_string();
        let answer = format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{text}", text.len());
        reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
        let _ = tx.send(head);
    });
    rx
}

#[tokio::test]
async fn a_post_whose_connection_was_refused_goes_again_with_every_header_it_had() {
    // A port nothing listens on yet: the first attempt's connection is
    // refused, the second (after 100 ms) finds the upstream listening.
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let seen = late_upstream(addr, Duration::from_millis(40));
    let gw = gateway(&format!("http://{addr}/v2"), "retries = 2").await;
    let r = gw.call(Method::POST, "/scim/v2/Users", Some(new_user())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let head = seen.await.unwrap();
    assert!(head[0].starts_with("post /v2/users "), "{head:?}");
    let bearer = format!("authorization: bearer {}", UPSTREAM_TOKEN.to_ascii_lowercase());
    for wanted in [bearer.as_str(), "content-type: application/scim+json", "accept-encoding: identity"] {
        assert!(head.iter().any(|h| h == wanted), "{wanted} in {head:?}");
    }
    assert!(head.iter().any(|h| h.starts_with("x-request-id: ")), "{head:?}");
}

#[tokio::test]
async fn a_connection_whose_answer_was_cut_short_is_never_reused() {
    let large = Behaviour { delay: Duration::ZERO, close_idle_after: None, pad: 4096 };
    let (url, counts) = counting_upstream(large).await;
    let gw = gateway_with_workers(&url, "max_response_bytes = 1024", 1).await;
    for n in 1..=3 {
        let r = gw.call(Method::GET, "/scim/v2/Users/1", None).await;
        assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{:?}", r.body);
        assert_eq!(
            counts.accepted.load(Ordering::SeqCst),
            n,
            "an answer not read whole leaves its connection unusable"
        );
    }
}

/// An HTTP/2 upstream (prior knowledge) that counts connections.
async fn h2_upstream() -> (String, Arc<AtomicUsize>) {
    let (addr, accepted) = counting_server(|s| async move {
        let answer = hyper::service::service_fn(|_req| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let user = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "1", "userName": "u@example.com"});
            let resp = http::Response::builder().status(200).header("content-type", "application/scim+json");
            Ok::<_, std::convert::Infallible>(resp.body(Full::new(Bytes::from(user.to_string()))).unwrap())
        });
        let io = hyper_util::rt::TokioIo::new(s);
        let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new()).serve_connection(io, answer).await;
    })
    .await;
    (format!("http://{addr}/v2"), accepted)
}

#[tokio::test]
async fn a_worker_shares_one_http2_connection_among_its_requests() {
    let (url, accepted) = h2_upstream().await;
    let gw = Arc::new(gateway_with_workers(&url, "http2_only = true", 1).await);
    let r = gw.call(Method::GET, "/scim/v2/Users/1", None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for _ in 0..2 {
        let wave: Vec<_> = (0..5)
            .map(|_| {
                let gw = gw.clone();
                tokio::spawn(async move { gw.call(Method::GET, "/scim/v2/Users/1", None).await })
            })
            .collect();
        for r in wave {
            let r = r.await.unwrap();
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        }
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "eleven requests, five at once, on one HTTP/2 connection");
}
