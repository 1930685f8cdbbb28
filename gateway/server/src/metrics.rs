//! The gateway's Prometheus metrics: one struct, registered once. Labels are
//! bounded sets: route names from the config, resource kinds, methods,
//! status codes, fixed kinds. Never user ids, emails, paths or error text.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

mod handles;
pub use handles::RouteMetrics;

/// Every metric the gateway exports.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub requests: IntCounterVec,
    pub request_duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub upstream_requests: IntCounterVec,
    pub upstream_up: IntGaugeVec,
    pub upstream_responses: IntCounterVec,
    pub auth_failures: IntCounterVec,
    pub mapping_errors: IntCounterVec,
    pub rules_applied: IntCounterVec,
    pub normalizations: IntCounterVec,
    pub config_reloads: IntCounterVec,
    pub deprovision_dropped: IntCounterVec,
    pub etag_retries: IntCounterVec,
    pub translated_writes: IntCounterVec,
    pub unmanaged_kept: IntCounterVec,
    pub upstream_retries: IntCounterVec,
    pub rate_limit_queue: IntGaugeVec,
    pub rate_limit_capacity: IntGaugeVec,
    pub rate_limited: IntCounterVec,
    pub plugin_invocations: IntCounterVec,
    pub plugin_duration: HistogramVec,
    pub plugin_load_failures: IntCounterVec,
    pub plugin_fail_open: IntCounterVec,
    pub plugin_log_messages: IntCounterVec,
    pub in_flight: IntGauge,
    pub build_info: IntGaugeVec,
    pub audit_written: IntCounter,
    pub audit_dropped: IntCounterVec,
    pub audit_refused: IntCounter,
    pub audit_queue: IntGauge,
    pub audit_write_duration: Histogram,
    pub audit_store_errors: IntCounter,
    pub shadow_changes: IntCounterVec,
    pub cluster_up: IntGauge,
    pub cluster_errors: IntCounterVec,
    pub cluster_lease_wait: Histogram,
    pub cluster_fallbacks: IntCounterVec,
}

const LATENCY_BUCKETS: [f64; 14] =
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Plugin calls take microseconds to milliseconds.
const PLUGIN_BUCKETS: [f64; 14] =
    [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25];

fn counter(name: &str, help: &str, labels: &[&str]) -> Result<IntCounterVec, prometheus::Error> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

fn histogram(name: &str, help: &str, labels: &[&str]) -> Result<HistogramVec, prometheus::Error> {
    HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)
}

