//! `[cluster]` and a route's `on_cluster_error`.

use super::file::ClusterSection;
use super::validate::ms;
use crate::cluster::{ClusterSettings, OnClusterError};
use scim_mapper::Sink;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

pub(super) fn settings(c: &ClusterSection, base: &Path, sink: &mut Sink<'_>) -> Option<ClusterSettings> {
    let Some(url) = &c.redis_url else {
        sink.error(0, "[cluster] needs redis_url", Some("redis_url = \"redis://127.0.0.1:6379/0\"".into()));
        return None;
    };
    let text = url.get_ref();
    let hint = Some("write redis://HOST:PORT/DB, or rediss:// for TLS".into());
    match redis::IntoConnectionInfo::into_connection_info(text.as_str()) {
        Ok(info) if info.redis_settings().password().is_some() => {
            let hint = Some("give the password with password_env or password_file".into());
            sink.error(url.span().start, "the URL holds a password; never put a secret in the config", hint);
        }
        Ok(_) if text.starts_with("redis://") || text.starts_with("rediss://") => {}
        Ok(_) => sink.error(url.span().start, format!("`{text}` is not a redis:// or rediss:// URL"), hint),
        Err(e) => sink.error(url.span().start, format!("`{text}` is not a Redis URL: {e}"), hint),
    }
    let password = super::audit::secret(c.password_env.as_ref(), c.password_file.as_ref(), base, sink);
    let replica = c.replica_name.as_ref().map(|r| r.get_ref().trim().to_owned()).filter(|r| !r.is_empty());
    Some(ClusterSettings {
        url: text.clone(),
        password,
        replica: replica.unwrap_or_else(crate::audit::replica_name),
        key_prefix: c.key_prefix.as_ref().map_or_else(|| "scim-gateway:".to_owned(), |p| p.get_ref().clone()),
        timeout: c.timeout_ms.as_ref().map_or(Duration::from_millis(500), |t| ms(t, "timeout_ms", sink)),
        lease_ttl: c.lease_ttl_ms.as_ref().map_or(Duration::from_secs(15), |t| ms(t, "lease_ttl_ms", sink)),
        expected_replicas: c
            .expected_replicas
            .as_ref()
            .map_or(3, |n| u32::try_from(super::validate::positive(n, "expected_replicas", 1000, sink)).unwrap_or(3)),
    })
}

/// `on_cluster_error`: `refuse` (the default) or `local`.
pub(super) fn policy(p: Option<&Spanned<String>>, sink: &mut Sink<'_>) -> OnClusterError {
    match p.map(|p| (p.get_ref().as_str(), p.span().start)) {
        None | Some(("refuse", _)) => OnClusterError::Refuse,
        Some(("local", _)) => OnClusterError::Local,
        Some((other, at)) => {
            sink.error(at, format!("unknown on_cluster_error `{other}`"), Some("\"refuse\" or \"local\"".into()));
            OnClusterError::Refuse
        }
    }
}
