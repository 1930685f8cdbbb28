//! Listeners and lifecycle: the IdP-facing listener (HTTP or HTTPS, HTTP/1.1
//! and HTTP/2), the admin listener, reload without dropping requests, and
//! graceful shutdown. Requests themselves go to [`crate::pipeline`].

mod admin;
mod drain;
mod tls;

use crate::config::{self, Config, Overrides};
use crate::error::GatewayError;
use crate::gateway::{BuildContext, Gateway};
use crate::metrics::Metrics;
use crate::pipeline::{self, Conn};
use crate::workers::Workers;
use arc_swap::{ArcSwap, ArcSwapOption};
use drain::{Drain, Watcher};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

/// State shared by every connection; the gateway and TLS acceptor are
/// swapped whole on reload.
pub(crate) struct Shared {
    gateway: ArcSwap<Gateway>,
    tls: ArcSwapOption<TlsAcceptor>,
    config: ArcSwap<Config>,
    ctx: BuildContext,
    registry: prometheus::Registry,
    metrics: Arc<Metrics>,
    permits: Arc<Semaphore>,
    workers: Workers,
    ready: AtomicBool,
    stopping: AtomicBool,
    source: PathBuf,
    overrides: Overrides,
    /// One reload at a time: the last signal's config is the one that stays.
    reloading: std::sync::Mutex<()>,
    /// The admin API's tokens; `None`: the API is off.
    admin_tokens: ArcSwapOption<crate::auth::Tokens>,
    /// The last reload's time and outcome, for the console.
    last_reload: std::sync::Mutex<serde_json::Value>,
}

