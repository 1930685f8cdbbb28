//! `[[mapping.plugins]]` and `[plugin_host]`: where plugins run and what
//! they may use.

use super::file::{BreakerSection, PluginHostSection, PluginLimitsSection, PluginSection};
use super::validate::{positive, resolve};
use super::{PluginSettings, Position};
use scim_mapper::{Sink, did_you_mean};
use scim_plugin_host::{BreakerSettings, HostSettings, Limits};
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Largest memory a plugin (and so the engine) may be given.
const MAX_MEMORY: u64 = 4 << 30;

pub(super) fn host(h: &PluginHostSection, base: &Path, sink: &mut Sink<'_>) -> HostSettings {
    let d = HostSettings::default();
    HostSettings {
        max_memory_bytes: h
            .max_memory_bytes
            .as_ref()
            .map_or(d.max_memory_bytes, |v| positive(v, "max_memory_bytes", MAX_MEMORY, sink).max(64 << 10)),
        max_concurrent: h
            .max_concurrent
            .as_ref()
            .map_or(d.max_concurrent, |v| usize::try_from(positive(v, "max_concurrent", 4096, sink)).unwrap_or(1)),
        cache_dir: h.cache_dir.as_ref().map(|p| resolve(base, p.get_ref())),
    }
}

pub(super) fn plugins(list: &[PluginSection], base: &Path, sink: &mut Sink<'_>) -> Vec<PluginSettings> {
    let mut out: Vec<PluginSettings> = Vec::new();
    for p in list {
        let settings = plugin(p, base, sink);
        if out.iter().any(|o| o.name == settings.name) {
            sink.error(p.name.span().start, format!("a second plugin named `{}`", settings.name), None);
        }
        out.push(settings);
    }
    out
}

fn plugin(p: &PluginSection, base: &Path, sink: &mut Sink<'_>) -> PluginSettings {
    name(&p.name, sink);
    if let Some(pin) = &p.sha256 {
        let v = pin.get_ref();
        if v.len() != 64 || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
            let hint = Some("the hex sha256 of the .wasm file, as `sha256sum` prints it".into());
            sink.error(pin.span().start, "sha256 must be 64 hex digits", hint);
        }
    }
    let (request, response) = directions(&p.directions, sink);
    PluginSettings {
        name: p.name.get_ref().clone(),
        path: resolve(base, p.path.get_ref()),
        sha256: p.sha256.as_ref().map(|s| s.get_ref().to_ascii_lowercase()),
        resources: resources(&p.resources, sink),
        request,
        response,
        position: one_of(p.position.as_ref(), ["after", "before"], "position", sink)
            .map_or(Position::After, |v| if v == "before" { Position::Before } else { Position::After }),
        fail_open: one_of(p.on_failure.as_ref(), ["closed", "open"], "on_failure", sink) == Some("open"),
        limits: limits(&p.limits, sink),
        breaker: breaker(&p.breaker, sink),
        config: serde_json::to_value(&p.config).unwrap_or_default(),
    }
}

/// Names are metric labels: short, plain.
fn name(n: &Spanned<String>, sink: &mut Sink<'_>) {
    let v = n.get_ref();
    if v.is_empty() || v.len() > 64 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        let hint = Some("letters, digits, - _ and ., at most 64".into());
        sink.error(n.span().start, format!("`{v}` is not a plugin name"), hint);
    }
}

fn resources(list: &[Spanned<String>], sink: &mut Sink<'_>) -> Vec<String> {
    if list.is_empty() {
        return vec!["User".into(), "Group".into()];
    }
    let mut out = Vec::new();
    for r in list {
        match one_of(Some(r), ["User", "Group"], "resource type", sink) {
            Some(v) => out.push(v.to_owned()),
            None => continue,
        }
    }
    out
}

fn directions(list: &[Spanned<String>], sink: &mut Sink<'_>) -> (bool, bool) {
    if list.is_empty() {
        return (true, false);
    }
    let picked: Vec<&str> =
        list.iter().filter_map(|d| one_of(Some(d), ["request", "response"], "direction", sink)).collect();
    (picked.contains(&"request"), picked.contains(&"response"))
}

/// The value if it is one of `allowed`, an error with a hint otherwise.
fn one_of<'a, const N: usize>(
    v: Option<&Spanned<String>>,
    allowed: [&'a str; N],
    what: &str,
    sink: &mut Sink<'_>,
) -> Option<&'a str> {
    let v = v?;
    let found = allowed.iter().copied().find(|a| a == v.get_ref());
    if found.is_none() {
        let hint = did_you_mean(v.get_ref(), allowed).unwrap_or_else(|| format!("one of: {}", allowed.join(", ")));
        sink.error(v.span().start, format!("unknown {what} `{}`", v.get_ref()), Some(hint));
    }
    found
}

fn limits(l: &PluginLimitsSection, sink: &mut Sink<'_>) -> Limits {
    let d = Limits::default();
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    Limits {
        memory_bytes: l.memory_bytes.as_ref().map_or(d.memory_bytes, |v| positive(v, "memory_bytes", MAX_MEMORY, sink)),
        fuel: l.fuel.as_ref().map_or(d.fuel, |v| positive(v, "fuel", 1 << 40, sink)),
        timeout: l
            .timeout_ms
            .as_ref()
            .map_or(d.timeout, |v| Duration::from_millis(positive(v, "timeout_ms", 60_000, sink))),
        output_bytes: l
            .output_bytes
            .as_ref()
            .map_or(d.output_bytes, |v| size(positive(v, "output_bytes", 64 << 20, sink))),
    }
}

fn breaker(b: &BreakerSection, sink: &mut Sink<'_>) -> BreakerSettings {
    let d = BreakerSettings::default();
    BreakerSettings {
        failures: b
            .failures
            .as_ref()
            .map_or(d.failures, |v| u32::try_from(positive(v, "failures", 10_000, sink)).unwrap_or(1)),
        cooldown: b
            .cooldown_ms
            .as_ref()
            .map_or(d.cooldown, |v| Duration::from_millis(positive(v, "cooldown_ms", 3_600_000, sink))),
    }
}
