//! In-place rules (`from` equal to `target`): the transforms run on every
//! value the path selects, in the document or in a PATCH operation's
//! value, so that `emails.value` with `lower` lower-cases every email.

use crate::transform::{Transform, apply_chain};
use scim_core::patch::PatchOperation;
use scim_core::path::{Located, Path, get_ci_mut};
use scim_core::schema::{Attribute, ResourceSchema};
use serde_json::Value;

/// Transforms, in `doc`, every value `path` selects; `at`: where the path
/// lies in the schema, located when the rule was compiled.
pub(crate) fn transform_in(doc: &mut Value, path: &Path, chain: &[Transform], at: &Located) -> Result<(), String> {
    let Some(slot) = attribute_mut(doc, path, at) else { return Ok(()) };
    transform_values(slot, path, chain, at.attribute())
}

/// Transforms the part of an operation's value that `path` selects.
/// Returns whether the operation concerned the path.
pub(crate) fn transform_op(
    op: &mut PatchOperation,
    path: &Path,
    chain: &[Transform],
    schema: &ResourceSchema<'_>,
    core: &str,
) -> Result<bool, String> {
    let Some(op_path) = &op.path else { return Ok(false) };
    let same = crate::paths::AttrKey::of(&op_path.attr_path().top(), core)
        == crate::paths::AttrKey::of(&path.attr_path().top(), core);
    let Some(value) = op.value.as_mut().filter(|_| same) else { return Ok(false) };
    match (&op_path.sub, &path.sub) {
        (Some(a), Some(b)) if !a.eq_ignore_ascii_case(b) => return Ok(false),
        (Some(_), _) | (None, None) => *value = apply_chain(chain, std::mem::take(value))?,
        (None, Some(_)) => transform_values(value, path, chain, schema.top_attribute(path.urn.as_deref(), &path.name))?,
    }
    Ok(true)
}

/// `slot` holds the values of the attribute `attr` defines (`None`: one
/// the schema lacks); transform what `path` selects.
fn transform_values(
    slot: &mut Value,
    path: &Path,
    chain: &[Transform],
    attr: Option<&Attribute>,
) -> Result<(), String> {
    let selected = |e: &Value| path.filter.as_ref().is_none_or(|f| f.matches_element(e, attr));
    match (slot, &path.sub) {
        (Value::Array(items), sub) => {
            for item in items.iter_mut().filter(|e| selected(e)) {
                transform_field(item, sub.as_deref(), chain)?;
            }
            Ok(())
        }
        (other, sub) => transform_field(other, sub.as_deref(), chain),
    }
}

fn transform_field(value: &mut Value, sub: Option<&str>, chain: &[Transform]) -> Result<(), String> {
    let target = match sub {
        None => Some(value),
        Some(s) => value.as_object_mut().and_then(|m| get_ci_mut(m, s)),
    };
    if let Some(v) = target.filter(|v| !v.is_null()) {
        *v = apply_chain(chain, std::mem::take(v))?;
    }
    Ok(())
}

fn attribute_mut<'d>(doc: &'d mut Value, path: &Path, at: &Located) -> Option<&'d mut Value> {
    let mut map = doc.as_object_mut()?;
    if let Some(urn) = at.extension() {
        map = get_ci_mut(map, urn)?.as_object_mut()?;
    }
    get_ci_mut(map, &path.name)
}
