//! `serve`: load the config, start the listeners, reload on SIGHUP, stop
//! gracefully on SIGTERM or SIGINT.

use super::ServeArgs;
use crate::config::{self, LogSettings, Overrides};
use crate::gateway::BuildContext;
use crate::metrics::Metrics;
use crate::server;
use std::io::Write;
use std::sync::Arc;

pub(super) fn run(args: &ServeArgs, err: &mut dyn Write) -> Result<u8, anyhow::Error> {
    let overrides = Overrides { listen: args.listen, admin_listen: args.admin_listen, upstream: args.upstream.clone() };
    let loaded = match config::load(&args.config, &overrides) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "{e}")?;
            return Ok(1);
        }
    };
    init_logging(&loaded.config.log);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    // This runtime only accepts connections, serves the admin listener and
    // waits for signals; IdP connections run on the worker threads.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(serve(loaded.config, overrides))?;
    Ok(0)
}

async fn serve(config: config::Config, overrides: Overrides) -> anyhow::Result<()> {
    let registry = prometheus::Registry::new();
    let metrics = Arc::new(Metrics::register(&registry)?);
    let ctx = BuildContext::from_env(metrics);
    let handle = server::start(config, overrides, ctx, registry).await?;
    signals(&handle).await?;
    tracing::info!("shutting down");
    handle.shutdown().await;
    Ok(())
}

#[cfg(unix)]
async fn signals(handle: &server::Handle) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                // Off this thread: it accepts connections, and a reload may
                // compile plugins.
                let reloader = handle.reloader();
                drop(tokio::task::spawn_blocking(move || reloader.reload()));
            }
            _ = term.recv() => return Ok(()),
            _ = int.recv() => return Ok(()),
        }
    }
}

#[cfg(not(unix))]
async fn signals(_handle: &server::Handle) -> anyhow::Result<()> {
    tokio::signal::ctrl_c().await?;
    Ok(())
}

fn init_logging(log: &LogSettings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("scim_gateway={0},{0}", log.level)));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_timer(super::log_time::Clock)
        .with_writer(super::log_sink::LogSink::stderr());
    let _ = if log.json {
        builder.json().try_init()
    } else {
        let frame = super::log_format::Frame::new(super::log_time::Clock);
        builder.event_format(frame).fmt_fields(super::log_fields::Fields).try_init()
    };
}
