//! Notion's `owner` role is granted only with `allow_owner`. It can arrive
//! in several spellings, all of which count: the extension object
//! (`{"urn:...:notion:2.0:User": {"role": "owner"}}`), the flattened key
//! (`"urn:...:notion:2.0:User:role": "owner"`), a PATCH path to either,
//! any case of the URN, `role` and `owner`.

use super::state::NOTION_URN;
use scim_core::patch::PatchOperation;
use serde_json::{Map, Value};

fn role_key() -> String {
    format!("{NOTION_URN}:role")
}

fn is_owner(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.trim().eq_ignore_ascii_case("owner"))
}

/// Whether an extension object's `role` (any case) is owner.
fn object_grants(v: &Value) -> bool {
    v.as_object().is_some_and(|e| e.iter().any(|(k, r)| k.eq_ignore_ascii_case("role") && is_owner(r)))
}

/// Whether a resource, or a path-less PATCH value, grants owner.
pub(super) fn in_map(map: &Map<String, Value>) -> bool {
    let flat = role_key();
    map.iter().any(|(k, v)| {
        (k.eq_ignore_ascii_case(NOTION_URN) && object_grants(v)) || (k.eq_ignore_ascii_case(&flat) && is_owner(v))
    })
}

/// Takes every owner grant out of a resource or path-less value.
pub(super) fn drop_from(map: &mut Map<String, Value>) {
    let flat = role_key();
    map.retain(|k, v| !(k.eq_ignore_ascii_case(&flat) && is_owner(v)));
    for (k, v) in map.iter_mut() {
        if let (true, Some(e)) = (k.eq_ignore_ascii_case(NOTION_URN), v.as_object_mut()) {
            e.retain(|rk, r| !(rk.eq_ignore_ascii_case("role") && is_owner(r)));
        }
    }
}

/// Whether a PATCH operation grants owner.
pub(super) fn in_op(op: &PatchOperation) -> bool {
    let Some(value) = &op.value else { return false };
    match &op.path {
        None => value.as_object().is_some_and(in_map),
        Some(p) if p.filter.is_some() => false,
        Some(p) => {
            let path = p.to_string();
            (path.eq_ignore_ascii_case(&role_key()) && is_owner(value))
                || (path.eq_ignore_ascii_case(NOTION_URN) && object_grants(value))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim_core::patch::PatchOp;
    use serde_json::json;

    fn op(v: Value) -> PatchOperation {
        let body = json!({"schemas": [scim_core::patch::PATCH_URN], "Operations": [v]});
        PatchOp::from_json(&body).unwrap().operations.remove(0)
    }

    #[test]
    fn every_spelling_of_an_owner_grant_counts() {
        let upper = NOTION_URN.to_uppercase().replace("URN:", "urn:");
        for v in [
            json!({NOTION_URN: {"role": "owner"}}),
            json!({NOTION_URN: {"Role": " OWNER "}}),
            json!({format!("{NOTION_URN}:role"): "owner"}),
            json!({format!("{upper}:ROLE"): "Owner"}),
        ] {
            assert!(in_map(v.as_object().unwrap()), "{v}");
            let mut m = v.as_object().unwrap().clone();
            drop_from(&mut m);
            assert!(!in_map(&m), "dropped: {v}");
        }
        assert!(!in_map(json!({NOTION_URN: {"role": "member"}}).as_object().unwrap()));
        for o in [
            json!({"op": "replace", "path": format!("{NOTION_URN}:role"), "value": "owner"}),
            json!({"op": "add", "path": NOTION_URN, "value": {"role": "owner"}}),
            json!({"op": "replace", "value": {NOTION_URN: {"role": "Owner"}}}),
        ] {
            assert!(in_op(&op(o.clone())), "{o}");
        }
        assert!(!in_op(&op(json!({"op": "replace", "path": format!("{NOTION_URN}:role"), "value": "member"}))));
        assert!(!in_op(&op(json!({"op": "remove", "path": format!("{NOTION_URN}:role")}))));
    }
}
