//! Test harness: scim2-server on a free port, fake upstreams, a gateway
//! started in-process from a config written to a temp dir, and a client.

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioExecutor;
use scim_gateway::config::{self, Overrides};
use scim_gateway::gateway::BuildContext;
use scim_gateway::metrics::Metrics;
use scim_gateway::server::{self, Handle};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// The inbound token every test gateway accepts.
pub const TOKEN: &str = "test-idp-token-0123456789";
/// The bearer scim2-server requires.
pub const UPSTREAM_TOKEN: &str = "test-upstream-token-0123456789";

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

/// Where `cargo xtask plugin` (run by scripts/test) put the plugin
/// components.
pub fn plugin_dir() -> PathBuf {
    let dir = super::plugin_dir::required_plugin_dir();
    assert!(dir.join("full-name.wasm").exists(), "{} has no plugins: run `cargo xtask plugin`", dir.display());
    dir
}

/// A scim2-server process on a free loopback port, killed on drop.
pub struct Scim2Server {
    child: Child,
    pub base: String,
}

impl Scim2Server {
    pub async fn start() -> Self {
        let bin = std::env::var("SCIM2_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join(".venv/bin/scim2-server"));
        assert!(bin.exists(), "{} is missing: run scripts/test, which installs scim2-server in .venv", bin.display());
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new(&bin)
                .args(["--hostname", "127.0.0.1", "--port", &port.to_string(), "--bearer-token", UPSTREAM_TOKEN])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start scim2-server");
            let mut server = Self { child, base: format!("http://127.0.0.1:{port}/v2") };
            if server.wait_ready(port).await {
                return server;
            }
            let _ = server.child.kill();
        }
        panic!("scim2-server did not start");
    }

    async fn wait_ready(&mut self, port: u16) -> bool {
        for _ in 0..200 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// Reads what the backend stored, bypassing the gateway.
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    /// Writes to the backend directly, as an admin in the backend would.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| Bytes::from(b.to_string()));
        let r = send(method, &format!("{}{path}", self.base), Some(UPSTREAM_TOKEN), body, &[]).await;
        (r.status, r.json)
    }
}

impl Drop for Scim2Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A gateway running in-process, with its config dir kept alive.
pub struct Gateway {
    pub handle: Handle,
    pub dir: tempfile::TempDir,
    pub registry: prometheus::Registry,
}

impl Gateway {
    /// Starts a gateway from config text; `{dir}` in it is the temp dir,
    /// `{mappings}` the repo's mappings dir. A tokens file with [`TOKEN`]
    /// is at `{dir}/tokens`.
    pub async fn start(config: &str) -> Self {
        Self::start_with(config, None).await
    }

    /// With files written into the config dir first.
    pub async fn start_prepared(config: &str, prepare: impl FnOnce(&Path)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        prepare(dir.path());
        Self::start_in(dir, config, None).await
    }

    /// With every upstream connection sent through the HTTP proxy `proxy`.
    pub async fn start_with(config: &str, proxy: Option<String>) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), config, proxy).await
    }

    async fn start_in(dir: tempfile::TempDir, config: &str, proxy: Option<String>) -> Self {
        std::fs::write(dir.path().join("tokens"), format!("idp:{TOKEN}\n")).unwrap();
        let path = write_config(dir.path(), config);
        let overrides = Overrides {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            admin_listen: Some("127.0.0.1:0".parse().unwrap()),
            upstream: None,
        };
        let loaded = config::load(&path, &overrides).unwrap_or_else(|e| panic!("{e}"));
        let registry = prometheus::Registry::new();
        let metrics = Arc::new(Metrics::register(&registry).unwrap());
        let env = |k: &str| (k == "TEST_UPSTREAM_TOKEN").then(|| UPSTREAM_TOKEN.to_owned());
        let ctx = BuildContext::new(metrics, env, move || match &proxy {
            Some(p) => Matcher::builder().http(p.clone()).https(p.clone()).build(),
            None => Matcher::builder().build(),
        });
        let handle = server::start(loaded.config, overrides, ctx, registry.clone()).await.unwrap();
        Self { handle, dir, registry }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.addr)
    }

    pub fn admin(&self, path: &str) -> String {
        format!("http://{}{path}", self.handle.admin_addr.unwrap())
    }

    /// Sends a request with the IdP token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        send(method, &self.url(path), Some(TOKEN), body.map(|b| Bytes::from(b.to_string())), &[]).await
    }

    /// The value of a metric line that starts with `prefix`, or 0.
    pub fn metric(&self, prefix: &str) -> f64 {
        let text = String::from_utf8(scim_gateway::metrics::render(&self.registry)).unwrap();
        text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum()
    }

    /// Reads what the backend stored, bypassing the gateway's mapping (for
    /// the embedded store, which has no address of its own).
    pub async fn backend_get(&self, path: &str) -> (StatusCode, Value) {
        let gw = self.handle.gateway();
        let f = scim_gateway::upstream::Forward {
            method: Method::GET,
            path: path.to_owned(),
            query: None,
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        let reply = gw.routes[0].upstream.call(f).await.unwrap();
        (reply.status, serde_json::from_slice(&reply.body).unwrap_or(Value::Null))
    }

    /// Rewrites the config file (for reload tests).
    pub fn rewrite_config(&self, config: &str) {
        write_config(self.dir.path(), config);
    }
}

