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
//! deeper than an array of objects.
//!
//! An extension's member ([`member_extension`], [`extension_left_prefix`])
//! is asked the same of each of its attributes: the key is the extension's
//! exact id, the value an object whose keys are its attributes' exact
//! names, each once and not none (normalization drops an empty extension),
//! each value as a core attribute's would be. The enterprise extension is
//! never left while the manager fix is on (it may move a `manager` in),
//! nor an extension with an attribute named `roles` (it may be decoded).
//! Normalization also lists a present extension in `schemas`: a caller
//! must see that `schemas` lists it already.
//!
//! The text is read here, not by serde_json, and builds nothing: strings
//! are stepped over sixteen bytes at a time to their closing quote. It is
//! held to what serde_json's parse into a `Value` takes: escapes are
//! checked (a lone surrogate is refused), no raw control character, no
//! leading zero, an integer within serde_json's own (`-0` and what is
//! past them are floats to serde_json). What is unsure is not left: a
//! sub-attribute's key written with an escape, for one. The text must be
//! UTF-8 already (it is a `str`).

use super::{Normalization, Normalizer};
use crate::json_text::{escape_at, same_bytes, skip_space};
use crate::schema::{AttrType, Attribute, ENTERPRISE_URN, Mutability, ResourceSchema, Schema};

/// Containers a member kept as text may nest, the member itself counted
/// (an extension's array of objects).
pub const MEMBER_MAX_DEPTH: usize = 3;

impl Normalizer {
    /// Whether [`Normalizer::resource`] would leave the top-level member
    /// `key: text` of a `schema` body exactly as it is (see the module
    /// text): [`member_attribute`] and [`leaves_value`] together, or
    /// [`member_extension`] and [`leaves_extension`]. The body's other
    /// members can still change it: a caller must also see that no other
    /// key names the same attribute or extension in any case, and that
    /// `schemas` lists a kept extension.
    pub fn leaves_member(&self, key: &str, text: &str, schema: &ResourceSchema<'_>) -> bool {
        match member_attribute(key, schema) {
            Some(def) => leaves_value(def, text),
            None => member_extension(key, schema, self).is_some_and(|ext| leaves_extension(ext, text)),
        }
    }
}

/// The extension a top-level member under `key` is, when some text of it
/// could be left as it is by `normalizer`: one `schema` has, named exactly;
/// not the enterprise extension while the manager fix is on, nor one with
/// an attribute named `roles` (its values may be JSON-encoded roles, as a
/// core `roles` member's may).
pub fn member_extension<'a>(key: &str, schema: &ResourceSchema<'a>, normalizer: &Normalizer) -> Option<&'a Schema> {
    let ext = schema.extension(key).filter(|e| e.id == key)?;
    let takes_manager =
        normalizer.is_enabled(Normalization::ManagerShape) && ext.id.eq_ignore_ascii_case(ENTERPRISE_URN);
    let decodes_roles = ext.attributes.iter().any(|a| a.name.eq_ignore_ascii_case("roles"));
    (!takes_manager && !decodes_roles).then_some(ext)
}

