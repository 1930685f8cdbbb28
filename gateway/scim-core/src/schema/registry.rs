//! The set of known schemas and resource types, and per-resource-type views
//! that resolve attribute paths.

use super::{Attribute, ENTERPRISE_URN, GROUP_URN, Mutability, Schema, SchemaError, USER_URN, parse_schemas};
use crate::json_text::same_bytes;
use crate::path::AttrPath;

const USER_JSON: &str = include_str!("../../schemas/user.json");
const GROUP_JSON: &str = include_str!("../../schemas/group.json");
const ENTERPRISE_JSON: &str = include_str!("../../schemas/enterprise-user.json");
const COMMON_JSON: &str = include_str!("../../schemas/common.json");

/// The core schema documents as shipped (User, Group, enterprise User), for
/// serving on a `/Schemas` endpoint.
pub fn core_schema_texts() -> [&'static str; 3] {
    [USER_JSON, GROUP_JSON, ENTERPRISE_JSON]
}

/// A resource type (RFC 7643 section 6): a core schema plus extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceType {
    pub name: String,
    pub endpoint: String,
    pub schema: String,
    pub extensions: Vec<SchemaExtension>,
}

/// An extension schema attached to a resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaExtension {
    pub schema: String,
    pub required: bool,
}

/// All known schemas and resource types.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Schema>,
    common: Schema,
    resource_types: Vec<ResourceType>,
    /// Per resource type (same order), what is asked of its schemas per
    /// request: worked out whenever the schemas change.
    index: Vec<TypeIndex>,
}

/// One resource type's schemas, found once.
#[derive(Debug, Clone, Default)]
struct TypeIndex {
    /// Where its core schema is in `schemas` (`None`: not loaded).
    core: Option<usize>,
    /// Where its extensions are in `schemas`, in the resource type's order.
    extensions: Vec<usize>,
    read_only: ReadOnly,
    /// The core and common attributes by the length of their names (the
    /// only ones a name of that length can equal, in any case), the core
    /// ones first, each in its schema's order.
    tops: Vec<Vec<Top>>,
}

/// Where a core or common attribute is.
#[derive(Debug, Clone, Copy)]
enum Top {
    Core(usize),
    Common(usize),
}

/// The names of one resource type's read-only attributes, per container.
#[derive(Debug, Clone, Default)]
struct ReadOnly {
    /// [`ResourceSchema::read_only_names`] of the core and common attributes.
    core: Vec<String>,
    /// Every read-only core or common attribute's name, shadowed or not.
    core_or_common: Vec<String>,
    /// [`ResourceSchema::read_only_names`] of each extension, by its URN.
    extensions: Vec<(String, Vec<String>)>,
}

impl Registry {
    /// The RFC 7643 User (with the enterprise extension) and Group types.
    pub fn core() -> Self {
        let mut schemas = Vec::new();
        for text in [USER_JSON, GROUP_JSON, ENTERPRISE_JSON] {
            schemas.extend(parse_schemas(text).unwrap_or_default());
        }
        let common = parse_schemas(COMMON_JSON).unwrap_or_default().pop().unwrap_or_else(empty_common);
        let user = ResourceType {
            name: "User".into(),
            endpoint: "/Users".into(),
            schema: USER_URN.into(),
            extensions: vec![SchemaExtension { schema: ENTERPRISE_URN.into(), required: false }],
        };
        let group = ResourceType {
            name: "Group".into(),
            endpoint: "/Groups".into(),
            schema: GROUP_URN.into(),
            extensions: vec![],
        };
        let mut registry = Self { schemas, common, resource_types: vec![user, group], index: Vec::new() };
        registry.index();
        registry
    }

    /// Works out what is asked of the schemas per request (after any
    /// change to them): where each resource type's schemas are, and the
    /// names of their read-only attributes.
    fn index(&mut self) {
        let position = |urn: &str| self.schemas.iter().position(|s| s.id.eq_ignore_ascii_case(urn));
        let mut index: Vec<TypeIndex> = (self.resource_types.iter())
            .map(|rt| TypeIndex {
                core: position(&rt.schema),
                extensions: rt.extensions.iter().filter_map(|e| position(&e.schema)).collect(),
                read_only: ReadOnly::default(),
                tops: Vec::new(),
            })
            .collect();
        for (found, rt) in index.iter_mut().zip(&self.resource_types) {
            let Some(core) = found.core.and_then(|at| self.schemas.get(at)) else { continue };
            found.tops = tops(core, &self.common);
            let schema = ResourceSchema { registry: self, rt, core, index: found };
            let names = |attrs: &mut dyn Iterator<Item = &Attribute>| {
                attrs.filter(|a| a.mutability == Mutability::ReadOnly).map(|a| a.name.clone()).collect()
            };
            let read_only = ReadOnly {
                core: schema.unshadowed_read_only(None),
                core_or_common: names(&mut core.attributes.iter().chain(&self.common.attributes)),
                extensions: (schema.extensions())
                    .map(|e| (e.id.clone(), schema.unshadowed_read_only(Some(&e.id))))
                    .collect(),
            };
            found.read_only = read_only;
        }
        self.index = index;
    }

