//! What a route's config settles about each resource type it serves,
//! worked out once when the route is built: whether anything maps its
//! answers, and which of its attributes the IdP manages.

use super::aside::TextMembers;
use super::profile::BackendProfile;
use crate::plugins::Chain;
use scim_core::normalize::Normalizer;
use scim_mapper::Program;
use scim_plugin_host::Direction as PluginDirection;
use std::borrow::Cow;

/// What the IdP manages when the mapping declares no `managed` list: the
/// attributes Okta and Entra ID provision. Roles, entitlements, photos,
/// certificates and other extensions are the backend's own.
const DEFAULT_MANAGED_USER: [&str; 22] = [
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "emails",
    "phoneNumbers",
    "addresses",
    "externalId",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "password",
];
const DEFAULT_MANAGED_GROUP: [&str; 3] = ["displayName", "externalId", "members"];

/// The attributes the IdP manages for one resource type.
#[derive(Debug)]
pub struct ManagedSet {
    /// Every key declared; `None`: every attribute.
    keys: Option<Vec<Key>>,
}

/// One managed key, `name` or `urn:...:name`, as declared.
#[derive(Debug)]
struct Key {
    text: Cow<'static, str>,
    /// The core attribute a core-URN-qualified key names
    /// (`urn:ietf:params:scim:schemas:core:2.0:User:title` names `title`),
    /// found when the set is built.
    core_name: Option<usize>,
}

impl Key {
    /// The key, with the attribute it names when the core URN qualifies it.
    fn new(text: Cow<'static, str>) -> Self {
        const CORE: &str = "urn:ietf:params:scim:schemas:core:";
        let is_core = text.get(..CORE.len()).is_some_and(|p| p.eq_ignore_ascii_case(CORE));
        let core_name = text.rfind(':').filter(|_| is_core).map(|colon| colon + 1);
        Self { text, core_name }
    }

    /// Whether the key names the core (or common) attribute `name`.
    fn names_core(&self, name: &str) -> bool {
        let core = self.core_name.and_then(|at| self.text.get(at..));
        self.text.eq_ignore_ascii_case(name) || core.is_some_and(|n| n.eq_ignore_ascii_case(name))
    }
}

impl ManagedSet {
    /// The keys the mapping declares (`managed = [...]`), else the
    /// defaults for `rt`.
    pub fn new(declared: Option<&scim_mapper::Managed>, rt: &str) -> Self {
        let keys = match declared {
            Some(scim_mapper::Managed::All) => None,
            Some(scim_mapper::Managed::Only(paths)) => {
                Some(paths.iter().map(|p| Key::new(Cow::Owned(p.to_string()))).collect())
            }
            None => {
                let defaults: &[&'static str] =
                    if rt == "Group" { &DEFAULT_MANAGED_GROUP } else { &DEFAULT_MANAGED_USER };
                Some(defaults.iter().map(|k| Key::new(Cow::Borrowed(*k))).collect())
            }
        };
        Self { keys }
    }

    /// Whether the IdP manages `name` (of the extension `urn`, if any).
    /// Every comparison ignores ASCII case; nothing is allocated.
    pub fn contains(&self, urn: Option<&str>, name: &str) -> bool {
        let Some(keys) = &self.keys else { return true };
        keys.iter().any(|k| match urn {
            Some(u) => qualified(&k.text, u, name),
            None => k.names_core(name),
        })
    }
}

/// Whether `key` is `urn:name`.
fn qualified(key: &str, urn: &str, name: &str) -> bool {
    key.len() == urn.len() + 1 + name.len()
        && key.get(..urn.len()).is_some_and(|u| u.eq_ignore_ascii_case(urn))
        && key.as_bytes().get(urn.len()) == Some(&b':')
        && key.get(urn.len() + 1..).is_some_and(|n| n.eq_ignore_ascii_case(name))
}

/// What the config settles about one resource type of a route.
#[derive(Debug)]
pub struct TypeSettings {
    /// The resource type's name, as the registry spells it.
    name: String,
    /// No response rule, response plugin or profile hook changes its
    /// answers (the audit trail, a per-request matter, is asked apart).
    pub answers_unmapped: bool,
    /// What a translated write of it may remove.
    pub managed: ManagedSet,
    /// The attributes whose members its request bodies may keep as text
    /// (see `aside.rs`): `None` when a request plugin runs for it or the
    /// backend profile rewrites writes.
    pub text_members: Option<TextMembers>,
}

/// [`TypeSettings`] for each resource type the route's schemas define.
#[derive(Debug, Default)]
pub struct ByType(Vec<TypeSettings>);

impl ByType {
    /// Settles each resource type of `program`'s registry for a route
    /// with these plugins and this backend profile.
    pub fn new(program: &Program, plugins: &Chain, profile: &dyn BackendProfile, normalizer: &Normalizer) -> Self {
        let types = program.registry().resource_types().iter().map(|t| {
            let rt = t.name.as_str();
            let plugged = plugins.applies_either_side(PluginDirection::Response, rt);
            let answers_unmapped = profile.answers_unchanged()
                && program.rule_count(rt, scim_mapper::Direction::Response) == 0
                && !plugged;
            let text_members =
                match profile.writes_unchanged() && !plugins.applies_either_side(PluginDirection::Request, rt) {
                    true => {
                        let schema = program.registry().resource(rt);
                        schema.map(|schema| TextMembers::for_rules(&schema, program, normalizer))
                    }
                    false => None,
                };
            let managed = ManagedSet::new(program.managed(rt), rt);
            TypeSettings { name: t.name.clone(), answers_unmapped, managed, text_members }
        });
        Self(types.collect())
    }

