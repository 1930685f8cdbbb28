//! Which top-level members of a request body stay the IdP's JSON text
//! instead of being built into a tree (`json/split.rs` reads them; the
//! write upstream carries their text after the mapped members).
//!
//! A member stays text only where nothing on the request's way could
//! read or change it, so that what reaches the backend is what the plain
//! pipeline would send: the same members and values, the kept ones after
//! the others. [`keeper`] answers for the request, [`Keeper`] per member:
//!
//! - the request is a POST of a resource, a PUT sent as it is (no
//!   current resource read, no translation into a PATCH), or a PUT sent
//!   as the smallest PATCH from the current resource that no rule reads
//!   (then the current resource keeps the same members as text, and a
//!   member whose two texts are the same tokens is left out of the diff:
//!   it needs no operation; see [`for_current`]);
//! - no audit trail keeps the request (it records the whole body), the
//!   route is not in shadow mode (the body goes both ways), and no group
//!   write is cut into member batches;
//! - for the resource type, no request plugin runs and the backend
//!   profile leaves writes as they are (`managed.rs` settles this once);
//! - the member's attribute is not one the request rules read or write
//!   (their footprint, worked out when the mapping was compiled), and is
//!   not `active` (a deprovisioning is decided on it);
//! - normalization would leave it as it is, by its text, read once and
//!   held to what serde_json's parse takes
//!   ([`scim_core::normalize::left_prefix`]), and no other top-level key
//!   names its attribute in any case or names the core schema, nor does
//!   `schemas` list it (normalization keeps a listed name a key has).

use crate::audit::Trail;
use crate::config::RouteMode;
use crate::gateway::RouteRuntime;
use crate::json::{Aside, Keep};
use crate::proxy::endpoint::Endpoint;
use http::Method;
use scim_core::normalize::member_attribute;
use scim_core::schema::{Attribute, ResourceSchema};
use scim_mapper::Footprint;
use serde_json::Value;

/// The attributes whose members may stay text in one resource type's
/// request bodies, worked out once per route: every one
/// [`member_attribute`] allows, but `active` and those the request rules
/// read or write. The definitions are copies, so that a request asks no
/// schema for them.
#[derive(Debug, Default)]
pub struct TextMembers {
    attributes: Vec<Attribute>,
    /// The first byte and position of each attribute whose name is as
    /// long as the index says: a key is compared with those alone.
    by_len: Vec<Vec<(u8, usize)>>,
}

impl TextMembers {
    /// The attributes of `schema` whose members may stay text, given the
    /// request rules' `footprint`.
    pub fn new(schema: &ResourceSchema<'_>, footprint: &Footprint) -> Self {
        let allowed = |def: &&Attribute| {
            member_attribute(&def.name, schema).is_some_and(|d| std::ptr::eq(d, *def))
                && def.name != "active"
                && !footprint.touches(&def.name)
        };
        let attributes: Vec<Attribute> = schema.core_and_common().filter(allowed).cloned().collect();
        let mut by_len = vec![Vec::new(); attributes.iter().map(|a| a.name.len() + 1).max().unwrap_or(0)];
        for (i, a) in attributes.iter().enumerate() {
            let first = a.name.bytes().next().unwrap_or_default();
            by_len.get_mut(a.name.len()).into_iter().for_each(|same| same.push((first, i)));
        }
        Self { attributes, by_len }
    }

    /// [`TextMembers::new`] with the footprint of `program`'s request
    /// rules for the resource type.
    pub fn for_rules(schema: &ResourceSchema<'_>, program: &scim_mapper::Program) -> Self {
        Self::new(schema, &program.footprint(schema.name(), scim_mapper::Direction::Request))
    }

    /// The position of the attribute named exactly `key`.
    fn position(&self, key: &str) -> Option<usize> {
        let first = key.bytes().next()?;
        let same_len = self.by_len.get(key.len())?.iter().filter(|(f, _)| *f == first);
        same_len.map(|&(_, i)| i).find(|&i| self.attributes.get(i).is_some_and(|a| a.name == key))
    }
}

