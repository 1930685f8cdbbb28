//! Which top-level members of a request body stay the IdP's JSON text
//! instead of being built into a tree (`json/split.rs` reads them; the
//! write upstream carries their text after the mapped members), and which
//! are left out altogether, as normalization strips them or the rules
//! discard them (below).
//!
//! A member stays text only where nothing on the request's way could
//! read or change it, so that what reaches the backend is what the plain
//! pipeline would send: the same members and values, the kept ones after
//! the others. `keeper` answers for the request, [`Keeper`] per member:
//!
//! - the request is a POST of a resource, a PUT sent as it is (no
//!   current resource read, no translation into a PATCH), or a PUT sent
//!   as the smallest PATCH from the current resource that no rule reads
//!   (then the current resource keeps the same members as text, and a
//!   member whose two texts are the same tokens is left out of the diff:
//!   it needs no operation; see `for_current`);
//! - no audit trail keeps the request (it records the whole body), the
//!   route is not in shadow mode (the body goes both ways), and no group
//!   write is cut into member batches;
//! - for the resource type, no request plugin runs and the backend
//!   profile leaves writes as they are (`managed.rs` settles this once);
//! - the member's attribute is not one the request rules read or write
//!   (their footprint, worked out when the mapping was compiled), and is
//!   not `active` (a deprovisioning is decided on it); an extension's
//!   member is kept when no rule reaches into the extension, and
//!   `schemas` lists it already (normalization would add it);
//! - normalization would leave it as it is, by its text, read once and
//!   held to what serde_json's parse takes
//!   ([`scim_core::normalize::left_prefix`]), and no other top-level key
//!   names its attribute in any case or names the core schema, nor does
//!   `schemas` list it (normalization keeps a listed name a key has; a
//!   known extension's it keeps anyway, so listing one is fine).
//!
//! Under the same conditions for the request (no audit trail, no shadow
//! mode, no request plugin, no member batches: [`keeper`] gives none
//! otherwise), a member normalization strips whole (a read-only
//! attribute named exactly, with the strip on, never `active`: a User's
//! `id`, `meta`, `groups`) is read, not built, and left out of the write:
//! its text must be a value serde_json takes, with no `null` in it and not
//! nested past [`scim_core::normalize::STRIPPED_MAX_DEPTH`]
//! ([`scim_core::normalize::stripped_prefix`]), and no other key may name
//! it, as for a kept member. Normalization counts it as stripped
//! ([`crate::json::Aside::stripped`]). The rules run after normalization,
//! so whatever they read, they could never see it.
//!
//! Under the same conditions again, a member the request rules discard
//! ([`scim_mapper::Program::discarded`]: every rule naming it removes or
//! writes the whole of it, unconditionally, on every write, and none
//! reads it; in okta-to-notion Okta's `password` and `groups`, deleted,
//! and `userName` and `displayName`, written from the emails and the
//! name) is read as a kept member is, by normalization's check
//! ([`scim_core::normalize::left_prefix`]: normalization would leave it
//! as it is, so it changes no count), and left out instead of kept: none
//! of the rules would see it, and none of it would be left once they ran.
//! One normalization strips anyway stays a stripped one. A member a rule
//! writes is added back at the end of the top level (JSON gives the
//! members' order no meaning), where the tree has room for it.

use crate::audit::Trail;
use crate::config::RouteMode;
use crate::gateway::RouteRuntime;
use crate::json::{Aside, Fate, Keep};
use crate::proxy::endpoint::Endpoint;
use http::Method;
use scim_core::json_text::same_bytes;
use scim_core::normalize::{
    Normalizer, extension_left_prefix, left_prefix, member_attribute, member_extension, stripped_attribute,
    stripped_prefix,
};
use scim_core::schema::{Attribute, ResourceSchema, Schema};
use scim_mapper::Footprint;
use serde_json::Value;

