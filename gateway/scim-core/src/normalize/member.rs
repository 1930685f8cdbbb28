//! Whether normalizing a POST or PUT body would leave one of its top-level
//! members as it is, read from the member's JSON text without building it.
//!
//! The answer errs one way only: `true` means [`Normalizer::resource`]
//! changes nothing in the member (its key, its value, its place), whatever
//! normalizations are on; `false` means it might, or the text is not the
//! plain shape this check knows. A caller that keeps the text as it is
//! (instead of building a tree from it) does so only on `true`.
//!
//! What the check asks of the text, against the attribute's definition:
//! the key is a core attribute's exact name, writable, not `schemas` or
//! `roles` (whose values may be JSON-encoded roles); a multi-valued
//! attribute is an array, a complex value an object whose keys are its
//! sub-attributes' exact names, each once; values are strings, booleans
//! and integers (a boolean where the schema says boolean); no `null`
//! anywhere, no number with a fraction or an exponent, nothing nested
//! deeper than an array of objects. The text is read by serde_json's own
//! parser, which refuses what it refuses elsewhere (a lone surrogate in an
//! escape, a raw control character).

use super::Normalizer;
use crate::schema::{AttrType, Attribute, Mutability, ResourceSchema};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// Containers a member kept as text may nest, the member itself counted
/// (an array of objects).
pub const MEMBER_MAX_DEPTH: usize = 2;

impl Normalizer {
    /// Whether [`Normalizer::resource`] would leave the top-level member
    /// `key: text` of a `schema` body exactly as it is (see the module
    /// text): [`member_attribute`] and [`leaves_value`] together. The
    /// body's other members can still change it: a caller must also see
    /// that no other key names the same attribute in any case.
    pub fn leaves_member(&self, key: &str, text: &str, schema: &ResourceSchema<'_>) -> bool {
        member_attribute(key, schema).is_some_and(|def| leaves_value(def, text))
    }
}

/// The attribute a top-level member under `key` is, when some text of it
/// could be left as it is: a writable core (or common) attribute named
/// exactly, other than `schemas` and `roles`. `None`: normalization may
/// change the member whatever its text.
pub fn member_attribute<'a>(key: &str, schema: &ResourceSchema<'a>) -> Option<&'a Attribute> {
    let def = schema.core_attribute(key).filter(|d| d.name == key)?;
    let fixed_whole = def.mutability == Mutability::ReadOnly || matches!(key, "schemas" | "roles");
    (!fixed_whole).then_some(def)
}

/// Whether a member of the attribute `def` (one [`member_attribute`]
/// gave) with the JSON text `text` is left as it is by normalization.
pub fn leaves_value(def: &Attribute, text: &str) -> bool {
    let mut de = serde_json::Deserializer::from_str(text);
    LeavesValue(def).deserialize(&mut de).and_then(|left| de.end().map(|()| left)).unwrap_or(false)
}

/// [`leaves_value`] as the value is read by a deserializer: `true` when
/// normalization leaves it, `false` when it might not (the value is read
/// to its end either way); an error only when the text is not JSON.
#[derive(Debug, Clone, Copy)]
pub struct LeavesValue<'a>(pub &'a Attribute);

impl<'de> DeserializeSeed<'de> for LeavesValue<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        let def = self.0;
        de.deserialize_any(if def.multi_valued { Shape::List(def) } else { Shape::Item(def) })
    }
}

/// What the value being read must be.
#[derive(Clone, Copy)]
enum Shape<'a> {
    /// A multi-valued attribute's array of items.
    List(&'a Attribute),
    /// One value of the attribute: an object of sub-attributes when it is
    /// complex, else a scalar.
    Item(&'a Attribute),
    /// A scalar of this (simple) attribute.
    Scalar(&'a Attribute),
}

impl<'de> DeserializeSeed<'de> for Shape<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Shape<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<bool, E> {
        Ok(self.takes_scalar(AttrType::Boolean))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<bool, E> {
        Ok(self.takes_scalar(AttrType::Integer))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<bool, E> {
        Ok(self.takes_scalar(AttrType::Integer))
    }

    /// A number with a fraction or an exponent: a built tree writes it
    /// again in its own way.
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<bool, E> {
        Ok(self.takes_scalar(AttrType::String))
    }

    /// Normalization drops nulls.
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let Shape::List(def) = self else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(false);
        };
        let mut left = true;
        while let Some(item) = seq.next_element_seed(Shape::Item(def))? {
            left &= item;
        }
        Ok(left)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let def = match self {
            Shape::Item(def) if def.ty == AttrType::Complex => def,
            _ => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(false);
            }
        };
        let (mut left, mut seen) = (true, 0_u64);
        while let Some(at) = map.next_key_seed(SubKey(def))? {
            // A key given twice (the tree keeps the last), or no
            // sub-attribute's exact name.
            let bit = at.and_then(|at| 1_u64.checked_shl(u32::try_from(at).ok()?)).filter(|b| seen & b == 0);
            match (bit, at.and_then(|at| def.sub_attributes.get(at))) {
                (Some(bit), Some(sub)) => {
                    seen |= bit;
                    left &= map.next_value_seed(Shape::Scalar(sub))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    left = false;
                }
            }
        }
        Ok(left)
    }
}

impl Shape<'_> {
    /// Whether a scalar of JSON type `got` (`Boolean`, `Integer` or
    /// `String`) is left where this shape is: not where a list or complex
    /// value is expected, nor a string where the schema says boolean
    /// (`"True"` is normalized).
    fn takes_scalar(self, got: AttrType) -> bool {
        match self {
            Shape::Item(d) | Shape::Scalar(d) if d.ty != AttrType::Complex => {
                d.ty != AttrType::Boolean || got == AttrType::Boolean
            }
            _ => false,
        }
    }
}

/// A key of a complex value: the position of the sub-attribute it names
/// exactly, if one does.
struct SubKey<'a>(&'a Attribute);

impl<'de> DeserializeSeed<'de> for SubKey<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Option<usize>, D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for SubKey<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a sub-attribute's name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<usize>, E> {
        Ok(self.0.sub_attributes.iter().position(|s| s.name.len() == key.len() && s.name == key))
    }
}

#[cfg(test)]
mod tests;