/// A running server.
#[derive(Debug)]
pub struct Handle {
    /// Where the IdP-facing listener is bound.
    pub addr: SocketAddr,
    /// Where the admin listener is bound.
    pub admin_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

/// Whether the inbound TLS files load (for `check`).
pub fn check_tls(files: &config::TlsFiles) -> Result<(), String> {
    tls::acceptor(files).map(|_| ())
}

/// Builds the gateway from `config` and starts listening.
pub async fn start(
    config: Config,
    overrides: Overrides,
    ctx: BuildContext,
    registry: prometheus::Registry,
) -> anyhow::Result<Handle> {
    if let Some(settings) = &config.audit {
        let audit = crate::audit::Audit::start(settings.clone(), ctx.metrics.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot open the audit store: {e}"))?;
        ctx.set_audit(Some(audit));
    }
    if let Some(settings) = &config.cluster {
        let cluster = crate::cluster::Cluster::connect(settings.clone(), ctx.metrics.clone())
            .map_err(|e| anyhow::anyhow!("[cluster]: {e}"))?;
        ctx.set_cluster(Some(cluster));
    }
    if let Some(settings) = &config.telemetry {
        let replica = (config.audit.as_ref().map(|a| a.replica.clone()))
            .or_else(|| config.cluster.as_ref().map(|c| c.replica.clone()))
            .unwrap_or_else(crate::audit::replica_name);
        ctx.start_telemetry(settings, &replica).map_err(|e| anyhow::anyhow!("[telemetry]: {e}"))?;
    }
    let gateway = Gateway::build(&config, &ctx).map_err(|e| anyhow::anyhow!(e.join("\n")))?;
    let tls = config.tls.as_ref().map(tls::acceptor).transpose().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let admin = match config.admin_listen {
        Some(a) => Some(TcpListener::bind(a).await.map_err(|e| anyhow::anyhow!("cannot listen on {a}: {e}"))?),
        None => None,
    };
    let admin_tokens = admin_tokens(&config, &ctx).map_err(anyhow::Error::msg)?;
    let workers = Workers::start(config.workers).map_err(|e| anyhow::anyhow!("cannot start worker threads: {e}"))?;
    let shared = Arc::new(Shared {
        workers,
        permits: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
        gateway: ArcSwap::from_pointee(gateway),
        tls: ArcSwapOption::new(tls.map(Arc::new)),
        metrics: ctx.metrics.clone(),
        source: config.source.clone(),
        config: ArcSwap::from_pointee(config),
        ctx,
        registry,
        ready: AtomicBool::new(false),
        stopping: AtomicBool::new(false),
        overrides,
        reloading: std::sync::Mutex::new(()),
        admin_tokens: ArcSwapOption::new(admin_tokens.map(Arc::new)),
        last_reload: std::sync::Mutex::new(serde_json::Value::Null),
    });
    let (stop, stop_rx) = watch::channel(false);
    let addr = listener.local_addr()?;
    let admin_addr = admin.as_ref().map(TcpListener::local_addr).transpose()?;
    let mut tasks = vec![tokio::spawn(accept_loop(listener, shared.clone(), stop_rx.clone(), false))];
    if let Some(admin) = admin {
        tasks.push(tokio::spawn(accept_loop(admin, shared.clone(), stop_rx, true)));
    }
    shared.ready.store(true, Ordering::Release);
    tracing::info!(%addr, admin = ?admin_addr, "listening");
    Ok(Handle { addr, admin_addr, shared, stop, tasks })
}

impl Handle {
    /// Re-reads the config, mappings, token files and TLS files. An invalid
    /// new config is refused and the old one keeps serving.
    pub fn reload(&self) -> Result<(), String> {
        self.reloader().reload()
    }

    /// A handle for reloading from another thread: a reload compiles
    /// plugins, which the thread accepting connections must not wait for.
    pub fn reloader(&self) -> Reloader {
        Reloader(self.shared.clone())
    }

    /// Stops accepting, then waits for requests in flight up to the
    /// configured shutdown timeout.
    pub async fn shutdown(self) {
        self.shared.stopping.store(true, Ordering::Release);
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        let shared = self.shared.clone();
        let _ = tokio::task::spawn_blocking(move || shared.workers.stop()).await;
        // The audit trail and the last spans are written side by side, each
        // within the shutdown timeout.
        let timeout = self.shared.config.load().limits.shutdown_timeout;
        let audit = async {
            if let Some(audit) = self.shared.ctx.audit() {
                audit.shutdown(timeout).await;
            }
        };
        // Off this thread: the last export runs on this runtime.
        let spans = async {
            if let Some(telemetry) = self.shared.ctx.telemetry() {
                let _ = tokio::task::spawn_blocking(move || telemetry.shutdown(timeout)).await;
            }
        };
        tokio::join!(audit, spans);
    }

    /// The gateway currently serving (tests and diagnostics).
    pub fn gateway(&self) -> Arc<Gateway> {
        self.shared.gateway.load_full()
    }
}

/// Reloads the config of a running gateway; see [`Handle::reload`].
#[derive(Debug, Clone)]
pub struct Reloader(Arc<Shared>);

impl Reloader {
    pub fn reload(&self) -> Result<(), String> {
        let _one_at_a_time = self.0.reloading.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = reload(&self.0);
        let outcome = if result.is_ok() { "success" } else { "failure" };
        self.0.metrics.config_reloads.with_label_values(&[outcome]).inc();
        if let Ok(mut last) = self.0.last_reload.lock() {
            let (_, at_ms, time) = crate::audit::record::new_id();
            *last =
                serde_json::json!({"time": time, "at_ms": at_ms, "outcome": outcome, "error": result.as_ref().err()});
        }
        match &result {
            Ok(()) => tracing::info!("config reloaded"),
            Err(e) => tracing::error!(error = %e, "config reload refused; the previous config keeps serving"),
        }
        result
    }
}

fn reload(shared: &Shared) -> Result<(), String> {
    let loaded = config::load(&shared.source, &shared.overrides).map_err(|e| e.to_string())?;
    let new = loaded.config;
    let old = shared.config.load();
    if new.listen != old.listen || new.admin_listen != old.admin_listen {
        tracing::warn!("listen addresses change only on restart; the new ones are ignored until then");
    }
    if new.audit != old.audit || new.cluster != old.cluster || new.telemetry != old.telemetry {
        tracing::warn!(
            "[audit], [cluster] and [telemetry] change only on restart; they keep their settings until then"
        );
    }
    let gateway = Gateway::build(&new, &shared.ctx).map_err(|e| e.join("\n"))?;
    let tls = new.tls.as_ref().map(tls::acceptor).transpose()?;
    let tokens = admin_tokens(&new, &shared.ctx)?;
    if old.tls.is_some() != tls.is_some() {
        return Err("turning TLS on or off needs a restart".into());
    }
    shared.gateway.store(Arc::new(gateway));
    shared.tls.store(tls.map(Arc::new));
    shared.admin_tokens.store(tokens.map(Arc::new));
    shared.config.store(Arc::new(new));
    Ok(())
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>, admin: bool) {
    let graceful = Drain::new();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    if admin {
                        tokio::spawn(connection(stream, peer, shared.clone(), graceful.watcher(), admin));
                    } else {
                        handoff(stream, peer, &shared, graceful.watcher());
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
        }
    }
    drop(listener);
    let deadline = shared.config.load().limits.shutdown_timeout;
    if tokio::time::timeout(deadline, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown deadline reached with requests still in flight");
    }
}

/// Moves an accepted IdP connection to a worker. The socket is deregistered
/// from this runtime's reactor and registered with the worker's, so its
/// readiness events wake the worker directly.
fn handoff(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>, watcher: Watcher) {
    let stream = match stream.into_std() {
        Ok(s) => s,
        Err(e) => return tracing::warn!(error = %e, "cannot hand a connection to a worker"),
    };
    let shared2 = shared.clone();
    shared.workers.spawn(async move {
        match TcpStream::from_std(stream) {
            Ok(stream) => connection(stream, peer, shared2, watcher, false).await,
            Err(e) => tracing::warn!(error = %e, "a worker cannot take a connection"),
        }
    });
}

async fn connection(stream: TcpStream, peer: SocketAddr, shared: Arc<Shared>, watcher: Watcher, admin: bool) {
    let limits = shared.config.load().limits;
    let acceptor = if admin { None } else { shared.tls.load_full() };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).writev(false);
    builder.http2().timer(TokioTimer::new()).max_concurrent_streams(256);
    let conn = Conn::new(peer, acceptor.is_some());
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        let conn = conn.clone();
        // The admin console's future is several kB and the IdP's far less:
        // boxed, it no longer sizes the slot every IdP connection holds.
        async move {
            Ok::<_, Infallible>(if admin {
                Box::pin(admin::handle(&shared, req)).await
            } else {
                serve(&shared, conn, req).await
            })
        }
    });
    let result = match acceptor {
        Some(acceptor) => match tokio::time::timeout(limits.header_timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                watcher.watch(builder.serve_connection(TokioIo::new(tls), svc), |c| c.graceful_shutdown()).await
            }
            _ => return,
        },
        None => watcher.watch(builder.serve_connection(TokioIo::new(stream), svc), |c| c.graceful_shutdown()).await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection closed with an error");
    }
}

