//! Small caches whose entries expire, for what profiles remember between
//! requests (Notion's manager emails, AWS's list cursors). Never a source
//! of truth: a miss only costs a lookup.

use crate::cluster::Cluster;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Lookups a profile caches for a time: in Redis when `[cluster]` is on,
/// so every replica sees one answer and a change seen through one replica
/// is seen by all; in this replica's memory otherwise. A Redis failure is
/// a miss.
#[derive(Debug)]
pub struct Lookups {
    local: TtlCache,
}

/// Where lookups live: the cluster (when on) and the key's scope (the
/// route and the profile, so routes never share answers).
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub cluster: Option<&'a Cluster>,
    pub name: &'a str,
}

impl<'a> Scope<'a> {
    /// The scope of the route `x` goes through.
    pub fn of(x: &'a crate::pipeline::exchange::Exchange<'_>) -> Self {
        Self { cluster: x.gw.cluster.as_deref(), name: &x.route.name }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:{key}", self.name)
    }
}

impl Lookups {
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self { local: TtlCache::new(ttl, max) }
    }

    pub async fn get(&self, scope: Scope<'_>, key: &str) -> Option<String> {
        match scope.cluster {
            Some(_) if self.local.ttl.is_zero() => None,
            Some(c) => c.cached(&scope.key(key)).await,
            None => self.local.get(key, Instant::now()),
        }
    }

    /// Remembers every `(key, value)` of `entries`.
    pub async fn put(&self, scope: Scope<'_>, entries: Vec<(String, String)>) {
        match scope.cluster {
            Some(_) if self.local.ttl.is_zero() || entries.is_empty() => {}
            Some(c) => {
                let scoped: Vec<(String, String)> = entries.into_iter().map(|(k, v)| (scope.key(&k), v)).collect();
                c.cache(&scoped, self.local.ttl).await;
            }
            None => {
                let now = Instant::now();
                entries.into_iter().for_each(|(k, v)| self.local.put(k, v, now));
            }
        }
    }

    pub async fn forget(&self, scope: Scope<'_>, keys: &[String]) {
        match scope.cluster {
            Some(_) if keys.is_empty() => {}
            Some(c) => c.uncache(&keys.iter().map(|k| scope.key(k)).collect::<Vec<_>>()).await,
            None => keys.iter().for_each(|k| self.local.remove(k)),
        }
    }
}

/// A small map whose entries expire; when full, expired entries go first,
/// then everything (a cache, never a source of truth).
#[derive(Debug)]
pub struct TtlCache {
    ttl: Duration,
    max: usize,
    map: Mutex<HashMap<String, (String, Instant)>>,
}

impl TtlCache {
    pub fn new(ttl: Duration, max: usize) -> Self {
        Self { ttl, max, map: Mutex::new(HashMap::new()) }
    }

    pub fn get(&self, key: &str, now: Instant) -> Option<String> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl).map(|(v, _)| v.clone())
    }

    /// Forgets `key`.
    pub fn remove(&self, key: &str) {
        self.map.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    pub fn put(&self, key: String, value: String, now: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= self.max {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| now.saturating_duration_since(*at) < ttl);
            if map.len() >= self.max {
                map.clear();
            }
        }
        map.insert(key, (value, now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_a_full_cache_makes_room() {
        let c = TtlCache::new(Duration::from_secs(60), 2);
        let t0 = Instant::now();
        c.put("a".into(), "1".into(), t0);
        assert_eq!(c.get("a", t0 + Duration::from_secs(59)).as_deref(), Some("1"));
        assert_eq!(c.get("a", t0 + Duration::from_secs(60)), None, "expired");
        c.put("b".into(), "2".into(), t0 + Duration::from_secs(30));
        c.put("c".into(), "3".into(), t0 + Duration::from_secs(61));
        assert_eq!(c.get("b", t0 + Duration::from_secs(61)).as_deref(), Some("2"), "only the expired one went");
        assert_eq!(c.get("c", t0 + Duration::from_secs(61)).as_deref(), Some("3"));
        let off = TtlCache::new(Duration::ZERO, 2);
        off.put("a".into(), "1".into(), t0);
        assert_eq!(off.get("a", t0), None, "a zero time-to-live caches nothing");
    }
}