/// What one request's body may keep as text, member by member.
#[derive(Debug)]
pub struct Keeper<'r> {
    schema: ResourceSchema<'r>,
    members: &'r TextMembers,
}

impl<'r> Keeper<'r> {
    /// A keeper for a body of `schema` whose `members` may stay text.
    pub fn new(schema: ResourceSchema<'r>, members: &'r TextMembers) -> Self {
        Self { schema, members }
    }
}

impl Keep for Keeper<'_> {
    fn may_keep(&self, key: &str) -> Option<usize> {
        self.members.position(key)
    }

    fn attribute(&self, which: usize) -> Option<&Attribute> {
        self.members.attributes.get(which)
    }

    fn names_kept(&self, built: &serde_json::Map<String, Value>, is_kept: &dyn Fn(&str) -> bool) -> bool {
        // A URN key may name the core schema or one of its attributes
        // (normalization opens or unqualifies it): only an extension's
        // own id, as the schema spells it, is known not to. And a URN list
        // entry naming a body's key is kept for that key (Entra's data
        // URNs): the plain parse would see the key, so `schemas` must not
        // name a kept one.
        let urn = |k: &str| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let names_core = |k: &str| urn(k) && self.schema.extension(k).is_none_or(|e| e.id != k);
        let lists_kept = |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_str).any(is_kept);
        built.iter().any(|(k, v)| names_core(k) || (k.eq_ignore_ascii_case("schemas") && lists_kept(v)))
    }
}

/// The keeper for a request's body, or `None` when every member must be
/// built (see the module text for when).
pub(super) fn keeper<'r>(
    route: &'r RouteRuntime,
    endpoint: &Endpoint,
    method: &Method,
    trail: Option<&Trail>,
) -> Option<Keeper<'r>> {
    if trail.is_some() || route.mode == RouteMode::Shadow {
        return None;
    }
    let rt = match (method, endpoint) {
        (&Method::POST, Endpoint::Resource { resource_type, id: None }) => *resource_type,
        (&Method::POST, Endpoint::Me) => "User",
        (&Method::PUT, _) => {
            endpoint.one_resource().filter(|rt| super::replace_as_sent(route, rt) || pairs_with_current(route, rt))?
        }
        _ => return None,
    };
    if rt == "Group" && route.member_batch.is_some() {
        return None;
    }
    let members = route.types.get(rt)?.text_members.as_ref()?;
    Some(Keeper::new(route.schema(rt).ok()?, members))
}

/// Whether a PUT of `rt` goes as the smallest PATCH from the current
/// resource, which no rule reads and the backend profile leaves as it is:
/// then its members are paired with the current resource's by their text.
pub(super) fn pairs_with_current(route: &RouteRuntime, rt: &str) -> bool {
    super::translate::put_as_patch(route.update_for(rt))
        && !route.program.replace_needs_current(rt)
        && route.profile.current_unchanged()
}

/// Who says, for the current resource of a PUT sent as a PATCH, whether
/// its built members name one kept as text ([`Keep::names_kept`]): the
/// request's keeper. The current resource keeps the members under the
/// keys the request's body kept (`sent`), any value, and is not
/// normalized: a member whose text is not the request's is built,
/// whatever it holds ([`crate::json::document_paired`]). `None` when the
/// body kept none.
pub(super) fn for_current<'r>(route: &'r RouteRuntime, rt: &str, sent: &Aside) -> Option<Keeper<'r>> {
    if sent.is_empty() || !pairs_with_current(route, rt) {
        return None;
    }
    let members = route.types.get(rt)?.text_members.as_ref()?;
    Some(Keeper::new(route.schema(rt).ok()?, members))
}

/// The kept members built into `tree`, for a step that needs the whole
/// body (a PUT built from the current resource, member batches).
pub(super) fn whole(tree: &mut Value, aside: Aside) -> Result<(), crate::error::GatewayError> {
    aside.into_tree(tree).map_err(|e| crate::error::GatewayError::BadJson(e.to_string()))
}

#[cfg(test)]
mod tests;