/// The admin API's tokens, read like the IdP's.
fn admin_tokens(config: &Config, ctx: &BuildContext) -> Result<Option<crate::auth::Tokens>, String> {
    config
        .admin_tokens
        .as_ref()
        .map(|a| crate::gateway::tokens(a, ctx).map_err(|e| format!("[admin]: {e}")))
        .transpose()
}

async fn serve(
    shared: &Shared,
    conn: Conn,
    req: http::Request<hyper::body::Incoming>,
) -> http::Response<http_body_util::Full<bytes::Bytes>> {
    if shared.stopping.load(Ordering::Acquire) {
        return pipeline::reject(&GatewayError::ShuttingDown);
    }
    let Ok(_permit) = shared.permits.clone().try_acquire_owned() else {
        return pipeline::reject(&GatewayError::Overloaded);
    };
    let gateway = shared.gateway.load_full();
    let _in_flight = InFlight::new(&gateway.metrics.in_flight);
    pipeline::handle(&gateway, conn, req).await
}

/// Counts a request in flight until dropped (also when the IdP hangs up).
struct InFlight<'a>(&'a prometheus::IntGauge);

impl<'a> InFlight<'a> {
    fn new(g: &'a prometheus::IntGauge) -> Self {
        g.inc();
        Self(g)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}
