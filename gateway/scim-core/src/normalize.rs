//! Normalization of real IdP traffic into canonical SCIM, before mapping.
//!
//! Each fix is a [`Normalization`]; a [`Preset`] per IdP chooses which run,
//! and every entry point returns a [`Report`] of what was done so that the
//! proxy can count it. The fixes follow "Normalizations a gateway must make"
//! in the IdP traffic reference; docs/normalization.md has the table.

mod filter;
mod member;
mod names;
mod patch;
mod resource;
mod stripped;
mod values;

pub use filter::form_decode;
pub use member::{
    MEMBER_MAX_DEPTH, extension_left_prefix, leaves_extension, leaves_value, left_prefix, member_attribute,
    member_extension,
};
pub use stripped::{STRIPPED_MAX_DEPTH, stripped_attribute, stripped_prefix};

use crate::patch::ApplyOptions;
use std::fmt;

/// One kind of fix. [`Normalization::as_str`] is a stable, bounded metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Normalization {
    /// 1. `"op": "Replace"` became `"replace"`.
    OpNameCase,
    /// 2. `"True"` / `"false"` became a boolean where the schema says boolean.
    StringBoolean,
    /// 3. A `remove` of a multi-valued attribute that lists values became one
    ///    exact remove per value. Always on: as sent, it means remove-all.
    MemberRemoveValues,
    /// 4. `"$ref": null` dropped.
    NullRef,
    /// 5. A path-less op's dotted or URN-prefixed key became its own op.
    PathlessKeys,
    /// 6, 10. A read-only attribute (`id`, client `meta`, `groups`) stripped from a write.
    ReadOnlyStripped,
    /// 7. `manager` as a string, an array or an unqualified path became the
    ///    enterprise extension's `manager: {"value": ...}`.
    ManagerShape,
    /// 8. A JSON-encoded role value decoded.
    JsonEncodedRole,
    /// 9. A filter that is only valid leniently (unquoted value), or whose
    ///    attribute names were not in canonical case.
    LenientFilter,
    /// 10. An explicit null dropped from a POST / PUT, or a null replace
    ///     turned into a remove.
    NullValue,
    /// 10. An extension URN missing from `schemas` added (or the core URN).
    MissingSchemaUrn,
    /// 10. An unknown URN without data dropped from `schemas`.
    UnknownSchemaUrn,
    /// 10. A URN-qualified attribute key at the top of a body nested under its extension.
    QualifiedKey,
    /// An attribute name or schema URN not in the schema's spelling
    /// (`Active`, `name.givenname`) renamed to it, in bodies, PATCH paths
    /// and values, and filters.
    AttributeNameCase,
}

impl Normalization {
    /// Every normalization, in order.
    pub const ALL: [Normalization; 14] = [
        Self::OpNameCase,
        Self::StringBoolean,
        Self::MemberRemoveValues,
        Self::NullRef,
        Self::PathlessKeys,
        Self::ReadOnlyStripped,
        Self::ManagerShape,
        Self::JsonEncodedRole,
        Self::LenientFilter,
        Self::NullValue,
        Self::MissingSchemaUrn,
        Self::UnknownSchemaUrn,
        Self::QualifiedKey,
        Self::AttributeNameCase,
    ];