/// What the members that may stay text in one resource type's request
/// bodies are, worked out once per route: every attribute
/// [`member_attribute`] allows, but `active` and those the request rules
/// read or write, and every extension [`member_extension`] allows that no
/// request rule reaches into; and every read-only attribute
/// normalization strips whole ([`stripped_attribute`]), which may be left
/// out. The definitions are copies, so that a request asks no schema for
/// them.
#[derive(Debug, Default)]
pub struct TextMembers {
    kinds: Vec<Kind>,
    /// The first byte and position of each kind whose name is as long as
    /// the index says: a key is compared with those alone.
    by_len: Vec<Vec<(u8, usize)>>,
    /// Each kind's [`Fate`], looked up by position.
    fates: Vec<Fate>,
    /// How many kinds may be left out as the rules' ([`Fate::Dropped`]).
    dropped: usize,
}

/// A member that may stay text: a core (or common) attribute's, or an
/// extension's; or one that may be left out: normalization strips it
/// whole, or the rules discard it (and normalization would leave it as
/// it is).
#[derive(Debug)]
enum Kind {
    Attribute(Attribute),
    Extension(Schema),
    Stripped(String),
    Dropped(Attribute),
}

impl Kind {
    /// Its key, exactly.
    fn name(&self) -> &str {
        match self {
            Kind::Attribute(def) | Kind::Dropped(def) => &def.name,
            Kind::Extension(ext) => &ext.id,
            Kind::Stripped(name) => name,
        }
    }

    /// Whether a member of this kind stays text or is left out.
    fn fate(&self) -> Fate {
        match self {
            Kind::Attribute(_) | Kind::Extension(_) => Fate::Kept,
            Kind::Stripped(_) => Fate::Stripped,
            Kind::Dropped(_) => Fate::Dropped,
        }
    }
}

impl TextMembers {
    /// The members of `schema` that may stay text, given the request
    /// rules' `footprint` and the route's `normalizer`.
    pub fn new(schema: &ResourceSchema<'_>, footprint: &Footprint, normalizer: &Normalizer) -> Self {
        Self::dropping(schema, footprint, &[], normalizer)
    }

    /// [`TextMembers::new`], and the attributes the rules discard
    /// (`discarded`, lower-cased: [`scim_mapper::Program::discarded`]) may
    /// be left out, where normalization would not strip them anyway.
    fn dropping(
        schema: &ResourceSchema<'_>,
        footprint: &Footprint,
        discarded: &[String],
        normalizer: &Normalizer,
    ) -> Self {
        let member = |def: &&Attribute| {
            member_attribute(&def.name, schema).is_some_and(|d| std::ptr::eq(d, *def))
                && !scim_core::deprovision::is_active_key(&def.name)
        };
        let allowed = |def: &&Attribute| member(def) && !footprint.touches(&def.name);
        let attributes = schema.core_and_common().filter(allowed).map(|def| Kind::Attribute(def.clone()));
        let extensions = schema
            .extensions()
            .filter_map(|ext| member_extension(&ext.id, schema, normalizer))
            .filter(|ext| !footprint.touches_extension(&ext.id))
            .map(|ext| Kind::Extension(ext.clone()));
        // The rules run after normalization: what it strips they never see.
        let is_stripped = |def: &&Attribute| stripped_attribute(&def.name, schema, normalizer).is_some();
        let stripped = schema.core_and_common().filter(is_stripped).map(|def| Kind::Stripped(def.name.clone()));
        let is_discarded = |def: &&Attribute| {
            member(def) && !is_stripped(def) && discarded.iter().any(|r| r.eq_ignore_ascii_case(&def.name))
        };
        let dropped = schema.core_and_common().filter(is_discarded).map(|def| Kind::Dropped(def.clone()));
        let kinds: Vec<Kind> = attributes.chain(extensions).chain(stripped).chain(dropped).collect();
        let mut by_len = vec![Vec::new(); kinds.iter().map(|k| k.name().len() + 1).max().unwrap_or(0)];
        for (i, kind) in kinds.iter().enumerate() {
            let first = kind.name().bytes().next().unwrap_or_default();
            by_len.get_mut(kind.name().len()).into_iter().for_each(|same| same.push((first, i)));
        }
        let fates: Vec<Fate> = kinds.iter().map(Kind::fate).collect();
        let dropped = fates.iter().filter(|f| **f == Fate::Dropped).count();
        Self { kinds, by_len, fates, dropped }
    }