/// [`left_prefix`] for a member of the extension `ext` ([`member_extension`]
/// gave): how long the object `text` starts with is, when normalization
/// leaves it as it is.
pub fn extension_left_prefix(ext: &Schema, text: &str) -> Option<usize> {
    value(text.as_bytes(), 0, Shape::Schema(&ext.attributes))
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
/// gave) with the JSON text `text` (spaces around it allowed) is left as
/// it is by normalization.
pub fn leaves_value(def: &Attribute, text: &str) -> bool {
    left_whole(text, |value| left_prefix(def, value))
}

/// [`leaves_value`] for a member of the extension `ext`.
pub fn leaves_extension(ext: &Schema, text: &str) -> bool {
    left_whole(text, |value| extension_left_prefix(ext, value))
}

/// Whether `text` is, spaces around it aside, one value `left` leaves.
fn left_whole(text: &str, left: impl FnOnce(&str) -> Option<usize>) -> bool {
    let bytes = text.as_bytes();
    let start = skip_space(bytes, 0);
    let len = text.get(start..).and_then(left);
    len.is_some_and(|len| skip_space(bytes, start + len) == bytes.len())
}

/// How long the JSON value `text` starts with is, when it is one that
/// normalization leaves as it is in a member of the attribute `def` (see
/// the module text); `None` when it might not be left, or it is not a
/// value serde_json's parse would take. What follows the value is looked
/// at only for the byte after an integer (a fraction or an exponent makes
/// it a float): the caller must see that what follows a number or a
/// literal ends it (`12a` gives 2, `truex` gives 4).
pub fn left_prefix(def: &Attribute, text: &str) -> Option<usize> {
    value(text.as_bytes(), 0, Shape::of(def))
}

/// What the value being read must be.
#[derive(Debug, Clone, Copy)]
enum Shape<'a> {
    /// A multi-valued attribute's array of items.
    List(&'a Attribute),
    /// One value of the attribute: an object of sub-attributes when it is
    /// complex, else a scalar.
    Item(&'a Attribute),
    /// A scalar of this (simple) attribute.
    Scalar(&'a Attribute),
    /// A schema's object: its keys name these attributes, and it has one.
    Schema(&'a [Attribute]),
}

impl<'a> Shape<'a> {
    /// A member's value of the attribute `def`.
    fn of(def: &'a Attribute) -> Self {
        if def.multi_valued { Shape::List(def) } else { Shape::Item(def) }
    }

    /// For an array here: the attribute whose items it holds, if one may.
    fn items(self) -> Option<&'a Attribute> {
        match self {
            Shape::List(def) => Some(def),
            _ => None,
        }
    }

    /// For an object here, if one may be: the attributes its keys must
    /// name (a complex attribute's sub-attributes, or a schema's), and
    /// what a value under each must be.
    fn fields(self) -> Option<(&'a [Attribute], Inner)> {
        match self {
            Shape::Item(def) if def.ty == AttrType::Complex => Some((&def.sub_attributes, Inner::Scalar)),
            Shape::Schema(attributes) => Some((attributes, Inner::Member)),
            _ => None,
        }
    }

    /// Whether a scalar of JSON type `got` (`Boolean`, `Integer` or
    /// `String`) is left where this shape is: not where a list or complex
    /// value is expected, nor a string where the schema says boolean
    /// (`"True"` is normalized).
    fn takes(self, got: AttrType) -> bool {
        match self {
            Shape::Item(d) | Shape::Scalar(d) if d.ty != AttrType::Complex => {
                d.ty != AttrType::Boolean || got == AttrType::Boolean
            }
            _ => false,
        }
    }
}

/// What a value under an object's key must be, given the attribute the
/// key names: a sub-attribute's scalar, or a schema attribute's member.
#[derive(Debug, Clone, Copy)]
enum Inner {
    Scalar,
    Member,
}

impl Inner {
    /// The shape a value under a key naming `def` must have.
    fn shape(self, def: &Attribute) -> Shape<'_> {
        match self {
            Inner::Scalar => Shape::Scalar(def),
            Inner::Member => Shape::of(def),
        }
    }
}

/// The attributes an object's keys have named so far, each at most once
/// (a key given twice leaves the last to the tree).
#[derive(Default)]
struct SubKeys(u64);

impl SubKeys {
    /// The one of `attributes` that `key` names exactly, when it does and
    /// has not been named before.
    fn take<'a>(&mut self, attributes: &'a [Attribute], key: &[u8]) -> Option<&'a Attribute> {
        let at = attributes.iter().position(|s| same_bytes(s.name.as_bytes(), key))?;
        let bit = 1_u64.checked_shl(u32::try_from(at).ok()?).filter(|b| self.0 & b == 0)?;
        self.0 |= bit;
        attributes.get(at)
    }

    /// Whether some key was taken.
    fn any(&self) -> bool {
        self.0 != 0
    }
}

/// Where the value at `at` ends, when it is left as it is in `shape`.
fn value(b: &[u8], at: usize, shape: Shape<'_>) -> Option<usize> {
    match b.get(at)? {
        b'[' => list(b, at + 1, shape.items()?),
        b'{' => {
            let (attributes, inner) = shape.fields()?;
            let (end, keys) = object(b, at + 1, attributes, inner)?;
            // Normalization drops an extension's empty object.
            (keys.any() || !matches!(shape, Shape::Schema(_))).then_some(end)
        }
        &first => scalar_in(b, at, first, shape),
    }
}

/// [`value`] for the scalar at `at` (its first byte `first`): read here,
/// not through a call of `value`, where an object's values are mostly
/// scalars.
#[inline(always)]
fn scalar_in(b: &[u8], at: usize, first: u8, shape: Shape<'_>) -> Option<usize> {
    let (end, got) = scalar(b, at, first)?;
    shape.takes(got).then_some(end)
}

/// Where the array whose items start at `at` ends: each an item of `def`.
fn list(b: &[u8], at: usize, def: &Attribute) -> Option<usize> {
    let mut at = skip_space(b, at);
    if b.get(at) == Some(&b']') {
        return Some(at + 1);
    }
    loop {
        at = skip_space(b, value(b, at, Shape::Item(def))?);
        match b.get(at)? {
            b',' => at = skip_space(b, at + 1),
            b']' => return Some(at + 1),
            _ => return None,
        }
    }
}