fn write_config(dir: &Path, config: &str) -> PathBuf {
    let text = config
        .replace("{dir}", &dir.display().to_string())
        .replace("{mappings}", &workspace().join("mappings").display().to_string())
        .replace("{plugins}", &plugin_dir().display().to_string());
    let path = dir.join("gateway.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A gateway in front of a backend (scim2-server or the embedded store),
/// and a way to read the backend directly.
pub struct Setup {
    pub gw: Gateway,
    pub scim2: Option<Scim2Server>,
}

impl Setup {
    pub async fn scim2(mapping: &str, preset: &str) -> Self {
        Self::scim2_with(mapping, preset, "").await
    }

    /// With more `[upstream]` keys.
    pub async fn scim2_with(mapping: &str, preset: &str, upstream_keys: &str) -> Self {
        let scim2 = Scim2Server::start().await;
        let gw = Gateway::start(&config_with(&scim2.base, &[mapping], preset, upstream_keys)).await;
        Self { gw, scim2: Some(scim2) }
    }

    pub async fn memory(mapping: &str, preset: &str) -> Self {
        Self::memory_with(mapping, preset, "").await
    }

    pub async fn memory_with(mapping: &str, preset: &str, upstream_keys: &str) -> Self {
        Self { gw: Gateway::start(&config_with("memory:", &[mapping], preset, upstream_keys)).await, scim2: None }
    }

    /// What the backend stores at `path`, read around the gateway.
    pub async fn stored(&self, path: &str) -> (StatusCode, Value) {
        match &self.scim2 {
            Some(s) => s.get(path).await,
            None => self.gw.backend_get(path).await,
        }
    }

    /// A request through the gateway; `path` is below `/scim/v2`.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Response {
        self.gw.call(method, &format!("/scim/v2{path}"), body).await
    }

    /// The same with extra headers (and no body).
    pub async fn call_with(&self, method: Method, path: &str, token: Option<&str>) -> Response {
        send(method, &self.gw.url(&format!("/scim/v2{path}")), token, None, &[]).await
    }
}

/// The ids of a group's members, sorted.
pub fn member_ids(group: &Value) -> Vec<String> {
    let mut ids: Vec<String> = group["members"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v["value"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    ids.sort();
    ids
}

/// A one-route config in front of `upstream` with `mapping` files.
pub fn config(upstream: &str, mappings: &[&str], preset: &str) -> String {
    config_with(upstream, mappings, preset, "")
}

/// [`config`] with more `[upstream]` keys (`update = "patch"`, ...).
pub fn config_with(upstream: &str, mappings: &[&str], preset: &str, upstream_keys: &str) -> String {
    let files: Vec<String> = mappings.iter().map(|m| format!("\"{{mappings}}/{m}\"")).collect();
    let token = if upstream.starts_with("http") { "token_env = \"TEST_UPSTREAM_TOKEN\"" } else { "" };
    format!(
        r#"
[server]
base_path = "/scim/v2"
[server.auth]
tokens_file = "{{dir}}/tokens"
[upstream]
url = "{upstream}"
{token}
timeout_ms = 5000
{upstream_keys}
[mapping]
files = [{}]
preset = "{preset}"
"#,
        files.join(", ")
    )
}

/// An answer, with the body parsed when it is JSON.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub json: Value,
}

pub async fn send(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Bytes>,
    headers: &[(&str, &str)],
) -> Response {
    let client: Client<HttpConnector, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(url);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
        req = req.header("content-type", "application/scim+json");
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = client.request(req.body(Full::new(body.unwrap_or_default())).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Response { status: parts.status, headers: parts.headers, body, json }
}

/// A fake upstream answering with a handler; counts requests.
pub struct FakeUpstream {
    pub addr: SocketAddr,
    pub hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

/// What a fake upstream saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: Method,
    pub uri: http::Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type Handler = Arc<dyn Fn(usize, Seen) -> http::Response<Full<Bytes>> + Send + Sync>;

impl FakeUpstream {
    pub async fn start(handler: Handler) -> Self {
        Self::start_delayed(handler, Duration::ZERO).await
    }

    /// Answers only after `delay`.
    pub async fn start_delayed(handler: Handler, delay: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let handler = handler.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let handler = handler.clone();
                        let n = counter.fetch_add(1, Ordering::SeqCst);
                        async move {
                            tokio::time::sleep(delay).await;
                            let (parts, body) = req.into_parts();
                            let body = body.collect().await.map(|c| c.to_bytes()).unwrap_or_default();
                            let seen = Seen { method: parts.method, uri: parts.uri, headers: parts.headers, body };
                            Ok::<_, std::convert::Infallible>(handler(n, seen))
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(io, svc)
                        .await;
                });
            }
        });
        Self { addr, hits, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/v2", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Drop for FakeUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback server that hands each connection it takes to `serve`, on a
/// task of its own, and counts them. Its address, and the count.
pub async fn counting_server<F, Fut>(serve: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(stream));
        }
    });
    (addr, accepted)
}

/// A server that takes connections and never answers (a hung Redis or
/// collector, a network partition): every call waits for its timeout.
/// Its port, and the task to abort.
pub async fn hung_server() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (port, task)
}

/// A JSON answer for fake upstreams.
pub fn json_response(status: u16, body: &Value) -> http::Response<Full<Bytes>> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/scim+json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}