    /// Adds schemas from JSON text (see [`parse_schemas`]) and attaches each
    /// one as an extension of `resource_type`, or, when that is `None`, of
    /// the resource type its URN ends with (`...:2.0:User` extends User).
    pub fn load_extensions(&mut self, text: &str, resource_type: Option<&str>) -> Result<(), Vec<SchemaError>> {
        let schemas = parse_schemas(text)?;
        let mut errors = Vec::new();
        for schema in schemas {
            let target = resource_type.map(str::to_owned).or_else(|| schema.id.rsplit(':').next().map(str::to_owned));
            match target.and_then(|t| self.resource_type_index(&t)) {
                Some(i) => self.add_extension(i, schema),
                None => errors.push(SchemaError {
                    location: schema.id.clone(),
                    message: "cannot tell which resource type this extends; name it explicitly".into(),
                }),
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(errors) }
    }

    fn add_extension(&mut self, rt: usize, schema: Schema) {
        let urn = schema.id.clone();
        self.schemas.retain(|s| !s.id.eq_ignore_ascii_case(&urn));
        self.schemas.push(schema);
        if let Some(rt) = self.resource_types.get_mut(rt)
            && !rt.extensions.iter().any(|e| e.schema.eq_ignore_ascii_case(&urn))
        {
            rt.extensions.push(SchemaExtension { schema: urn, required: false });
        }
        self.index();
    }

    fn resource_type_index(&self, name: &str) -> Option<usize> {
        // The type's own spelling first (the one the gateway passes on each
        // request): one compare of the bytes, no case folded.
        let types = &self.resource_types;
        let exact = types.iter().position(|r| r.name == name);
        exact.or_else(|| types.iter().position(|r| r.name.eq_ignore_ascii_case(name)))
    }

    /// The schema with this URN (case-insensitive).
    pub fn schema(&self, urn: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every schema: the core ones and each loaded extension.
    pub fn schemas(&self) -> &[Schema] {
        &self.schemas
    }

    /// Every resource type.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// A view of one resource type by name (`User`, `Group`; case-insensitive).
    pub fn resource(&self, name: &str) -> Option<ResourceSchema<'_>> {
        let at = self.resource_type_index(name)?;
        let rt = self.resource_types.get(at)?;
        let index = self.index.get(at)?;
        let core = self.schemas.get(index.core?)?;
        Some(ResourceSchema { registry: self, rt, core, index })
    }

    /// The resource type a resource declares through its core schema URN or
    /// `meta.resourceType`.
    pub fn resource_for(&self, resource: &serde_json::Value) -> Option<ResourceSchema<'_>> {
        let urns = resource.get("schemas").and_then(|s| s.as_array()).into_iter().flatten();
        for urn in urns.filter_map(|u| u.as_str()) {
            if let Some(rt) = self.resource_types.iter().find(|r| r.schema.eq_ignore_ascii_case(urn)) {
                return self.resource(&rt.name);
            }
        }
        let name = resource.pointer("/meta/resourceType").and_then(|v| v.as_str())?;
        self.resource(name)
    }
}

/// [`TypeIndex::tops`] of the `core` and `common` attributes.
fn tops(core: &Schema, common: &Schema) -> Vec<Vec<Top>> {
    let core_tops = core.attributes.iter().enumerate().map(|(i, a)| (a.name.len(), Top::Core(i)));
    let common_tops = common.attributes.iter().enumerate().map(|(i, a)| (a.name.len(), Top::Common(i)));
    let mut tops: Vec<Vec<Top>> = Vec::new();
    for (len, top) in core_tops.chain(common_tops) {
        if tops.len() <= len {
            tops.resize_with(len + 1, Vec::new);
        }
        tops.get_mut(len).into_iter().for_each(|same| same.push(top));
    }
    tops
}

fn empty_common() -> Schema {
    Schema {
        id: "urn:scim-gateway:common".into(),
        name: None,
        description: None,
        attributes: vec![],
        schemas: vec![],
        meta: None,
    }
}

/// One resource type's schemas, resolving attribute paths against them.
#[derive(Debug, Clone, Copy)]
pub struct ResourceSchema<'a> {
    registry: &'a Registry,
    rt: &'a ResourceType,
    core: &'a Schema,
    index: &'a TypeIndex,
}

