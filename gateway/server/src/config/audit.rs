//! `[audit]`, the admin tokens and a route's `mode`: the trail's settings,
//! checked with every problem reported at once.

use super::file::{AdminSection, AuditSection};
use super::validate::{env_name, ms, positive, resolve};
use super::{AuthSettings, RouteMode};
use crate::audit::{AuditSettings, OnFailure, Secret, StoreUrl, Values};
use scim_mapper::Sink;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// The trail's settings; the store URL defaults to a SQLite file beside
/// the config.
pub(super) fn settings(a: &AuditSection, base: &Path, sink: &mut Sink<'_>) -> AuditSettings {
    let mut s = AuditSettings::sqlite(base.join("scim-gateway-audit.db"));
    if let Some(url) = &a.url {
        s.url = store_url(url, base, sink).unwrap_or(s.url);
    }
    s.password = secret(a.password_env.as_ref(), a.password_file.as_ref(), base, sink);
    s.ca_file = a.ca_file.as_ref().map(|f| resolve(base, f.get_ref()));
    if let (Some(at), StoreUrl::Sqlite(_)) = (a.password_env.as_ref().or(a.password_file.as_ref()), &s.url) {
        sink.error(at.span().start, "a password is only for a PostgreSQL store", None);
    }
    if let Some(v) = &a.values {
        let hint = Some("\"none\", \"paths\" or \"full\"".into());
        s.values = Values::parse(v.get_ref()).unwrap_or_else(|| {
            sink.error(v.span().start, format!("unknown values policy `{}`", v.get_ref()), hint);
            Values::Paths
        });
    }
    if let Some(f) = &a.on_failure {
        s.on_failure = match f.get_ref().as_str() {
            "block" => OnFailure::Block,
            "drop" => OnFailure::Drop,
            other => {
                sink.error(
                    f.span().start,
                    format!("unknown on_failure `{other}`"),
                    Some("\"block\" or \"drop\"".into()),
                );
                OnFailure::Block
            }
        };
    }
    let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
    if let Some(q) = &a.queue {
        s.queue = size(positive(q, "queue", 1_000_000, sink));
    }
    if let Some(b) = &a.batch {
        s.batch = size(positive(b, "batch", 5000, sink));
    }
    if let Some(w) = &a.max_wait_ms {
        s.max_wait = ms(w, "max_wait_ms", sink);
    }
    if let Some(d) = &a.retention_days {
        s.max_age = Duration::from_secs(positive(d, "retention_days", 36_500, sink) * 86_400);
    }
    if let Some(r) = &a.max_rows {
        s.max_rows = positive(r, "max_rows", u64::MAX / 2, sink);
    }
    if let Some(p) = &a.prune_interval_ms {
        s.prune_every = ms(p, "prune_interval_ms", sink);
    }
    if let Some(r) = a.replica_name.as_ref().filter(|r| !r.get_ref().trim().is_empty()) {
        s.replica = r.get_ref().trim().to_owned();
    }
    s
}

fn store_url(url: &Spanned<String>, base: &Path, sink: &mut Sink<'_>) -> Option<StoreUrl> {
    let text = url.get_ref();
    let hint = Some("write \"sqlite://audit.db\" (beside the config) or \"postgres://user@host:5432/db\"".into());
    if let Some(path) = text.strip_prefix("sqlite://").filter(|p| !p.is_empty()) {
        return Some(StoreUrl::Sqlite(resolve(base, path)));
    }
    if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        match text.parse::<tokio_postgres::Config>() {
            Ok(c) if c.get_password().is_some() => {
                let hint = Some("give the password with password_env or password_file".into());
                sink.error(url.span().start, "the URL holds a password; never put a secret in the config", hint);
            }
            Ok(_) => return Some(StoreUrl::Postgres(text.clone())),
            Err(e) => sink.error(url.span().start, format!("`{text}` is not a PostgreSQL URL: {e}"), hint),
        }
        return None;
    }
    sink.error(url.span().start, format!("`{text}` is not an audit store URL"), hint);
    None
}

/// A password from `password_env` or `password_file` (one, not both).
pub(super) fn secret(
    env: Option<&Spanned<String>>,
    file: Option<&Spanned<String>>,
    base: &Path,
    sink: &mut Sink<'_>,
) -> Option<Secret> {
    if let (Some(_), Some(f)) = (env, file) {
        sink.error(f.span().start, "give password_env or password_file, not both", None);
    }
    if let Some(env) = env {
        env_name(env, sink);
        return Some(Secret::Env(env.get_ref().clone()));
    }
    file.map(|f| Secret::File(resolve(base, f.get_ref())))
}

/// The admin API's tokens: `tokens_env` and/or `tokens_file` in `[admin]`.
pub(super) fn admin_tokens(a: &AdminSection, base: &Path, sink: &mut Sink<'_>) -> Option<AuthSettings> {
    if let Some(env) = &a.tokens_env {
        env_name(env, sink);
    }
    if a.tokens_env.is_none() && a.tokens_file.is_none() {
        return None;
    }
    Some(AuthSettings {
        tokens_env: a.tokens_env.as_ref().map(|e| e.get_ref().clone()),
        tokens_file: a.tokens_file.as_ref().map(|f| resolve(base, f.get_ref())),
    })
}

/// A route's `mode`.
pub(super) fn mode(m: Option<&Spanned<String>>, sink: &mut Sink<'_>) -> RouteMode {
    match m.map(|m| (m.get_ref().as_str(), m.span().start)) {
        None | Some(("enforce", _)) => RouteMode::Enforce,
        Some(("shadow", _)) => RouteMode::Shadow,
        Some((other, at)) => {
            sink.error(at, format!("unknown mode `{other}`"), Some("\"enforce\" or \"shadow\"".into()));
            RouteMode::Enforce
        }
    }
}