/// Where the object whose members start at `at` ends, and the keys it
/// named: each one of `attributes` named exactly, once, with a value
/// `inner` says it must be.
fn object(b: &[u8], at: usize, attributes: &[Attribute], inner: Inner) -> Option<(usize, SubKeys)> {
    let mut at = skip_space(b, at);
    let mut keys = SubKeys::default();
    if b.get(at) == Some(&b'}') {
        return Some((at + 1, keys));
    }
    loop {
        let close = plain_string_end(b, at)?;
        let named = keys.take(attributes, b.get(at + 1..close)?)?;
        at = skip_space(b, close + 1);
        (b.get(at) == Some(&b':')).then_some(())?;
        let start = skip_space(b, at + 1);
        let end = match *b.get(start)? {
            b'[' | b'{' => value(b, start, inner.shape(named))?,
            first => scalar_in(b, start, first, inner.shape(named))?,
        };
        at = skip_space(b, end);
        match b.get(at)? {
            b',' => at = skip_space(b, at + 1),
            b'}' => return Some((at + 1, keys)),
            _ => return None,
        }
    }
}

/// Where the string opening at `quote` closes, when nothing in it needs
/// an escape.
fn plain_string_end(b: &[u8], quote: usize) -> Option<usize> {
    (b.get(quote) == Some(&b'"')).then_some(())?;
    let close = escape_at(b, quote + 1)?;
    (b.get(close) == Some(&b'"')).then_some(close)
}

/// The scalar at `at` (its first byte `first`): where it ends and its
/// JSON type; `None` for `null`, a number with a fraction or an exponent
/// (normalization may change either), or what is not JSON.
#[inline(always)]
fn scalar(b: &[u8], at: usize, first: u8) -> Option<(usize, AttrType)> {
    match first {
        b'"' => Some((string_end(b, at + 1)?, AttrType::String)),
        b't' => literal(b, at, b"true"),
        b'f' => literal(b, at, b"false"),
        b'-' | b'0'..=b'9' => Some((integer_end(b, at)?, AttrType::Integer)),
        _ => None,
    }
}

fn literal(b: &[u8], at: usize, word: &[u8]) -> Option<(usize, AttrType)> {
    let end = at.checked_add(word.len())?;
    (b.get(at..end)? == word).then_some((end, AttrType::Boolean))
}

/// Where the integer at `at` ends, when serde_json reads it as one and
/// takes it: no leading zero, no fraction or exponent, and within its
/// integers (a `u64`, or a negative `i64`; `-0` and anything past them
/// it reads as a float).
fn integer_end(b: &[u8], at: usize) -> Option<usize> {
    let negative = b.get(at) == Some(&b'-');
    let start = at + usize::from(negative);
    let digits = b.get(start..)?.iter().take_while(|c| c.is_ascii_digit()).count();
    let end = start + digits;
    let text = b.get(start..end)?;
    let leading_zero = text.len() > 1 && text.first() == Some(&b'0');
    let magnitude = text.iter().try_fold(0_u64, |n, &c| n.checked_mul(10)?.checked_add(u64::from(c - b'0')))?;
    let fits = !negative || (1..=1_u64 << 63).contains(&magnitude);
    (digits > 0 && !leading_zero && fits && !matches!(b.get(end), Some(b'.' | b'e' | b'E'))).then_some(end)
}

/// Where the string whose text starts at `from` ends (past its closing
/// quote), when serde_json's parse takes it: no raw control character,
/// every escape one of JSON's, surrogates only in pairs.
#[inline(always)]
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    loop {
        at = escape_at(b, at)?;
        match b.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => at = escape_end(b, at + 1)?,
            _ => return None,
        }
    }
}

/// Where the escape whose letter is at `at` ends.
#[inline(never)]
fn escape_end(b: &[u8], at: usize) -> Option<usize> {
    match b.get(at)? {
        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => Some(at + 1),
        b'u' => match hex4(b, at + 1)? {
            0xD800..=0xDBFF => {
                (b.get(at + 5..at + 7)? == b"\\u").then_some(())?;
                (0xDC00..=0xDFFF).contains(&hex4(b, at + 7)?).then_some(at + 11)
            }
            0xDC00..=0xDFFF => None,
            _ => Some(at + 5),
        },
        _ => None,
    }
}

/// The four hex digits at `at`, read.
fn hex4(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)?.iter().try_fold(0, |n, &c| Some(n * 16 + char::from(c).to_digit(16)?))
}

#[cfg(test)]
mod tests;
