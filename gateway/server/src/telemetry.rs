//! Traces: OpenTelemetry over OTLP (HTTP, protobuf), off unless
//! `[telemetry]` is set. A request is one server span; each phase, plugin
//! call and upstream call is a child of it. Attributes come only from the
//! bounded set the metrics use (route, resource type, method, status,
//! purpose, plugin, preset): never a value from a resource, a path or a
//! query, so no user data reaches the collector.
//!
//! Off, every [`Trace`] and [`Span`] is empty and costs a branch: nothing
//! is allocated, no clock is read. On, a request the sampler leaves out
//! costs its ids and its context (for the log line, the audit record and
//! the backend's `traceparent`), and opens no child span.

mod export;

use http::HeaderMap;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

/// `[telemetry]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    /// Where spans are posted (the collector's `/v1/traces`).
    pub endpoint: http::Uri,
    /// The share of traces the gateway starts that are kept, 0 to 1. A
    /// trace the IdP started keeps the IdP's decision.
    pub sampling_ratio: f64,
    pub service_name: String,
    /// The environment variable holding headers for the collector
    /// (`key=value,key=value`, as `OTEL_EXPORTER_OTLP_HEADERS`).
    pub headers_env: Option<String>,
    /// How long one export may take.
    pub timeout: Duration,
    /// Most spans waiting for export; more are dropped.
    pub max_queue: usize,
    /// How often spans are exported.
    pub export_interval: Duration,
}

/// The process's tracer: built once at start, kept across reloads.
#[derive(Debug)]
pub struct Telemetry {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
}

impl Telemetry {
    /// Starts the exporter. `runtime` drives its HTTP calls, through
    /// `proxies`; `env` gives the collector's headers; `replica` names this
    /// process in every span.
    pub fn start(
        settings: &TelemetrySettings,
        replica: &str,
        runtime: tokio::runtime::Handle,
        env: &dyn Fn(&str) -> Option<String>,
        proxies: hyper_util::client::proxy::matcher::Matcher,
    ) -> Result<Arc<Self>, String> {
        let headers = match &settings.headers_env {
            Some(var) => {
                let text =
                    env(var).ok_or_else(|| format!("environment variable {var} (collector headers) is not set"))?;
                export::parse_headers(&text).map_err(|e| format!("{var}: {e}"))?
            }
            None => Default::default(),
        };
        let exporter = export::exporter(settings, headers, runtime, proxies)?;
        let batch = BatchConfigBuilder::default()
            .with_max_queue_size(settings.max_queue)
            .with_scheduled_delay(settings.export_interval)
            .build();
        let processor = BatchSpanProcessor::builder(exporter).with_batch_config(batch).build();
        let resource = opentelemetry_sdk::Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attributes([
                KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
                KeyValue::new("service.instance.id", replica.to_owned()),
            ])
            .build();
        let ratio = Sampler::TraceIdRatioBased(settings.sampling_ratio);
        let provider = SdkTracerProvider::builder()
            .with_span_processor(processor)
            .with_sampler(Sampler::ParentBased(Box::new(ratio)))
            .with_resource(resource)
            .build();
        let tracer = provider.tracer("scim-gateway");
        Ok(Arc::new(Self { provider, tracer }))
    }

    /// A request's span: the child of the IdP's `traceparent` when it sent
    /// a valid one, else the root of a new trace.
    pub fn request(&self, headers: &HeaderMap, method: &'static str) -> Span {
        let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        let span =
            self.tracer.span_builder(method).with_kind(SpanKind::Server).start_with_context(&self.tracer, &parent);
        let recording = opentelemetry::trace::Span::is_recording(&span);
        Span(Some(Live { tracer: self.tracer.clone(), cx: parent.with_span(span), recording }))
    }

    /// Exports what is queued and stops; blocks up to `timeout`.
    pub fn shutdown(&self, timeout: Duration) {
        if let Err(e) = self.provider.shutdown_with_timeout(timeout) {
            tracing::warn!(error = %e, "traces: the last spans could not be exported");
        }
    }
}