impl Metrics {
    /// Creates the metrics and registers them with `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Self {
            requests: counter(
                "scim_gateway_requests_total",
                "Requests answered, by route, resource kind, method and status code.",
                &["route", "resource", "method", "status"],
            )?,
            request_duration: histogram(
                "scim_gateway_request_duration_seconds",
                "Time from request to response, upstream included.",
                &["route", "resource", "method"],
            )?,
            upstream_duration: histogram(
                "scim_gateway_upstream_request_duration_seconds",
                "Time of each upstream exchange.",
                &["route", "method"],
            )?,
            upstream_requests: counter(
                "scim_gateway_upstream_requests_total",
                "Upstream calls, by why they were made: forward, current_read, lookup, page.",
                &["route", "purpose"],
            )?,
            upstream_responses: counter(
                "scim_gateway_upstream_responses_total",
                "Upstream exchanges by the backend's answer: 1xx to 5xx, or error (no answer: refused, broken, timed out, unreadable).",
                &["route", "class"],
            )?,
            upstream_up: IntGaugeVec::new(
                Opts::new("scim_gateway_upstream_up", "1 when the last upstream exchange got an answer, else 0."),
                &["route"],
            )?,
            auth_failures: counter(
                "scim_gateway_auth_failures_total",
                "Requests refused for a missing or invalid token.",
                &["route"],
            )?,
            mapping_errors: counter(
                "scim_gateway_mapping_errors_total",
                "Mapping rules that failed, by direction.",
                &["route", "resource", "direction"],
            )?,
            rules_applied: counter(
                "scim_gateway_mapping_rules_applied_total",
                "Mapping rules that produced a value.",
                &["route", "resource", "direction"],
            )?,
            normalizations: counter("scim_gateway_normalizations_total", "IdP quirks normalized, by kind.", &["kind"])?,
            config_reloads: counter("scim_gateway_config_reloads_total", "Config reloads by outcome.", &["outcome"])?,
            deprovision_dropped: counter(
                "scim_gateway_deprovision_failed_targets_total",
                "Targets left out of a deprovisioning request because their rule failed.",
                &["route", "resource"],
            )?,
            etag_retries: counter(
                "scim_gateway_etag_retries_total",
                "Writes re-read and retried after a 412 from the upstream.",
                &["route"],
            )?,
            translated_writes: counter(
                "scim_gateway_translated_writes_total",
                "Updates translated for the backend: put_to_patch, patch_to_put, members_to_ops.",
                &["route", "translation"],
            )?,
            unmanaged_kept: counter(
                "scim_gateway_unmanaged_kept_total",
                "Values a translated write kept because the IdP does not manage them: attribute, member.",
                &["route", "kind"],
            )?,
            upstream_retries: counter(
                "scim_gateway_upstream_retries_total",
                "Requests sent again after the backend answered 429 or 529 (status).",
                &["route", "status"],
            )?,
            rate_limit_queue: IntGaugeVec::new(
                Opts::new(
                    "scim_gateway_rate_limit_queue_depth",
                    "Requests waiting for the route's upstream rate limit.",
                ),
                &["route"],
            )?,
            rate_limit_capacity: IntGaugeVec::new(
                Opts::new(
                    "scim_gateway_rate_limit_queue_capacity",
                    "Most requests the route's rate-limit queue holds.",
                ),
                &["route"],
            )?,
            rate_limited: counter(
                "scim_gateway_rate_limited_total",
                "Requests answered 429 because the upstream rate limit's queue was full or too slow.",
                &["route"],
            )?,
            plugin_invocations: counter(
                "scim_gateway_plugin_invocations_total",
                "Plugin calls by outcome: ok, rejected, trap, fuel, timeout, memory, bad_output, circuit_open.",
                &["plugin", "outcome"],
            )?,
            plugin_duration: HistogramVec::new(
                HistogramOpts::new(
                    "scim_gateway_plugin_duration_seconds",
                    "Time of each plugin call: waiting for a slot, fresh instance, call, checks.",
                )
                .buckets(PLUGIN_BUCKETS.to_vec()),
                &["plugin"],
            )?,
            plugin_load_failures: counter(
                "scim_gateway_plugin_load_failures_total",
                "Plugins that failed to load at start or reload (the old version keeps serving after a reload).",
                &["plugin"],
            )?,
            plugin_fail_open: counter(
                "scim_gateway_plugin_fail_open_total",
                "Resources passed on without a failed plugin's changes: on_failure = \"open\", or a deprovisioning.",
                &["plugin"],
            )?,
            plugin_log_messages: counter(
                "scim_gateway_plugin_log_messages_total",
                "Messages plugins logged, by level (debug, info, warn, error), and those dropped past a call's bounds (dropped).",
                &["plugin", "level"],
            )?,
            in_flight: IntGauge::new("scim_gateway_requests_in_flight", "Requests being handled.")?,
            build_info: IntGaugeVec::new(
                Opts::new("scim_gateway_build_info", "Always 1; the labels tell the build."),
                &["version"],
            )?,
            audit_written: IntCounter::new(
                "scim_gateway_audit_records_written_total",
                "Audit records written to the store.",
            )?,
            audit_dropped: counter(
                "scim_gateway_audit_records_dropped_total",
                "Audit records lost: queue_full (on_failure = \"drop\", or a deprovisioning that found no room) or shutdown.",
                &["reason", "deprovisioning"],
            )?,
            audit_refused: IntCounter::new(
                "scim_gateway_audit_refused_total",
                "Writes answered 503 before forwarding because the audit queue had no room (on_failure = \"block\").",
            )?,
            audit_queue: IntGauge::new("scim_gateway_audit_queue_depth", "Audit records queued, not yet written.")?,
            audit_write_duration: Histogram::with_opts(
                HistogramOpts::new("scim_gateway_audit_write_duration_seconds", "Time of each batched audit insert.")
                    .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            audit_store_errors: IntCounter::new(
                "scim_gateway_audit_store_errors_total",
                "Failed audit inserts (the batch is retried).",
            )?,
            cluster_up: IntGauge::new(
                "scim_gateway_cluster_up",
                "1 when the last call to the cluster state (Redis) was answered, else 0; 1 without [cluster].",
            )?,
            cluster_errors: counter(
                "scim_gateway_cluster_errors_total",
                "Failed calls to the cluster state, by operation: lease, renew, release, rate, busy, cache.",
                &["operation"],
            )?,
            cluster_lease_wait: Histogram::with_opts(
                HistogramOpts::new("scim_gateway_cluster_lease_wait_seconds", "Time to take a resource's lease.")
                    .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            cluster_fallbacks: counter(
                "scim_gateway_cluster_fallbacks_total",
                "Work done without the cluster state: writes under this replica's own lock (policy, deprovisioning), requests paced by its share of the rate limit (rate_limit_share).",
                &["route", "reason"],
            )?,
            shadow_changes: counter(
                "scim_gateway_shadow_changes_total",
                "Shadow-mode writes whose mapping would have changed what the backend got.",
                &["route", "resource"],
            )?,
        };
        m.register_all(registry)?;
        m.build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        m.cluster_up.set(1);
        Ok(m)
    }

