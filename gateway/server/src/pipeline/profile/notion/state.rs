//! The `notion` profile's settings and the state its requests share (a
//! short cache of manager lookups).

use super::super::cache::Lookups;
use crate::config::NotionSettings;

/// Notion's SCIM API: pages of at most 100, filters on `email`,
/// `given_name` and `family_name`, a manager given by email, workspace
/// roles in its own extension.
#[derive(Debug)]
pub struct Notion {
    pub settings: NotionSettings,
    /// Manager id to email and email to id (shared by the replicas when
    /// `[cluster]` is on).
    pub managers: Lookups,
}

/// Notion's role extension.
pub const NOTION_URN: &str = "urn:ietf:params:scim:schemas:extension:notion:2.0:User";
/// The largest page Notion answers.
pub const NOTION_PAGE: usize = 100;

impl Notion {
    pub fn new(settings: NotionSettings) -> Self {
        let managers = Lookups::new(settings.manager_cache, 10_000);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