#[derive(Debug, Clone)]
struct Live {
    tracer: SdkTracer,
    /// The context holding this span.
    cx: Context,
    /// Sampled: a span that is not opens no children (they would not be
    /// exported either); its context still goes upstream.
    recording: bool,
}

/// Where a request's spans are opened: under its request span, or
/// nowhere when telemetry is off.
#[derive(Debug, Clone, Default)]
pub struct Trace(Option<Live>);

/// A trace that records nothing (telemetry off, `scim-gateway map`).
pub static OFF: Trace = Trace(None);

impl Trace {
    /// A child span of an internal phase; it ends when dropped.
    pub fn phase(&self, name: &'static str) -> Span {
        self.child(|| Cow::Borrowed(name), SpanKind::Internal)
    }

    /// A child span of a plugin call.
    pub fn plugin(&self, name: &str) -> Span {
        self.child(|| Cow::Owned(format!("plugin {name}")), SpanKind::Internal)
    }

    /// A child span of an upstream call, and the `traceparent` (and
    /// `tracestate`) that carry it, set in `headers`. In a trace not
    /// sampled, the request's context goes upstream (flagged not sampled).
    pub fn upstream(&self, purpose: &'static str, headers: &mut HeaderMap) -> Span {
        let Some(live) = &self.0 else { return Span(None) };
        let span = self.child(|| Cow::Owned(format!("upstream {purpose}")), SpanKind::Client);
        let cx = span.0.as_ref().map_or(&live.cx, |child| &child.cx);
        TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
        span
    }

    /// A child of a sampled span, named only then; else an empty span.
    fn child(&self, name: impl FnOnce() -> Cow<'static, str>, kind: SpanKind) -> Span {
        let Some(live) = self.0.as_ref().filter(|live| live.recording) else { return Span(None) };
        let span = live.tracer.span_builder(name()).with_kind(kind).start_with_context(&live.tracer, &live.cx);
        Span(Some(Live { tracer: live.tracer.clone(), cx: live.cx.with_span(span), recording: true }))
    }
}

/// An open span; it ends when dropped. Empty when telemetry is off.
#[derive(Debug, Default)]
pub struct Span(Option<Live>);

impl Span {
    /// Whether the span is sampled (its attributes will be exported).
    pub fn is_recording(&self) -> bool {
        self.recording().is_some()
    }

    fn recording(&self) -> Option<&Live> {
        self.0.as_ref().filter(|live| live.recording)
    }

    /// Sets an attribute (from the bounded set: never user data).
    pub fn set(&self, key: &'static str, value: impl Into<opentelemetry::Value>) {
        self.set_with(key, || value);
    }

    /// Sets an attribute whose value is made only when the span records.
    pub fn set_with<V: Into<opentelemetry::Value>>(&self, key: &'static str, value: impl FnOnce() -> V) {
        if let Some(live) = self.recording() {
            live.cx.span().set_attribute(KeyValue::new(key, value()));
        }
    }

    /// Marks the span failed with the error's kind (a bounded label).
    pub fn fail(&self, kind: &'static str) {
        if let Some(live) = self.recording() {
            live.cx.span().set_attribute(KeyValue::new("error.type", kind));
            live.cx.span().set_status(Status::error(kind));
        }
    }

    /// Renames the span (the request span, once its resource is known).
    pub fn rename(&self, name: String) {
        if let Some(live) = &self.0 {
            live.cx.span().update_name(name);
        }
    }

    /// Where this span's children are opened.
    pub fn trace(&self) -> Trace {
        Trace(self.0.clone())
    }

    /// The trace id (32 hex digits), sampled or not.
    pub fn trace_id(&self) -> Option<String> {
        let live = self.0.as_ref()?;
        let sc = live.cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(live) = &self.0 {
            live.cx.span().end();
        }
    }
}

/// Whether `result` failed, marked on `span` by its error kind.
pub fn mark<T>(span: &Span, result: &Result<T, crate::error::GatewayError>) {
    if let Err(e) = result {
        span.fail(e.kind());
    }
}