    /// [`TextMembers::new`] with the footprint of `program`'s request
    /// rules for the resource type.
    pub fn for_rules(schema: &ResourceSchema<'_>, program: &scim_mapper::Program, normalizer: &Normalizer) -> Self {
        let footprint = program.footprint(schema.name(), scim_mapper::Direction::Request);
        let discarded = program.discarded(schema.name(), scim_mapper::Direction::Request);
        Self::dropping(schema, &footprint, &discarded, normalizer)
    }

    /// The position of the kind named exactly `key`.
    fn position(&self, key: &str) -> Option<usize> {
        let first = key.bytes().next()?;
        let same_len = self.by_len.get(key.len())?.iter().filter(|(f, _)| *f == first);
        same_len
            .map(|&(_, i)| i)
            .find(|&i| self.kinds.get(i).is_some_and(|k| same_bytes(k.name().as_bytes(), key.as_bytes())))
    }

    /// The extensions that may stay text.
    fn extensions(&self) -> impl Iterator<Item = &str> {
        self.kinds.iter().filter(|k| matches!(k, Kind::Extension(_))).map(Kind::name)
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

    fn left(&self, which: usize, text: &str) -> Option<usize> {
        match self.members.kinds.get(which)? {
            Kind::Attribute(def) | Kind::Dropped(def) => left_prefix(def, text),
            Kind::Extension(ext) => extension_left_prefix(ext, text),
            Kind::Stripped(_) => stripped_prefix(text),
        }
    }

    fn fate(&self, which: usize) -> Fate {
        self.members.fates.get(which).copied().unwrap_or(Fate::Kept)
    }

    fn room(&self) -> usize {
        self.members.dropped
    }

    fn names_kept(&self, built: &serde_json::Map<String, Value>, is_kept: &dyn Fn(&str) -> bool) -> bool {
        // A URN key may name the core schema or one of its attributes
        // (normalization opens or unqualifies it): only an extension's
        // own id, as the schema spells it, is known not to. A URN list
        // entry naming a body's key is kept for that key (Entra's data
        // URNs): the plain parse would see the key, so `schemas` must not
        // name a kept one, but a known extension, which it keeps anyway.
        // And a kept extension must be listed already: normalization lists
        // those present.
        // One pass over the built members (a few), no key hashed.
        let urn = |k: &str| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        let names_core = |k: &str| urn(k) && self.schema.extension(k).is_none_or(|e| e.id != k);
        let lists_kept = |v: &Value| urns(v).any(|u| is_kept(u) && self.schema.extension(u).is_none());
        let mut listed = None;
        for (k, v) in built {
            let schemas = k.eq_ignore_ascii_case("schemas");
            if names_core(k) || (schemas && lists_kept(v)) {
                return true;
            }
            listed = listed.or((k == "schemas").then_some(v));
        }
        let unlisted = |ext: &str| {
            !listed.into_iter().flat_map(urns).any(|u| scim_core::schema::same_name(u.as_bytes(), ext.as_bytes()))
        };
        self.members.extensions().any(|ext| is_kept(ext) && unlisted(ext))
    }
}

/// The strings a `schemas` value lists.
fn urns(schemas: &Value) -> impl Iterator<Item = &str> {
    schemas.as_array().into_iter().flatten().filter_map(Value::as_str)
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
    if route.member_batch_for(rt).is_some() {
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
/// body once normalized and mapped (member batches; a route with them
/// gets no keeper, so this is a guard): the members left out are not put
/// back, as normalization stripped them or the rules discarded them.
pub(super) fn whole(tree: &mut Value, aside: Aside) -> Result<(), crate::error::GatewayError> {
    aside.into_tree(tree).map_err(|e| crate::error::GatewayError::BadJson(e.to_string()))
}

#[cfg(test)]
mod tests;
