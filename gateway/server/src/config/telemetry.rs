//! `[telemetry]`: where traces go and how many are kept.

use super::file::{Ratio, TelemetrySection};
use super::validate::{env_name, ms, positive};
use crate::telemetry::TelemetrySettings;
use scim_mapper::Sink;
use std::time::Duration;

/// The path OTLP/HTTP takes traces on.
const TRACES_PATH: &str = "/v1/traces";

pub(super) fn settings(t: &TelemetrySection, sink: &mut Sink<'_>) -> Option<TelemetrySettings> {
    let Some(url) = &t.otlp_endpoint else {
        let hint = Some("otlp_endpoint = \"http://otel-collector:4318\"".into());
        sink.error(0, "[telemetry] needs otlp_endpoint (remove the section to turn traces off)", hint);
        return None;
    };
    let endpoint = endpoint(url.get_ref()).map_err(|e| sink.error(url.span().start, e, endpoint_hint())).ok();
    let sampling_ratio = match t.sampling_ratio.as_ref().map(|r| (*r.get_ref(), r.span().start)) {
        None => 1.0,
        Some((Ratio::Whole(n @ 0..=1), _)) => f64::from(u8::try_from(n).unwrap_or(1)),
        Some((Ratio::Fraction(f), _)) if (0.0..=1.0).contains(&f) => f,
        Some((_, at)) => {
            sink.error(at, "sampling_ratio must be between 0 and 1", Some("0.1 keeps one trace in ten".into()));
            1.0
        }
    };
    if let Some(env) = &t.headers_env {
        env_name(env, sink);
    }
    let service_name = t.service_name.as_ref().map(|s| s.get_ref().trim().to_owned()).filter(|s| !s.is_empty());
    let timeout = t.timeout_ms.as_ref().map_or(Duration::from_secs(10), |v| ms(v, "timeout_ms", sink));
    let max_queue = t.max_queue.as_ref().map_or(2048, |v| positive(v, "max_queue", 1 << 20, sink));
    let export_interval =
        t.export_interval_ms.as_ref().map_or(Duration::from_secs(5), |v| ms(v, "export_interval_ms", sink));
    Some(TelemetrySettings {
        endpoint: endpoint?,
        sampling_ratio,
        service_name: service_name.unwrap_or_else(|| "scim-gateway".into()),
        headers_env: t.headers_env.as_ref().map(|e| e.get_ref().clone()),
        timeout,
        max_queue: usize::try_from(max_queue).unwrap_or(2048),
        export_interval,
    })
}

fn endpoint_hint() -> Option<String> {
    Some("write the collector's OTLP/HTTP address, such as http://otel-collector:4318".into())
}

/// The collector's URL with [`TRACES_PATH`] appended unless it ends so.
fn endpoint(text: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = text.parse().map_err(|e| format!("`{text}` is not a URL: {e}"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(format!("`{text}` is not an http:// or https:// URL"));
    }
    if uri.authority().is_some_and(|a| a.as_str().contains('@')) {
        return Err("the URL holds credentials; give them with headers_env".into());
    }
    if uri.query().is_some() {
        return Err(format!("`{text}` has a query; OTLP takes none"));
    }
    let path = uri.path().trim_end_matches('/');
    let traces = if path.ends_with(TRACES_PATH) { "" } else { TRACES_PATH };
    let (scheme, authority) = (uri.scheme_str().unwrap_or("http"), uri.authority().map_or("", |a| a.as_str()));
    let full = format!("{scheme}://{authority}{path}{traces}");
    full.parse().map_err(|e| format!("`{full}` is not a URL: {e}"))
}

#[cfg(test)]
mod tests {
    use super::endpoint;

    #[test]
    fn the_traces_path_is_added_to_a_collector_base_url_once() {
        let e = |t: &str| endpoint(t).map(|u| u.to_string());
        assert_eq!(e("http://collector:4318").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(e("http://collector:4318/").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(e("https://otel.example/otlp").unwrap(), "https://otel.example/otlp/v1/traces");
        assert_eq!(e("http://collector:4318/v1/traces").unwrap(), "http://collector:4318/v1/traces");
        assert_eq!(e("http://collector:4318/v1/traces/").unwrap(), "http://collector:4318/v1/traces");
        assert!(e("collector:4318").is_err());
        assert!(e("ftp://collector").is_err());
        assert!(e("http://user:secret@collector:4318").unwrap_err().contains("credentials"));
    }
}