    /// The settings of `rt` (its name in any ASCII case, as the registry
    /// finds resource types); `None` for a type the route does not serve.
    pub fn get(&self, rt: &str) -> Option<&TypeSettings> {
        self.0.iter().find(|t| t.name.eq_ignore_ascii_case(rt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Profile;
    use crate::pipeline::profile::{Generic, build};

    fn program(text: &str) -> Program {
        let sources = [scim_mapper::MappingSource { name: "m.toml", text }];
        scim_mapper::compile(&sources, scim_core::schema::Registry::core()).unwrap().program
    }

    const IDENTITY: &str = "version = 1\n";
    const USER_RESPONSE_RULE: &str = r#"version = 1
[[User.response]]
name = "back"
rename = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"
to = "externalId"
"#;

    #[test]
    fn answers_are_unmapped_only_where_no_response_rule_or_profile_hook_applies() {
        let plain = ByType::new(
            &program(IDENTITY),
            &Chain::default(),
            &Generic,
            &Normalizer::new(scim_core::normalize::Preset::Generic),
        );
        assert!(plain.get("User").is_some_and(|t| t.answers_unmapped));
        assert!(plain.get("group").is_some_and(|t| t.answers_unmapped), "names in any case");
        assert!(plain.get("Device").is_none(), "a type the route does not serve is not settled");
        let ruled = ByType::new(
            &program(USER_RESPONSE_RULE),
            &Chain::default(),
            &Generic,
            &Normalizer::new(scim_core::normalize::Preset::Generic),
        );
        assert!(ruled.get("User").is_some_and(|t| !t.answers_unmapped), "a response rule maps User answers");
        assert!(ruled.get("Group").is_some_and(|t| t.answers_unmapped), "and only those");
        let notion = build(&Profile { name: "notion", notion: None });
        let hooked = ByType::new(
            &program(IDENTITY),
            &Chain::default(),
            notion.as_ref(),
            &Normalizer::new(scim_core::normalize::Preset::Generic),
        );
        assert!(hooked.get("User").is_some_and(|t| !t.answers_unmapped), "a profile that maps answers");
    }

    #[test]
    fn the_managed_set_is_the_declared_one_else_the_defaults_of_the_type() {
        let types = ByType::new(
            &program(IDENTITY),
            &Chain::default(),
            &Generic,
            &Normalizer::new(scim_core::normalize::Preset::Generic),
        );
        let user = types.get("User").map(|t| &t.managed);
        assert!(user.is_some_and(|m| m.contains(None, "userName") && !m.contains(None, "roles")));
        let group = types.get("Group").map(|t| &t.managed);
        assert!(group.is_some_and(|m| m.contains(None, "members") && !m.contains(None, "userName")));
    }
}
