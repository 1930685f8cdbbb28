//! Backend profiles: what a backend needs beyond SCIM, built once per
//! route at load. The request-time steps live in `pipeline/notion.rs`; this
//! holds the settings and the state they share between requests (a short
//! cache of manager lookups).

use crate::config::NotionSettings;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Notion's SCIM API: pages of at most 100, filters on `email`,
/// `given_name` and `family_name`, a manager given by email, workspace
/// roles in its own extension.
#[derive(Debug)]
pub struct Notion {
    pub settings: NotionSettings,
    /// Manager id to email and email to id.
    pub managers: TtlCache,
}

/// Notion's role extension.
pub const NOTION_URN: &str = "urn:ietf:params:scim:schemas:extension:notion:2.0:User";
/// The largest page Notion answers.
pub const NOTION_PAGE: usize = 100;

impl Notion {
    pub fn new(settings: NotionSettings) -> Self {
        let managers = TtlCache::new(settings.manager_cache, 10_000);
        Self { settings, managers }
    }

    /// The Notion role for an IdP role value (case-insensitive), if the
    /// table names it.
    pub fn role_for(&self, idp_role: &str) -> Option<&str> {
        self.settings.roles.iter().find(|(k, _)| k.eq_ignore_ascii_case(idp_role.trim())).map(|(_, v)| v.as_str())
    }

    /// The IdP role value for a Notion role: the first table entry naming it.
    pub fn idp_role_for(&self, notion_role: &str) -> Option<&str> {
        self.settings.roles.iter().find(|(_, v)| v == notion_role).map(|(k, _)| k.as_str())
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

    #[test]
    fn roles_are_looked_up_both_ways() {
        let n = Notion::new(NotionSettings {
            roles: vec![("Admin".into(), "membership_admin".into()), ("Guest".into(), "restricted_member".into())],
            allow_owner: false,
            manager_cache: Duration::from_secs(1),
        });
        assert_eq!(n.role_for(" admin "), Some("membership_admin"));
        assert_eq!(n.role_for("Owner"), None);
        assert_eq!(n.idp_role_for("restricted_member"), Some("Guest"));
    }
}