    /// A stable snake_case name, usable as a metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpNameCase => "op_name_case",
            Self::StringBoolean => "string_boolean",
            Self::MemberRemoveValues => "member_remove_values",
            Self::NullRef => "null_ref",
            Self::PathlessKeys => "pathless_keys",
            Self::ReadOnlyStripped => "read_only_stripped",
            Self::ManagerShape => "manager_shape",
            Self::JsonEncodedRole => "json_encoded_role",
            Self::LenientFilter => "lenient_filter",
            Self::NullValue => "null_value",
            Self::MissingSchemaUrn => "missing_schema_urn",
            Self::UnknownSchemaUrn => "unknown_schema_urn",
            Self::QualifiedKey => "qualified_key",
            Self::AttributeNameCase => "attribute_name_case",
        }
    }

    /// Its position in [`Normalization::ALL`] (a test holds the two
    /// together; the match makes a new kind need its own position).
    pub fn index(self) -> usize {
        match self {
            Self::OpNameCase => 0,
            Self::StringBoolean => 1,
            Self::MemberRemoveValues => 2,
            Self::NullRef => 3,
            Self::PathlessKeys => 4,
            Self::ReadOnlyStripped => 5,
            Self::ManagerShape => 6,
            Self::JsonEncodedRole => 7,
            Self::LenientFilter => 8,
            Self::NullValue => 9,
            Self::MissingSchemaUrn => 10,
            Self::UnknownSchemaUrn => 11,
            Self::QualifiedKey => 12,
            Self::AttributeNameCase => 13,
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which IdP the traffic comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Preset {
    /// Fixes that are safe for any client: they change nothing an RFC 7644
    /// client would send.
    #[default]
    Generic,
    /// Generic plus lenient filters, path-less key expansion and qualified keys.
    Okta,
    /// Everything, including Entra ID's manager, role and schema-URN quirks.
    Entra,
}

impl Preset {
    /// Parses `generic`, `okta` or `entra` (case-insensitive).
    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "generic" => Some(Self::Generic),
            "okta" => Some(Self::Okta),
            "entra" | "azure" | "entra_id" => Some(Self::Entra),
            _ => None,
        }
    }

    /// Its name in the config.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Okta => "okta",
            Self::Entra => "entra",
        }
    }

    /// The normalizations this preset turns on.
    pub fn normalizations(self) -> &'static [Normalization] {
        use Normalization::*;
        const GENERIC: &[Normalization] = &[
            OpNameCase,
            StringBoolean,
            MemberRemoveValues,
            NullRef,
            ReadOnlyStripped,
            NullValue,
            MissingSchemaUrn,
            AttributeNameCase,
        ];
        const OKTA: &[Normalization] = &[
            OpNameCase,
            StringBoolean,
            MemberRemoveValues,
            NullRef,
            PathlessKeys,
            ReadOnlyStripped,
            LenientFilter,
            NullValue,
            MissingSchemaUrn,
            QualifiedKey,
            AttributeNameCase,
        ];
        match self {
            Self::Generic => GENERIC,
            Self::Okta => OKTA,
            Self::Entra => &Normalization::ALL,
        }
    }
}

/// What a normalization pass did: one entry per fix made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub applied: Vec<Normalization>,
}

impl Report {
    pub(crate) fn add(&mut self, n: Normalization) {
        self.applied.push(n);
    }

    /// How many times `n` was applied.
    pub fn count(&self, n: Normalization) -> usize {
        self.applied.iter().filter(|a| **a == n).count()
    }

    /// Whether nothing was changed.
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }
}

/// A configured set of normalizations; build once, use for every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Normalizer {
    enabled: [bool; Normalization::ALL.len()],
    replace_missing_adds: bool,
}

impl Normalizer {
    /// The normalizations of `preset`.
    pub fn new(preset: Preset) -> Self {
        let mut enabled = [false; Normalization::ALL.len()];
        for n in preset.normalizations() {
            if let Some(slot) = enabled.get_mut(n.index()) {
                *slot = true;
            }
        }
        Self { enabled, replace_missing_adds: preset == Preset::Entra }
    }

    /// Turns one normalization on or off. [`Normalization::MemberRemoveValues`]
    /// cannot be turned off.
    pub fn set(mut self, n: Normalization, on: bool) -> Self {
        if let Some(slot) = self.enabled.get_mut(n.index()) {
            *slot = on || n == Normalization::MemberRemoveValues;
        }
        self
    }

    /// Whether `n` runs.
    pub fn is_enabled(&self, n: Normalization) -> bool {
        n == Normalization::MemberRemoveValues || self.enabled.get(n.index()).copied().unwrap_or(false)
    }

    /// How the PATCH applier should treat this IdP's requests: Entra ID's
    /// `replace` of a value that does not exist yet means add.
    pub fn apply_options(&self) -> ApplyOptions {
        ApplyOptions { replace_missing_adds: self.replace_missing_adds, ..ApplyOptions::default() }
    }
}

/// Puts every attribute name and schema URN of a resource in the schema's
/// spelling, and nothing else: what a SCIM server does with what it stores.
pub fn canonical_names(body: &mut serde_json::Value, schema: &crate::schema::ResourceSchema<'_>) -> Report {
    let mut r = Report::default();
    if let Some(map) = body.as_object_mut() {
        names::resource(map, schema, &mut r);
    }
    r
}

#[cfg(test)]
mod tests;