impl<'a> ResourceSchema<'a> {
    /// The resource type's name (`User`).
    pub fn name(&self) -> &'a str {
        &self.rt.name
    }

    /// The core schema.
    pub fn core(&self) -> &'a Schema {
        self.core
    }

    /// The core schema's URN.
    pub fn core_urn(&self) -> &'a str {
        &self.core.id
    }

    /// The resource type definition.
    pub fn resource_type(&self) -> &'a ResourceType {
        self.rt
    }

    /// The extension schemas attached to this resource type.
    pub fn extensions(&self) -> impl Iterator<Item = &'a Schema> + 'a {
        let schemas = &self.registry.schemas;
        self.index.extensions.iter().filter_map(move |&at| schemas.get(at))
    }

    /// The extension whose URN is `key` (case-insensitive).
    pub fn extension(&self, key: &str) -> Option<&'a Schema> {
        self.extensions().find(|s| super::same_name(s.id.as_bytes(), key.as_bytes()))
    }

    /// Whether `urn` names this resource type's core schema.
    pub fn is_core_urn(&self, urn: &str) -> bool {
        self.core.id.eq_ignore_ascii_case(urn)
    }

    /// The names of every read-only core or common attribute, including
    /// one that a core attribute of the same name in another case hides
    /// from [`Self::top_attribute`] (a superset of
    /// `read_only_names(None)`, for a look by exact name).
    pub fn read_only_core_or_common(&self) -> &'a [String] {
        &self.index.read_only.core_or_common
    }

    /// A top-level attribute: `urn` is `None` or the core URN for core and
    /// common attributes, else an extension URN.
    pub fn top_attribute(&self, urn: Option<&str>, name: &str) -> Option<&'a Attribute> {
        match urn {
            Some(u) if !self.is_core_urn(u) => self.extension(u)?.attribute(name),
            _ => self.tops(name).find(|a| a.name.eq_ignore_ascii_case(name)),
        }
    }

    /// The core and common attributes whose names are as long as `name`,
    /// the core ones first.
    fn tops(&self, name: &str) -> impl Iterator<Item = &'a Attribute> + Clone + 'a {
        let (core, common) = (&self.core.attributes, &self.registry.common.attributes);
        let same_len = self.index.tops.get(name.len()).map_or(&[][..], Vec::as_slice);
        same_len.iter().filter_map(move |top| match *top {
            Top::Core(at) => core.get(at),
            Top::Common(at) => common.get(at),
        })
    }

    /// The names of the read-only attributes of one container (`urn` as
    /// for [`Self::top_attribute`]: the core and common attributes, or an
    /// extension's) that `top_attribute` finds by their name: a name equal
    /// to one of them in any case is exactly a name whose attribute there is
    /// read-only. Worked out when the schemas change, it spares a diff a
    /// schema lookup per key. Empty for an unknown extension.
    pub fn read_only_names(&self, urn: Option<&str>) -> &'a [String] {
        let names = match urn {
            Some(u) if !self.is_core_urn(u) => {
                self.index.read_only.extensions.iter().find(|(id, _)| id.eq_ignore_ascii_case(u))
            }
            _ => return &self.index.read_only.core,
        };
        names.map_or(&[], |(_, names)| names)
    }

    /// What [`Self::read_only_names`] answers, worked out from the schemas.
    fn unshadowed_read_only(&self, urn: Option<&str>) -> Vec<String> {
        let (first, then): (&'a [Attribute], &'a [Attribute]) = match urn {
            Some(u) if !self.is_core_urn(u) => match self.extension(u) {
                Some(ext) => (&ext.attributes, &[]),
                None => return Vec::new(),
            },
            _ => (&self.core.attributes, &self.registry.common.attributes),
        };
        first
            .iter()
            .chain(then)
            .filter(|a| a.mutability == Mutability::ReadOnly)
            .filter(|a| self.top_attribute(urn, &a.name).is_some_and(|found| std::ptr::eq(found, *a)))
            .map(|a| a.name.clone())
            .collect()
    }

    /// The core schema's attributes, then the common ones (`id`,
    /// `externalId`, `meta`).
    pub fn core_and_common(&self) -> impl Iterator<Item = &'a Attribute> + 'a {
        self.core.attributes.iter().chain(&self.registry.common.attributes)
    }

    /// A core or common attribute: the one spelled exactly `name` (the
    /// usual case, and a cheap compare), else the one spelled otherwise.
    pub fn core_attribute(&self, name: &str) -> Option<&'a Attribute> {
        let tops = self.tops(name);
        tops.clone()
            .find(|a| same_bytes(a.name.as_bytes(), name.as_bytes()))
            .or_else(|| tops.clone().find(|a| a.name.eq_ignore_ascii_case(name)))
    }

    /// The definition a path points at (the sub-attribute when it has one).
    pub fn attribute(&self, path: &AttrPath) -> Option<&'a Attribute> {
        let top = self.top_attribute(path.urn.as_deref(), &path.name)?;
        match &path.sub {
            Some(sub) => top.sub_attribute(sub),
            None => Some(top),
        }
    }
}

#[cfg(test)]
mod tests;
