//! Top-level members that normalizing a POST or PUT body removes whole,
//! whatever they hold, and that a caller may therefore leave out instead
//! of building them: a read-only core or common attribute's member (a
//! User's `id`, `meta` and `groups`), which [`Normalizer::resource`]
//! strips and counts once each.
//!
//! The answer errs one way only, as [`super::member`]'s does: a member is
//! left out only where building it, normalizing and stripping it would
//! change nothing else and count nothing else. Normalization drops and
//! counts `null`s before it strips, nested ones too, so a value with a
//! `null` anywhere is built. A caller must also see that no other key
//! names the attribute in any case (normalization strips those too, and
//! a URN-qualified key may be nested into it first), and pass the count
//! of what it left out to [`Normalizer::resource_with_stripped`].

use super::{MEMBER_MAX_DEPTH, Normalization, Normalizer};
use crate::json_text::Text;
use crate::json_text::walk::{self, Literal, Reader};
use crate::schema::{Attribute, Mutability, ResourceSchema};

/// Containers a left-out member's value may nest, itself counted (a
/// list of objects is two); deeper ones are built, and bounded there. The
/// same bound as a member kept as text's ([`MEMBER_MAX_DEPTH`]), so that a
/// caller's check of its own nesting bound against that one covers both.
pub const STRIPPED_MAX_DEPTH: usize = MEMBER_MAX_DEPTH;

/// The read-only attribute a top-level member under `key` is, when
/// `normalizer` strips the member whole whatever its value: the strip is
/// on and `key` is a read-only core or common attribute's exact name.
/// Never `active`, whatever a loaded schema says of it: a deprovisioning
/// is decided on it, before normalization and after
/// ([`crate::Intent::of_resource`]).
pub fn stripped_attribute<'a>(
    key: &str,
    schema: &ResourceSchema<'a>,
    normalizer: &Normalizer,
) -> Option<&'a Attribute> {
    let def = schema.core_attribute(key).filter(|d| d.name == key && d.mutability == Mutability::ReadOnly)?;
    let decides_intent = crate::deprovision::is_active_key(key);
    (normalizer.is_enabled(Normalization::ReadOnlyStripped) && !decides_intent).then_some(def)
}

/// How long the JSON value `text` starts with is, when a member of a
/// [`stripped_attribute`] with that value may be left out: any value
/// serde_json's parse takes with no `null` anywhere in it, nested at most
/// [`STRIPPED_MAX_DEPTH`] deep. `None`: build it (or it is not JSON, and
/// the parse says so). Spaces before the value are counted in its length.
/// What follows the value is not looked at: the caller must see that it
/// ends there (`truex` gives 4).
pub fn stripped_prefix(text: &str) -> Option<usize> {
    let mut t = Text::new(text);
    walk::value(&mut t, &mut NoNull, ())?;
    Some(t.at())
}

/// The walk's reader for [`stripped_prefix`]: anything but `null`, within
/// the bound.
struct NoNull;

impl Reader for NoNull {
    type Role = ();

    fn key(&mut self, _: &[u8], _: bool) {}

    fn items(&mut self, (): ()) -> Option<()> {
        Some(())
    }

    fn string(&mut self, (): (), _: &[u8], _: Option<usize>) -> Option<()> {
        Some(())
    }

    fn number(&mut self, (): (), _: bool) -> Option<()> {
        Some(())
    }

    fn literal(&mut self, (): (), word: Literal) -> Option<()> {
        (word != Literal::Null).then_some(())
    }

    fn max_depth(&self) -> usize {
        STRIPPED_MAX_DEPTH
    }
}

#[cfg(test)]
mod tests;