    fn register_all(&self, r: &Registry) -> Result<(), prometheus::Error> {
        for (_, c) in self.collectors() {
            r.register(c)?;
        }
        Ok(())
    }

    /// Every metric, with its kind.
    fn collectors(&self) -> Vec<(&'static str, Box<dyn Collector>)> {
        let counters = [
            &self.requests,
            &self.upstream_requests,
            &self.upstream_responses,
            &self.auth_failures,
            &self.mapping_errors,
            &self.rules_applied,
            &self.normalizations,
            &self.config_reloads,
            &self.deprovision_dropped,
            &self.etag_retries,
            &self.translated_writes,
            &self.unmanaged_kept,
            &self.upstream_retries,
            &self.rate_limited,
            &self.plugin_invocations,
            &self.plugin_load_failures,
            &self.plugin_fail_open,
            &self.plugin_log_messages,
            &self.audit_dropped,
            &self.shadow_changes,
            &self.cluster_errors,
            &self.cluster_fallbacks,
        ];
        let mut all: Vec<(&'static str, Box<dyn Collector>)> =
            counters.into_iter().map(|c| ("counter", Box::new(c.clone()) as Box<dyn Collector>)).collect();
        for h in [&self.request_duration, &self.upstream_duration, &self.plugin_duration] {
            all.push(("histogram", Box::new(h.clone())));
        }
        for g in [&self.upstream_up, &self.rate_limit_queue, &self.rate_limit_capacity, &self.build_info] {
            all.push(("gauge", Box::new(g.clone())));
        }
        for c in [&self.audit_written, &self.audit_refused, &self.audit_store_errors] {
            all.push(("counter", Box::new(c.clone())));
        }
        for g in [&self.in_flight, &self.audit_queue, &self.cluster_up] {
            all.push(("gauge", Box::new(g.clone())));
        }
        for h in [&self.audit_write_duration, &self.cluster_lease_wait] {
            all.push(("histogram", Box::new(h.clone())));
        }
        all
    }
}

/// One metric the gateway exports, as `scim-gateway metrics` lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Described {
    pub name: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: &'static str,
    pub labels: Vec<String>,
    pub help: String,
}

