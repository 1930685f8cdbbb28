//! `email-domain-policy`: Users may only carry e-mail addresses (in
//! `emails[].value`, and `userName` when it is an address) in the domains
//! the config allows; alias domains are rewritten to their canonical domain
//! first. A create or update with any other domain is refused with a 400
//! that the IdP shows its admin. Deactivations pass whatever they carry.
//!
//! Config:
//! - `allowed`: the domains addresses may use, e.g. `["example.com"]`
//!   (required: with none, every request is refused with a 500 that says so);
//! - `aliases`: alias domain to canonical domain, e.g.
//!   `{"example.org": "example.com"}` (optional).
//!
//! Domains compare case-insensitively; a rewritten domain is written in
//! lower case. The plugin sees the resource as it will be after an update,
//! so an update of a User who still carries a foreign address is refused
//! too, until the address is fixed.

use scim_plugin_sdk::{Context, Direction, Plugin, Rejection, Value};

pub struct EmailDomainPolicy;

impl Plugin for EmailDomainPolicy {
    fn map(ctx: &Context, mut user: Value) -> Result<Value, Rejection> {
        if ctx.direction != Direction::Request || ctx.resource_type != "User" || ctx.is_deprovisioning(&user) {
            return Ok(user);
        }
        let policy = Policy::from_config(&ctx.config)?;
        if let Some(Value::String(name)) = user.get_mut("userName")
            && name.contains('@')
        {
            policy.apply(name)?;
        }
        if let Some(Value::Array(emails)) = user.get_mut("emails") {
            for email in emails.iter_mut() {
                if let Some(Value::String(address)) = email.get_mut("value") {
                    policy.apply(address)?;
                }
            }
        }
        Ok(user)
    }
}

scim_plugin_sdk::export_plugin!(EmailDomainPolicy);

struct Policy {
    allowed: Vec<String>,
    aliases: Vec<(String, String)>,
}

impl Policy {
    fn from_config(config: &Value) -> Result<Self, Rejection> {
        let lower = |v: &Value| v.as_str().map(str::to_ascii_lowercase);
        let allowed: Vec<String> =
            config.get("allowed").and_then(Value::as_array).into_iter().flatten().filter_map(lower).collect();
        if allowed.is_empty() {
            return Err(Rejection::internal("email-domain-policy: the config names no `allowed` domains"));
        }
        let aliases = config
            .get("aliases")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(alias, canonical)| Some((alias.to_ascii_lowercase(), lower(canonical)?)))
            .collect();
        Ok(Self { allowed, aliases })
    }

    /// Rewrites an alias domain in `address`, then checks the domain.
    fn apply(&self, address: &mut String) -> Result<(), Rejection> {
        let Some((local, domain)) = address.rsplit_once('@') else {
            return Err(Rejection::invalid_value(format!("`{address}` is not an e-mail address")));
        };
        let domain = domain.to_ascii_lowercase();
        let domain = self.aliases.iter().find(|(a, _)| *a == domain).map_or(domain, |(_, c)| c.clone());
        if !self.allowed.contains(&domain) {
            return Err(Rejection::invalid_value(format!(
                "the e-mail domain `{domain}` is not allowed here (allowed: {})",
                self.allowed.join(", ")
            )));
        }
        *address = format!("{local}@{domain}");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_plugin_sdk::{Operation, json};

    fn config() -> Value {
        json!({"allowed": ["example.com"], "aliases": {"Example.ORG": "example.com"}})
    }

    fn map(user: Value) -> Result<Value, Rejection> {
        EmailDomainPolicy::map(&Context::test("User").with_config(config()), user)
    }

    #[test]
    fn aliases_become_canonical() {
        let out = map(json!({"userName": "bea@EXAMPLE.org", "emails": [{"value": "bea@example.org"}]})).unwrap();
        assert_eq!(out["userName"], "bea@example.com");
        assert_eq!(out["emails"][0]["value"], "bea@example.com");
        let plain = json!({"userName": "bea", "emails": [{"value": "Bea@Example.com"}]});
        assert_eq!(map(plain).unwrap()["emails"][0]["value"], "Bea@example.com");
    }

    #[test]
    fn foreign_domains_are_refused_on_create_and_update() {
        let err = map(json!({"userName": "eve@evil.test"})).unwrap_err();
        assert_eq!((err.status, err.scim_type.as_deref()), (400, Some("invalidValue")));
        assert!(err.detail.contains("evil.test"), "{}", err.detail);
        let mut ctx = Context::test("User").with_config(config());
        ctx.operation = Operation::Patch;
        let update = json!({"userName": "bea", "emails": [{"value": "bea@example.com"}, {"value": "b@gmail.com"}]});
        assert_eq!(EmailDomainPolicy::map(&ctx, update).unwrap_err().status, 400);
        assert_eq!(map(json!({"emails": [{"value": "no-at-sign"}]})).unwrap_err().status, 400);
    }

    #[test]
    fn deactivation_groups_answers_pass_and_no_config_is_an_error() {
        let leaver = json!({"active": false, "userName": "eve@evil.test"});
        assert_eq!(map(leaver.clone()).unwrap(), leaver);
        let group = json!({"displayName": "x@evil.test"});
        let ctx = Context::test("Group").with_config(config());
        assert_eq!(EmailDomainPolicy::map(&ctx, group.clone()).unwrap(), group);
        let mut back = Context::test("User").with_config(config());
        back.direction = Direction::Response;
        let stored = json!({"userName": "eve@evil.test"});
        assert_eq!(EmailDomainPolicy::map(&back, stored.clone()).unwrap(), stored);
        let err = EmailDomainPolicy::map(&Context::test("User"), json!({"userName": "a@b.c"})).unwrap_err();
        assert_eq!(err.status, 500);
    }
}