/// Every metric the gateway exports, by name, whether or not it has been
/// observed yet (dashboards and alert rules are checked against it).
pub fn catalog() -> Vec<Described> {
    let Ok(m) = Metrics::register(&Registry::new()) else { return Vec::new() };
    let mut out: Vec<Described> = m
        .collectors()
        .into_iter()
        .flat_map(|(kind, c)| {
            c.desc()
                .into_iter()
                .map(|d| Described {
                    name: d.fq_name.clone(),
                    kind,
                    labels: d.variable_labels.clone(),
                    help: d.help.clone(),
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The status codes counted under their own label; any other is counted
/// under its class.
const STATUS_CODES: [u16; 22] =
    [200, 201, 204, 304, 400, 401, 403, 404, 405, 409, 412, 413, 415, 429, 500, 501, 502, 503, 504, 507, 422, 406];

/// The status labels, `STATUS_CODES`' then the classes': what
/// [`status_index`] points into.
pub const STATUS_LABELS: [&str; 27] = [
    "200", "201", "204", "304", "400", "401", "403", "404", "405", "409", "412", "413", "415", "429", "500", "501",
    "502", "503", "504", "507", "422", "406", "1xx", "2xx", "3xx", "4xx", "5xx",
];

/// The class labels, then the label of an upstream call with no answer:
/// what [`class_index`] points into.
pub const CLASS_LABELS: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"];

/// Where the label of an upstream call with no answer is in [`CLASS_LABELS`].
pub const UNANSWERED: usize = 5;

/// The method labels: what [`method_index`] points into.
pub const METHOD_LABELS: [&str; 8] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "other"];

/// Where an HTTP status code's bounded label is in [`STATUS_LABELS`].
pub fn status_index(code: u16) -> usize {
    STATUS_CODES.iter().position(|&c| c == code).unwrap_or_else(|| STATUS_CODES.len() + class_index(code))
}

/// A bounded label for an HTTP status code.
pub fn status_label(code: u16) -> &'static str {
    STATUS_LABELS.get(status_index(code)).copied().unwrap_or("5xx")
}

/// Where a status code's class is in [`CLASS_LABELS`].
pub fn class_index(code: u16) -> usize {
    match code {
        100..=199 => 0,
        200..=299 => 1,
        300..=399 => 2,
        400..=499 => 3,
        _ => 4,
    }
}

/// A status code's class: `1xx` to `5xx`.
pub fn status_class(code: u16) -> &'static str {
    CLASS_LABELS.get(class_index(code)).copied().unwrap_or("5xx")
}

/// Where a method's bounded label is in [`METHOD_LABELS`].
pub fn method_index(m: &http::Method) -> usize {
    match *m {
        http::Method::GET => 0,
        http::Method::POST => 1,
        http::Method::PUT => 2,
        http::Method::PATCH => 3,
        http::Method::DELETE => 4,
        http::Method::HEAD => 5,
        http::Method::OPTIONS => 6,
        _ => 7,
    }
}

/// A bounded label for a method.
pub fn method_label(m: &http::Method) -> &'static str {
    METHOD_LABELS.get(method_index(m)).copied().unwrap_or("other")
}

/// The text exposition of `registry`.
pub fn render(registry: &Registry) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = TextEncoder::new().encode(&registry.gather(), &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_every_metric_once_with_build_info() {
        let r = Registry::new();
        let m = Metrics::register(&r).unwrap();
        m.requests.with_label_values(&["default", "User", "GET", "200"]).inc();
        let text = String::from_utf8(render(&r)).unwrap();
        assert!(text.contains("scim_gateway_build_info{version=\""), "{text}");
        assert!(text.contains(
            "scim_gateway_requests_total{method=\"GET\",resource=\"User\",route=\"default\",status=\"200\"} 1"
        ));
        assert!(Metrics::register(&r).is_err(), "a second registration must fail");
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(status_label(201), "201");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(599), "5xx");
        assert_eq!(method_label(&http::Method::from_bytes(b"PROPFIND").unwrap()), "other");
        assert_eq!((status_class(101), status_class(302), status_class(700)), ("1xx", "3xx", "5xx"));
        assert_eq!((status_label(406), status_label(200), status_label(299)), ("406", "200", "2xx"));
    }

    #[test]
    fn every_metric_the_struct_creates_is_registered_and_in_the_catalog() {
        let named: std::collections::BTreeSet<&str> = include_str!("metrics.rs")
            .split('"')
            .filter(|s| s.len() > 13 && s.starts_with("scim_gateway_") && !s.contains(['{', ' ', ':']))
            .collect();
        let listed: std::collections::BTreeSet<String> = catalog().into_iter().map(|m| m.name).collect();
        let listed: std::collections::BTreeSet<&str> = listed.iter().map(String::as_str).collect();
        assert_eq!(named, listed, "a metric created in Metrics::register but left out of collectors()");
    }

    #[test]
    fn the_readme_lists_every_metric_with_its_labels() {
        let readme = include_str!("../../../README.md");
        let all = catalog();
        assert!(all.len() >= 30, "{} metrics", all.len());
        for m in all {
            let labels = m.labels.join(", ");
            let row = format!("| `{}` | {labels}{}|", m.name, if labels.is_empty() { "" } else { " " });
            assert!(readme.contains(&row), "the README's metrics table lacks the row starting {row}");
        }
    }
}
